//! Any bytes → `repair::rebuild` must return, without a panic: unlike lopdf and pdf-extract it
//! is our own code, so a panic there is a bug to fix, not a file to skip (the extractor would
//! still contain it). What it returns is checked too: a copy that starts at the header and
//! ends in a trailer, and a table of offsets within the original.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rebuilt) = dossier_ingest::repair::rebuild(data) {
        assert!(rebuilt.bytes.starts_with(b"%PDF-"));
        assert!(rebuilt.bytes.ends_with(b"%%EOF\n"));
        assert!(rebuilt.table.values().all(|&(_, offset)| offset < data.len()));
    }
});

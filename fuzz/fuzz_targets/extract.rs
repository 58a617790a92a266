//! Any bytes → `pdf::extract` must return (text or a typed error): no panic escapes it (they
//! are caught per file and per page), no stack overflow, no hang, no runaway allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dossier_ingest::pdf::extract(data, &dossier_ingest::ExtractOptions::default());
});

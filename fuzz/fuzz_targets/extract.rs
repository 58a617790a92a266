//! Any bytes → `pdf::extract` must return (text or a typed error): no panic escapes it (they
//! are caught per file and per page), no stack overflow, no hang, no runaway allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on every panic from its own hook, even one that `pdf::extract`
    // catches (pdf-extract `expect`s freely). A silent hook lets contained panics unwind to
    // the extractor's catch_unwind; one that escapes still aborts at the FFI boundary.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    // OCR off: it runs `tesseract` as a child process, which is not the parser under test
    // (and is slow enough under ASan to read as a hang: the image-only fixture did).
    let options = dossier_ingest::ExtractOptions {
        ocr: dossier_ingest::OcrMode::Never,
        ..Default::default()
    };
    let _ = dossier_ingest::pdf::extract(data, &options);
});

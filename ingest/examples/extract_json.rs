//! `dossier extract --json` without the store: what `bench/extract/compare.py` reads, from a
//! binary that builds with this crate alone (DOSSIER=target/.../examples/extract_json).
use dossier_ingest::ocr::OcrMode;
use dossier_ingest::pdf::{extract, ExtractOptions, PageStatus};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keep_furniture = args.iter().any(|a| a == "--keep-furniture");
    let file = args.last().expect("FILE");
    let bytes = std::fs::read(file).expect("read");
    let options = ExtractOptions {
        keep_furniture,
        ocr: OcrMode::Never,
        ..ExtractOptions::default()
    };
    let started = std::time::Instant::now();
    let result = extract(&bytes, &options);
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let out = match result {
        Ok(text) => serde_json::json!({
            "file": file,
            "millis": millis,
            "pages": text.pages.iter().map(|p| serde_json::json!({
                "page": p.number,
                "text": p.text,
                "status": if p.status == PageStatus::Text { "text" } else { "no_text" },
            })).collect::<Vec<_>>(),
            "repairs": text.repairs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        Err(e) => serde_json::json!({"file": file, "millis": millis, "error": e.to_string()}),
    };
    println!("{out}");
}

//! Hostile input: every input the fuzzer (fuzz/, scripts/fuzz.sh) found troublesome is kept in
//! tests/fixtures/fuzz/, and extraction on it must return (text or an error) without a panic
//! escaping, on a thread with an ordinary stack, within a time bound. The bad-input fixtures
//! and a few hand-made mutations of the samples are checked the same way. The ingest limits
//! (file size, pages) are checked end to end.

mod common;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use dossier_ingest::{ExtractOptions, OcrMode};

/// Generous for a 2-core CI machine running other tests; a hang is minutes, not seconds.
const LIMIT: Duration = Duration::from_secs(30);

fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    let mut dirs = vec![fixtures().join("fuzz"), fixtures()];
    dirs.retain(|d| d.is_dir());
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && !p.extension().is_some_and(|e| e == "py" || e == "md"))
            .collect();
        files.sort();
        for file in files {
            inputs.push((file.display().to_string(), std::fs::read(&file).unwrap()));
        }
    }
    // Mutations of a real file: truncations, a flipped region, a repeated tail.
    let sample = std::fs::read(&sample_pdfs()[0]).unwrap();
    for cut in [9, sample.len() / 3, sample.len() / 2, sample.len() - 20] {
        inputs.push((format!("sample cut at {cut}"), sample[..cut].to_vec()));
    }
    let mut flipped = sample.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 200] {
        *b = !*b;
    }
    inputs.push(("sample with 200 flipped bytes".into(), flipped));
    // Deeply nested arrays: a recursion bomb for a naive parser.
    let mut nested = b"%PDF-1.4\n1 0 obj\n".to_vec();
    nested.extend(std::iter::repeat_n(b'[', 100_000));
    nested.extend_from_slice(b"\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    inputs.push(("100000 nested arrays".into(), nested));
    inputs
}

#[test]
fn extraction_returns_on_every_hostile_input_within_the_time_limit() {
    for (name, bytes) in inputs() {
        let (tx, rx) = mpsc::channel();
        // An ordinary 8 MiB stack: the ingest uses 256 MiB, so this is the stricter test.
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                // OCR off, as in the fuzz target: the parser is under test, not tesseract.
                let options = ExtractOptions {
                    ocr: OcrMode::Never,
                    ..ExtractOptions::default()
                };
                let result = dossier_ingest::pdf::extract(&bytes, &options);
                let _ = tx.send(result.map(|t| t.pages.len()).map_err(|e| e.to_string()));
            })
            .unwrap();
        match rx.recv_timeout(LIMIT) {
            Ok(result) => eprintln!("{name}: {result:?}"),
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name}: no result in {LIMIT:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{name}: the extractor panicked through catch_unwind")
            }
        }
    }
}

#[test]
fn ingest_limits_skip_large_and_long_files_and_the_batch_goes_on() {
    let store = tempfile::tempdir().unwrap();
    let samples = sample_pdfs();
    // The samples have 3 and 4 pages: with --max-pages 3 the longer ones fail, clearly.
    let output = run(dossier(store.path())
        .args(["ingest", "--max-pages", "3", "--json"])
        .args(&samples));
    let report = json(&output);
    let files = report["files"].as_array().unwrap();
    let too_long: Vec<_> = files.iter().filter(|f| f["outcome"] == "failed").collect();
    assert!(!too_long.is_empty(), "{report:#}");
    for f in &too_long {
        assert!(
            f["error"].as_str().unwrap().contains("too many pages"),
            "{f}"
        );
    }
    assert!(files.iter().any(|f| f["outcome"] == "added"), "{report:#}");
    assert_eq!(output.status.code(), Some(3));

    let fresh = tempfile::tempdir().unwrap();
    let output = run(dossier(fresh.path())
        .args(["ingest", "--max-file-mb", "0"])
        .arg(&samples[0]));
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("too large"), "{}", stderr(&output));
}

//! The vector (ANN) index: ingest builds it once the store passes the row threshold (lowered
//! here through DOSSIER_VECTOR_INDEX_ROWS), later ingests fold their chunks into it, and
//! searches through it still put the right page first for the samples' questions.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// `dossier check --json`'s vector index, or null.
fn vector_index(store: &Path) -> Value {
    json(&ok(dossier(store).args(["check", "--json"])))["vector_index"].clone()
}

/// Share of the answerable sample questions about `files` whose page is in the top 3.
fn hit_at_3(store: &Path, mode: &str, files: &[&str]) -> (f64, Vec<String>) {
    let items: Vec<QaItem> = qa_items()
        .into_iter()
        .filter(|q| !q.unanswerable && files.contains(&q.file.as_deref().unwrap_or("")))
        .collect();
    assert!(items.len() >= 5, "too few questions for {files:?}");
    let mut misses = Vec::new();
    for item in &items {
        let output = ok(dossier(store).args([
            "search",
            "-k",
            "3",
            "--mode",
            mode,
            "--json",
            &item.question,
        ]));
        let hits = json(&output)["hits"].as_array().unwrap().clone();
        let found = hits
            .iter()
            .any(|h| h["file"].as_str() == item.file.as_deref() && h["page"].as_u64() == item.page);
        if !found {
            misses.push(item.id.clone());
        }
    }
    (1.0 - misses.len() as f64 / items.len() as f64, misses)
}

#[test]
fn ingest_builds_the_vector_index_past_the_threshold_and_search_still_finds_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();
    let pdfs = sample_pdfs();
    let names: Vec<String> = pdfs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(pdfs.len(), 3);

    // Below the threshold: no index, exact search.
    let output = ok(dossier(store)
        .env("DOSSIER_VECTOR_INDEX_ROWS", "100000")
        .arg("ingest")
        .arg(&pdfs[0]));
    assert!(!stderr(&output).contains("built the vector index"));
    assert!(vector_index(store).is_null());
    let refresh = json(&ok(dossier(store)
        .env("DOSSIER_VECTOR_INDEX_ROWS", "100000")
        .args(["index", "--refresh", "--json"])));
    assert_eq!(refresh["action"], "below_threshold");
    assert!(refresh["index"].is_null());

    // The next ingest passes a (lowered) threshold: the index is built over every row.
    let output = ok(dossier(store)
        .env("DOSSIER_VECTOR_INDEX_ROWS", "10")
        .arg("ingest")
        .arg(&pdfs[1]));
    let err = stderr(&output);
    assert!(err.contains("built the vector index"), "stderr: {err}");
    let rows = |store: &Path| {
        json(&ok(dossier(store).args(["check", "--json"])))["chunk_rows"]
            .as_u64()
            .unwrap()
    };
    let index = vector_index(store);
    assert_eq!(index["kind"], "IVF_HNSW_SQ");
    assert_eq!(index["indexed_rows"].as_u64(), Some(rows(store)));
    assert_eq!(index["unindexed_rows"].as_u64(), Some(0));
    for mode in ["vector", "hybrid"] {
        let (rate, misses) = hit_at_3(store, mode, &names[..2]);
        assert!(
            rate >= 0.9,
            "{mode} search through the index: hit@3 {rate:.2}, misses {misses:?}"
        );
    }

    // The chunks of a later ingest (default threshold) are folded into the index, and found.
    ok(dossier(store).arg("ingest").arg(&pdfs[2]));
    let index = vector_index(store);
    assert_eq!(index["indexed_rows"].as_u64(), Some(rows(store)), "{index}");
    assert_eq!(index["unindexed_rows"].as_u64(), Some(0), "{index}");
    for mode in ["vector", "hybrid"] {
        let (rate, misses) = hit_at_3(store, mode, &names);
        assert!(
            rate >= 0.9,
            "{mode} search after the fold: hit@3 {rate:.2}, misses {misses:?}"
        );
    }

    // `dossier index` rebuilds it on demand.
    let rebuilt = json(&ok(dossier(store).args(["index", "--json"])));
    assert_eq!(rebuilt["action"], "built");
    assert_eq!(rebuilt["index"]["kind"], "IVF_HNSW_SQ");
    assert_eq!(rebuilt["index"]["indexed_rows"].as_u64(), Some(rows(store)));
    let (rate, misses) = hit_at_3(store, "vector", &names);
    assert!(
        rate >= 0.9,
        "after the rebuild: hit@3 {rate:.2}, misses {misses:?}"
    );
}

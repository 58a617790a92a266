//! Retrieval quality on the samples, through `dossier search --json`.

mod common;

use common::*;

#[test]
fn search_puts_the_right_page_in_the_top_three_for_nine_in_ten_questions() {
    let store = sample_store();
    let items: Vec<QaItem> = qa_items().into_iter().filter(|q| !q.unanswerable).collect();
    assert!(
        items.len() >= 20,
        "samples/qa.jsonl should hold about 20 answerable questions"
    );
    let mut misses = Vec::new();
    for item in &items {
        let output = ok(dossier(store).args(["search", "-k", "3", "--json", &item.question]));
        let result = json(&output);
        let hits = result["hits"].as_array().expect("hits array");
        assert!(!hits.is_empty(), "{}: no hits", item.id);
        let found = hits
            .iter()
            .any(|h| h["file"].as_str() == item.file.as_deref() && h["page"].as_u64() == item.page);
        if !found {
            let got: Vec<String> = hits
                .iter()
                .map(|h| format!("{} p.{}", h["file"].as_str().unwrap_or("?"), h["page"]))
                .collect();
            misses.push(format!(
                "{}: wanted {:?} p.{:?}, got {got:?}",
                item.id, item.file, item.page
            ));
        }
    }
    let hit_rate = 1.0 - misses.len() as f64 / items.len() as f64;
    assert!(
        hit_rate >= 0.9,
        "hit@3 = {hit_rate:.2} (< 0.90); misses:\n{}",
        misses.join("\n")
    );
}

#[test]
fn search_json_carries_what_a_citation_needs() {
    let store = sample_store();
    let output = ok(dossier(store).args(["search", "-k", "2", "--json", "vacation carry over"]));
    let result = json(&output);
    assert_eq!(result["query"], "vacation carry over");
    let hits = result["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    for (i, hit) in hits.iter().enumerate() {
        assert_eq!(hit["rank"].as_u64(), Some(i as u64 + 1));
        assert!(hit["file"].as_str().unwrap().ends_with(".pdf"));
        assert!(hit["page"].as_u64().unwrap() >= 1);
        assert!(!hit["text"].as_str().unwrap().is_empty());
        let score = hit["score"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&score), "score {score}");
    }
    assert!(hits[0]["score"].as_f64() >= hits[1]["score"].as_f64());
}

#[test]
fn search_on_a_missing_store_says_to_ingest_first() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dossier(&dir.path().join("nothing-here")).args(["search", "anything"]));
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("dossier ingest"), "stderr: {err}");
}

//! The same bytes under two names: one document, listed, cited and removable under either
//! name; a copy of a file that fails fails with it.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn ls(store: &Path) -> Vec<Value> {
    json(&ok(dossier(store).args(["ls", "--json"])))
        .as_array()
        .unwrap()
        .clone()
}

fn ingest_json(store: &Path, paths: &[&Path]) -> (std::process::Output, Value) {
    let output = run(dossier(store).args(["ingest", "--json"]).args(paths));
    let report = json(&output);
    (output, report)
}

/// The report of the file whose path ends with `name`.
fn file<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no report for {name}: {report:#}"))
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn chunk_rows(store: &Path) -> u64 {
    json(&ok(dossier(store).args(["check", "--json"])))["chunk_rows"]
        .as_u64()
        .unwrap()
}

/// `a.pdf` and `b.pdf`, both the service agreement, in a fresh folder.
fn twins(dir: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (dir.join("a.pdf"), dir.join("b.pdf"));
    std::fs::copy(samples().join("service-agreement.pdf"), &a).unwrap();
    std::fs::copy(&a, &b).unwrap();
    (a, b)
}

const LIABILITY: &str = "What is the cap on liability?";

#[test]
fn two_names_for_one_file_are_one_document_listed_cited_and_removed_by_either_name() {
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (a, b) = twins(work.path());

    let (output, report) = ingest_json(store.path(), &[&a, &b]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = &report["summary"];
    assert_eq!(summary["files"], 2, "{report:#}");
    assert_eq!(summary["added"], 1, "{report:#}");
    assert_eq!(summary["same_content"], 1, "{report:#}");
    assert_eq!(summary["unchanged"], 0, "{report:#}");
    assert_eq!(file(&report, "a.pdf")["outcome"], "added");
    let twin = file(&report, "b.pdf");
    assert_eq!(twin["outcome"], "same_content", "{twin:#}");
    assert_eq!(
        twin["same_content_as"].as_str(),
        Some(absolute(&a).as_str())
    );
    assert_eq!(twin["doc_id"], file(&report, "a.pdf")["doc_id"]);
    let err = stderr(&output);
    assert!(
        err.lines()
            .any(|l| l.starts_with("same content: ") && l.contains("b.pdf: same content as a.pdf")),
        "{err}"
    );

    // One document, both paths; its chunks are stored once.
    let docs = ls(store.path());
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(
        docs[0]["paths"],
        serde_json::json!([absolute(&a), absolute(&b)])
    );
    assert_eq!(docs[0]["files"], serde_json::json!(["a.pdf", "b.pdf"]));
    let chunks = docs[0]["chunks"].as_u64().unwrap();
    assert_eq!(chunk_rows(store.path()), chunks);
    let table = stdout(&ok(dossier(store.path()).arg("ls")));
    assert!(
        table.contains(&absolute(&a))
            && table.contains(&format!("{} (same content)", absolute(&b))),
        "{table}"
    );

    // Citable by either name: the first by default, the one a question names otherwise; a
    // hit carries every path.
    let hits = json(&ok(
        dossier(store.path()).args(["search", "--json", "-k", "3", LIABILITY])
    ));
    let hit = &hits["hits"][0];
    assert_eq!(hit["file"], "a.pdf", "{hit:#}");
    assert_eq!(hit["paths"].as_array().unwrap().len(), 2, "{hit:#}");
    let named = json(&ok(dossier(store.path()).args([
        "search",
        "--json",
        "-k",
        "3",
        "What is the cap on liability in b.pdf?",
    ])));
    assert_eq!(named["hits"][0]["file"], "b.pdf", "{named:#}");
    assert_eq!(
        named["hits"][0]["path"].as_str(),
        Some(absolute(&b).as_str())
    );

    // Seen again, both are unchanged.
    let (_, again) = ingest_json(store.path(), &[&a, &b]);
    assert_eq!(again["summary"]["unchanged"], 2, "{again:#}");
    assert_eq!(again["summary"]["chunks"], 0, "{again:#}");

    // rm of one name keeps the document under the other.
    let removed = json(&ok(dossier(store.path()).args(["rm", "--json"]).arg(&a)));
    let r = &removed["removed"][0];
    assert_eq!(
        r["path"].as_str(),
        Some(absolute(&a).as_str()),
        "{removed:#}"
    );
    assert_eq!(r["document_removed"], false, "{removed:#}");
    assert_eq!(r["paths_left"], serde_json::json!([absolute(&b)]));
    let docs = ls(store.path());
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["paths"], serde_json::json!([absolute(&b)]));
    assert_eq!(docs[0]["file"], "b.pdf");
    assert_eq!(chunk_rows(store.path()), chunks, "the chunks stay");
    let hits = json(&ok(
        dossier(store.path()).args(["search", "--json", LIABILITY])
    ));
    assert_eq!(hits["hits"][0]["file"], "b.pdf", "{hits:#}");
    let check = json(&ok(dossier(store.path()).args(["check", "--json"])));
    assert_eq!(check["consistent"], true, "{check:#}");

    // ... and rm of the last name removes it, chunks and all.
    let output = ok(dossier(store.path()).arg("rm").arg(&b));
    assert!(
        stderr(&output).contains("1 documents removed"),
        "{}",
        stderr(&output)
    );
    assert!(ls(store.path()).is_empty());
    assert_eq!(chunk_rows(store.path()), 0);
}

#[test]
fn a_copy_found_later_joins_the_stored_document_and_a_moved_copy_keeps_its_place() {
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (a, b) = twins(work.path());
    let (output, _) = ingest_json(store.path(), &[&a]);
    assert!(output.status.success(), "{}", stderr(&output));
    let chunks = chunk_rows(store.path());

    let (output, report) = ingest_json(store.path(), &[&a, &b]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(report["summary"]["same_content"], 1, "{report:#}");
    assert_eq!(report["summary"]["unchanged"], 1, "{report:#}");
    assert_eq!(
        report["summary"]["chunks"], 0,
        "not embedded again: {report:#}"
    );
    assert_eq!(chunk_rows(store.path()), chunks);

    // b.pdf moves into a subfolder: the document keeps a.pdf and takes the new path.
    let sub = work.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let moved = sub.join("b.pdf");
    std::fs::rename(&b, &moved).unwrap();
    let (output, report) = ingest_json(store.path(), &[&moved]);
    assert!(output.status.success(), "{}", stderr(&output));
    let f = file(&report, "sub/b.pdf");
    assert_eq!(f["outcome"], "moved", "{report:#}");
    assert_eq!(f["moved_from"].as_str(), Some(absolute(&b).as_str()));
    let docs = ls(store.path());
    assert_eq!(docs.len(), 1);
    assert_eq!(
        docs[0]["paths"],
        serde_json::json!([absolute(&a), absolute(&moved)])
    );

    // A copy whose file is gone is pruned alone; the other keeps the document.
    std::fs::remove_file(&a).unwrap();
    let report = json(&ok(dossier(store.path())
        .args(["ingest", "--prune", "--json"])
        .arg(work.path())));
    assert_eq!(
        report["pruned"],
        serde_json::json!([absolute(&a)]),
        "{report:#}"
    );
    let docs = ls(store.path());
    assert_eq!(docs[0]["paths"], serde_json::json!([absolute(&moved)]));
    assert_eq!(chunk_rows(store.path()), chunks);
}

#[test]
fn a_copy_of_a_file_that_fails_fails_with_it_and_says_so() {
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (x, y) = (work.path().join("x.pdf"), work.path().join("y.pdf"));
    std::fs::copy(fixtures().join("truncated.pdf"), &x).unwrap();
    std::fs::copy(&x, &y).unwrap();
    let good = work.path().join("good.pdf");
    std::fs::copy(samples().join("discharge-summary.pdf"), &good).unwrap();

    let (output, report) = ingest_json(store.path(), &[&x, &y, &good]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 2, "{report:#}");
    assert_eq!(summary["added"], 1, "{report:#}");
    assert_eq!(summary["unchanged"], 0, "{report:#}");
    assert_eq!(summary["same_content"], 0, "{report:#}");
    let twin = file(&report, "y.pdf");
    assert_eq!(twin["outcome"], "failed", "{twin:#}");
    let error = twin["error"].as_str().unwrap();
    assert!(
        error.starts_with("same content as x.pdf, which failed: corrupt or truncated"),
        "{error}"
    );
    // One error line per failed file.
    let err = stderr(&output);
    for name in ["x.pdf", "y.pdf"] {
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("error: ") && l.contains(&format!("/{name}: ")))
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {lines:?}\n{err}");
    }
    assert_eq!(ls(store.path()).len(), 1);
}

//! Ingest behaviour: idempotence, replacement of changed files, bad input.

mod common;

use std::path::Path;

use common::*;

fn ingest_json(store: &Path, paths: &[&Path]) -> (std::process::Output, serde_json::Value) {
    let mut command = dossier(store);
    command.args(["ingest", "--json"]).args(paths);
    let output = run(&mut command);
    let report = json(&output);
    (output, report)
}

fn chunk_total(store: &Path) -> u64 {
    let output = ok(dossier(store).args(["ls", "--json"]));
    json(&output)
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["chunks"].as_u64().unwrap())
        .sum()
}

#[test]
fn reingesting_the_same_folder_changes_nothing() {
    let store = tempfile::tempdir().unwrap();
    let samples = sample_pdfs();
    let samples: Vec<&Path> = samples.iter().map(|p| p.as_path()).collect();
    let (output, first) = ingest_json(store.path(), &samples);
    assert!(output.status.success(), "{}", stderr(&output));
    let files = first["summary"]["files"].as_u64().unwrap();
    assert!(files >= 3);
    assert_eq!(first["summary"]["added"].as_u64(), Some(files));
    let chunks = chunk_total(store.path());
    assert_eq!(Some(chunks), first["summary"]["chunks"].as_u64());

    let (output, second) = ingest_json(store.path(), &samples);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(second["summary"]["unchanged"].as_u64(), Some(files));
    assert_eq!(second["summary"]["added"].as_u64(), Some(0));
    assert_eq!(second["summary"]["chunks"].as_u64(), Some(0));
    assert_eq!(chunk_total(store.path()), chunks);
}

#[test]
fn a_changed_file_replaces_its_old_version() {
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("contract.pdf");
    std::fs::copy(samples().join("service-agreement.pdf"), &file).unwrap();
    ok(dossier(store.path()).arg("ingest").arg(&file));
    let before = json(&ok(dossier(store.path()).args(["ls", "--json"])));
    assert_eq!(before.as_array().unwrap().len(), 1);
    let old_id = before[0]["doc_id"].as_str().unwrap().to_owned();

    // Same path, new content.
    std::fs::copy(samples().join("discharge-summary.pdf"), &file).unwrap();
    let (output, report) = ingest_json(store.path(), &[&file]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(report["summary"]["replaced"].as_u64(), Some(1));
    let after = json(&ok(dossier(store.path()).args(["ls", "--json"])));
    let docs = after.as_array().unwrap();
    assert_eq!(docs.len(), 1, "{after:#}");
    assert_ne!(docs[0]["doc_id"].as_str().unwrap(), old_id);
    assert_eq!(
        chunk_total(store.path()),
        docs[0]["chunks"].as_u64().unwrap()
    );

    // The old text is gone from search: a contract-only phrase now finds medical pages.
    let hits = json(&ok(dossier(store.path()).args([
        "search",
        "--json",
        "-k",
        "20",
        "liability cap",
    ])));
    for hit in hits["hits"].as_array().unwrap() {
        assert_eq!(hit["doc_id"].as_str(), docs[0]["doc_id"].as_str());
    }
}

#[test]
fn each_bad_file_gets_one_clear_line_and_the_good_files_still_land() {
    let store = tempfile::tempdir().unwrap();
    let expected = [
        ("encrypted.pdf", "encrypted: password required"),
        ("corrupt.pdf", "corrupt"),
        ("truncated.pdf", "corrupt or truncated"),
        ("empty.pdf", "empty file"),
        ("not-a-pdf.pdf", "not a PDF"),
        ("image-only.pdf", "no text layer"),
    ];
    let mut command = dossier(store.path());
    command.arg("ingest").args(sample_pdfs());
    for (name, _) in &expected {
        command.arg(fixtures().join(name));
    }
    let output = run(&mut command);
    assert_eq!(
        output.status.code(),
        Some(3),
        "partial failure exit code\n{}",
        stderr(&output)
    );
    let err = stderr(&output);
    for (name, reason) in &expected {
        let lines: Vec<&str> = err.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(
            lines.len(),
            1,
            "{name}: expected one line, got {lines:?}\n{err}"
        );
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        assert!(
            lines[0].contains(reason),
            "{name}: {:?} lacks {reason:?}",
            lines[0]
        );
    }
    assert!(!err.contains("panicked"), "{err}");

    // The store stays readable and holds exactly the good files.
    let docs = json(&ok(dossier(store.path()).args(["ls", "--json"])));
    let names: Vec<&str> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for good in [
        "service-agreement.pdf",
        "discharge-summary.pdf",
        "employee-handbook.pdf",
    ] {
        assert!(names.contains(&good), "{good} missing from {names:?}");
    }
    let hits = json(&ok(dossier(store.path()).args([
        "search",
        "--json",
        "stent size",
    ])));
    assert!(!hits["hits"].as_array().unwrap().is_empty());
}

#[test]
fn a_print_protected_file_with_an_empty_user_password_is_ingested() {
    let store = tempfile::tempdir().unwrap();
    let (output, report) = ingest_json(store.path(), &[&fixtures().join("owner-only.pdf")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(report["summary"]["added"].as_u64(), Some(1));
    let hits = json(&ok(dossier(store.path()).args([
        "search",
        "--json",
        "heron protocol",
    ])));
    let text = hits["hits"][0]["text"].as_str().unwrap().to_lowercase();
    assert!(text.contains("heron"), "{text}");
}

#[test]
fn the_right_password_opens_an_encrypted_file() {
    let store = tempfile::tempdir().unwrap();
    let file = fixtures().join("encrypted.pdf");
    let output = ok(dossier(store.path())
        .args(["ingest", "--password", "secret"])
        .arg(&file));
    assert!(stderr(&output).contains("1 added"), "{}", stderr(&output));
    let wrong = run(dossier(store.path())
        .args(["ingest", "--password", "nope"])
        .arg(&file));
    // Already ingested by content hash, so unchanged; a fresh store reports the bad password.
    assert!(wrong.status.success());
    let fresh = tempfile::tempdir().unwrap();
    let wrong = run(dossier(fresh.path())
        .args(["ingest", "--password", "nope"])
        .arg(&file));
    assert_eq!(wrong.status.code(), Some(3));
    assert!(
        stderr(&wrong).contains("does not open it"),
        "{}",
        stderr(&wrong)
    );
}

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

fn tesseract() -> bool {
    std::process::Command::new("tesseract")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The report of the file whose path ends with `name`.
fn file_report<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no report for {name}: {report:#}"))
}

#[test]
fn the_summary_accounts_for_every_file_in_its_category() {
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let copy = |from: &Path, name: &str| {
        let to = work.path().join(name);
        std::fs::copy(from, &to).unwrap();
        to
    };
    let added = copy(&samples().join("discharge-summary.pdf"), "added.pdf");
    let recovered = copy(&fixtures().join("bad-xref.pdf"), "recovered.pdf");
    let partial = copy(&fixtures().join("partial.pdf"), "partial.pdf");
    let twin = copy(&added, "twin.pdf");
    let failed = copy(&fixtures().join("not-a-pdf.pdf"), "failed.pdf");
    let changed = copy(&samples().join("employee-handbook.pdf"), "changed.pdf");
    let unchanged = copy(&samples().join("service-agreement.pdf"), "unchanged.pdf");
    ok(dossier(store.path())
        .arg("ingest")
        .arg(&changed)
        .arg(&unchanged));
    std::fs::copy(fixtures().join("ligature.pdf"), &changed).unwrap();

    let all: Vec<&Path> = [
        &added, &recovered, &partial, &twin, &failed, &changed, &unchanged,
    ]
    .iter()
    .map(|p| p.as_path())
    .collect();
    let output = run(dossier(store.path()).arg("ingest").args(&all));
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    let line = err.lines().last().unwrap();
    assert!(
        line.starts_with(
            "7 files: 1 added, 1 replaced, 1 recovered, 1 partial, 1 same content, \
             1 unchanged, 1 failed; "
        ),
        "{err}"
    );
    let noted = |prefix: &str, name: &str| {
        err.lines()
            .find(|l| l.starts_with(prefix) && l.contains(name))
            .unwrap_or_else(|| panic!("no {prefix:?} line for {name}:\n{err}"))
            .to_owned()
    };
    assert!(noted("recovered: ", "recovered.pdf")
        .ends_with("recovered.pdf: damaged; text recovered after: cross-reference table rebuilt"));
    let partial_line = noted("partial: ", "partial.pdf");
    assert!(noted("same content: ", "twin.pdf").contains("same content as added.pdf"));
    assert!(noted("error: ", "failed.pdf").contains("not a PDF"));
    if tesseract() {
        assert!(
            partial_line.ends_with(
                "partial.pdf: pages without a text layer: 2 (OCR'd), 3 (no text: no image on the page)"
            ),
            "{partial_line}"
        );
    } else {
        assert!(
            partial_line.contains("tesseract is not installed"),
            "{partial_line}"
        );
    }

    // The same categories in the JSON report, with what each one says, from a store that
    // holds only unchanged.pdf (changed.pdf is new there).
    let fresh = tempfile::tempdir().unwrap();
    ok(dossier(fresh.path()).arg("ingest").arg(&unchanged));
    let (output, report) = ingest_json(fresh.path(), &all);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let summary = &report["summary"];
    for (key, n) in [
        ("files", 7),
        ("added", 2),
        ("recovered", 1),
        ("partial", 1),
        ("same_content", 1),
        ("unchanged", 1),
        ("failed", 1),
    ] {
        assert_eq!(summary[key], n, "{key}: {report:#}");
    }
    let r = file_report(&report, "recovered.pdf");
    assert_eq!(r["outcome"], "recovered");
    assert_eq!(
        r["repairs"],
        serde_json::json!(["cross-reference table rebuilt"])
    );
    let p = file_report(&report, "partial.pdf");
    assert_eq!(p["outcome"], "partial", "{p:#}");
    assert_eq!(p["page_notes"][1]["page"], 3, "{p:#}");
    if tesseract() {
        assert_eq!(
            p["page_notes"][0],
            serde_json::json!({"page": 2, "note": "OCR'd", "ocr": true})
        );
        assert_eq!(p["pages_without_text"], serde_json::json!([3]));
    }
    assert_eq!(file_report(&report, "twin.pdf")["outcome"], "same_content");
    assert_eq!(file_report(&report, "failed.pdf")["outcome"], "failed");
    // The partial file's text page is searchable.
    let hits = json(&ok(dossier(fresh.path()).args([
        "search",
        "--json",
        "-k",
        "1",
        "Where is the gannet register kept?",
    ])));
    assert_eq!(hits["hits"][0]["file"], "partial.pdf", "{hits:#}");

    // Without OCR, the scanned page says so.
    let no_ocr = tempfile::tempdir().unwrap();
    let (output, report) = {
        let output = run(dossier(no_ocr.path())
            .args(["ingest", "--json", "--ocr", "never"])
            .arg(&partial));
        let report = json(&output);
        (output, report)
    };
    assert!(output.status.success(), "{}", stderr(&output));
    let p = file_report(&report, "partial.pdf");
    assert_eq!(p["page_notes"][0]["note"], "no text: OCR off", "{p:#}");
    assert_eq!(p["pages_without_text"], serde_json::json!([2, 3]));
}

//! Keeping the corpus in sync: moves are not re-embedded, `--prune` removes the documents of
//! deleted files under the folders given (and nothing else), `rm` removes by path or id.

mod common;

use std::path::Path;

use common::*;

fn ls(store: &Path) -> Vec<serde_json::Value> {
    json(&ok(dossier(store).args(["ls", "--json"])))
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn moves_prune_and_rm_keep_the_store_in_step_with_the_files() {
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("docs");
    let outside = work.path().join("outside");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let samples = sample_pdfs();
    let names: Vec<String> = samples
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for (sample, name) in samples.iter().zip(&names) {
        std::fs::copy(sample, folder.join(name)).unwrap();
    }
    // A copy of one sample with other bytes, outside the folder.
    let mut bytes = std::fs::read(&samples[0]).unwrap();
    bytes.extend_from_slice(b"\n%outside\n");
    std::fs::write(outside.join("kept.pdf"), bytes).unwrap();
    ok(dossier(store.path())
        .arg("ingest")
        .arg(&folder)
        .arg(outside.join("kept.pdf")));
    let before = ls(store.path());
    assert_eq!(before.len(), 4);
    for d in &before {
        assert_eq!(d["status"], "complete", "{d}");
        assert!(d["ingested_at"].as_str().unwrap().starts_with("20"), "{d}");
    }

    // Move one file into a subfolder, delete another, and delete the file outside.
    std::fs::rename(folder.join(&names[0]), folder.join("sub").join("moved.pdf")).unwrap();
    std::fs::remove_file(folder.join(&names[1])).unwrap();
    std::fs::remove_file(outside.join("kept.pdf")).unwrap();
    let report = json(&ok(dossier(store.path())
        .args(["ingest", "--prune", "--json"])
        .arg(&folder)));
    let summary = &report["summary"];
    assert_eq!(summary["pruned"].as_u64(), Some(1), "{report:#}");
    assert_eq!(summary["added"].as_u64(), Some(0), "{report:#}");
    assert_eq!(
        summary["chunks"].as_u64(),
        Some(0),
        "moved files are not re-embedded"
    );
    let moved: Vec<_> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "moved")
        .collect();
    assert_eq!(moved.len(), 1, "{report:#}");
    assert!(moved[0]["path"].as_str().unwrap().ends_with("moved.pdf"));
    let after = ls(store.path());
    let files: Vec<&str> = after.iter().map(|d| d["file"].as_str().unwrap()).collect();
    // The file outside the folder is gone too, but it was not under a path given: kept.
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(
        files.contains(&"moved.pdf") && files.contains(&"kept.pdf"),
        "{files:?}"
    );
    assert!(!files.contains(&names[1].as_str()), "{files:?}");

    // A folder that does not exist (an unmounted disk) prunes nothing.
    let missing = run(dossier(store.path())
        .args(["ingest", "--prune"])
        .arg(work.path().join("unmounted")));
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));
    assert_eq!(ls(store.path()).len(), 3);

    // Pruning the (now empty) outside folder removes kept.pdf.
    ok(dossier(store.path())
        .args(["ingest", "--prune"])
        .arg(&outside));
    assert_eq!(ls(store.path()).len(), 2);

    // rm by unique id prefix, then by path; an unknown target is an error.
    let docs = ls(store.path());
    let id = docs[0]["doc_id"].as_str().unwrap();
    let removed = json(&ok(dossier(store.path()).args(["rm", "--json", &id[..10]])));
    assert_eq!(removed["removed"][0]["doc_id"].as_str(), Some(id));
    let path = docs[1]["path"].as_str().unwrap().to_owned();
    ok(dossier(store.path()).arg("rm").arg(&path));
    assert!(ls(store.path()).is_empty());
    let unknown = run(dossier(store.path()).args(["rm", "abcdef0123"]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("no document"),
        "{}",
        stderr(&unknown)
    );
    let check = json(&ok(dossier(store.path()).args(["check", "--json"])));
    assert_eq!(check["chunk_rows"].as_u64(), Some(0), "{check:#}");
}

//! Concurrency: queries during an ingest see whole documents and never fail; a second writer
//! gets a clear message and exit code 4, or waits its turn with --wait.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn spawn_ingest(store: &Path, corpus: &Path) -> Child {
    dossier(store)
        .args(["ingest", "--commit-seconds", "0.3"])
        .arg(corpus)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dossier starts")
}

/// Waits until the lock file names a holder (the ingest has the lock).
fn wait_for_lock(store: &Path) -> String {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(store.join("dossier.lock")).unwrap_or_default();
        if !text.trim().is_empty() {
            return text;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no lock taken");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn searches_during_an_ingest_see_whole_documents_and_never_fail() {
    let store = tempfile::tempdir().unwrap();
    let mut first = dossier(store.path());
    first.arg("ingest").args(sample_pdfs());
    ok(&mut first);
    let corpus = tempfile::tempdir().unwrap();
    let files = variants(corpus.path(), 3);

    let mut ingest = spawn_ingest(store.path(), corpus.path());
    let mut searches = 0;
    let mut seen = 0;
    while ingest.try_wait().unwrap().is_none() {
        let hits = json(&ok(dossier(store.path()).args([
            "search",
            "--json",
            "-k",
            "10",
            "stent size",
        ])));
        assert!(!hits["hits"].as_array().unwrap().is_empty(), "{hits:#}");
        let check = json(&ok(dossier(store.path()).args(["check", "--json"])));
        assert_eq!(check["consistent"], true, "{check:#}");
        let documents = check["documents"].as_u64().unwrap();
        assert!(documents >= seen, "{documents} documents after {seen}");
        seen = documents;
        searches += 1;
    }
    assert!(ingest.wait().unwrap().success());
    assert!(
        searches >= 2,
        "only {searches} searches ran during the ingest"
    );
    let check = json(&ok(dossier(store.path()).args(["check", "--json"])));
    assert_eq!(
        check["documents"].as_u64(),
        Some(3 + files.len() as u64),
        "{check:#}"
    );
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid_or_waits_its_turn() {
    let store = tempfile::tempdir().unwrap();
    let corpus = tempfile::tempdir().unwrap();
    variants(corpus.path(), 3);
    let other = tempfile::tempdir().unwrap();
    let extra = variants(other.path(), 1);

    let mut ingest = spawn_ingest(store.path(), corpus.path());
    let holder = wait_for_lock(store.path());
    assert!(holder.starts_with(&ingest.id().to_string()), "{holder}");

    let second = run(dossier(store.path()).arg("ingest").arg(&extra[0]));
    assert_eq!(second.status.code(), Some(4), "{}", stderr(&second));
    let message = stderr(&second);
    assert!(
        message.contains("another dossier ingest is writing to")
            && message.contains(&format!("(pid {})", ingest.id())),
        "{message}"
    );
    let rm = run(dossier(store.path()).args(["rm", "0000"]));
    assert_eq!(rm.status.code(), Some(4), "{}", stderr(&rm));

    // With --wait the second ingest runs once the first is done.
    let waited = run(dossier(store.path())
        .args(["ingest", "--wait", "--json"])
        .args(&extra));
    assert!(waited.status.success(), "{}", stderr(&waited));
    assert!(stderr(&waited).contains("waiting: another dossier ingest"));
    assert!(ingest.wait().unwrap().success());
    let report = json(&waited);
    // The first ingest's copy 0 is byte-identical to extra's copy 0: already there.
    assert_eq!(report["summary"]["failed"].as_u64(), Some(0));
    let check = json(&ok(dossier(store.path()).args(["check", "--json"])));
    assert_eq!(check["documents"].as_u64(), Some(9), "{check:#}");
    assert_eq!(check["consistent"], true);
}

//! Crash safety: `kill -9` an ingest at several points; after each kill the store opens,
//! `ls`, `search` and `check` work, every listed document has exactly its chunks and none is
//! listed twice; a rerun finishes the job and ends where a clean ingest ends.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// Enough files that the timed kills land mid-way even when ingest is fast: with 6 copies,
/// faster PDF reading on an idle machine finished the corpus before the last kill, and
/// with 12 the int8 embedding graph did (it embeds 2.5× faster).
const COPIES: usize = 36;

/// When to kill.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This long after the start (model loading, parsing, or mid-commit).
    After(Duration),
    /// Right after the n-th commit is logged (the next commit is usually under way).
    AfterCommits(usize),
}

/// Chunks per sample stem, from a clean ingest of the originals.
fn clean_counts() -> HashMap<String, u64> {
    let store = tempfile::tempdir().unwrap();
    let mut command = dossier(store.path());
    command.arg("ingest").args(sample_pdfs());
    ok(&mut command);
    let docs = json(&ok(dossier(store.path()).args(["ls", "--json"])));
    docs.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                variant_stem(d["file"].as_str().unwrap()),
                d["chunks"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Runs an ingest and kills it with SIGKILL at `when`; returns whether it was still running.
fn ingest_and_kill(store: &Path, corpus: &Path, when: Kill) -> bool {
    let mut child = dossier(store)
        .args(["ingest", "--commit-seconds", "0.3"])
        .arg(corpus)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dossier starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut commits = 0;
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let fire = match when {
            Kill::After(after) => started.elapsed() >= after,
            Kill::AfterCommits(n) => {
                while let Ok(line) = rx.try_recv() {
                    if line.starts_with("progress:") {
                        commits += 1;
                    }
                }
                commits >= n
            }
        };
        if fire {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "ingest never reached {when:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What must hold at any moment: returns the number of visible documents.
fn assert_whole(store: &Path, expected: &HashMap<String, u64>) -> usize {
    let check = json(&ok(dossier(store).args(["check", "--json"])));
    assert_eq!(check["consistent"], true, "{check:#}");
    assert!(check["mismatched"].as_array().unwrap().is_empty());
    let docs = json(&ok(dossier(store).args(["ls", "--json"])));
    let docs = docs.as_array().unwrap();
    let mut ids = HashSet::new();
    let mut paths = HashSet::new();
    for d in docs {
        assert!(ids.insert(d["doc_id"].as_str().unwrap().to_owned()), "{d}");
        // A path names one document (no file here changes, so not even for a moment).
        for path in d["paths"].as_array().unwrap() {
            assert!(paths.insert(path.as_str().unwrap().to_owned()), "{d}");
        }
        let stem = variant_stem(d["file"].as_str().unwrap());
        assert_eq!(d["chunks"].as_u64(), expected.get(&stem).copied(), "{d}");
    }
    let visible: u64 = docs.iter().map(|d| d["chunks"].as_u64().unwrap()).sum();
    let orphans = check["orphan_rows"].as_u64().unwrap();
    assert_eq!(check["chunk_rows"].as_u64().unwrap(), visible + orphans);
    let hits = json(&ok(dossier(store).args(["search", "--json", "stent size"])));
    let hits = hits["hits"].as_array().unwrap();
    if !docs.is_empty() {
        assert!(!hits.is_empty());
    }
    for hit in hits {
        assert!(ids.contains(hit["doc_id"].as_str().unwrap()), "{hit}");
    }
    docs.len()
}

#[test]
fn kill_9_at_any_point_leaves_whole_documents_and_a_rerun_finishes_the_job() {
    let expected = clean_counts();
    assert_eq!(expected.len(), 3, "{expected:?}");
    let corpus = tempfile::tempdir().unwrap();
    let files = variants(corpus.path(), COPIES);
    // A second name for one variant of each sample (same bytes, same stem): one document
    // with two paths, whichever copy the kills catch first.
    let twins = 3;
    for file in files
        .iter()
        .filter(|f| f.to_string_lossy().ends_with("-0.pdf"))
    {
        let twin = file.to_string_lossy().replace("-0.pdf", "-1000.pdf");
        std::fs::copy(file, twin).unwrap();
    }
    let store = tempfile::tempdir().unwrap();

    let mut visible = 0;
    let mut kills = 0;
    for when in [
        Kill::After(Duration::from_millis(1200)),
        Kill::AfterCommits(1),
        Kill::After(Duration::from_millis(2600)),
        Kill::AfterCommits(2),
        Kill::After(Duration::from_millis(3900)),
    ] {
        let killed = ingest_and_kill(store.path(), corpus.path(), when);
        kills += usize::from(killed);
        // The store may not exist yet if the kill came before its creation.
        if !store.path().join("documents.lance").exists() {
            continue;
        }
        let now = assert_whole(store.path(), &expected);
        assert!(now >= visible, "{now} documents after {visible}");
        visible = now;
    }
    assert!(kills >= 3, "only {kills} runs were killed mid-way");
    assert!(
        visible < files.len(),
        "the kills came too late to test anything"
    );

    // The rerun finishes the job: nothing twice, nothing missing, no leftovers.
    let output = ok(dossier(store.path())
        .args(["ingest", "--json"])
        .arg(corpus.path()));
    let report = json(&output);
    let summary = &report["summary"];
    assert_eq!(
        summary["added"].as_u64().unwrap()
            + summary["unchanged"].as_u64().unwrap()
            + summary["same_content"].as_u64().unwrap(),
        (files.len() + twins) as u64,
        "{summary:#}"
    );
    assert_eq!(
        summary["added"].as_u64().unwrap(),
        (files.len() - visible) as u64
    );
    assert_eq!(assert_whole(store.path(), &expected), files.len());
    let docs = json(&ok(dossier(store.path()).args(["ls", "--json"])));
    let paths: usize = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["paths"].as_array().unwrap().len())
        .sum();
    assert_eq!(paths, files.len() + twins, "{docs:#}");
    let clean_total: u64 = expected.values().sum::<u64>() * COPIES as u64;
    let check = json(&ok(dossier(store.path()).args(["check", "--json"])));
    assert_eq!(check["chunk_rows"].as_u64(), Some(clean_total), "{check:#}");
    assert_eq!(check["orphan_rows"].as_u64(), Some(0), "{check:#}");

    // optimize drops old versions and the files killed writes left behind.
    ok(dossier(store.path()).arg("optimize"));
    let check = json(&ok(dossier(store.path()).args(["check", "--json"])));
    for table in check["tables"].as_array().unwrap() {
        assert_eq!(table["versions"].as_u64(), Some(1), "{table}");
    }
    assert_eq!(check["chunk_rows"].as_u64(), Some(clean_total));
    assert_eq!(assert_whole(store.path(), &expected), files.len());
}

//! `dossier rm`: remove documents from the store, by file path or by id (prefix).
//!
//! A document stored under several paths (the same bytes under two names) loses only the
//! paths named; its chunks go with its last path. An id names the document whatever its
//! paths.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use dossier_store::DocumentRecord;
use serde::Serialize;
use tokio::runtime::Runtime;

use super::catalog::Catalog;
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// A file path (the path it was ingested from, or a folder: every document under it), or
    /// a document id or a unique prefix of one (as `dossier ls` shows).
    #[arg(required = true)]
    targets: Vec<String>,
    /// When another process is writing to the store, wait for it instead of failing.
    #[arg(long)]
    wait: bool,
    /// Print JSON ({removed: [{doc_id, path, paths, document_removed, paths_left}]}) instead
    /// of a line per document.
    #[arg(long)]
    json: bool,
}

/// What `rm` does to one document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Removal {
    pub doc_id: String,
    /// The first path removed.
    pub path: String,
    /// Every path removed.
    pub paths: Vec<String>,
    /// The document (its chunks) is gone: no path names it any more.
    pub document_removed: bool,
    /// The paths that still name it.
    pub paths_left: Vec<String>,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: RmArgs) -> Result<u8> {
    let _lock = match super::lock_store(global, "rm", args.wait)? {
        Ok(lock) => lock,
        Err(code) => return Ok(code),
    };
    let store = global.settings().open_store(runtime, false)?;
    let documents = runtime.block_on(store.documents())?;
    let targets: Vec<Target> = args
        .targets
        .iter()
        .map(|t| resolve(&documents, t))
        .collect::<Result<_>>()?;
    let mut catalog = Catalog::new(documents.clone());
    let removals = plan(&documents, &targets, &mut catalog);
    let changes = catalog.take_changes();
    // Rows that keep a path first, so that a kill in between leaves every path listed.
    runtime
        .block_on(store.update_documents(&changes.update))
        .context("removing paths from documents")?;
    runtime
        .block_on(store.remove_documents(&changes.remove))
        .context("removing documents")?;
    if args.json {
        super::print_json(&serde_json::json!({ "removed": removals }))?;
    } else {
        for r in &removals {
            let id = &r.doc_id[..12.min(r.doc_id.len())];
            for path in &r.paths {
                if r.document_removed {
                    eprintln!("removed {id} {path}");
                } else {
                    eprintln!(
                        "removed {id} {path} (the document stays under {})",
                        r.paths_left.join(", ")
                    );
                }
            }
        }
        let gone = removals.iter().filter(|r| r.document_removed).count();
        let kept = removals.len() - gone;
        if kept == 0 {
            eprintln!("{gone} documents removed");
        } else {
            eprintln!(
                "{gone} documents removed; {kept} kept under their other paths (same content)"
            );
        }
    }
    Ok(crate::exit::OK)
}

/// What a target names.
#[derive(Debug, PartialEq)]
enum Target {
    /// These paths (one file, or every file under a folder).
    Paths(Vec<String>),
    /// A whole document, whatever its paths.
    Document(String),
}

/// Applies the targets to the catalog; one removal per document touched, in id order.
fn plan(documents: &[DocumentRecord], targets: &[Target], catalog: &mut Catalog) -> Vec<Removal> {
    let mut removed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut whole: Vec<&str> = Vec::new();
    for target in targets {
        match target {
            Target::Paths(paths) => {
                for path in paths {
                    for d in documents.iter().filter(|d| d.has_path(path)) {
                        removed
                            .entry(d.doc_id.clone())
                            .or_default()
                            .push(path.clone());
                    }
                    catalog.release(path, None);
                }
            }
            Target::Document(id) => {
                if let Some(d) = documents.iter().find(|d| &d.doc_id == id) {
                    removed
                        .entry(d.doc_id.clone())
                        .or_default()
                        .extend(d.paths.iter().cloned());
                }
                whole.push(id);
                catalog.forget(id);
            }
        }
    }
    removed
        .into_iter()
        .map(|(doc_id, mut paths)| {
            paths.sort();
            paths.dedup();
            let paths_left = if whole.contains(&doc_id.as_str()) {
                Vec::new()
            } else {
                catalog
                    .get(&doc_id)
                    .map(|d| d.paths.clone())
                    .unwrap_or_default()
            };
            Removal {
                path: paths.first().cloned().unwrap_or_default(),
                paths,
                document_removed: paths_left.is_empty(),
                paths_left,
                doc_id,
            }
        })
        .collect()
}

/// What a target names: a path (exact, or a folder and everything under it), else an id
/// prefix that must be unique.
fn resolve(documents: &[DocumentRecord], target: &str) -> Result<Target> {
    let path = Path::new(target);
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut by_path: Vec<String> = documents
        .iter()
        .flat_map(|d| d.paths.iter())
        .filter(|p| Path::new(p.as_str()).starts_with(&absolute))
        .cloned()
        .collect();
    if !by_path.is_empty() {
        by_path.sort();
        by_path.dedup();
        return Ok(Target::Paths(by_path));
    }
    let looks_like_id = target.len() >= 4 && target.chars().all(|c| c.is_ascii_hexdigit());
    if looks_like_id {
        let prefix = target.to_ascii_lowercase();
        let by_id: Vec<&DocumentRecord> = documents
            .iter()
            .filter(|d| d.doc_id.starts_with(&prefix))
            .collect();
        match by_id.as_slice() {
            [one] => return Ok(Target::Document(one.doc_id.clone())),
            [] => {}
            several => anyhow::bail!(
                "{target} is the start of {} document ids ({}); give more of it",
                several.len(),
                several
                    .iter()
                    .map(|d| &d.doc_id[..16.min(d.doc_id.len())])
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    anyhow::bail!("no document in the store has the path or id {target}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, paths: &[&str]) -> DocumentRecord {
        crate::cli::catalog::test_document(id, paths)
    }

    fn run_plan(documents: &[DocumentRecord], targets: &[&str]) -> (Vec<Removal>, Catalog) {
        let targets: Vec<Target> = targets
            .iter()
            .map(|t| resolve(documents, t).unwrap())
            .collect();
        let mut catalog = Catalog::new(documents.to_vec());
        let removals = plan(documents, &targets, &mut catalog);
        (removals, catalog)
    }

    #[test]
    fn removing_one_of_two_paths_keeps_the_document_under_the_other() {
        let docs = [
            doc("aaaa1111", &["/w/a.pdf", "/w/b.pdf"]),
            doc("bbbb2222", &["/w/c.pdf"]),
        ];
        let (removals, mut catalog) = run_plan(&docs, &["/w/a.pdf"]);
        assert_eq!(
            removals,
            vec![Removal {
                doc_id: "aaaa1111".into(),
                path: "/w/a.pdf".into(),
                paths: vec!["/w/a.pdf".into()],
                document_removed: false,
                paths_left: vec!["/w/b.pdf".into()],
            }]
        );
        let changes = catalog.take_changes();
        assert_eq!(changes.update[0].paths, vec!["/w/b.pdf"]);
        assert!(changes.remove.is_empty());

        // Both paths: the document goes.
        let (removals, mut catalog) = run_plan(&docs, &["/w/a.pdf", "/w/b.pdf"]);
        assert!(removals[0].document_removed);
        assert_eq!(catalog.take_changes().remove, vec!["aaaa1111"]);
    }

    #[test]
    fn a_folder_removes_the_paths_under_it_and_an_id_the_whole_document() {
        let docs = [
            doc("aaaa1111", &["/w/x/a.pdf", "/w/y/a.pdf"]),
            doc("bbbb2222", &["/w/x/c.pdf"]),
        ];
        let (removals, mut catalog) = run_plan(&docs, &["/w/x"]);
        assert_eq!(removals.len(), 2);
        assert_eq!(removals[0].paths_left, vec!["/w/y/a.pdf"]);
        assert!(removals[1].document_removed);
        let changes = catalog.take_changes();
        assert_eq!(changes.remove, vec!["bbbb2222"]);
        assert_eq!(changes.update[0].paths, vec!["/w/y/a.pdf"]);

        let (removals, mut catalog) = run_plan(&docs, &["aaaa"]);
        assert_eq!(removals[0].paths, vec!["/w/x/a.pdf", "/w/y/a.pdf"]);
        assert!(removals[0].document_removed);
        assert_eq!(catalog.take_changes().remove, vec!["aaaa1111"]);

        assert!(resolve(&docs, "/w/nothing.pdf").is_err());
    }
}

//! `dossier rm`: remove documents from the store, by file path or by id (prefix).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use dossier_store::DocumentRecord;
use tokio::runtime::Runtime;

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
    /// Print JSON ({removed: [{doc_id, path}]}) instead of a line per document.
    #[arg(long)]
    json: bool,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: RmArgs) -> Result<u8> {
    let _lock = match super::lock_store(global, "rm", args.wait)? {
        Ok(lock) => lock,
        Err(code) => return Ok(code),
    };
    let store = super::open_store(runtime, global, false)?;
    let documents = runtime.block_on(store.documents())?;
    let mut chosen: BTreeMap<String, DocumentRecord> = BTreeMap::new();
    for target in &args.targets {
        let matched = resolve(&documents, target)?;
        for d in matched {
            chosen.insert(d.doc_id.clone(), d.clone());
        }
    }
    let ids: Vec<String> = chosen.keys().cloned().collect();
    runtime
        .block_on(store.remove_documents(&ids))
        .context("removing documents")?;
    if args.json {
        let removed: Vec<_> = chosen
            .values()
            .map(|d| serde_json::json!({ "doc_id": d.doc_id, "path": d.path }))
            .collect();
        super::print_json(&serde_json::json!({ "removed": removed }))?;
    } else {
        for d in chosen.values() {
            eprintln!("removed {} {}", &d.doc_id[..12.min(d.doc_id.len())], d.path);
        }
        eprintln!("{} documents removed", chosen.len());
    }
    Ok(crate::exit::OK)
}

/// The documents a target names: a path (exact, or a folder and everything under it), else
/// an id prefix that must be unique.
fn resolve<'a>(documents: &'a [DocumentRecord], target: &str) -> Result<Vec<&'a DocumentRecord>> {
    let path = Path::new(target);
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let by_path: Vec<&DocumentRecord> = documents
        .iter()
        .filter(|d| Path::new(&d.path).starts_with(&absolute))
        .collect();
    if !by_path.is_empty() {
        return Ok(by_path);
    }
    let looks_like_id = target.len() >= 4 && target.chars().all(|c| c.is_ascii_hexdigit());
    if looks_like_id {
        let prefix = target.to_ascii_lowercase();
        let by_id: Vec<&DocumentRecord> = documents
            .iter()
            .filter(|d| d.doc_id.starts_with(&prefix))
            .collect();
        match by_id.len() {
            1 => return Ok(by_id),
            0 => {}
            n => anyhow::bail!(
                "{target} is the start of {n} document ids ({}); give more of it",
                by_id
                    .iter()
                    .map(|d| &d.doc_id[..16.min(d.doc_id.len())])
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    anyhow::bail!("no document in the store has the path or id {target}")
}

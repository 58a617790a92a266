//! `dossier check`: is every visible document whole? Counts the chunk rows of each document
//! against its recorded count, and reports duplicates and the invisible leftovers of
//! interrupted writes. Reads only; safe while an ingest runs.

use anyhow::Result;
use clap::Args;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print JSON ({consistent, documents, chunk_rows, mismatched, duplicate_documents,
    /// orphan_ids, orphan_rows, tables, vector_index: {name, kind, indexed_rows,
    /// unindexed_rows} or null}).
    #[arg(long)]
    json: bool,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: CheckArgs) -> Result<u8> {
    let store = global.settings().open_store(runtime, false)?;
    let report = runtime.block_on(store.check())?;
    let tables = runtime.block_on(store.health())?;
    let vector_index = runtime.block_on(store.vector_index())?;
    let consistent = report.consistent();
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["consistent"] = consistent.into();
        value["tables"] = serde_json::to_value(&tables)?;
        value["vector_index"] = serde_json::to_value(&vector_index)?;
        super::print_json(&value)?;
    } else {
        println!(
            "{} documents, {} chunk rows; {} mismatched, {} duplicated; {} leftover rows of {} interrupted writes (invisible)",
            report.documents,
            report.chunk_rows,
            report.mismatched.len(),
            report.duplicate_documents.len(),
            report.orphan_rows,
            report.orphan_ids.len()
        );
        for m in &report.mismatched {
            println!(
                "mismatch: {} {}: {} chunk rows, {} recorded",
                m.doc_id, m.path, m.found, m.expected
            );
        }
        for id in &report.duplicate_documents {
            println!("duplicate document row: {id}");
        }
        for t in &tables {
            println!(
                "table {}: {} rows, {} versions, {} fragments ({} small)",
                t.table, t.rows, t.versions, t.fragments, t.small_fragments
            );
        }
        match &vector_index {
            Some(index) => println!(
                "vector index {}: {} rows indexed, {} searched flat until the next ingest",
                index.kind, index.indexed_rows, index.unindexed_rows
            ),
            None => println!(
                "no vector index (exact search; built past {} chunk rows)",
                store.vector_index_rows()
            ),
        }
    }
    Ok(if consistent {
        crate::exit::OK
    } else {
        crate::exit::ERROR
    })
}

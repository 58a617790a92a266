//! `dossier ls`: the documents in the store.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Print JSON (an array of documents) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Listed {
    doc_id: String,
    file: String,
    path: String,
    title: Option<String>,
    pages: u32,
    chunks: u32,
    pages_without_text: u32,
    size_bytes: u64,
    ingested_at_ms: i64,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: LsArgs) -> Result<u8> {
    let store = super::open_store(runtime, global, false)?;
    let documents = runtime.block_on(store.documents())?;
    let listed: Vec<Listed> = documents
        .into_iter()
        .map(|d| Listed {
            file: d.file_name().to_owned(),
            doc_id: d.doc_id,
            path: d.path,
            title: d.title,
            pages: d.pages,
            chunks: d.chunks,
            pages_without_text: d.pages_without_text,
            size_bytes: d.size_bytes,
            ingested_at_ms: d.ingested_at_ms,
        })
        .collect();
    if args.json {
        super::print_json(&listed)?;
        return Ok(crate::exit::OK);
    }
    if listed.is_empty() {
        println!("no documents in {}", global.store);
        return Ok(crate::exit::OK);
    }
    println!("{:<12}  {:>5}  {:>6}  path", "id", "pages", "chunks");
    for d in &listed {
        println!(
            "{:<12}  {:>5}  {:>6}  {}",
            &d.doc_id[..12.min(d.doc_id.len())],
            d.pages,
            d.chunks,
            d.path
        );
    }
    Ok(crate::exit::OK)
}

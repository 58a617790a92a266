//! `dossier ls`: the documents in the store.

use anyhow::Result;
use clap::Args;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Print JSON (an array of documents) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: LsArgs) -> Result<u8> {
    let store = global.settings().open_store(runtime, false)?;
    let documents = runtime.block_on(store.documents())?;
    let listed = dossier::report::listing(documents);
    if args.json {
        super::print_json(&listed)?;
        return Ok(crate::exit::OK);
    }
    if listed.is_empty() {
        println!("no documents in {}", global.store);
        return Ok(crate::exit::OK);
    }
    println!(
        "{:<12}  {:>5}  {:>6}  {:<20}  {:<10}  path",
        "id", "pages", "chunks", "ingested (UTC)", "status"
    );
    for d in &listed {
        let status = if d.pages_without_text == 0 {
            "complete".to_owned()
        } else {
            format!("{} no text", d.pages_without_text)
        };
        println!(
            "{:<12}  {:>5}  {:>6}  {:<20}  {:<10}  {}",
            &d.doc_id[..12.min(d.doc_id.len())],
            d.pages,
            d.chunks,
            d.ingested_at.trim_end_matches('Z').replace('T', " "),
            status,
            d.path
        );
        // The other names of the same bytes, each on a line of its own under the first.
        for other in d.paths.iter().skip(1) {
            println!("{:<61}  {other} (same content)", "");
        }
    }
    Ok(crate::exit::OK)
}

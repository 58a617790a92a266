//! `dossier optimize`: compact the tables, drop leftovers of interrupted writes, remove old
//! versions and unreferenced files, and update indices.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct OptimizeArgs {
    /// When another process is writing to the store, wait for it instead of failing.
    #[arg(long)]
    wait: bool,
    /// Print JSON ({before, after, seconds}) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: OptimizeArgs) -> Result<u8> {
    let _lock = match super::lock_store(global, "optimize", args.wait)? {
        Ok(lock) => lock,
        Err(code) => return Ok(code),
    };
    let store = global.settings().open_store(runtime, false)?;
    let before = runtime.block_on(store.health())?;
    let started = Instant::now();
    let after = runtime
        .block_on(store.optimize())
        .context("optimizing the store")?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        super::print_json(&serde_json::json!({
            "before": before, "after": after, "seconds": seconds
        }))?;
        return Ok(crate::exit::OK);
    }
    println!(
        "{:<10} {:>9} {:>9} {:>10} {:>10}",
        "table", "rows", "versions", "fragments", "MiB"
    );
    for (b, a) in before.iter().zip(&after) {
        println!(
            "{:<10} {:>9} {:>4} → {:<3} {:>4} → {:<4} {:>4.1} → {:.1}",
            a.table,
            a.rows,
            b.versions,
            a.versions,
            b.fragments,
            a.fragments,
            b.bytes as f64 / 1048576.0,
            a.bytes as f64 / 1048576.0
        );
    }
    eprintln!("optimized in {seconds:.1}s");
    Ok(crate::exit::OK)
}

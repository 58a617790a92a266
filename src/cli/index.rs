//! `dossier index`: build or rebuild the ANN index of the chunk vectors. Ingest builds it by
//! itself once the store passes a row threshold and folds new chunks into it; this command
//! forces a build below the threshold, or retrains the partitions after the store has grown
//! well past the size it was built at.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use dossier_store::VectorIndexKind;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct IndexArgs {
    /// Index type: ivf_hnsw_sq (IVF partitions with an HNSW graph of 8-bit vectors in each;
    /// the default, what ingest builds) or ivf_pq (product-quantised IVF).
    #[arg(long, default_value_t = VectorIndexKind::default())]
    kind: VectorIndexKind,
    /// Only do what ingest does: build the index if the store has passed the threshold and
    /// has none, else fold chunks added since into it (no retraining).
    #[arg(long)]
    refresh: bool,
    /// IVF partitions (default: √chunks).
    #[arg(long, hide = true)]
    partitions: Option<u32>,
    /// When another process is writing to the store, wait for it instead of failing.
    #[arg(long)]
    wait: bool,
    /// Print JSON ({action, chunks, seconds, index: {name, kind, indexed_rows,
    /// unindexed_rows}}).
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    action: String,
    chunks: usize,
    seconds: f64,
    index: Option<dossier_store::VectorIndexStatus>,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: IndexArgs) -> Result<u8> {
    let _lock = match super::lock_store(global, "index", args.wait)? {
        Ok(lock) => lock,
        Err(code) => return Ok(code),
    };
    let store = global.settings().open_store(runtime, false)?;
    let chunks = runtime.block_on(store.count_chunks())?;
    let started = Instant::now();
    let action = if args.refresh {
        let change = runtime
            .block_on(store.refresh_vector_index())
            .context("updating the vector index")?;
        serde_json::to_value(change)?
            .as_str()
            .unwrap_or_default()
            .to_owned()
    } else {
        anyhow::ensure!(
            chunks > 0,
            "the store at {} has no chunks to index",
            global.store
        );
        eprintln!(
            "building the {} vector index on {chunks} chunks…",
            args.kind
        );
        runtime
            .block_on(store.build_vector_index(args.kind, args.partitions))
            .context("building the vector index")?;
        "built".to_owned()
    };
    let report = Report {
        action,
        chunks,
        seconds: started.elapsed().as_secs_f64(),
        index: runtime.block_on(store.vector_index())?,
    };
    if args.json {
        super::print_json(&report)?;
        return Ok(crate::exit::OK);
    }
    match &report.index {
        Some(index) => println!(
            "vector index {} ({}): {} chunks indexed, {} not yet ({} in {:.1}s)",
            index.name,
            index.kind,
            index.indexed_rows,
            index.unindexed_rows,
            report.action.replace('_', " "),
            report.seconds
        ),
        None => println!(
            "no vector index: {chunks} chunks, below the threshold of {} (search is exact); \
             `dossier index` builds one anyway",
            store.vector_index_rows()
        ),
    }
    Ok(crate::exit::OK)
}

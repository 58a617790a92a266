//! `dossier bench-ingest`: the embedder alone on a corpus's chunks, for the ingest pipeline's
//! reference (BENCHMARKS.md). Parses and chunks every file first (timed), then embeds all the
//! chunks one at a time, and in batches with and without sorting by length.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use dossier_ingest::{embed, Chunker, EmbedderFiles};
use tokio::runtime::Runtime;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct BenchIngestArgs {
    /// PDFs or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Batch sizes to try besides 1.
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,32")]
    batches: Vec<usize>,
    /// Embed at most this many chunks (every n-th, so that all files are represented).
    #[arg(long, default_value_t = 400)]
    max_chunks: usize,
}

pub fn run(_runtime: &Runtime, global: &GlobalArgs, args: BenchIngestArgs) -> Result<u8> {
    let (files, _) = dossier_ingest::discover(&args.paths);
    let files_info = EmbedderFiles::in_models_dir(&global.models);
    let chunker = Chunker::new(embed::sizing_tokenizer(&files_info)?, 254, 32)?;
    let started = Instant::now();
    let mut texts = Vec::new();
    let mut pages = 0;
    for file in &files {
        let bytes = std::fs::read(file)?;
        let id = dossier_ingest::document_id(&bytes);
        if let Ok(doc) = dossier_ingest::prepare(file, &bytes, id, &Default::default(), &chunker) {
            pages += doc.page_count;
            texts.extend(doc.chunks.into_iter().map(|c| c.text));
        }
    }
    let parse = started.elapsed().as_secs_f64();
    println!(
        "parse+chunk: {} files, {pages} pages, {} chunks in {parse:.1}s ({:.1} pages/s, one thread)",
        files.len(),
        texts.len(),
        f64::from(pages) / parse
    );
    if texts.len() > args.max_chunks {
        let step = texts.len().div_ceil(args.max_chunks.max(1));
        texts = texts.into_iter().step_by(step).collect();
    }
    let mut embedder = global.settings().load_embedder()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let started = Instant::now();
    for text in &refs {
        embedder.embed(&[text], 1)?;
    }
    let single = refs.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "embed alone, batch 1: {} chunks, {single:.1} chunks/s",
        refs.len()
    );
    let mut sorted = refs.clone();
    sorted.sort_by_key(|t| t.len());
    for &batch in &args.batches {
        for (label, order) in [("unsorted", &refs), ("length-sorted", &sorted)] {
            let started = Instant::now();
            for part in order.chunks(batch.max(1)) {
                embedder.embed(part, batch.max(1))?;
            }
            let rate = refs.len() as f64 / started.elapsed().as_secs_f64();
            println!(
                "embed alone, batch {batch} {label}: {rate:.1} chunks/s ({:.2}x batch 1)",
                rate / single
            );
        }
    }
    Ok(crate::exit::OK)
}

//! `dossier bench`: throughput of each stage on this machine, each beside a reference run in
//! the same process, so that results are ratios that survive a change of machine.
//!
//! - extraction and chunking: pages/s and chunks/s;
//! - embedding: chunks/s in batches, against one chunk at a time (the reference);
//! - store: chunks/s written, and search latency;
//! - search at scale (`--search-rows`): p50/p95 latency of each search mode over a
//!   synthetic store of that many clustered chunks, against the time to embed the question
//!   (the reference), exact and with an ANN index (`--ann`), with the ANN's recall@10;
//! - generation: prompt and answer tokens/s of the model as loaded (Q8_0), against the
//!   original Q4_1 file (the reference).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use dossier_ingest::{embed, Chunker, EmbedderFiles};
use dossier_llm::{self as llm, ChatMessage, GenerationParams, Llm};
use dossier_store::{EmbeddingSpec, Store};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::GlobalArgs;

mod search;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// PDFs (or folders) to measure on.
    #[arg(default_value = "samples")]
    paths: Vec<PathBuf>,
    /// Tokens to generate per LLM run.
    #[arg(long, default_value_t = 64)]
    tokens: usize,
    /// Skip the slow reference runs (one-at-a-time embedding, the unconverted LLM).
    #[arg(long)]
    no_reference: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Synthetic chunk rows for the search-at-scale stage, one store per value (e.g.
    /// 10000,100000,1000000; 0 skips the stage).
    #[arg(long, value_delimiter = ',', default_values_t = [100_000])]
    search_rows: Vec<usize>,
    /// Search at scale: ANN indices to build and measure after exact search, one after the
    /// other (ivf_hnsw_sq, ivf_pq; `none` for exact search only).
    #[arg(long, value_delimiter = ',', default_value = "ivf_hnsw_sq")]
    ann: Vec<String>,
    /// Search at scale: IVF partitions of the ANN index (default: the store's rule,
    /// √rows partitions).
    #[arg(long, hide = true)]
    ann_partitions: Option<u32>,
    /// Search at scale: also measure recall and latency over a grid of nprobes, ef and
    /// refine factors for each ANN index.
    #[arg(long, hide = true)]
    ann_sweep: bool,
    /// Only extraction and the search-at-scale stage (no embedding throughput, no LLM).
    #[arg(long)]
    search_only: bool,
}

#[derive(Serialize)]
struct Measure {
    stage: &'static str,
    what: String,
    value: f64,
    unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
}

fn measure(
    stage: &'static str,
    what: impl Into<String>,
    value: f64,
    unit: &'static str,
    reference: Option<f64>,
) -> Measure {
    Measure {
        stage,
        what: what.into(),
        value,
        unit,
        reference,
        ratio: reference.filter(|r| *r > 0.0).map(|r| value / r),
    }
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: BenchArgs) -> Result<u8> {
    let mut results = Vec::new();
    let (files, _) = dossier_ingest::discover(&args.paths);
    anyhow::ensure!(!files.is_empty(), "no PDFs found in {:?}", args.paths);

    // Extraction and chunking.
    let embed_files = EmbedderFiles::in_models_dir(&global.models);
    let chunker = Chunker::new(embed::sizing_tokenizer(&embed_files)?, 254, 32)?;
    let started = Instant::now();
    let mut documents = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file)?;
        let id = dossier_ingest::document_id(&bytes);
        if let Ok(doc) = dossier_ingest::prepare(file, &bytes, id, &Default::default(), &chunker) {
            documents.push(doc);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let pages: u32 = documents.iter().map(|d| d.page_count).sum();
    let chunk_count: usize = documents.iter().map(|d| d.chunks.len()).sum();
    anyhow::ensure!(chunk_count > 0, "the PDFs gave no text to measure on");
    results.push(measure(
        "extract+chunk",
        format!("{} files, {pages} pages", documents.len()),
        f64::from(pages) / seconds,
        "pages/s",
        None,
    ));

    let chunk_texts: Vec<String> = documents
        .iter()
        .flat_map(|d| d.chunks.iter().map(|c| c.text.clone()))
        .collect();
    let ann = ann_bench(&args)?;
    if args.search_only {
        let mut embedder = global.settings().load_embedder()?;
        for &rows in &args.search_rows {
            results.extend(search::at_scale(
                runtime,
                &mut embedder,
                &chunk_texts,
                rows.max(1),
                &ann,
            )?);
        }
        return report(&args, global, &results);
    }

    // Embedding, batched against one at a time.
    let mut embedder = global.settings().load_embedder()?;
    let inputs: Vec<String> = documents
        .iter()
        .flat_map(dossier::ingest::embedding_texts)
        .collect();
    let texts: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let started = Instant::now();
    let vectors = embedder.embed(&texts, 32)?;
    let batched = texts.len() as f64 / started.elapsed().as_secs_f64();
    let single = if args.no_reference {
        None
    } else {
        let started = Instant::now();
        for text in &texts {
            embedder.embed_one(text)?;
        }
        Some(texts.len() as f64 / started.elapsed().as_secs_f64())
    };
    results.push(measure(
        "embed",
        format!("{} chunks, batch 32 vs batch 1", texts.len()),
        batched,
        "chunks/s",
        single,
    ));

    // Store writes and search.
    let dir = tempfile::tempdir()?;
    let uri = dir.path().to_string_lossy().into_owned();
    let mut store = runtime.block_on(Store::open(&uri, true))?;
    runtime.block_on(store.ensure_embedding(&EmbeddingSpec {
        model: embedder.model_name().to_owned(),
        dimension: embedder.dimension(),
    }))?;
    let mut vectors = vectors.into_iter();
    let started = Instant::now();
    for doc in &documents {
        let doc_vectors: Vec<Vec<f32>> = vectors.by_ref().take(doc.chunks.len()).collect();
        let record = dossier::ingest::document_record(doc, &doc.path.to_string_lossy());
        let chunks = dossier::ingest::chunk_records(doc, doc_vectors);
        runtime.block_on(store.put_document(&record, &chunks))?;
    }
    results.push(measure(
        "store",
        "write (one commit per document)",
        chunk_count as f64 / started.elapsed().as_secs_f64(),
        "chunks/s",
        None,
    ));
    let query = embedder.embed_one("How much notice is needed to terminate?")?;
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        runtime.block_on(store.nearest(&query, 5))?;
    }
    results.push(measure(
        "store",
        "vector search, k=5",
        started.elapsed().as_secs_f64() * 1e3 / f64::from(rounds),
        "ms",
        None,
    ));

    for &rows in args.search_rows.iter().filter(|&&r| r > 0) {
        results.extend(search::at_scale(
            runtime,
            &mut embedder,
            &chunk_texts,
            rows,
            &ann,
        )?);
    }

    // Generation: the loaded (requantised) model against the original file.
    let original = llm::model_path(None, &global.models);
    let prompt = format!(
        "Sources:\n[1] {}\nQuestion: What does this passage say?\nAnswer:",
        texts.first().copied().unwrap_or_default()
    );
    let options = global.llm_settings()?.llm;
    let fast = generation_speed(&original, true, &options, &prompt, args.tokens)?;
    let reference = if args.no_reference {
        None
    } else {
        Some(generation_speed(
            &original,
            false,
            &options,
            &prompt,
            args.tokens,
        )?)
    };
    results.push(measure(
        "llm",
        format!("prompt processing, {} (Q8_0 vs Q4_1)", fast.0),
        fast.1,
        "tokens/s",
        reference.as_ref().map(|r| r.1),
    ));
    results.push(measure(
        "llm",
        format!("generation, {} (Q8_0 vs Q4_1)", fast.0),
        fast.2,
        "tokens/s",
        reference.as_ref().map(|r| r.2),
    ));
    report(&args, global, &results)
}

fn ann_bench(args: &BenchArgs) -> Result<search::AnnBench> {
    let kinds = args
        .ann
        .iter()
        .filter(|k| k.as_str() != "none")
        .map(|k| k.parse().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    Ok(search::AnnBench {
        kinds,
        partitions: args.ann_partitions,
        sweep: args.ann_sweep,
    })
}

fn report(args: &BenchArgs, global: &GlobalArgs, results: &[Measure]) -> Result<u8> {
    if args.json {
        super::print_json(&serde_json::json!({
            "threads": global.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
            "kernels": dossier_llm::kernel_family().name(),
            "results": results,
        }))?;
    } else {
        println!(
            "{:<14} {:<52} {:>12} {:<9} {:>10} {:>7}",
            "stage", "what", "value", "unit", "reference", "ratio"
        );
        for m in results {
            println!(
                "{:<14} {:<52} {:>12.2} {:<9} {:>10} {:>7}",
                m.stage,
                m.what,
                m.value,
                m.unit,
                m.reference
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_else(|| "-".into()),
                m.ratio
                    .map(|r| format!("{r:.2}x"))
                    .unwrap_or_else(|| "-".into()),
            );
        }
        println!("LLM CPU kernels: {}", dossier_llm::kernel_family());
    }
    Ok(crate::exit::OK)
}

/// (model description, prompt tokens/s, generated tokens/s).
fn generation_speed(
    path: &std::path::Path,
    convert: bool,
    options: &llm::LocalOptions,
    prompt: &str,
    tokens: usize,
) -> Result<(String, f64, f64)> {
    let mut model = if convert {
        Llm::load(path, options)?
    } else {
        Llm::load_as_is(path, options)?
    };
    let params = GenerationParams {
        max_new_tokens: tokens,
        repeat_penalty: 1.0,
        ..GenerationParams::default()
    };
    let messages = [ChatMessage::user(prompt)];
    let (_, stats) = model
        .chat(&messages, &params, |_| true)
        .context("generating")?;
    Ok((
        model.name.clone(),
        stats.prompt_tokens as f64 / stats.prompt_seconds.max(1e-9),
        stats.generated_tokens as f64 / stats.generation_seconds.max(1e-9),
    ))
}

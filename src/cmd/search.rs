//! `dossier search`: retrieval only.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::retrieve::{RankArgs, Ranked, Retriever};
use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// The question or keywords.
    question: String,
    /// How many passages to return.
    #[arg(short, long, default_value_t = 5)]
    k: usize,
    /// Print JSON ({query, mode, hits: [{rank, file, path, page, score, relevance, text,
    /// ...}], timings}); `score` is the cosine similarity, `relevance` what ranks the hits.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    rank: RankArgs,
}

#[derive(Serialize)]
struct Numbered<'a> {
    rank: usize,
    #[serde(flatten)]
    ranked: &'a Ranked,
}

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: SearchArgs) -> Result<u8> {
    let started = Instant::now();
    let store = super::open_store(runtime, global, false)?;
    let embedder = super::load_embedder(global)?;
    let load = started.elapsed();
    let mut retriever = Retriever::open(runtime, store, embedder, &args.rank)?;

    let t = Instant::now();
    let vector = retriever.embed_question(&args.question)?;
    let embed = t.elapsed();
    let t = Instant::now();
    let ranked = retriever.rank(runtime, &args.question, &vector, args.k)?;
    let search = t.elapsed();

    if args.json {
        let timings = serde_json::json!({
            "load_ms": super::millis(load),
            "embed_ms": super::millis(embed),
            "search_ms": super::millis(search),
            "total_ms": super::millis(started.elapsed()),
        });
        super::print_json(&hits_json(
            &args.question,
            &retriever.options.mode.to_string(),
            &ranked,
            timings,
        ))?;
        return Ok(crate::exit::OK);
    }
    if ranked.is_empty() {
        println!("no passages found (is the store empty?)");
    }
    for (i, p) in ranked.iter().map(|r| &r.passage).enumerate() {
        println!(
            "{}. {}, p. {}  (score {:.3})",
            i + 1,
            p.file_name,
            p.page,
            p.score
        );
        println!("   {}", super::one_line(&p.text, 300));
    }
    Ok(crate::exit::OK)
}

/// `search --json`'s object, also the HTTP API's.
pub fn hits_json(
    query: &str,
    mode: &str,
    ranked: &[Ranked],
    timings: serde_json::Value,
) -> serde_json::Value {
    let hits: Vec<Numbered> = ranked
        .iter()
        .enumerate()
        .map(|(i, ranked)| Numbered {
            rank: i + 1,
            ranked,
        })
        .collect();
    serde_json::json!({
        "query": query,
        "mode": mode,
        "hits": hits,
        "timings": timings,
    })
}

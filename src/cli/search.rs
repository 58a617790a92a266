//! `dossier search`: retrieval only.

use std::time::Instant;

use anyhow::Result;
use clap::Args;
use tokio::runtime::Runtime;

use dossier::report::{self, millis, Hits, SearchTimings};
use dossier::retrieve::Retriever;

use super::args::RankArgs;
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

pub fn run(runtime: &Runtime, global: &GlobalArgs, args: SearchArgs) -> Result<u8> {
    let started = Instant::now();
    let store = global.settings().open_store(runtime, false)?;
    let embedder = global.settings().load_embedder()?;
    let load = started.elapsed();
    let mut retriever = Retriever::open(runtime, store, embedder, &args.rank.ranking())?;

    let t = Instant::now();
    let vector = retriever.embed_question(&args.question)?;
    let embed = t.elapsed();
    let t = Instant::now();
    let ranked = retriever.rank(runtime, &args.question, &vector, args.k)?;
    let search = t.elapsed();

    if args.json {
        let timings = SearchTimings {
            load_ms: Some(millis(load)),
            embed_ms: millis(embed),
            search_ms: millis(search),
            total_ms: millis(started.elapsed()),
        };
        let mode = retriever.options.mode.to_string();
        let hits = Hits::new(&args.question, &mode, ranked, timings);
        super::print_json(&report::json(&hits))?;
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
        println!("   {}", report::one_line(&p.text, 300));
    }
    Ok(crate::exit::OK)
}

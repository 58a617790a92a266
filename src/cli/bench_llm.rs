//! `dossier bench-llm` (hidden): prompt-processing and generation speed of the local GGUF on
//! a fixed prompt, so that `bench/llm/llamacpp.py` can run llama.cpp on the very same prompt
//! and file and report the ratio (issue 5, item 7).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use dossier_llm::{self as llm, ChatMessage, GenerationParams, Llm};
use serde::Serialize;

use crate::GlobalArgs;

#[derive(Args, Debug)]
pub struct BenchLlmArgs {
    /// The user message, sent through the model's chat template as `ask` sends its prompt.
    #[arg(long)]
    prompt_file: PathBuf,
    /// A GGUF model (default: the shipped one). Slow quant types are converted to Q8_0
    /// first, as `ask` does; the JSON names the file that ran.
    #[arg(long, env = "DOSSIER_MODEL")]
    model: Option<PathBuf>,
    /// Tokens to generate per run (fewer if the model ends its answer first).
    #[arg(long, default_value_t = 64)]
    tokens: usize,
    /// Runs; each starts from an empty cache, and the fastest is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

#[derive(Serialize)]
struct Run {
    prompt_tokens: usize,
    generated_tokens: usize,
    prompt_tokens_per_second: f64,
    generation_tokens_per_second: f64,
}

pub fn run(global: &GlobalArgs, args: BenchLlmArgs) -> Result<u8> {
    let prompt = std::fs::read_to_string(&args.prompt_file)
        .with_context(|| format!("reading {}", args.prompt_file.display()))?;
    let path = llm::model_path(args.model.as_deref(), &global.models);
    let file = llm::requantize::fast_variant(&path)?;
    let mut model = Llm::load_as_is(&file, &global.llm_settings()?.llm)?;
    // Greedy and without a repeat penalty, as llama.cpp is run for the comparison.
    let params = GenerationParams {
        max_new_tokens: args.tokens,
        repeat_penalty: 1.0,
        ..GenerationParams::default()
    };
    let messages = [ChatMessage::user(prompt.trim())];
    let mut runs = Vec::new();
    for _ in 0..args.runs.max(1) {
        // The same prompt again would come from the cache; llama.cpp computes it each run.
        model.reset();
        let (_, stats) = model
            .chat(&messages, &params, |_| true)
            .context("generating")?;
        runs.push(Run {
            prompt_tokens: stats.prompt_tokens,
            generated_tokens: stats.generated_tokens,
            prompt_tokens_per_second: stats.prompt_tokens as f64 / stats.prompt_seconds.max(1e-9),
            generation_tokens_per_second: stats.generated_tokens as f64
                / stats.generation_seconds.max(1e-9),
        });
    }
    let best = |f: fn(&Run) -> f64| runs.iter().map(f).fold(0.0, f64::max);
    super::print_json(&serde_json::json!({
        "model": file.display().to_string(),
        "threads": global.threads,
        "kernels": llm::kernel_family().name(),
        "prompt_tokens": runs[0].prompt_tokens,
        "generated_tokens": runs[0].generated_tokens,
        "prompt_tokens_per_second": best(|r| r.prompt_tokens_per_second),
        "generation_tokens_per_second": best(|r| r.generation_tokens_per_second),
        "runs": runs,
    }))?;
    Ok(crate::exit::OK)
}

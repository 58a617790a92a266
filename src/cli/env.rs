//! Every environment setting dossier reads, in one list that `--help` shows. Those that are
//! an option's `env` are read by clap; the others are read here, and nowhere else in the
//! workspace: the library and the crates take them as plain values.

use std::fmt::Write;

/// Each setting and what it does.
pub const SETTINGS: &[(&str, &str)] = &[
    ("DOSSIER_STORE", "--store"),
    ("DOSSIER_MODELS", "--models"),
    (
        "DOSSIER_THREADS",
        "--threads; also sets RAYON_NUM_THREADS, from which candle sizes its pool",
    ),
    (
        "DOSSIER_MODEL",
        "--model (ask, chat, serve, eval, bench-llm)",
    ),
    ("DOSSIER_LLM_URL", "--llm-url"),
    ("DOSSIER_LLM_API_KEY", "the bearer token sent to --llm-url"),
    ("DOSSIER_TOKEN", "serve --token"),
    ("DOSSIER_PDF_PASSWORD", "ingest and extract --password"),
    (
        "DOSSIER_VECTOR_INDEX_ROWS",
        "chunk rows from which writers build the vector index (for tests and measurements)",
    ),
    (
        "CANDLE_NUM_THREADS",
        "the local LLM's kernel threads (default: --threads, else RAYON_NUM_THREADS, else \
         every core)",
    ),
    (
        "RAYON_NUM_THREADS",
        "candle's thread pool, when --threads is not given",
    ),
    (
        "DOSSIER_CANDLE_LLAMA",
        "set to anything: llama and mistral files run on candle-transformers' module \
         instead of dossier's own, to compare answers and speed",
    ),
    (
        "DOSSIER_KERNELS",
        "caps the local LLM's CPU kernel family (avx512-vnni, avx-vnni, avx2, neon-dotprod or \
         candle; default: the best this CPU runs; `ask -v` and `bench` say which ran)",
    ),
    (
        "DOSSIER_BENCH_EXPLAIN",
        "set to anything: `bench` prints the plan of one ANN query",
    ),
    ("RUST_LOG", "the log filter on stderr; overrides -v"),
    (
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP",
        "credentials and endpoint of an object-store (s3://) --store",
    ),
];

/// The environment section of `--help`.
pub fn help() -> String {
    let mut text = String::from("Environment:\n");
    for (name, meaning) in SETTINGS {
        let _ = writeln!(text, "  {name}\n      {meaning}");
    }
    text
}

/// `DOSSIER_LLM_API_KEY`.
pub fn llm_api_key() -> Option<String> {
    std::env::var("DOSSIER_LLM_API_KEY").ok()
}

/// How the local LLM runs: `DOSSIER_CANDLE_LLAMA`, `CANDLE_NUM_THREADS` and
/// `DOSSIER_KERNELS` (an unknown family is an error).
pub fn llm_options() -> anyhow::Result<dossier_llm::LocalOptions> {
    let kernels = match std::env::var("DOSSIER_KERNELS") {
        Ok(name) if !name.is_empty() => {
            Some(dossier_llm::KernelFamily::from_name(&name).ok_or_else(|| {
                let names: Vec<_> = dossier_llm::KernelFamily::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect();
                anyhow::anyhow!(
                    "DOSSIER_KERNELS={name} is not a kernel family; use one of {}",
                    names.join(", ")
                )
            })?)
        }
        _ => None,
    };
    Ok(dossier_llm::LocalOptions {
        candle_llama: std::env::var_os("DOSSIER_CANDLE_LLAMA").is_some(),
        kernel_threads: std::env::var("CANDLE_NUM_THREADS")
            .ok()
            .and_then(|n| n.parse().ok()),
        kernels,
    })
}

/// `DOSSIER_BENCH_EXPLAIN`.
pub fn bench_explain() -> bool {
    std::env::var_os("DOSSIER_BENCH_EXPLAIN").is_some()
}

/// Sets `RAYON_NUM_THREADS` for `--threads`: candle's CPU kernels size their pool from it,
/// before any model is loaded.
pub fn set_rayon_threads(threads: usize) {
    std::env::set_var("RAYON_NUM_THREADS", threads.max(1).to_string());
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_every_setting() {
        let help = super::help();
        for (name, _) in super::SETTINGS {
            assert!(help.contains(name), "{name}");
        }
    }
}

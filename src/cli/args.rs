//! The flags several commands share, each one flattened clap struct so that a flag means
//! the same everywhere, and their conversion into the library's plain settings.

use std::path::PathBuf;

use clap::Args;
use dossier::pipeline::{AnswerOptions, Asker, ModelChoice, EVIDENCE_COSINE};
use dossier::retrieve::Ranking;
use dossier::Settings;
use dossier_answer::RefusalPolicy;
use dossier_ingest::OcrMode;
use dossier_store::SearchOptions;

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// The store: a directory (created by `ingest`) or an object-store URI.
    #[arg(long, global = true, env = "DOSSIER_STORE", default_value = ".dossier")]
    pub store: String,
    /// The folder `make models` filled: embed/, runtime/ and llm/.
    #[arg(long, global = true, env = "DOSSIER_MODELS", default_value = "models")]
    pub models: PathBuf,
    /// CPU threads for embedding and generation (default: all cores). On a machine busy
    /// with other work, fewer threads than cores can generate faster.
    #[arg(long, global = true, env = "DOSSIER_THREADS")]
    pub threads: Option<usize>,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Chunk rows from which ingest (and optimize) build the vector index; below it,
    /// vector search is exact. For tests and measurements.
    #[arg(long, global = true, hide = true, env = "DOSSIER_VECTOR_INDEX_ROWS")]
    pub vector_index_rows: Option<usize>,
}

impl GlobalArgs {
    /// The library's settings from these options, the local LLM's left as by default
    /// ([`GlobalArgs::llm_settings`] reads them).
    pub fn settings(&self) -> Settings {
        Settings {
            store: self.store.clone(),
            models: self.models.clone(),
            threads: self.threads,
            vector_index_rows: self.vector_index_rows,
            llm: dossier_llm::LocalOptions::default(),
        }
    }

    /// [`GlobalArgs::settings`] with how the local LLM runs, from the environment
    /// (`super::env`; the library and the LLM crate read none themselves): read only by
    /// commands that load the LLM, when they load it, so that a wrong `DOSSIER_KERNELS` fails
    /// only those.
    pub fn llm_settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings {
            llm: super::env::llm_options()?,
            ..self.settings()
        })
    }
}

/// `--ocr`: when to OCR a page (`dossier_ingest::OcrMode`, which knows nothing of clap).
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum OcrArg {
    /// Pages without a text layer, when `tesseract` is on PATH.
    Auto,
    /// Never; such pages are reported as having no text.
    Never,
    /// Pages without a text layer; a missing `tesseract` is an error.
    Always,
}

impl From<OcrArg> for OcrMode {
    fn from(arg: OcrArg) -> Self {
        match arg {
            OcrArg::Auto => Self::Auto,
            OcrArg::Never => Self::Never,
            OcrArg::Always => Self::Always,
        }
    }
}

/// Retrieval flags shared by search, ask and eval.
#[derive(clap::Args, Debug, Clone)]
pub struct RankArgs {
    /// How passages are ranked: vector (embedding cosine), text (BM25 on the words) or
    /// hybrid (both, fused by reciprocal rank).
    #[arg(long, default_value_t = SearchOptions::default().mode)]
    pub mode: dossier_store::SearchMode,
    /// Hybrid: candidates taken from each list before fusion.
    #[arg(long, default_value_t = SearchOptions::default().candidates, hide_short_help = true)]
    pub candidates: usize,
    /// Hybrid: the reciprocal-rank fusion constant k (a hit at rank r adds weight/(k + r)).
    #[arg(long, default_value_t = SearchOptions::default().rrf_k, hide_short_help = true)]
    pub rrf_k: f32,
    /// Hybrid: weight of the full-text list against the vector list's 1.
    #[arg(long, default_value_t = SearchOptions::default().text_weight, hide_short_help = true)]
    pub text_weight: f32,
    /// Return every matching chunk of a page, not only the page's best one.
    #[arg(long, hide_short_help = true)]
    pub all_chunks: bool,
}

impl RankArgs {
    pub fn ranking(&self) -> Ranking {
        Ranking {
            search: SearchOptions {
                mode: self.mode,
                candidates: self.candidates,
                rrf_k: self.rrf_k,
                vector_weight: SearchOptions::default().vector_weight,
                text_weight: self.text_weight,
            },
            one_per_page: !self.all_chunks,
        }
    }
}

/// The flags that say how answers are generated and checked, shared by `ask`, `chat` and
/// `serve` so that each means the same everywhere.
#[derive(Args, Debug, Clone)]
pub struct AnswerArgs {
    /// A GGUF model to answer with (llama, mistral, qwen2, qwen3 or gemma3 architecture).
    #[arg(long, env = "DOSSIER_MODEL")]
    pub model: Option<PathBuf>,
    /// Generate on an OpenAI-compatible server you run (llama.cpp's llama-server, vLLM),
    /// e.g. http://gpu-box:8080, instead of the local GGUF. Retrieval and the answer check
    /// stay here; questions and evidence sentences are sent to that server, so use one on
    /// your own network. A bearer token is taken from DOSSIER_LLM_API_KEY.
    #[arg(long, env = "DOSSIER_LLM_URL", value_name = "URL")]
    pub llm_url: Option<String>,
    /// Cap on an answer's length, in tokens.
    #[arg(long, default_value_t = AnswerOptions::default().max_tokens)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy (reproducible).
    #[arg(long, default_value_t = AnswerOptions::default().temperature)]
    pub temperature: f64,
    /// Evidence sentences, picked from the passages, that the model answers from.
    #[arg(long, default_value_t = AnswerOptions::default().evidence_sentences)]
    pub evidence: usize,
    /// Refuse when the best passage's similarity is below this (0..1).
    #[arg(long, default_value_t = RefusalPolicy::default().min_score)]
    pub min_score: f32,
    /// Do not refuse questions whose numbers or acronyms no retrieved passage mentions.
    #[arg(long, hide = true)]
    pub no_key_terms: bool,
}

impl AnswerArgs {
    pub fn policy(&self) -> RefusalPolicy {
        RefusalPolicy {
            min_score: self.min_score,
            key_terms: !self.no_key_terms,
        }
    }

    pub fn options(&self) -> AnswerOptions {
        AnswerOptions {
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            evidence_sentences: self.evidence,
            evidence_cosine: EVIDENCE_COSINE,
        }
    }

    /// The answer path with these flags, the model shown the best `k` passages.
    pub fn asker(&self, k: usize) -> Asker {
        Asker {
            k,
            policy: self.policy(),
            options: self.options(),
        }
    }

    /// Which model answers: `--model` or `--llm-url` (with DOSSIER_LLM_API_KEY).
    pub fn model_choice(&self) -> ModelChoice {
        ModelChoice {
            model: self.model.clone(),
            llm_url: self.llm_url.clone(),
            api_key: super::env::llm_api_key(),
        }
    }
}

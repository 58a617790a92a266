//! The chat models dossier answers with, behind one interface ([`ChatModel`]): a quantized
//! GGUF model on candle ([`Llm`]: its tokenizer, chat template and a streaming generation
//! loop, with our own model code and CPU kernels where candle's cost speed or correctness),
//! or a server the user runs ([`RemoteLlm`]). Settings come in as [`LocalOptions`]; the
//! crate reads no environment.

#![warn(missing_docs)]

/// Repeats `$body` with `$i` bound to each listed constant below `$bound`, for the CPU
/// kernels (int8.rs, attention.rs). dossier's own code builds at opt-level 1 with overflow
/// checks, where LLVM leaves loops over small accumulator arrays rolled and the arrays on
/// the stack; constant indices keep them in registers. Defined before the modules so that
/// both see it.
macro_rules! unroll {
    ($i:ident < $bound:expr, [$($n:literal),*], $body:block) => {
        $( { const $i: usize = $n; if $i < $bound $body } )*
    };
}

mod gemma3;
mod kernels;
pub use kernels::{family as kernel_family, KernelFamily};
mod llama;
mod parts;
mod remote;
pub mod requantize;
#[cfg(any(test, feature = "testing"))]
mod scripted;
#[cfg(any(test, feature = "testing"))]
pub mod synthetic;
mod template;
mod tokenizer;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::LogitsProcessor;
use candle_transformers::models::{quantized_llama, quantized_qwen2, quantized_qwen3};

pub use remote::RemoteLlm;
#[cfg(any(test, feature = "testing"))]
pub use scripted::Scripted;
pub use template::ChatMessage;
use template::ChatTemplate;

/// The GGUF dossier ships with (see scripts/models.sh).
pub const DEFAULT_MODEL: &str = "llm/SmolLM2-135M-Instruct.Q4_1.gguf";

enum Weights {
    /// Our own module (faster matmuls, a KV cache that keeps shared prefixes; llama.rs).
    Llama(llama::Llama),
    /// candle's, for what ours does not run (mixture of experts, partial rotary).
    CandleLlama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    /// Our own module: candle's `quantized_gemma3` has defects (see gemma3.rs).
    Gemma3(gemma3::Gemma3),
}

impl Weights {
    fn forward(&mut self, input: &Tensor, position: usize) -> candle_core::Result<Tensor> {
        match self {
            Weights::Llama(m) => m.forward(input, position),
            Weights::CandleLlama(m) => m.forward(input, position),
            Weights::Qwen2(m) => m.forward(input, position),
            Weights::Qwen3(m) => m.forward(input, position),
            Weights::Gemma3(m) => m.forward(input, position),
        }
    }
}

/// A GGUF model loaded on the CPU, with the tokenizer and chat template of its file.
pub struct Llm {
    weights: Weights,
    pub(crate) tokenizer: tokenizers::Tokenizer,
    template: ChatTemplate,
    stop_ids: Vec<u32>,
    /// Positions the model can attend to (prompt + answer).
    context_window: usize,
    /// The file's `general.name`, else its file name.
    pub name: String,
    device: Device,
    /// The tokens whose keys and values the model's cache holds, in order, so that the next
    /// prompt computes only what follows the prefix it shares with them.
    cached_ids: Vec<u32>,
}

/// Decoding settings. Greedy by default: answers from documents should be reproducible.
#[derive(Debug, Clone)]
pub struct GenerationParams {
    /// Most tokens to generate (fewer when the context window is nearly full).
    pub max_new_tokens: usize,
    /// `None` or 0 means greedy.
    pub temperature: Option<f64>,
    /// Divides the logits of recently generated tokens (1.0: none).
    pub repeat_penalty: f32,
    /// How many of the last generated tokens the repeat penalty looks at.
    pub repeat_last_n: usize,
    /// Seed of the sampler when a temperature is given.
    pub seed: u64,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_new_tokens: 256,
            temperature: None,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 299792458,
        }
    }
}

/// What one generation took, as `--json` output's `usage` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenerationStats {
    /// Tokens of the rendered prompt.
    pub prompt_tokens: usize,
    /// Leading prompt tokens whose keys and values were kept from the previous generation
    /// (the same system prompt, or a chat's earlier turns), so not computed again.
    pub reused_prompt_tokens: usize,
    /// Tokens of the reply.
    pub generated_tokens: usize,
    /// Time to compute the prompt, up to the first generated token's logits.
    pub prompt_seconds: f64,
    /// Time from then to the end of the reply.
    pub generation_seconds: f64,
    /// Why generation ended.
    pub finish_reason: FinishReason,
}

/// Why generation ended; serialised as `"stop"`, `"length"` or `"interrupted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The model's end token.
    Stop,
    /// The cap on the answer's length.
    Length,
    /// The caller stopped it (Ctrl-C, a client that went away).
    Interrupted,
}

/// How the local model runs: settings the binary takes from its environment, so that this
/// crate reads none. The defaults are what an unset environment gives.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Run llama and mistral files on candle-transformers' module instead of ours, to
    /// compare answers and speed with the reference implementation (BENCHMARKS.md).
    pub candle_llama: bool,
    /// Worker threads of our CPU kernels; `None` or 0: as many as candle's own pool takes
    /// (`RAYON_NUM_THREADS`, which `--threads` sets, else every core). The kernels' pool is
    /// made once, with the count the first model loaded asks for.
    pub kernel_threads: Option<usize>,
    /// The highest family of our CPU kernels to use (`None`: the best this CPU runs), so
    /// that a machine with a higher family can test and benchmark a lower one.
    pub kernels: Option<KernelFamily>,
}

impl Llm {
    /// Loads a GGUF model. Slow quant types (no SIMD kernel in candle) are converted once to
    /// Q8_0 and cached beside the original; later loads use the cached file.
    pub fn load(path: &Path, options: &LocalOptions) -> Result<Self> {
        if !path.is_file() {
            bail!("LLM file {} is missing (run `make models`)", path.display());
        }
        Self::load_as_is(&requantize::fast_variant(path)?, options)
    }

    /// Loads exactly the file given, without the Q8_0 conversion (the benchmark's reference).
    pub fn load_as_is(path: &Path, options: &LocalOptions) -> Result<Self> {
        if !path.is_file() {
            bail!("LLM file {} is missing (run `make models`)", path.display());
        }
        kernels::pool::request_threads(options.kernel_threads);
        let family = kernels::choose(options.kernels);
        tracing::info!("{}: CPU kernels {family}", path.display());
        let device = Device::Cpu;
        let mut file = BufReader::new(
            File::open(path).with_context(|| format!("opening {}", path.display()))?,
        );
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| anyhow::anyhow!("{} is not a readable GGUF file: {e}", path.display()))?;
        let metadata = content.metadata.clone();
        let architecture = meta_string(&metadata, "general.architecture").unwrap_or_default();
        let tokenizer = tokenizer::from_gguf(&metadata)
            .with_context(|| format!("tokenizer of {}", path.display()))?;
        let template = ChatTemplate::from_metadata(&metadata, &architecture);
        let context_length = meta_u32(&metadata, &format!("{architecture}.context_length"))
            .map(|n| n as usize)
            .unwrap_or(2048);
        let (weights, context_window) = match architecture.as_str() {
            "llama" | "mistral" if llama::Llama::supports(&content) && !options.candle_llama =>
            {
                (
                    Weights::Llama(llama::Llama::from_gguf(content, &mut file, &device)?),
                    context_length,
                )
            }
            "llama" | "mistral" => (
                Weights::CandleLlama(quantized_llama::ModelWeights::from_gguf(
                    content, &mut file, &device,
                )?),
                // candle's llama holds rotary tables for MAX_SEQ_LEN positions only.
                context_length.min(quantized_llama::MAX_SEQ_LEN),
            ),
            "qwen2" => (
                Weights::Qwen2(quantized_qwen2::ModelWeights::from_gguf(
                    content, &mut file, &device,
                )?),
                context_length.min(32768),
            ),
            "qwen3" => (
                // candle's qwen3 holds rotary tables for the file's whole context.
                Weights::Qwen3(quantized_qwen3::ModelWeights::from_gguf(
                    content, &mut file, &device,
                )?),
                context_length,
            ),
            "gemma3" => (
                // Rotary tables grow with the positions used, so the whole context is open.
                Weights::Gemma3(gemma3::Gemma3::from_gguf(content, &mut file, &device)?),
                context_length,
            ),
            other => bail!(
                "{}: architecture {other:?} is not supported (llama, mistral, qwen2, qwen3 and gemma3 are)",
                path.display()
            ),
        };
        let stop_ids = stop_token_ids(&metadata, &tokenizer);
        let name = meta_string(&metadata, "general.name").unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        Ok(Self {
            weights,
            tokenizer,
            template,
            stop_ids,
            context_window,
            name,
            device,
            cached_ids: Vec::new(),
        })
    }

    /// Renders `messages` with the model's chat template and generates a reply, calling
    /// `on_text` with each new piece of text as it is decoded. `on_text` returns false to
    /// stop early (Ctrl-C).
    pub fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)> {
        let prompt = self.template.render(messages)?;
        let encoding = self
            .tokenizer
            .encode(prompt.as_str(), false)
            .map_err(|e| anyhow::anyhow!("tokenizing the prompt: {e}"))?;
        let prompt_ids = encoding.get_ids().to_vec();
        if prompt_ids.len() + 1 >= self.context_window {
            bail!(
                "the prompt has {} tokens; the model holds {}",
                prompt_ids.len(),
                self.context_window
            );
        }
        let max_new = params
            .max_new_tokens
            .min(self.context_window - prompt_ids.len() - 1);

        let reused = self.reusable_prefix(&prompt_ids);
        if reused == 0 {
            self.reset();
        }
        let mut sampler =
            LogitsProcessor::new(params.seed, params.temperature.filter(|t| *t > 0.0), None);
        let started = Instant::now();
        // A forward pass from `reused` rewrites the cache from there on, so only the tokens
        // before it are known to be cached until the pass succeeds.
        self.cached_ids.truncate(reused);
        let input = Tensor::new(&prompt_ids[reused..], &self.device)?.unsqueeze(0)?;
        let logits = self.weights.forward(&input, reused)?.squeeze(0)?;
        self.cached_ids.extend_from_slice(&prompt_ids[reused..]);
        let prompt_seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let mut generated: Vec<u32> = Vec::new();
        let mut emitted = 0usize;
        let mut text = String::new();
        let mut logits = logits;
        let mut finish_reason = FinishReason::Length;
        while generated.len() < max_new {
            let logits_f32 = logits.to_dtype(candle_core::DType::F32)?;
            let logits_f32 = if params.repeat_penalty == 1.0 || generated.is_empty() {
                logits_f32
            } else {
                let start = generated.len().saturating_sub(params.repeat_last_n);
                candle_transformers::utils::apply_repeat_penalty(
                    &logits_f32,
                    params.repeat_penalty,
                    &generated[start..],
                )?
            };
            let next = sampler.sample(&logits_f32)?;
            if self.stop_ids.contains(&next) {
                finish_reason = FinishReason::Stop;
                break;
            }
            generated.push(next);
            // Decode the whole answer each step and emit only what is new: byte-level
            // tokens can end mid-character, and a partial UTF-8 sequence must wait.
            let decoded = self
                .tokenizer
                .decode(&generated, true)
                .map_err(|e| anyhow::anyhow!("decoding: {e}"))?;
            if decoded.len() > emitted && !decoded.ends_with('\u{FFFD}') {
                let piece = &decoded[emitted..];
                if !on_text(piece) {
                    text = decoded.clone();
                    finish_reason = FinishReason::Interrupted;
                    break;
                }
                emitted = decoded.len();
            }
            text = decoded;
            let input = Tensor::new(&[next], &self.device)?.unsqueeze(0)?;
            logits = self
                .weights
                .forward(&input, self.cached_ids.len())?
                .squeeze(0)?;
            self.cached_ids.push(next);
        }
        if text.len() > emitted && finish_reason != FinishReason::Interrupted {
            on_text(&text[emitted..]);
        }
        Ok((
            text,
            GenerationStats {
                prompt_tokens: prompt_ids.len(),
                reused_prompt_tokens: reused,
                generated_tokens: generated.len(),
                prompt_seconds,
                generation_seconds: started.elapsed().as_secs_f64(),
                finish_reason,
            },
        ))
    }

    /// Greedy raw completion of `ids` (no chat template), for tests of a model's output.
    #[cfg(test)]
    pub(crate) fn complete_for_test(&mut self, ids: &[u32], tokens: usize) -> Result<Vec<u32>> {
        self.reset();
        let mut input = ids.to_vec();
        let mut position = 0;
        let mut out = Vec::new();
        for _ in 0..tokens {
            let tensor = Tensor::new(input.as_slice(), &self.device)?.unsqueeze(0)?;
            let logits = self.weights.forward(&tensor, position)?.squeeze(0)?;
            position += input.len();
            let next = logits.argmax(0)?.to_scalar::<u32>()?;
            out.push(next);
            input = vec![next];
        }
        Ok(out)
    }

    /// How many leading tokens of `prompt_ids` the cache already holds and can keep. At
    /// least the last prompt token is always fed, as its logits start the answer.
    fn reusable_prefix(&self, prompt_ids: &[u32]) -> usize {
        if !matches!(self.weights, Weights::Llama(_)) {
            return 0;
        }
        let shared = self
            .cached_ids
            .iter()
            .zip(prompt_ids)
            .take_while(|(a, b)| a == b)
            .count();
        shared.min(prompt_ids.len().saturating_sub(1))
    }

    /// Forgets the cached prompt, so the next generation computes it all (benchmarks).
    pub fn reset(&mut self) {
        self.cached_ids.clear();
        match &mut self.weights {
            Weights::Llama(m) => m.clear_kv_cache(),
            Weights::CandleLlama(m) => m.clear_kv_cache(),
            Weights::Qwen3(m) => m.clear_kv_cache(),
            Weights::Gemma3(m) => m.clear_kv_cache(),
            // candle's qwen2 keeps no public reset; its cache is rebuilt at position 0.
            Weights::Qwen2(_) => {}
        }
    }
}

fn meta_string(metadata: &HashMap<String, gguf_file::Value>, key: &str) -> Option<String> {
    metadata.get(key).and_then(|v| v.to_string().ok()).cloned()
}

fn meta_u32(metadata: &HashMap<String, gguf_file::Value>, key: &str) -> Option<u32> {
    metadata.get(key).and_then(|v| v.to_u32().ok())
}

/// The end-of-sequence token, plus the end-of-turn markers that chat templates use, which
/// small models emit instead of EOS.
fn stop_token_ids(
    metadata: &HashMap<String, gguf_file::Value>,
    tokenizer: &tokenizers::Tokenizer,
) -> Vec<u32> {
    let mut ids: Vec<u32> = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
        .iter()
        .filter_map(|key| meta_u32(metadata, key))
        .collect();
    for marker in [
        "<|im_end|>",
        "<|eot_id|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "</s>",
    ] {
        if let Some(id) = tokenizer.token_to_id(marker) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What turns prompt messages into an answer: the local GGUF model, or a server the user
/// runs (`--llm-url`). The answer path (`ask::generate_answer`) takes either, so a remote
/// answer goes through the same evidence check as a local one.
pub trait ChatModel {
    /// The model's name, as answers and the HTTP API report it.
    fn name(&self) -> &str;
    /// Generates a reply to `messages`, calling `on_text` with each new piece; `on_text`
    /// returns false to stop early (Ctrl-C).
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)>;
}

impl ChatModel for Llm {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)> {
        self.chat(messages, params, on_text)
    }
}

impl ChatModel for RemoteLlm {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)> {
        self.chat(messages, params, on_text)
    }
}

/// The model `ask` and `chat` answer with, chosen once from the command line.
pub enum Generator {
    /// A GGUF file on this machine (boxed: its struct is large, the remote one small).
    Local(Box<Llm>),
    /// The server `--llm-url` names.
    Remote(RemoteLlm),
}

impl Generator {
    /// The server at `llm_url` when one is given (with `api_key` as its bearer token, if
    /// any), else the GGUF at `model` or the default one under `models_dir`.
    pub fn load(
        llm_url: Option<&str>,
        api_key: Option<String>,
        model: Option<&Path>,
        models_dir: &Path,
        options: &LocalOptions,
        handle: tokio::runtime::Handle,
    ) -> Result<Self> {
        match llm_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let key = api_key.filter(|k| !k.is_empty());
                Ok(Self::Remote(RemoteLlm::connect(url, key, handle)?))
            }
            None => Ok(Self::Local(Box::new(Llm::load(
                &model_path(model, models_dir),
                options,
            )?))),
        }
    }
}

impl ChatModel for Generator {
    fn name(&self) -> &str {
        match self {
            Generator::Local(m) => ChatModel::name(m.as_ref()),
            Generator::Remote(m) => ChatModel::name(m),
        }
    }

    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(String, GenerationStats)> {
        match self {
            Generator::Local(m) => m.generate(messages, params, on_text),
            Generator::Remote(m) => m.generate(messages, params, on_text),
        }
    }
}

/// The models folder of the tests that read real files: `DOSSIER_MODELS`, as the
/// end-to-end tests take it, else the workspace's `models/`.
#[cfg(test)]
pub(crate) fn test_models() -> PathBuf {
    std::env::var_os("DOSSIER_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"))
}

/// Resolves which GGUF to load: an explicit path, else the default under the models dir.
pub fn model_path(explicit: Option<&Path>, models_dir: &Path) -> PathBuf {
    explicit
        .map(Path::to_owned)
        .unwrap_or_else(|| models_dir.join(DEFAULT_MODEL))
}

//! Tiny GGUF files with random weights, for tests: a `gemma3` model with a SentencePiece
//! (`llama`) byte-fallback vocabulary, and `qwen3` and `llama` models with a byte-level BPE
//! (`gpt2`) vocabulary. Shared by this crate's unit tests and, through the `testing`
//! feature, by the binary's tests/gguf.rs.

use candle_core::quantized::gguf_file::{self, Value};
/// How `Tiny::dtype` stores weights, so that tests outside the crate need no candle.
pub use candle_core::quantized::GgmlDType;
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor};

/// Sizes of a synthetic model. Dimensions are multiples of 32 so that any quantized type
/// can hold them.
#[derive(Debug, Clone)]
pub struct Tiny {
    /// Width of the residual stream.
    pub hidden: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads: as many as `heads`, or fewer for grouped-query attention.
    pub kv_heads: usize,
    /// Width of each head.
    pub head_dim: usize,
    /// Width of the feed-forward layer.
    pub ffn: usize,
    /// Positions the file says the model holds.
    pub context_length: usize,
    /// gemma3 only.
    pub sliding_window: usize,
    /// gemma3 only: every n-th layer is global.
    pub sliding_window_pattern: usize,
    /// Seed of the random weights.
    pub seed: u64,
    /// How weight matrices are stored (F32, or Q8_0 to exercise quantized rows).
    pub dtype: GgmlDType,
}

impl Default for Tiny {
    fn default() -> Self {
        Self {
            hidden: 64,
            layers: 2,
            heads: 2,
            kv_heads: 1,
            head_dim: 32,
            ffn: 128,
            context_length: 4096,
            sliding_window: 8,
            sliding_window_pattern: 2,
            seed: 7,
            dtype: GgmlDType::F32,
        }
    }
}

/// xorshift64*: reproducible weights without a random-number crate.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        bits as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    fn tensor(&mut self, rows: usize, cols: usize, scale: f32) -> Tensor {
        let values: Vec<f32> = (0..rows * cols).map(|_| self.next() * scale).collect();
        Tensor::from_vec(values, (rows, cols), &Device::Cpu).expect("tensor")
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

/// A SentencePiece vocabulary: four control tokens, Gemma's turn markers, "▁" and the 256
/// byte-fallback pieces, so that any text encodes.
pub fn sentencepiece_vocabulary() -> Vec<(String, Value)> {
    let mut tokens: Vec<String> = [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
        "<start_of_turn>",
        "<end_of_turn>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut types = vec![3i32; tokens.len()];
    tokens.push("▁".into());
    types.push(1);
    for byte in 0..=255u8 {
        tokens.push(format!("<0x{byte:02X}>"));
        types.push(6);
    }
    let scores = vec![Value::F32(0.0); tokens.len()];
    vec![
        ("tokenizer.ggml.model".into(), Value::String("llama".into())),
        ("tokenizer.ggml.tokens".into(), strings(&tokens)),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        ("tokenizer.ggml.scores".into(), Value::Array(scores)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(2)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(1)),
        ("tokenizer.ggml.unknown_token_id".into(), Value::U32(3)),
        ("tokenizer.ggml.add_space_prefix".into(), Value::Bool(false)),
    ]
}

/// GPT-2's byte-to-character map: printable bytes stand for themselves, the others are
/// shifted above U+0100.
fn byte_level_char(byte: u8) -> char {
    let printable = (b'!'..=b'~').contains(&byte)
        || (0xA1..=0xAC).contains(&byte)
        || (0xAE..=0xFF).contains(&byte);
    if printable {
        return byte as char;
    }
    let rank = (0..byte)
        .filter(|b| {
            !((b'!'..=b'~').contains(b) || (0xA1..=0xAC).contains(b) || (0xAE..=0xFF).contains(b))
        })
        .count() as u32;
    char::from_u32(256 + rank).expect("a valid char")
}

/// A byte-level BPE vocabulary: the 256 byte characters, two merges, and ChatML markers.
pub fn byte_level_vocabulary() -> Vec<(String, Value)> {
    let mut tokens: Vec<String> = (0..=255u8)
        .map(|b| byte_level_char(b).to_string())
        .collect();
    let mut types = vec![1i32; tokens.len()];
    let space = byte_level_char(b' ');
    tokens.push(format!("{space}t"));
    tokens.push("he".into());
    types.extend([1, 1]);
    let merges = vec![format!("{space} t"), "h e".to_string()];
    let eos = tokens.len() as u32;
    for special in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
        tokens.push(special.into());
        types.push(3);
    }
    vec![
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("qwen2".into())),
        ("tokenizer.ggml.tokens".into(), strings(&tokens)),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        ("tokenizer.ggml.merges".into(), strings(&merges)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(eos + 2)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(eos)),
    ]
}

fn vocabulary_size(vocabulary: &[(String, Value)]) -> usize {
    vocabulary
        .iter()
        .find(|(k, _)| k == "tokenizer.ggml.tokens")
        .and_then(|(_, v)| v.to_vec().ok())
        .map(Vec::len)
        .unwrap_or(0)
}

struct Writer {
    metadata: Vec<(String, Value)>,
    tensors: Vec<(String, QTensor)>,
    noise: Noise,
    dtype: GgmlDType,
}

impl Writer {
    fn matrix(&mut self, name: String, rows: usize, cols: usize) {
        let scale = 1.0 / (cols as f32).sqrt();
        let t = self.noise.tensor(rows, cols, scale);
        self.tensors
            .push((name, QTensor::quantize(&t, self.dtype).expect("quantize")));
    }

    /// Norm weights near 1 (llama.cpp stores Gemma's with the 1 added).
    fn norm(&mut self, name: String, len: usize) {
        let values: Vec<f32> = (0..len).map(|_| 1.0 + 0.1 * self.noise.next()).collect();
        let t = Tensor::from_vec(values, len, &Device::Cpu).expect("tensor");
        self.tensors
            .push((name, QTensor::quantize(&t, GgmlDType::F32).expect("f32")));
    }

    fn bytes(self) -> Vec<u8> {
        let metadata: Vec<(&str, &Value)> =
            self.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> =
            self.tensors.iter().map(|(k, t)| (k.as_str(), t)).collect();
        let mut out = std::io::Cursor::new(Vec::new());
        gguf_file::write(&mut out, &metadata, &tensors).expect("writing a GGUF");
        out.into_inner()
    }
}

fn writer(arch: &str, tiny: &Tiny, vocabulary: Vec<(String, Value)>) -> (Writer, usize) {
    let vocab = vocabulary_size(&vocabulary);
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (
            "general.name".into(),
            Value::String(format!("synthetic {arch}")),
        ),
        (
            format!("{arch}.context_length"),
            Value::U32(tiny.context_length as u32),
        ),
        (
            format!("{arch}.embedding_length"),
            Value::U32(tiny.hidden as u32),
        ),
        (
            format!("{arch}.block_count"),
            Value::U32(tiny.layers as u32),
        ),
        (
            format!("{arch}.feed_forward_length"),
            Value::U32(tiny.ffn as u32),
        ),
        (
            format!("{arch}.attention.head_count"),
            Value::U32(tiny.heads as u32),
        ),
        (
            format!("{arch}.attention.head_count_kv"),
            Value::U32(tiny.kv_heads as u32),
        ),
        (
            format!("{arch}.attention.key_length"),
            Value::U32(tiny.head_dim as u32),
        ),
        (
            format!("{arch}.attention.value_length"),
            Value::U32(tiny.head_dim as u32),
        ),
        (
            format!("{arch}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-6),
        ),
        (format!("{arch}.rope.freq_base"), Value::F32(1_000_000.0)),
    ];
    metadata.extend(vocabulary);
    let mut w = Writer {
        metadata,
        tensors: Vec::new(),
        noise: Noise(tiny.seed.max(1)),
        dtype: tiny.dtype,
    };
    w.matrix("token_embd.weight".into(), vocab, tiny.hidden);
    w.norm("output_norm.weight".into(), tiny.hidden);
    for i in 0..tiny.layers {
        let q = tiny.heads * tiny.head_dim;
        let kv = tiny.kv_heads * tiny.head_dim;
        w.matrix(format!("blk.{i}.attn_q.weight"), q, tiny.hidden);
        w.matrix(format!("blk.{i}.attn_k.weight"), kv, tiny.hidden);
        w.matrix(format!("blk.{i}.attn_v.weight"), kv, tiny.hidden);
        w.matrix(format!("blk.{i}.attn_output.weight"), tiny.hidden, q);
        w.matrix(format!("blk.{i}.ffn_gate.weight"), tiny.ffn, tiny.hidden);
        w.matrix(format!("blk.{i}.ffn_up.weight"), tiny.ffn, tiny.hidden);
        w.matrix(format!("blk.{i}.ffn_down.weight"), tiny.hidden, tiny.ffn);
        w.norm(format!("blk.{i}.attn_q_norm.weight"), tiny.head_dim);
        w.norm(format!("blk.{i}.attn_k_norm.weight"), tiny.head_dim);
        w.norm(format!("blk.{i}.attn_norm.weight"), tiny.hidden);
        w.norm(format!("blk.{i}.ffn_norm.weight"), tiny.hidden);
    }
    (w, vocab)
}

/// A `gemma3` GGUF (tied output projection, as the real 270M file) with a SentencePiece
/// byte-fallback vocabulary.
pub fn gemma3(tiny: &Tiny) -> Vec<u8> {
    let (mut w, _) = writer("gemma3", tiny, sentencepiece_vocabulary());
    w.metadata.push((
        "gemma3.attention.sliding_window".into(),
        Value::U32(tiny.sliding_window as u32),
    ));
    w.metadata.push((
        "gemma3.attention.sliding_window_pattern".into(),
        Value::U32(tiny.sliding_window_pattern as u32),
    ));
    for i in 0..tiny.layers {
        w.norm(format!("blk.{i}.post_attention_norm.weight"), tiny.hidden);
        w.norm(format!("blk.{i}.post_ffw_norm.weight"), tiny.hidden);
    }
    w.bytes()
}

/// A `llama` GGUF (tied output projection, as SmolLM2) with a byte-level BPE vocabulary.
pub fn llama(tiny: &Tiny) -> Vec<u8> {
    let (mut w, _) = writer("llama", tiny, byte_level_vocabulary());
    w.metadata.push((
        "llama.rope.dimension_count".into(),
        Value::U32(tiny.head_dim as u32),
    ));
    w.bytes()
}

/// A `qwen3` GGUF with its own output projection and a byte-level BPE vocabulary.
pub fn qwen3(tiny: &Tiny) -> Vec<u8> {
    let (mut w, vocab) = writer("qwen3", tiny, byte_level_vocabulary());
    w.matrix("output.weight".into(), vocab, tiny.hidden);
    w.bytes()
}

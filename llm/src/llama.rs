//! Llama-family text models from GGUF (SmolLM2, Llama 3.x, Mistral).
//!
//! Our own model rather than candle-transformers 0.11's `quantized_llama`, for speed and for
//! the KV cache:
//! - its matmuls take weights as they are; SmolLM2's are 576 wide, which candle's fast int8
//!   kernels cannot take, so most of the time went to a slower dot product. Here layers run
//!   on our int8 kernel, or on weights widened for candle's (see `parts::Linear`), and
//!   attention on our own kernel (attention.rs);
//! - its KV cache can only be cleared. Here a forward pass at position `start` keeps the
//!   first `start` cached positions, so a prompt that shares a prefix with the previous one
//!   (the system prompt, a chat's earlier turns) only computes the rest;
//! - it dequantizes the whole token embedding to f32 and builds rotary tables for 4,096
//!   positions whatever the model's context; here embedding rows are dequantized as used,
//!   and the tables grow with the positions used;
//! - it ignores Llama 3.1's rope frequency factors (`rope_freqs.weight`); here they apply.
//!
//! Mixture-of-experts files and partial rotary embeddings still go to candle's module
//! (`Llama::supports`).

use std::cell::OnceCell;
use std::sync::Arc;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};

use crate::kernels::attention::{self, Span};
use crate::parts::{
    attention_mask, linear, output_and_embedding, CacheBuffer, Embedding, Linear, Norm, RopeLayout,
    Rotary,
};

type Metadata = std::collections::HashMap<String, gguf_file::Value>;

#[derive(Debug, Clone)]
pub struct Config {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub eps: f64,
    pub rope_base: f32,
    pub context_length: usize,
    /// Mixture-of-experts files have more than one; this module runs one.
    pub experts: usize,
    /// Dimensions of each head that rope rotates (all of them, in what this module runs).
    pub rope_dims: usize,
}

impl Config {
    pub fn from_metadata(md: &Metadata) -> candle_core::Result<Self> {
        let arch = md
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_else(|| "llama".to_owned());
        let get = |key: &str| {
            md.get(&format!("{arch}.{key}"))
                .ok_or_else(|| candle_core::Error::Msg(format!("{arch}.{key} is missing")))
        };
        let get_u = |key: &str| get(key).and_then(|v| v.to_u32()).map(|n| n as usize);
        let hidden = get_u("embedding_length")?;
        let heads = get_u("attention.head_count")?;
        if heads == 0 {
            candle_core::bail!("{arch}: no attention heads");
        }
        let kv_heads = get_u("attention.head_count_kv").unwrap_or(heads);
        if kv_heads == 0 || heads % kv_heads != 0 {
            candle_core::bail!(
                "{arch}: {heads} query heads cannot share {kv_heads} key/value heads"
            );
        }
        let head_dim = get_u("attention.key_length").unwrap_or(hidden / heads);
        Ok(Self {
            hidden,
            layers: get_u("block_count")?,
            heads,
            kv_heads,
            head_dim,
            eps: get("attention.layer_norm_rms_epsilon")?.to_f32()? as f64,
            rope_base: get("rope.freq_base")
                .and_then(|v| v.to_f32())
                .unwrap_or(10_000.0),
            context_length: get_u("context_length").unwrap_or(4096),
            experts: get_u("expert_count").unwrap_or(0),
            rope_dims: get_u("rope.dimension_count").unwrap_or(head_dim),
        })
    }
}

struct Layer {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    gate: Linear,
    up: Linear,
    down: Linear,
    attention_norm: Norm,
    ffn_norm: Norm,
    keys: CacheBuffer,
    values: CacheBuffer,
}

impl Layer {
    fn attention(
        &mut self,
        x: &Tensor,
        rope: &Rotary,
        start: usize,
        mask: &OnceCell<Option<Tensor>>,
        cfg: &Config,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq_len, _) = x.dims3()?;
        let split = |t: Tensor, heads: usize| {
            t.reshape((batch, seq_len, heads, cfg.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = rope.apply(&split(self.q.forward(x)?, cfg.heads)?, start)?;
        let k = rope.apply(&split(self.k.forward(x)?, cfg.kv_heads)?, start)?;
        let v = split(self.v.forward(x)?, cfg.kv_heads)?;

        // Positions from `start` on are (re)computed; what precedes them is kept.
        let k = self.keys.write(start, &k)?;
        let v = self.values.write(start, &v)?;
        let span = Span {
            start,
            kv_start: 0,
            window: None,
            scale: 1.0 / (cfg.head_dim as f32).sqrt(),
        };
        if let Some(out) = attention::attend(&q, &k, &v, span)? {
            return self.o.forward(&out);
        }
        let kv_len = k.dim(2)?;
        // Built by the first layer that needs it: with the kernel above, none does.
        if mask.get().is_none() {
            let built = attention_mask(start, seq_len, 0, kv_len, None, x.device())?;
            mask.set(built).expect("empty, checked above");
        }
        let mask = mask.get().expect("set above").as_ref();

        // Query heads that share a key/value head are consecutive, so they are stacked as
        // rows of one matrix per key/value head instead of copying keys and values once
        // per query head (candle's `repeat_kv`).
        let groups = cfg.heads / cfg.kv_heads;
        let q = q.reshape((batch, cfg.kv_heads, groups * seq_len, cfg.head_dim))?;
        let scores = (q.matmul(&k.t()?)? / (cfg.head_dim as f64).sqrt())?;
        let scores = match mask {
            Some(mask) => scores
                .reshape((batch, cfg.kv_heads, groups, seq_len, kv_len))?
                .broadcast_add(mask)?
                .reshape((batch, cfg.kv_heads, groups * seq_len, kv_len))?,
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights
            .matmul(&v)?
            .reshape((batch, cfg.heads, seq_len, cfg.head_dim))?
            .transpose(1, 2)?
            .reshape((batch, seq_len, cfg.heads * cfg.head_dim))?;
        self.o.forward(&out)
    }

    fn feed_forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate.forward(x)?)?;
        self.down.forward(&(gate * self.up.forward(x)?)?)
    }

    fn cached_positions(&self) -> usize {
        self.keys.len()
    }
}

pub struct Llama {
    cfg: Config,
    embedding: Embedding,
    layers: Vec<Layer>,
    output_norm: Norm,
    output: Linear,
    rope: Rotary,
    device: Device,
}

impl Llama {
    /// Whether this module runs the file; the others go to candle's `quantized_llama`.
    pub fn supports(content: &gguf_file::Content) -> bool {
        Config::from_metadata(&content.metadata)
            .is_ok_and(|cfg| cfg.experts <= 1 && cfg.rope_dims == cfg.head_dim)
    }

    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> candle_core::Result<Self> {
        Self::load(content, reader, device, false)
    }

    /// With `dequantize`, every matmul runs on f32 weights and activations (a float
    /// reference, for comparisons).
    fn load<R: std::io::Read + std::io::Seek>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
        dequantize: bool,
    ) -> candle_core::Result<Self> {
        let cfg = Config::from_metadata(&content.metadata)?;
        let (output, embedding) =
            output_and_embedding(&content, reader, cfg.hidden, dequantize, device)?;
        let frequency_factors = match content.tensor(reader, "rope_freqs.weight", device) {
            Ok(t) => Some(t.dequantize(device)?.flatten_all()?.to_vec1::<f32>()?),
            Err(_) => None,
        };
        let mut layers = Vec::with_capacity(cfg.layers);
        for index in 0..cfg.layers {
            let mut tensor = |name: &str| {
                content
                    .tensor(reader, &format!("blk.{index}.{name}.weight"), device)
                    .and_then(|t| linear(Arc::new(t), dequantize, device))
            };
            let q = tensor("attn_q")?;
            let k = tensor("attn_k")?;
            let v = tensor("attn_v")?;
            let o = tensor("attn_output")?;
            let gate = tensor("ffn_gate")?;
            let up = tensor("ffn_up")?;
            let down = tensor("ffn_down")?;
            let mut norm = |name: &str| {
                Norm::load(
                    &content,
                    reader,
                    &format!("blk.{index}.{name}.weight"),
                    cfg.eps,
                    device,
                )
            };
            layers.push(Layer {
                q,
                k,
                v,
                o,
                gate,
                up,
                down,
                attention_norm: norm("attn_norm")?,
                ffn_norm: norm("ffn_norm")?,
                keys: CacheBuffer::default(),
                values: CacheBuffer::default(),
            });
        }
        let output_norm = Norm::load(&content, reader, "output_norm.weight", cfg.eps, device)?;
        Ok(Self {
            rope: Rotary::new(
                cfg.head_dim,
                cfg.rope_base,
                RopeLayout::Interleaved,
                frequency_factors.as_deref(),
                device,
            )?,
            cfg,
            embedding,
            layers,
            output_norm,
            output,
            device: device.clone(),
        })
    }

    /// Logits of the last position, shape (batch, vocab). `start` is the position of the
    /// first token of `input`: the cache keeps positions `0..start` (computed by earlier
    /// calls) and drops any after them, so 0 starts a new sequence and a shared prefix is
    /// reused by starting after it.
    pub fn forward(&mut self, input: &Tensor, start: usize) -> candle_core::Result<Tensor> {
        let (batch, seq_len) = input.dims2()?;
        if seq_len == 0 {
            candle_core::bail!("llama: empty input");
        }
        if start > self.cached_positions() {
            candle_core::bail!(
                "llama: position {start} is past the {} cached positions",
                self.cached_positions()
            );
        }
        let end = start + seq_len;
        if end > self.cfg.context_length {
            candle_core::bail!(
                "llama: position {end} is past the model's context of {}",
                self.cfg.context_length
            );
        }
        self.rope.ensure(end, self.cfg.context_length)?;

        let ids = input.flatten_all()?.to_vec1::<u32>()?;
        let mut x = self.embedding.forward(&ids, &self.device)?.reshape((
            batch,
            seq_len,
            self.cfg.hidden,
        ))?;
        // The causal mask, for layers whose attention falls back to candle's operations.
        let mask = OnceCell::new();
        for layer in &mut self.layers {
            let attended = layer.attention(
                &layer.attention_norm.forward(&x)?,
                &self.rope,
                start,
                &mask,
                &self.cfg,
            )?;
            x = (attended + &x)?;
            x = (layer.feed_forward(&layer.ffn_norm.forward(&x)?)? + &x)?;
        }
        let last = x.narrow(1, seq_len - 1, 1)?.squeeze(1)?;
        self.output.forward(&self.output_norm.forward(&last)?)
    }

    /// Positions whose keys and values are cached (a later `forward` may start at any
    /// position up to this).
    pub fn cached_positions(&self) -> usize {
        self.layers.first().map_or(0, Layer::cached_positions)
    }

    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.keys.clear();
            layer.values.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{self, Tiny};
    use candle_core::quantized::GgmlDType;
    use candle_transformers::models::quantized_llama;

    fn content(bytes: &[u8]) -> (gguf_file::Content, std::io::Cursor<Vec<u8>>) {
        let mut reader = std::io::Cursor::new(bytes.to_vec());
        let content = gguf_file::Content::read(&mut reader).unwrap();
        (content, reader)
    }

    fn ours(bytes: &[u8]) -> Llama {
        let (content, mut reader) = content(bytes);
        assert!(Llama::supports(&content));
        Llama::from_gguf(content, &mut reader, &Device::Cpu).unwrap()
    }

    fn candles(bytes: &[u8]) -> quantized_llama::ModelWeights {
        let (content, mut reader) = content(bytes);
        quantized_llama::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).unwrap()
    }

    fn ids(n: usize) -> Vec<u32> {
        (0..n).map(|i| 3 + ((i * 37 + 11) % 250) as u32).collect()
    }

    fn run(
        forward: &mut dyn FnMut(&Tensor, usize) -> candle_core::Result<Tensor>,
        tokens: &[u32],
        start: usize,
    ) -> Vec<f32> {
        let input = Tensor::new(tokens, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        forward(&input, start)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    fn max_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// candle's module is the reference: on the same float weights both compute the same
    /// logits, for a prompt and then token by token (past 64 positions, where the cache
    /// buffer grows).
    #[test]
    fn matches_candles_llama_on_the_same_weights() {
        // 32-wide heads run on our attention kernel (where the CPU has it); 8-wide heads,
        // which it does not take, on candle's operations with the causal mask.
        // (candle's module takes hidden / heads as the head size.)
        for head_dim in [32, 8] {
            let bytes = synthetic::llama(&Tiny {
                hidden: 2 * head_dim,
                heads: 2,
                head_dim,
                ..Tiny::default()
            });
            let mut mine = ours(&bytes);
            let mut reference = candles(&bytes);
            let tokens = ids(72);
            let a = run(&mut |x, s| mine.forward(x, s), &tokens[..9], 0);
            let b = run(&mut |x, s| reference.forward(x, s), &tokens[..9], 0);
            assert!(max_difference(&a, &b) < 1e-4, "{}", max_difference(&a, &b));
            for (position, token) in tokens.iter().enumerate().skip(9) {
                let a = run(&mut |x, s| mine.forward(x, s), &[*token], position);
                let b = run(&mut |x, s| reference.forward(x, s), &[*token], position);
                assert!(max_difference(&a, &b) < 1e-4, "{}", max_difference(&a, &b));
            }
        }
    }

    /// Q8_0 weights on the int8 kernel (or widened for candle's tiles) change only the
    /// rounding of activations.
    #[test]
    fn quantized_weights_stay_close_to_candles_llama() {
        let bytes = synthetic::llama(&Tiny {
            dtype: GgmlDType::Q8_0,
            ..Tiny::default()
        });
        let tokens = ids(20);
        let a = run(&mut |x, s| ours(&bytes).forward(x, s), &tokens, 0);
        let b = run(&mut |x, s| candles(&bytes).forward(x, s), &tokens, 0);
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            max_difference(&a, &b) < 0.05 * scale,
            "{} of {scale}",
            max_difference(&a, &b)
        );
    }

    #[test]
    fn a_shared_prefix_is_reused_not_recomputed() {
        let bytes = synthetic::llama(&Tiny::default());
        let mut model = ours(&bytes);
        let first = ids(16);
        let mut second = first[..10].to_vec();
        second.extend([40, 41, 42, 43]);
        let fresh = run(&mut |x, s| ours(&bytes).forward(x, s), &second, 0);

        run(&mut |x, s| model.forward(x, s), &first, 0);
        assert_eq!(model.cached_positions(), 16);
        // The second prompt shares 10 tokens: only the last 4 are fed.
        let reused = run(&mut |x, s| model.forward(x, s), &second[10..], 10);
        assert_eq!(model.cached_positions(), 14);
        assert!(
            max_difference(&fresh, &reused) < 1e-4,
            "{}",
            max_difference(&fresh, &reused)
        );
        assert!(
            model
                .forward(&Tensor::new(&[[5u32]], &Device::Cpu).unwrap(), 20)
                .is_err(),
            "a start past the cache is an error"
        );
    }

    #[test]
    fn mixture_of_experts_files_go_to_candle() {
        let bytes = synthetic::llama(&Tiny::default());
        let (mut content, _) = content(&bytes);
        assert!(Llama::supports(&content));
        content
            .metadata
            .insert("llama.expert_count".into(), gguf_file::Value::U32(8));
        assert!(!Llama::supports(&content));
    }
}

/// The real SmolLM2 from `make models`: the quantized kernels round activations to 8 bits
/// (per 32 values on ours, per 256 on candle's tiles), so the quantized model must stay
/// close to the same weights run in f32.
#[cfg(test)]
mod real_model {
    use super::*;

    fn log_softmax(logits: &[f32]) -> Vec<f64> {
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let sum: f64 = logits.iter().map(|x| f64::from(x - max).exp()).sum();
        logits
            .iter()
            .map(|x| f64::from(x - max) - sum.ln())
            .collect()
    }

    fn argmax(values: &[f64]) -> usize {
        values
            .iter()
            .enumerate()
            .fold(
                (0, f64::MIN),
                |best, (i, v)| if *v > best.1 { (i, *v) } else { best },
            )
            .0
    }

    /// Measured on 300 positions of this text: 278 of 300 top tokens agree, mean KL 0.020
    /// (candle's own module, rounding in blocks of 32: 284, 0.007).
    #[test]
    fn smollm2_quantized_stays_close_to_its_f32_weights() {
        let path = crate::test_models().join("llm/SmolLM2-135M-Instruct.Q4_1.gguf");
        let path = crate::requantize::fast_variant(&path)
            .unwrap_or_else(|e| panic!("{e:#} (run `make models`)"));
        let read = || {
            let mut file = std::fs::File::open(&path).unwrap();
            let content = gguf_file::Content::read(&mut file).unwrap();
            (content, file)
        };
        let (content, mut file) = read();
        let tokenizer = crate::tokenizer::from_gguf(&content.metadata).unwrap();
        let mut quantized = Llama::from_gguf(content, &mut file, &Device::Cpu).unwrap();
        let (content, mut file) = read();
        let mut float = Llama::load(content, &mut file, &Device::Cpu, true).unwrap();

        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../samples/text/service-agreement.txt"
        ))
        .unwrap();
        let ids = tokenizer.encode(text.as_str(), false).unwrap().get_ids()[..100].to_vec();
        let (mut agree, mut divergence) = (0, 0.0);
        for (position, id) in ids.iter().enumerate() {
            let input = Tensor::new(&[[*id]], &Device::Cpu).unwrap();
            let next = |model: &mut Llama| {
                let logits: Vec<f32> = model
                    .forward(&input, position)
                    .unwrap()
                    .squeeze(0)
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                log_softmax(&logits)
            };
            let (p, q) = (next(&mut float), next(&mut quantized));
            agree += usize::from(argmax(&p) == argmax(&q));
            divergence += p
                .iter()
                .zip(&q)
                .map(|(p, q)| p.exp() * (p - q))
                .sum::<f64>();
        }
        let divergence = divergence / ids.len() as f64;
        eprintln!("agreement {agree}/100, mean KL {divergence}");
        assert!(agree >= 85, "{agree} of 100 top tokens agree");
        assert!(divergence < 0.05, "mean KL {divergence}");
    }
}

//! Building blocks shared by our own model implementations (llama.rs, gemma3.rs): a
//! quantized linear layer on the fastest kernel the CPU has (ours or candle's), the token embedding kept
//! quantized, RMS norm, rotary tables that grow with use, and the attention mask.

use std::sync::Arc;

use candle_core::quantized::{ggml_file, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};

use crate::kernels::{self, int8, KernelFamily};

/// The rotary tables grow in steps of at least this many positions, doubling, so that a
/// long answer rebuilds them a handful of times rather than once per token.
pub(crate) const MIN_ROPE_POSITIONS: usize = 256;

/// candle's repacked int8 kernels (AVX-512 VNNI or AVX-VNNI tiles) quantize activations in
/// 256-value blocks, so they only take weights whose input width is a multiple of 256.
/// Small models are not: SmolLM2-135M is 576 wide, Gemma 3 270M 640. Such weights fall back
/// to a per-row dot product that is several times slower per weight.
const REPACK_BLOCK: usize = 256;
/// The repacked kernels work on tiles of this many output rows.
const REPACK_TILE_ROWS: usize = 16;

/// The largest k-quant layer (in weights) requantized to Q8_0 for our kernel: Gemma 3 270M's
/// are 1.3M, Qwen2.5 0.5B's 4.4M; a 7B model's feed-forward layers (59M) stay on candle.
const MAX_REQUANTIZED_ELEMENTS: usize = 1 << 23;

/// How a layer multiplies.
enum Kernel {
    /// Q8_0 weights on our own int8 kernel (int8.rs), where the CPU has one of its families.
    Int8(Arc<int8::PackedWeight>),
    /// candle's matmul. Where the CPU has candle's repacked Q8_0 kernels and the input
    /// width is not a multiple of 256, the weight is widened with zero blocks (exact: zero
    /// blocks add nothing) and the input with zeros, which costs up to a third more
    /// multiply-adds but runs on kernels that are 4–5× faster than candle's others.
    Candle {
        matmul: QMatMul,
        padded_in_features: usize,
    },
}

/// A linear layer on a quantized weight, on the fastest kernel this CPU has for it.
pub(crate) struct Linear {
    kernel: Kernel,
    in_features: usize,
}

impl Linear {
    pub(crate) fn new(weight: Arc<QTensor>) -> candle_core::Result<Self> {
        let (out_features, in_features) = weight.shape().dims2()?;
        let family = kernels::family();
        if weight.device().is_cpu()
            && family != KernelFamily::Candle
            && int8::PackedWeight::takes(out_features, in_features)
        {
            // k-quant layers (a Q4_K_M file's Q4_K and Q6_K) of small models are requantized
            // to Q8_0 here, in memory, so that every layer runs on our kernel and candle's
            // pool never spins beside ours (both pools would compete for the same cores on
            // every token). Large layers stay k-quants: as Q8_0 a 7B model's would need
            // almost twice the memory, and a generated token reads every byte of them.
            let q8_0 = match weight.dtype() {
                GgmlDType::Q8_0 => None,
                GgmlDType::Q4K | GgmlDType::Q5K | GgmlDType::Q6K
                    if out_features * in_features <= MAX_REQUANTIZED_ELEMENTS =>
                {
                    Some(QTensor::quantize(
                        &weight.dequantize(&weight.device())?,
                        GgmlDType::Q8_0,
                    )?)
                }
                _ => return Self::on_candle(weight),
            };
            let data = match &q8_0 {
                Some(q) => q.data()?,
                None => weight.data()?,
            };
            if let Some(packed) =
                int8::PackedWeight::from_q8_0(&data, out_features, in_features, family)
            {
                return Ok(Self {
                    kernel: Kernel::Int8(Arc::new(packed)),
                    in_features,
                });
            }
        }
        Self::on_candle(weight)
    }

    /// The layer on candle's matmul (what runs where our int8 kernel does not).
    fn on_candle(weight: Arc<QTensor>) -> candle_core::Result<Self> {
        let (out_features, in_features) = weight.shape().dims2()?;
        let padded = in_features.next_multiple_of(REPACK_BLOCK);
        let worth_padding = weight.dtype() == GgmlDType::Q8_0
            && padded != in_features
            && out_features.is_multiple_of(REPACK_TILE_ROWS)
            && has_int8_tiles();
        let (weight, padded_in_features) = if worth_padding {
            (Arc::new(pad_rows(&weight, padded)?), padded)
        } else {
            (weight, in_features)
        };
        Ok(Self {
            kernel: Kernel::Candle {
                matmul: QMatMul::from_arc(weight)?,
                padded_in_features,
            },
            in_features,
        })
    }

    /// Runs on f32 weights and activations (the float reference for comparisons).
    pub(crate) fn dequantized(weight: &QTensor, device: &Device) -> candle_core::Result<Self> {
        let (_, in_features) = weight.shape().dims2()?;
        Ok(Self {
            kernel: Kernel::Candle {
                matmul: QMatMul::Tensor(weight.dequantize(device)?),
                padded_in_features: in_features,
            },
            in_features,
        })
    }

    /// The quantized weight this layer multiplies by, as a token embedding tied to this
    /// output projection can read it. `None` for dequantized weights.
    fn shared_table(&self) -> Option<Table> {
        match &self.kernel {
            Kernel::Int8(packed) => Some(Table::Packed(packed.clone())),
            Kernel::Candle {
                matmul: QMatMul::QTensor(weight),
                ..
            } => Some(Table::Ggml(weight.clone())),
            Kernel::Candle { .. } => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn kernel_name(&self) -> &'static str {
        match &self.kernel {
            Kernel::Int8(_) => "int8",
            Kernel::Candle {
                padded_in_features, ..
            } if *padded_in_features != self.in_features => "candle, widened",
            Kernel::Candle { .. } => "candle",
        }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match &self.kernel {
            Kernel::Int8(packed) => int8_forward(packed, x, self.in_features),
            Kernel::Candle {
                matmul,
                padded_in_features,
            } if *padded_in_features == self.in_features => matmul.forward(x),
            Kernel::Candle {
                matmul,
                padded_in_features,
            } => matmul.forward(&x.pad_with_zeros(
                D::Minus1,
                0,
                padded_in_features - self.in_features,
            )?),
        }
    }
}

/// `x` (…, in_features) times a packed weight, on the CPU slice of `x` itself.
fn int8_forward(
    packed: &int8::PackedWeight,
    x: &Tensor,
    in_features: usize,
) -> candle_core::Result<Tensor> {
    let mut dims = x.dims().to_vec();
    if dims.last() != Some(&in_features) {
        candle_core::bail!("a {in_features}-wide layer was given {:?}", x.shape());
    }
    let x = x.to_dtype(DType::F32)?.contiguous()?;
    let out = with_cpu_f32(&x, |values, _| {
        Ok(int8::matmul(packed, &values[..x.elem_count()]))
    })?;
    *dims.last_mut().expect("checked above") = packed.rows();
    Tensor::from_vec(out, dims, x.device())
}

/// Lends `f` an f32 CPU tensor's values from its layout's start, with the layout's strides
/// (our kernels read candle's storage in place).
pub(crate) fn with_cpu_f32<R>(
    t: &Tensor,
    f: impl FnOnce(&[f32], &[usize]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("our CPU kernels were given a tensor on another device");
    };
    let values = cpu.as_slice::<f32>()?;
    f(&values[layout.start_offset()..], layout.stride())
}

/// A model's weight as a layer: quantized or, with `dequantize`, in f32 (the float
/// reference that comparisons with other implementations need).
pub(crate) fn linear(
    weight: Arc<QTensor>,
    dequantize: bool,
    device: &Device,
) -> candle_core::Result<Linear> {
    if dequantize {
        Linear::dequantized(&weight, device)
    } else {
        Linear::new(weight)
    }
}

/// The output projection and the token embedding. A file without `output.weight` ties
/// them: the embedding then reads the projection's packed or widened weight, so the table
/// is held once.
pub(crate) fn output_and_embedding<R: std::io::Read + std::io::Seek>(
    content: &candle_core::quantized::gguf_file::Content,
    reader: &mut R,
    hidden: usize,
    dequantize: bool,
    device: &Device,
) -> candle_core::Result<(Linear, Embedding)> {
    let table = Arc::new(content.tensor(reader, "token_embd.weight", device)?);
    if let Ok(output) = content.tensor(reader, "output.weight", device) {
        return Ok((
            linear(Arc::new(output), dequantize, device)?,
            Embedding::new(table)?,
        ));
    }
    let output = linear(table.clone(), dequantize, device)?;
    let embedding = match output.shared_table() {
        Some(shared) => Embedding::leading(shared, hidden)?,
        None => Embedding::new(table)?,
    };
    Ok((output, embedding))
}

/// Whether candle 0.11 will run Q8_0 weights on its repacked int8 tiles here (it checks
/// the same CPU features at run time; AVX2 alone does not qualify for Q8_0).
fn has_int8_tiles() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni"))
            || (is_x86_feature_detected!("avxvnni") && is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Copies a 2-D quantized weight with each row widened to `width` values by zero blocks.
/// ggml rows are whole blocks, so this is a byte copy, no requantization.
fn pad_rows(weight: &QTensor, width: usize) -> candle_core::Result<QTensor> {
    let (rows, columns) = weight.shape().dims2()?;
    let dtype = weight.dtype();
    let block = dtype.block_size();
    if !columns.is_multiple_of(block) || !width.is_multiple_of(block) {
        candle_core::bail!("rows of {columns} do not pad to {width} in whole {dtype:?} blocks");
    }
    let row_bytes = columns / block * dtype.type_size();
    let padded_row_bytes = width / block * dtype.type_size();
    let data = weight.data()?;
    let mut padded = vec![0u8; rows * padded_row_bytes];
    for (source, target) in data
        .chunks_exact(row_bytes)
        .zip(padded.chunks_exact_mut(padded_row_bytes))
    {
        target[..row_bytes].copy_from_slice(source);
    }
    ggml_file::qtensor_from_ggml(dtype, &padded, vec![rows, width], &weight.device())
}

/// Where an embedding's rows are stored.
pub(crate) enum Table {
    /// As in the file (ggml blocks; rows may be widened with zero blocks).
    Ggml(Arc<QTensor>),
    /// Repacked for the int8 kernel, shared with the tied output projection.
    Packed(Arc<int8::PackedWeight>),
}

/// The token embedding, kept quantized: rows are dequantized as tokens need them, instead
/// of holding the whole table in f32 (113 MB for SmolLM2's 49,152 × 576, 670 MB for Gemma 3's
/// 262,144 × 640).
pub(crate) struct Embedding {
    table: Table,
    vocab: usize,
    /// Values per stored row, and the leading ones that are the embedding: a table shared
    /// with a widened output projection has zero blocks after them.
    width: usize,
    hidden: usize,
}

impl Embedding {
    pub(crate) fn new(table: Arc<QTensor>) -> candle_core::Result<Self> {
        let hidden = table.shape().dims2()?.1;
        Self::leading(Table::Ggml(table), hidden)
    }

    /// The embedding is the first `hidden` values of each row of `table`.
    pub(crate) fn leading(table: Table, hidden: usize) -> candle_core::Result<Self> {
        let (vocab, width) = match &table {
            Table::Ggml(table) => {
                let (vocab, width) = table.shape().dims2()?;
                // ggml stores whole blocks per row, so a row is a byte range of the table.
                let dtype = table.dtype();
                if width % dtype.block_size() != 0 {
                    candle_core::bail!("token_embd rows of {width} are not whole {dtype:?} blocks");
                }
                (vocab, width)
            }
            Table::Packed(packed) => (packed.rows(), packed.columns()),
        };
        if hidden > width {
            candle_core::bail!("token_embd rows of {width} are narrower than {hidden}");
        }
        Ok(Self {
            table,
            vocab,
            width,
            hidden,
        })
    }

    pub(crate) fn forward(&self, ids: &[u32], device: &Device) -> candle_core::Result<Tensor> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.vocab) {
            candle_core::bail!("token id {id} is outside the vocabulary of {}", self.vocab);
        }
        let table = match &self.table {
            Table::Ggml(table) => table,
            Table::Packed(packed) => {
                let mut rows = vec![0f32; ids.len() * self.hidden];
                for (&id, row) in ids.iter().zip(rows.chunks_exact_mut(self.hidden)) {
                    packed.dequantize_row(id as usize, row);
                }
                return Tensor::from_vec(rows, (ids.len(), self.hidden), device);
            }
        };
        let dtype: GgmlDType = table.dtype();
        let row_bytes = self.width / dtype.block_size() * dtype.type_size();
        let data = table.data()?;
        let mut rows = Vec::with_capacity(ids.len() * row_bytes);
        for &id in ids {
            let id = id as usize;
            rows.extend_from_slice(&data[id * row_bytes..(id + 1) * row_bytes]);
        }
        let rows = ggml_file::qtensor_from_ggml(dtype, &rows, vec![ids.len(), self.width], device)?
            .dequantize(device)?;
        if self.width == self.hidden {
            Ok(rows)
        } else {
            rows.narrow(1, 0, self.hidden)?.contiguous()
        }
    }
}

pub(crate) struct Norm {
    weight: Tensor,
    eps: f32,
}

impl Norm {
    pub(crate) fn load<R: std::io::Read + std::io::Seek>(
        content: &candle_core::quantized::gguf_file::Content,
        reader: &mut R,
        name: &str,
        eps: f64,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let weight = content.tensor(reader, name, device)?.dequantize(device)?;
        Ok(Self {
            weight,
            eps: eps as f32,
        })
    }

    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::rms_norm(&x.contiguous()?, &self.weight, self.eps)
    }
}

/// How a model pairs the dimensions it rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RopeLayout {
    /// (2i, 2i+1): llama.cpp's "normal" rope; llama GGUFs store q and k permuted for it.
    Interleaved,
    /// (i, i + d/2): NeoX, used by Gemma and Qwen.
    Halves,
}

/// Sine and cosine tables for one rope base, covering positions `0..len`.
pub(crate) struct Rotary {
    inverse_frequencies: Vec<f32>,
    layout: RopeLayout,
    cos: Tensor,
    sin: Tensor,
    pub(crate) len: usize,
}

impl Rotary {
    /// `frequency_factors` (Llama 3.1's long-context scaling, the GGUF's `rope_freqs`
    /// tensor) divide the frequencies one by one.
    pub(crate) fn new(
        rotated_dims: usize,
        base: f32,
        layout: RopeLayout,
        frequency_factors: Option<&[f32]>,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let mut inverse_frequencies = (0..rotated_dims)
            .step_by(2)
            .map(|i| 1.0 / base.powf(i as f32 / rotated_dims as f32))
            .collect::<Vec<_>>();
        if let Some(factors) = frequency_factors {
            if factors.len() != inverse_frequencies.len() {
                candle_core::bail!(
                    "rope_freqs has {} factors for {} frequencies",
                    factors.len(),
                    inverse_frequencies.len()
                );
            }
            for (frequency, factor) in inverse_frequencies.iter_mut().zip(factors) {
                *frequency /= factor;
            }
        }
        let empty = Tensor::zeros((0, rotated_dims / 2), DType::F32, device)?;
        Ok(Self {
            inverse_frequencies,
            layout,
            cos: empty.clone(),
            sin: empty,
            len: 0,
        })
    }

    /// Makes the tables cover `positions` (at most `limit`).
    pub(crate) fn ensure(&mut self, positions: usize, limit: usize) -> candle_core::Result<()> {
        if positions <= self.len {
            return Ok(());
        }
        let len = positions
            .next_power_of_two()
            .max(MIN_ROPE_POSITIONS)
            .min(limit.max(positions));
        let half = self.inverse_frequencies.len();
        let mut angles = Vec::with_capacity(len * half);
        for position in 0..len {
            angles.extend(self.inverse_frequencies.iter().map(|f| position as f32 * f));
        }
        let device = self.cos.device().clone();
        let angles = Tensor::from_vec(angles, (len, half), &device)?;
        self.cos = angles.cos()?;
        self.sin = angles.sin()?;
        self.len = len;
        Ok(())
    }

    /// Rotates `x` of shape (batch, heads, seq_len, head_dim), whose first position is
    /// `start`.
    pub(crate) fn apply(&self, x: &Tensor, start: usize) -> candle_core::Result<Tensor> {
        let (_, _, seq_len, _) = x.dims4()?;
        let cos = self.cos.narrow(0, start, seq_len)?;
        let sin = self.sin.narrow(0, start, seq_len)?;
        let x = x.contiguous()?;
        match self.layout {
            RopeLayout::Halves => candle_nn::rotary_emb::rope(&x, &cos, &sin),
            RopeLayout::Interleaved => candle_nn::rotary_emb::rope_i(&x, &cos, &sin),
        }
    }
}

/// Keys or values of positions `0..len`, shape (batch, heads, len, head_dim), in a buffer
/// that grows by doubling, so that a decoding step writes one position instead of copying
/// the whole cache (which `Tensor::cat` does).
#[derive(Default)]
pub(crate) struct CacheBuffer {
    buffer: Option<Tensor>,
    len: usize,
}

impl CacheBuffer {
    /// Writes `new` at positions `start..`, dropping anything cached from `start` on, and
    /// returns positions `0..start + new`.
    pub(crate) fn write(&mut self, start: usize, new: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, heads, added, head_dim) = new.dims4()?;
        if start > self.len {
            candle_core::bail!("position {start} is past the {} cached", self.len);
        }
        let end = start + added;
        let capacity = self.buffer.as_ref().map_or(0, |b| b.dim(2).unwrap_or(0));
        if end > capacity {
            let grown = Tensor::zeros(
                (batch, heads, end.max(2 * capacity).max(64), head_dim),
                new.dtype(),
                new.device(),
            )?;
            if let Some(old) = &self.buffer {
                if start > 0 {
                    grown.slice_set(&old.narrow(2, 0, start)?.contiguous()?, 2, 0)?;
                }
            }
            self.buffer = Some(grown);
        }
        let buffer = self.buffer.as_ref().expect("allocated above");
        buffer.slice_set(&new.contiguous()?, 2, start)?;
        self.len = end;
        buffer.narrow(2, 0, end)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

/// An additive mask (0 or -inf) of shape (seq_len, kv_len) for queries at positions
/// `start..start + seq_len` over keys at `kv_start..kv_start + kv_len`: causal, and within
/// `window` positions for local layers. `None` when nothing is masked.
pub(crate) fn attention_mask(
    start: usize,
    seq_len: usize,
    kv_start: usize,
    kv_len: usize,
    window: Option<usize>,
    device: &Device,
) -> candle_core::Result<Option<Tensor>> {
    let mut any_masked = false;
    let mut values = Vec::with_capacity(seq_len * kv_len);
    for i in 0..seq_len {
        let query = start + i;
        for j in 0..kv_len {
            let key = kv_start + j;
            let visible = key <= query && window.is_none_or(|w| query - key < w);
            any_masked |= !visible;
            values.push(if visible { 0f32 } else { f32::NEG_INFINITY });
        }
    }
    if !any_masked {
        return Ok(None);
    }
    Tensor::from_vec(values, (seq_len, kv_len), device).map(Some)
}

/// The largest absolute value in `t` (tests compare tensors by the largest difference).
#[cfg(test)]
pub(crate) fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .and_then(|a| a.max_all())
        .and_then(|m| m.to_scalar::<f32>())
        .expect("an f32 tensor")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(rows: usize, columns: usize) -> QTensor {
        let values: Vec<f32> = (0..rows * columns)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let t = Tensor::from_vec(values, (rows, columns), &Device::Cpu).unwrap();
        QTensor::quantize(&t, GgmlDType::Q8_0).unwrap()
    }

    /// Each kernel a layer may run on, against the float product of the same weight.
    #[test]
    fn a_layer_computes_what_its_dequantized_weight_does() {
        let w = Arc::new(weight(32, 576));
        let x = Tensor::from_vec(
            (0..3 * 576)
                .map(|i| ((i % 13) as f32 - 6.0) / 7.0)
                .collect(),
            (1, 3, 576),
            &Device::Cpu,
        )
        .unwrap();
        let reference = x
            .broadcast_matmul(&w.dequantize(&Device::Cpu).unwrap().t().unwrap())
            .unwrap();
        let default = Linear::new(w.clone()).unwrap();
        let expected = if kernels::family() != KernelFamily::Candle {
            "int8"
        } else if has_int8_tiles() {
            "candle, widened"
        } else {
            "candle"
        };
        assert_eq!(default.kernel_name(), expected);
        let on_candle = Linear::on_candle(w).unwrap();
        for linear in [default, on_candle] {
            let got = linear.forward(&x).unwrap();
            assert_eq!(got.dims(), &[1, 3, 32]);
            // Activations are rounded to 8 bits by every kernel; the sums stay close.
            let difference = max_abs(&(got - &reference).unwrap());
            let scale = max_abs(&reference);
            assert!(
                difference < 0.02 * scale,
                "{}: {difference} of {scale}",
                linear.kernel_name()
            );
        }
    }

    /// A k-quant layer (Q4_K, Q6_K) runs on our kernel where the CPU has a family: its
    /// weight requantized to Q8_0, within the 8-bit error of the dequantized weight.
    #[test]
    fn k_quant_layers_run_on_our_kernel() {
        let values: Vec<f32> = (0..32 * 512)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect();
        let t = Tensor::from_vec(values, (32, 512), &Device::Cpu).unwrap();
        let x = Tensor::from_vec(
            (0..2 * 512)
                .map(|i| ((i % 17) as f32 - 8.0) / 9.0)
                .collect(),
            (1, 2, 512),
            &Device::Cpu,
        )
        .unwrap();
        for dtype in [GgmlDType::Q4K, GgmlDType::Q6K] {
            let w = Arc::new(QTensor::quantize(&t, dtype).unwrap());
            let reference = x
                .broadcast_matmul(&w.dequantize(&Device::Cpu).unwrap().t().unwrap())
                .unwrap();
            let layer = Linear::new(w).unwrap();
            let ours = kernels::family() != KernelFamily::Candle;
            assert_eq!(layer.kernel_name() == "int8", ours, "{dtype:?}");
            let difference = max_abs(&(layer.forward(&x).unwrap() - &reference).unwrap());
            let scale = max_abs(&reference);
            assert!(
                difference < 0.02 * scale,
                "{dtype:?}: {difference} of {scale}"
            );
        }
    }

    #[test]
    fn padding_rows_keeps_every_value_and_adds_zeros() {
        let w = weight(16, 96);
        let padded = pad_rows(&w, 256).unwrap();
        assert_eq!(padded.shape().dims(), &[16, 256]);
        let original = w.dequantize(&Device::Cpu).unwrap();
        let widened = padded.dequantize(&Device::Cpu).unwrap();
        let kept = widened.narrow(1, 0, 96).unwrap();
        assert_eq!(max_abs(&(kept - &original).unwrap()), 0.0);
        let zeros = widened.narrow(1, 96, 160).unwrap();
        assert_eq!(max_abs(&zeros), 0.0);
    }

    #[test]
    fn the_mask_hides_keys_outside_the_window_and_the_future() {
        let mask = |start, seq, kv_start, kv_len, window| {
            attention_mask(start, seq, kv_start, kv_len, window, &Device::Cpu)
                .unwrap()
                .map(|m| m.to_vec2::<f32>().unwrap())
        };
        // One token at position 10 over the cached keys 7..=10: all inside a window of 4.
        assert!(mask(10, 1, 7, 4, Some(4)).is_none());
        // A window of 3 hides key 7 (10 - 7 = 3 positions back).
        let hidden = mask(10, 1, 7, 4, Some(3)).unwrap();
        assert_eq!(hidden[0][0], f32::NEG_INFINITY);
        assert_eq!(&hidden[0][1..], &[0.0, 0.0, 0.0]);
        // A prompt is causal.
        let causal = mask(0, 2, 0, 2, None).unwrap();
        assert_eq!(causal, vec![vec![0.0, f32::NEG_INFINITY], vec![0.0, 0.0]]);
    }
}

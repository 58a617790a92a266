//! Q8_0 weights times int8 activations: our own matmul for the layers of the models we
//! run (parts::Linear), because candle 0.11's is 2–4× slower on them (and on CPUs without
//! AVX-512 VNNI or AVX-VNNI, candle has no fast Q8_0 path at all).
//!
//! candle's repacked Q8_0 kernel quantizes activations in blocks of 256 (so a 576-wide
//! SmolLM2 weight must be widened by a third with zero blocks), reuses each weight tile for
//! only four activation rows, and its activation quantizer rounds with `roundf` one value
//! at a time. Here activations are quantized per 32 values, like the weights (so also more
//! precisely), each weight tile serves several activation rows and each activation load
//! several tiles, and one block's integer dot products go to the float accumulators in
//! three instructions.
//!
//! The layout, the same for every family: weights in tiles of 16 output rows by one
//! 32-value block, each group of 4 inputs stored as the 16 rows' 4 bytes side by side, so
//! that one register load advances 16 (AVX-512), 8 (AVX2) or 4 (NEON) rows by 4 inputs.
//! Families whose byte dot product multiplies unsigned by signed bytes (`vpdpbusd`) store
//! weights offset by +128; the others store them signed. The per-family code is in
//! `int8/`: `avx512.rs`, `avx2.rs` (AVX2 and AVX-VNNI), `neon.rs`.

// Calls into the per-family modules, whose preconditions PackedWeight's constructor checks.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use std::cell::RefCell;

use super::KernelFamily;

/// Output rows per tile.
pub(crate) const TILE_ROWS: usize = 16;
/// Values per quantization block, in weights (ggml Q8_0) and activations alike.
pub(crate) const BLOCK: usize = 32;
/// A ggml Q8_0 block: an f16 scale, then 32 signed bytes.
const Q8_0_BLOCK_BYTES: usize = 34;
const TILE_BLOCK_BYTES: usize = TILE_ROWS * BLOCK;

/// A Q8_0 weight (rows × columns, each row one output) in the tile layout, for one kernel
/// family.
pub(crate) struct PackedWeight {
    family: KernelFamily,
    rows: usize,
    columns: usize,
    blocks: usize,
    /// [tile][block][group of 4 inputs][row in tile][4]; each value + 128 where `offset`.
    quants: Vec<u8>,
    /// [tile][block][row in tile], f16 bits as in the file.
    scales: Vec<u16>,
    /// The same scales in f32, for the families that read them so (NEON); else empty.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    scales_f32: Vec<f32>,
}

/// Whether the family's weights are stored + 128 (for an unsigned × signed dot product).
fn offset(family: KernelFamily) -> bool {
    matches!(family, KernelFamily::AvxVnni | KernelFamily::Avx512Vnni)
}

impl PackedWeight {
    /// Whether a rows × columns weight fits the tiles: whole tiles of rows, whole blocks of
    /// columns, neither empty.
    pub(crate) fn takes(rows: usize, columns: usize) -> bool {
        rows > 0 && rows.is_multiple_of(TILE_ROWS) && columns > 0 && columns.is_multiple_of(BLOCK)
    }

    /// Repacks ggml Q8_0 data for `family`. `None` when this CPU does not run the family
    /// (or it is candle's), when the shape does not fit the tiles (rows not a multiple of
    /// 16), or when the data is not that many Q8_0 blocks.
    pub(crate) fn from_q8_0(
        data: &[u8],
        rows: usize,
        columns: usize,
        family: KernelFamily,
    ) -> Option<Self> {
        if family == KernelFamily::Candle || !family.runs_here() {
            return None;
        }
        if !Self::takes(rows, columns) {
            return None;
        }
        let blocks = columns / BLOCK;
        if data.len() != rows * blocks * Q8_0_BLOCK_BYTES {
            return None;
        }
        // Adding 128 to an i8 read as u8 flips its top bit.
        let flip = if offset(family) { 0x8080_8080 } else { 0 };
        let mut quants = vec![0u8; rows * columns];
        let mut scales = vec![0u16; rows * blocks];
        for tile in 0..rows / TILE_ROWS {
            for block in 0..blocks {
                let tile_block = tile * blocks + block;
                let target = &mut quants[tile_block * TILE_BLOCK_BYTES..][..TILE_BLOCK_BYTES];
                for row in 0..TILE_ROWS {
                    let source = &data
                        [((tile * TILE_ROWS + row) * blocks + block) * Q8_0_BLOCK_BYTES..]
                        [..Q8_0_BLOCK_BYTES];
                    scales[tile_block * TILE_ROWS + row] =
                        u16::from_le_bytes([source[0], source[1]]);
                    for (group, four) in source[2..].chunks_exact(4).enumerate() {
                        let four = u32::from_le_bytes([four[0], four[1], four[2], four[3]]);
                        let at = (group * TILE_ROWS + row) * 4;
                        target[at..at + 4].copy_from_slice(&(four ^ flip).to_le_bytes());
                    }
                }
            }
        }
        let scales_f32 = if family == KernelFamily::NeonDotprod {
            scales
                .iter()
                .map(|&bits| half::f16::from_bits(bits).to_f32())
                .collect()
        } else {
            Vec::new()
        };
        Some(Self {
            family,
            rows,
            columns,
            blocks,
            quants,
            scales,
            scales_f32,
        })
    }

    /// Packs for `family` whether or not this CPU runs it: tests that emulate a family's
    /// instruction on a lower one.
    #[cfg(test)]
    fn from_q8_0_for_emulation(
        data: &[u8],
        rows: usize,
        columns: usize,
        family: KernelFamily,
    ) -> Option<Self> {
        let runnable = KernelFamily::Avx2;
        let mut packed = Self::from_q8_0(data, rows, columns, runnable)?;
        if offset(family) {
            for byte in &mut packed.quants {
                *byte ^= 0x80;
            }
        }
        packed.family = family;
        Some(packed)
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn columns(&self) -> usize {
        self.columns
    }

    /// Row `row` (an output's weights, or a token's embedding) in f32: its first
    /// `out.len()` values.
    pub(crate) fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        let (tile, in_tile) = (row / TILE_ROWS, row % TILE_ROWS);
        let bias: i16 = if offset(self.family) { 128 } else { 0 };
        for (block, values) in out.chunks_mut(BLOCK).enumerate() {
            let tile_block = tile * self.blocks + block;
            let scale =
                half::f16::from_bits(self.scales[tile_block * TILE_ROWS + in_tile]).to_f32();
            let quants = &self.quants[tile_block * TILE_BLOCK_BYTES..][..TILE_BLOCK_BYTES];
            for (index, value) in values.iter_mut().enumerate() {
                let (group, lane) = (index / 4, index % 4);
                let stored = quants[(group * TILE_ROWS + in_tile) * 4 + lane];
                let signed = if bias == 0 {
                    stored as i8 as i16
                } else {
                    stored as i16 - bias
                };
                *value = signed as f32 * scale;
            }
        }
    }
}

/// Activation rows quantized per 32 values, as ggml's Q8_0 would, with each block's
/// correction for an offset weight's +128.
#[derive(Default)]
struct QuantizedRows {
    rows: usize,
    columns: usize,
    blocks: usize,
    quants: Vec<i8>,
    scales: Vec<f32>,
    /// −128 × the sum of the block's quants.
    corrections: Vec<i32>,
}

impl QuantizedRows {
    fn quantize(&mut self, x: &[f32], columns: usize, family: KernelFamily) {
        assert!(columns.is_multiple_of(BLOCK) && x.len().is_multiple_of(columns));
        self.rows = x.len() / columns;
        self.columns = columns;
        self.blocks = columns / BLOCK;
        let blocks = self.rows * self.blocks;
        self.quants.resize(x.len(), 0);
        self.scales.resize(blocks, 0.0);
        self.corrections.resize(blocks, 0);
        for (((values, quants), scale), correction) in x
            .chunks_exact(BLOCK)
            .zip(self.quants.chunks_exact_mut(BLOCK))
            .zip(&mut self.scales)
            .zip(&mut self.corrections)
        {
            match family {
                // SAFETY (both): the family runs here (a packed weight exists for it) and
                // each slice is one whole block.
                #[cfg(target_arch = "x86_64")]
                KernelFamily::Avx512Vnni => unsafe {
                    avx512::quantize_block(values, quants, scale, correction)
                },
                #[cfg(target_arch = "x86_64")]
                KernelFamily::Avx2 | KernelFamily::AvxVnni => unsafe {
                    avx2::quantize_block(values, quants, scale, correction)
                },
                _ => quantize_block(values, quants, scale, correction),
            }
        }
    }
}

/// One block's quantization in plain Rust: the operations of the SIMD quantizers, value
/// by value, so the same bytes (their conversion rounds to nearest even).
fn quantize_block(values: &[f32], quants: &mut [i8], scale: &mut f32, correction: &mut i32) {
    let largest = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = largest / 127.0;
    let inverse = if d > 0.0 { 1.0 / d } else { 0.0 };
    let mut total = 0i32;
    for (quant, value) in quants.iter_mut().zip(values) {
        let rounded = (value * inverse).round_ties_even();
        // The SIMD conversions give i32::MIN for NaN and out-of-range values, which
        // saturates to −128.
        let q = if rounded.is_nan() || rounded.abs() >= 2_147_483_648.0 {
            i8::MIN
        } else {
            (rounded as i32).clamp(-128, 127) as i8
        };
        *quant = q;
        total += q as i32;
    }
    *scale = d;
    *correction = -128 * total;
}

thread_local! {
    /// The quantized activations of the last matmul on this thread, reused as a buffer.
    static ACTIVATIONS: RefCell<QuantizedRows> = RefCell::default();
}

/// `x` (rows × weight.columns, row-major) times the weight's transpose: rows ×
/// weight.rows, on the LLM's worker threads (pool.rs), by the kernel of the family the
/// weight was packed for.
pub(crate) fn matmul(weight: &PackedWeight, x: &[f32]) -> Vec<f32> {
    assert!(
        x.len().is_multiple_of(weight.columns),
        "input width mismatch"
    );
    ACTIVATIONS.with(|buffer| {
        let mut activations = buffer.borrow_mut();
        activations.quantize(x, weight.columns, weight.family);
        let rows = activations.rows;
        let mut out = vec![0f32; rows * weight.rows];
        let tiles = weight.rows / TILE_ROWS;
        let per_item = tiles_per_item(weight.family, rows);
        let out_address = out.as_mut_ptr() as usize;
        let activations = &*activations;
        super::pool::run(tiles.div_ceil(per_item), &|items| {
            let out = out_address as *mut f32;
            for item in items {
                let first = item * per_item;
                let count = per_item.min(tiles - first);
                // SAFETY: tiles first..first + count exist, `out` holds rows × weight.rows,
                // each item writes only its own tiles' columns, and the weight was packed
                // for its family only where the CPU runs that family.
                unsafe { tiles_on_family(weight, first, count, activations, out) }
            }
        });
        out
    })
}

/// Tiles per work item: what the family's kernel takes in one call.
fn tiles_per_item(family: KernelFamily, rows: usize) -> usize {
    match family {
        #[cfg(target_arch = "x86_64")]
        KernelFamily::Avx512Vnni if rows == 1 => avx512::TILES_PER_ITEM_ONE_ROW,
        #[cfg(target_arch = "x86_64")]
        KernelFamily::Avx512Vnni => avx512::TILES_PER_ITEM,
        #[cfg(target_arch = "x86_64")]
        KernelFamily::Avx2 | KernelFamily::AvxVnni if rows == 1 => avx2::TILES_PER_ITEM_ONE_ROW,
        #[cfg(target_arch = "x86_64")]
        KernelFamily::Avx2 | KernelFamily::AvxVnni => avx2::TILES_PER_ITEM,
        #[cfg(target_arch = "aarch64")]
        KernelFamily::NeonDotprod if rows == 1 => neon::TILES_PER_ITEM_ONE_ROW,
        #[cfg(target_arch = "aarch64")]
        KernelFamily::NeonDotprod => neon::TILES_PER_ITEM,
        _ => 1,
    }
}

/// SAFETY: as `matmul`'s call: the tiles exist, `out` is large enough, and the weight's
/// family runs here (which `PackedWeight::from_q8_0` checked).
unsafe fn tiles_on_family(
    weight: &PackedWeight,
    first: usize,
    count: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    match weight.family {
        #[cfg(target_arch = "x86_64")]
        KernelFamily::Avx512Vnni => avx512::tiles(weight, first, count, x, out),
        #[cfg(target_arch = "x86_64")]
        KernelFamily::Avx2 => avx2::tiles_avx2(weight, first, count, x, out),
        #[cfg(target_arch = "x86_64")]
        KernelFamily::AvxVnni => avx2::tiles_avx_vnni(weight, first, count, x, out),
        #[cfg(target_arch = "aarch64")]
        KernelFamily::NeonDotprod => neon::tiles(weight, first, count, x, out),
        family => unreachable!("no weight is packed for {family} on this CPU"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    fn q8_0(rows: usize, columns: usize, seed: u64) -> (QTensor, Vec<f32>) {
        let values: Vec<f32> = (0..rows * columns)
            .map(|i| {
                let h = (i as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (h % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let t = Tensor::from_vec(values, (rows, columns), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::Q8_0).unwrap();
        let dequantized = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        (q, dequantized)
    }

    fn reference(weight: &[f32], x: &[f32], columns: usize) -> Vec<f32> {
        x.chunks(columns)
            .flat_map(|xr| {
                weight
                    .chunks(columns)
                    .map(|wr| xr.iter().zip(wr).map(|(a, b)| a * b).sum::<f32>())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The families of ours this CPU runs; each test below runs on every one in turn.
    fn families() -> Vec<KernelFamily> {
        let families: Vec<_> = KernelFamily::on_this_cpu()
            .into_iter()
            .filter(|f| *f != KernelFamily::Candle)
            .collect();
        eprintln!("int8 families tested here: {families:?}");
        families
    }

    /// Against the float product of the dequantized weight: every shape the dispatch
    /// distinguishes (one row; odd row counts; tile counts not a multiple of the pass; a
    /// single block) within the error of rounding activations to 8 bits, on every family.
    #[test]
    fn matches_the_float_product_of_the_same_weights() {
        for family in families() {
            for (m, rows, columns) in [
                (1, 16, 32),
                (1, 80, 576),
                (1, 48, 640),
                (2, 16, 64),
                (3, 48, 64),
                (5, 32, 96),
                (9, 112, 576),
                (523, 16, 1536),
            ] {
                let (q, w) = q8_0(rows, columns, (m * rows + columns) as u64);
                let packed =
                    PackedWeight::from_q8_0(&q.data().unwrap(), rows, columns, family).unwrap();
                let x: Vec<f32> = (0..m * columns)
                    .map(|i| ((i * 7919) % 997) as f32 / 500.0 - 1.0)
                    .collect();
                let expected = reference(&w, &x, columns);
                let got = matmul(&packed, &x);
                assert_eq!(got.len(), expected.len());
                let scale = expected.iter().map(|v| v.abs()).fold(0.0, f32::max);
                let worst = got
                    .iter()
                    .zip(&expected)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(
                    worst < 0.01 * scale,
                    "{family} m {m} {rows}×{columns}: off by {worst} of {scale}"
                );
            }
        }
    }

    /// Every family computes the same integer products from the same quantized
    /// activations, so the results agree to float rounding of the sums' order.
    #[test]
    fn the_families_agree_with_each_other() {
        let families = families();
        let (rows, columns, m) = (64, 576, 7);
        let (q, _) = q8_0(rows, columns, 99);
        let x: Vec<f32> = (0..m * columns)
            .map(|i| ((i * 131) % 409) as f32 / 200.0 - 1.0)
            .collect();
        let results: Vec<Vec<f32>> = families
            .iter()
            .map(|&family| {
                let packed =
                    PackedWeight::from_q8_0(&q.data().unwrap(), rows, columns, family).unwrap();
                matmul(&packed, &x)
            })
            .collect();
        for (family, result) in families.iter().zip(&results).skip(1) {
            for (a, b) in result.iter().zip(&results[0]) {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{family}: {a} vs {b}"
                );
            }
        }
    }

    /// The SIMD quantizers give the bytes, scales and corrections of the plain one.
    #[test]
    fn every_quantizer_gives_the_same_bytes() {
        let mut x: Vec<f32> = (0..32 * 6)
            .map(|i| ((i * 7919) % 1013) as f32 / 97.0 - 5.0)
            .collect();
        x[32..64].fill(0.0); // an all-zero block
        x[64] = 1e-30; // a tiny one
        let mut plain = QuantizedRows::default();
        plain.quantize(&x, 64, KernelFamily::Candle);
        for family in families() {
            let mut simd = QuantizedRows::default();
            simd.quantize(&x, 64, family);
            assert_eq!(simd.quants, plain.quants, "{family}");
            assert_eq!(simd.scales, plain.scales, "{family}");
            assert_eq!(simd.corrections, plain.corrections, "{family}");
        }
    }

    /// The AVX-VNNI kernel (offset weights, per-block corrections, `vpdpbusd`) with its one
    /// instruction emulated exactly on AVX2: its data flow is tested on CPUs without AVX-VNNI
    /// (this project's machines, and QEMU, have none).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx_vnni_kernel_computes_the_avx2_kernels_products() {
        if !KernelFamily::Avx2.runs_here() {
            return;
        }
        for (m, rows, columns) in [(1, 32, 64), (1, 48, 640), (7, 64, 576), (523, 16, 1536)] {
            let (q, w) = q8_0(rows, columns, (m + rows * columns) as u64);
            let data = q.data().unwrap();
            let vnni =
                PackedWeight::from_q8_0_for_emulation(&data, rows, columns, KernelFamily::AvxVnni)
                    .unwrap();
            let x: Vec<f32> = (0..m * columns)
                .map(|i| ((i * 4099) % 883) as f32 / 440.0 - 1.0)
                .collect();
            let mut activations = QuantizedRows::default();
            activations.quantize(&x, columns, KernelFamily::AvxVnni);
            let mut got = vec![0f32; m * rows];
            let tiles = rows / TILE_ROWS;
            let per_item = tiles_per_item(KernelFamily::AvxVnni, m);
            for first in (0..tiles).step_by(per_item) {
                // SAFETY: AVX2 runs here; the tiles exist and `got` holds m × rows.
                unsafe {
                    avx2::tiles_avx_vnni_emulated(
                        &vnni,
                        first,
                        per_item.min(tiles - first),
                        &activations,
                        got.as_mut_ptr(),
                    )
                };
            }
            let signed = PackedWeight::from_q8_0(&data, rows, columns, KernelFamily::Avx2).unwrap();
            let expected = matmul(&signed, &x);
            for (a, b) in got.iter().zip(&expected) {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "m {m}: {a} vs {b}"
                );
            }
            let float = reference(&w, &x, columns);
            let scale = float.iter().map(|v| v.abs()).fold(0.0, f32::max);
            let worst = got
                .iter()
                .zip(&float)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 0.01 * scale, "m {m}: off by {worst} of {scale}");
        }
    }

    #[test]
    fn a_packed_row_dequantizes_to_the_files_values() {
        let (q, w) = q8_0(32, 96, 7);
        for family in families() {
            let packed = PackedWeight::from_q8_0(&q.data().unwrap(), 32, 96, family).unwrap();
            let mut row = vec![0f32; 96];
            for r in [0, 5, 16, 31] {
                packed.dequantize_row(r, &mut row);
                assert_eq!(row, w[r * 96..(r + 1) * 96], "{family}");
            }
            let mut leading = vec![0f32; 64];
            packed.dequantize_row(17, &mut leading);
            assert_eq!(leading, w[17 * 96..17 * 96 + 64], "{family}");
        }
    }

    #[test]
    fn shapes_the_tiles_cannot_take_are_refused() {
        let (q, _) = q8_0(32, 64, 1);
        let data = q.data().unwrap();
        assert!(PackedWeight::from_q8_0(&data, 32, 64, KernelFamily::Candle).is_none());
        for family in KernelFamily::ALL {
            if !family.runs_here() {
                assert!(PackedWeight::from_q8_0(&data, 32, 64, family).is_none());
            }
        }
        for family in families() {
            assert!(PackedWeight::from_q8_0(&data, 24, 64, family).is_none());
            assert!(PackedWeight::from_q8_0(&data, 32, 48, family).is_none());
            assert!(PackedWeight::from_q8_0(&data[1..], 32, 64, family).is_none());
            assert!(PackedWeight::from_q8_0(&data, 32, 64, family).is_some());
        }
    }
}

/// A kernel speed probe, not a test: `cargo test -p dossier-llm --lib speed_probe --
/// --ignored --nocapture`. Prints each family's multiply-adds per second of this thread's
/// CPU time (so that other load on the machine does not count) for SmolLM2's prompt
/// shapes, on one thread.
#[cfg(test)]
mod speed_probe {
    use super::*;

    fn thread_cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        // utime and stime, fields 14 and 15 of the whole line, in clock ticks of 1/100 s.
        let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
            f.iter().map(|v| v.parse::<f64>().unwrap_or(0.0)).sum()
        });
        ticks / 100.0
    }

    #[test]
    #[ignore]
    fn speed_probe() {
        super::super::pool::request_threads(Some(1));
        for family in KernelFamily::on_this_cpu() {
            if family == KernelFamily::Candle {
                continue;
            }
            for (m, rows, columns) in [
                (523, 1536, 576),
                (523, 576, 1536),
                (1, 1536, 576),
                (1, 49152, 576),
            ] {
                let data: Vec<u8> = (0..rows * columns / BLOCK)
                    .flat_map(|b| {
                        let mut block = vec![0u8; Q8_0_BLOCK_BYTES];
                        block[..2]
                            .copy_from_slice(&half::f16::from_f32(0.01).to_bits().to_le_bytes());
                        for (i, v) in block[2..].iter_mut().enumerate() {
                            *v = ((b * 31 + i * 7) % 255) as u8;
                        }
                        block
                    })
                    .collect();
                let packed = PackedWeight::from_q8_0(&data, rows, columns, family).unwrap();
                let x: Vec<f32> = (0..m * columns)
                    .map(|i| ((i * 7919) % 997) as f32 / 500.0 - 1.0)
                    .collect();
                let macs = (m * rows * columns) as f64;
                let repeats = ((3e10 / macs) as usize).max(3);
                let start = thread_cpu_seconds();
                let wall = std::time::Instant::now();
                for _ in 0..repeats {
                    std::hint::black_box(matmul(&packed, &x));
                }
                let cpu = (thread_cpu_seconds() - start).max(0.01);
                eprintln!(
                    "{family} {m}×{columns} · {columns}×{rows}: {:.1} GMAC per CPU-second ({:.1} per wall second)",
                    macs * repeats as f64 / cpu / 1e9,
                    macs * repeats as f64 / wall.elapsed().as_secs_f64() / 1e9
                );
            }
        }
    }
}

//! Q8_0 weights times int8 activations on AVX-512 VNNI: our own matmul for the layers of
//! the models we run (parts::Linear), because candle 0.11's is 2–4× slower on them.
//!
//! candle's repacked Q8_0 kernel quantizes activations in blocks of 256 (so a 576-wide
//! SmolLM2 weight must be widened by a third with zero blocks), reuses each weight tile for
//! only four activation rows, and its activation quantizer rounds with `roundf` one value
//! at a time. Here activations are quantized per 32 values, like the weights (so also more
//! precisely), a weight tile serves four activation rows while two tiles share each
//! activation load, and one block's integer dot products go to the float accumulators in
//! three instructions.
//!
//! The layout: weights in tiles of 16 output rows by one 32-value block, each group of 4
//! inputs stored as the 16 rows' 4 bytes side by side, so one 512-bit load and one
//! `vpdpbusd` advance 16 rows by 4 inputs for one activation row. `vpdpbusd` multiplies
//! unsigned by signed bytes, so weights are stored offset by +128 and each activation
//! block carries −128 × its sum, which starts the block's integer sum and cancels the
//! offset exactly.

// AVX-512 VNNI intrinsics, called only where `available()` found the CPU features.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;
use std::cell::RefCell;

/// Output rows per tile: one 512-bit register of i32 or f32.
pub(crate) const TILE_ROWS: usize = 16;
/// Values per quantization block, in weights (ggml Q8_0) and activations alike.
pub(crate) const BLOCK: usize = 32;
/// A ggml Q8_0 block: an f16 scale, then 32 signed bytes.
const Q8_0_BLOCK_BYTES: usize = 34;
const TILE_BLOCK_BYTES: usize = TILE_ROWS * BLOCK;
/// Activation rows that share each weight load in a prompt's matmul.
const ROWS_PER_PASS: usize = 4;
/// Weight tiles that share each activation load: two for prompts, four for one token
/// (where the four independent sums hide `vpdpbusd`'s latency).
const TILES_PER_PASS: usize = 2;
const TILES_PER_PASS_ONE_ROW: usize = 4;

/// Whether this CPU runs these kernels. Checked once per weight, when it is loaded.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A Q8_0 weight (rows × columns, each row one output) in the tile layout.
pub(crate) struct PackedWeight {
    rows: usize,
    columns: usize,
    blocks: usize,
    /// [tile][block][group of 4 inputs][row in tile][4], each value + 128.
    quants: Vec<u8>,
    /// [tile][block][row in tile], f16 bits as in the file.
    scales: Vec<u16>,
}

impl PackedWeight {
    /// Repacks ggml Q8_0 data. `None` when the shape does not fit the tiles (rows not a
    /// multiple of 16) or the data is not that many Q8_0 blocks.
    pub(crate) fn from_q8_0(data: &[u8], rows: usize, columns: usize) -> Option<Self> {
        if rows == 0 || !rows.is_multiple_of(TILE_ROWS) || !columns.is_multiple_of(BLOCK) {
            return None;
        }
        let blocks = columns / BLOCK;
        if blocks == 0 || data.len() != rows * blocks * Q8_0_BLOCK_BYTES {
            return None;
        }
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
                    // Four inputs at a time; adding 128 to an i8 read as u8 flips its top bit.
                    for (group, four) in source[2..].chunks_exact(4).enumerate() {
                        let four = u32::from_le_bytes([four[0], four[1], four[2], four[3]]);
                        let at = (group * TILE_ROWS + row) * 4;
                        target[at..at + 4].copy_from_slice(&(four ^ 0x8080_8080).to_le_bytes());
                    }
                }
            }
        }
        Some(Self {
            rows,
            columns,
            blocks,
            quants,
            scales,
        })
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
        for (block, values) in out.chunks_mut(BLOCK).enumerate() {
            let tile_block = tile * self.blocks + block;
            // SAFETY: a packed weight exists only where `available()` holds.
            let scale = unsafe { f16_to_f32(self.scales[tile_block * TILE_ROWS + in_tile]) };
            let quants = &self.quants[tile_block * TILE_BLOCK_BYTES..][..TILE_BLOCK_BYTES];
            for (index, value) in values.iter_mut().enumerate() {
                let (group, lane) = (index / 4, index % 4);
                let stored = quants[(group * TILE_ROWS + in_tile) * 4 + lane];
                *value = (stored as i16 - 128) as f32 * scale;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn f16_to_f32(bits: u16) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(bits as i16)))
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn f16_to_f32(_: u16) -> f32 {
    unreachable!("int8 kernels run only where available() is true")
}

/// Activation rows quantized per 32 values, as ggml's Q8_0 would, with each block's
/// correction for the weights' +128 offset.
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
    fn quantize(&mut self, x: &[f32], columns: usize) {
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
            // SAFETY: `available()` was true when the weight was packed, and each slice is
            // one whole block.
            unsafe { quantize_block(values, quants, scale, correction) };
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn quantize_block(values: &[f32], quants: &mut [i8], scale: &mut f32, correction: &mut i32) {
    debug_assert!(values.len() == BLOCK && quants.len() == BLOCK);
    let low = _mm512_loadu_ps(values.as_ptr());
    let high = _mm512_loadu_ps(values.as_ptr().add(16));
    let largest = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(low), _mm512_abs_ps(high)));
    let d = largest / 127.0;
    // An all-zero block has no scale to invert; an infinite one quantizes to zeros and
    // its infinite scale makes the products NaN, as float arithmetic would.
    let inverse = _mm512_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
    let low = _mm512_cvtps_epi32(_mm512_mul_ps(low, inverse));
    let high = _mm512_cvtps_epi32(_mm512_mul_ps(high, inverse));
    _mm_storeu_si128(
        quants.as_mut_ptr() as *mut __m128i,
        _mm512_cvtsepi32_epi8(low),
    );
    _mm_storeu_si128(
        quants.as_mut_ptr().add(16) as *mut __m128i,
        _mm512_cvtsepi32_epi8(high),
    );
    *scale = d;
    *correction = -128 * _mm512_reduce_add_epi32(_mm512_add_epi32(low, high));
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn quantize_block(_: &[f32], _: &mut [i8], _: &mut f32, _: &mut i32) {
    unreachable!("int8 kernels run only where available() is true")
}

/// Rows `first_row..first_row + M` of `x` times tiles `first_tile..first_tile + T` of
/// `weight`, written to `out` (x.rows × weight.rows, row-major). M and T are at most 4.
/// Addresses advance with wrapping pointer arithmetic, every multiplication happening
/// once before the loops, for the same reason as `unroll!` (lib.rs).
///
/// SAFETY: the caller checks that the rows and tiles exist, that `out` holds
/// x.rows × weight.rows values, and that the CPU has AVX-512 VNNI.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(non_upper_case_globals)]
unsafe fn tiles_times_rows<const M: usize, const T: usize>(
    weight: &PackedWeight,
    first_tile: usize,
    x: &QuantizedRows,
    first_row: usize,
    out: *mut f32,
) {
    let blocks = weight.blocks;
    let tile_quants = blocks * TILE_BLOCK_BYTES;
    let tile_scales = blocks * TILE_ROWS;
    let columns = x.columns;
    let quants = weight.quants.as_ptr().add(first_tile * tile_quants);
    let scales = weight.scales.as_ptr().add(first_tile * tile_scales);
    let x_quants = x.quants.as_ptr().add(first_row * columns);
    let x_scales = x.scales.as_ptr().add(first_row * blocks);
    let x_corrections = x.corrections.as_ptr().add(first_row * blocks);
    let mut tile_quants_at = [quants; T];
    let mut tile_scales_at = [scales; T];
    unroll!(t < T, [0, 1, 2, 3], {
        tile_quants_at[t] = quants.wrapping_add(t * tile_quants);
        tile_scales_at[t] = scales.wrapping_add(t * tile_scales);
    });
    let mut row_quants_at = [x_quants; M];
    let mut row_scales_at = [x_scales; M];
    let mut row_corrections_at = [x_corrections; M];
    unroll!(i < M, [0, 1, 2, 3], {
        row_quants_at[i] = x_quants.wrapping_add(i * columns);
        row_scales_at[i] = x_scales.wrapping_add(i * blocks);
        row_corrections_at[i] = x_corrections.wrapping_add(i * blocks);
    });
    let mut sums = [[_mm512_setzero_ps(); T]; M];
    for _ in 0..blocks {
        let mut dots = [[_mm512_setzero_si512(); T]; M];
        unroll!(i < M, [0, 1, 2, 3], {
            let correction = _mm512_set1_epi32(*row_corrections_at[i]);
            unroll!(t < T, [0, 1, 2, 3], {
                dots[i][t] = correction;
            });
        });
        let mut group = 0;
        while group < BLOCK {
            let mut weights = [_mm512_setzero_si512(); T];
            unroll!(t < T, [0, 1, 2, 3], {
                weights[t] = _mm512_loadu_si512(
                    tile_quants_at[t].wrapping_add(group * TILE_ROWS) as *const _
                );
            });
            unroll!(i < M, [0, 1, 2, 3], {
                let four = _mm512_set1_epi32(std::ptr::read_unaligned(
                    row_quants_at[i].wrapping_add(group) as *const i32,
                ));
                unroll!(t < T, [0, 1, 2, 3], {
                    dots[i][t] = _mm512_dpbusd_epi32(dots[i][t], weights[t], four);
                });
            });
            group += 4;
        }
        let mut weight_scales = [_mm512_setzero_ps(); T];
        unroll!(t < T, [0, 1, 2, 3], {
            weight_scales[t] =
                _mm512_cvtph_ps(_mm256_loadu_si256(tile_scales_at[t] as *const __m256i));
            tile_quants_at[t] = tile_quants_at[t].wrapping_add(TILE_BLOCK_BYTES);
            tile_scales_at[t] = tile_scales_at[t].wrapping_add(TILE_ROWS);
        });
        unroll!(i < M, [0, 1, 2, 3], {
            let x_scale = _mm512_set1_ps(*row_scales_at[i]);
            unroll!(t < T, [0, 1, 2, 3], {
                sums[i][t] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(dots[i][t]),
                    _mm512_mul_ps(weight_scales[t], x_scale),
                    sums[i][t],
                );
            });
            row_quants_at[i] = row_quants_at[i].wrapping_add(BLOCK);
            row_scales_at[i] = row_scales_at[i].wrapping_add(1);
            row_corrections_at[i] = row_corrections_at[i].wrapping_add(1);
        });
    }
    let row_out = out.add(first_row * weight.rows + first_tile * TILE_ROWS);
    unroll!(i < M, [0, 1, 2, 3], {
        unroll!(t < T, [0, 1, 2, 3], {
            _mm512_storeu_ps(
                row_out.wrapping_add(i * weight.rows + t * TILE_ROWS),
                sums[i][t],
            );
        });
    });
}

/// Every row of `x` times tiles `first_tile..first_tile + T`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn tile_column<const T: usize>(
    weight: &PackedWeight,
    first_tile: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    let mut row = 0;
    while row + ROWS_PER_PASS <= x.rows {
        tiles_times_rows::<ROWS_PER_PASS, T>(weight, first_tile, x, row, out);
        row += ROWS_PER_PASS;
    }
    match x.rows - row {
        0 => {}
        1 => tiles_times_rows::<1, T>(weight, first_tile, x, row, out),
        2 => tiles_times_rows::<2, T>(weight, first_tile, x, row, out),
        3 => tiles_times_rows::<3, T>(weight, first_tile, x, row, out),
        _ => unreachable!("ROWS_PER_PASS is 4"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile_column<const T: usize>(_: &PackedWeight, _: usize, _: &QuantizedRows, _: *mut f32) {
    unreachable!("int8 kernels run only where available() is true")
}

thread_local! {
    /// The quantized activations of the last matmul on this thread, reused as a buffer.
    static ACTIVATIONS: RefCell<QuantizedRows> = RefCell::default();
}

/// `x` (rows × weight.columns, row-major) times the weight's transpose: rows ×
/// weight.rows, on the LLM's worker threads (pool.rs).
pub(crate) fn matmul(weight: &PackedWeight, x: &[f32]) -> Vec<f32> {
    assert!(
        x.len().is_multiple_of(weight.columns),
        "input width mismatch"
    );
    ACTIVATIONS.with(|buffer| {
        let mut activations = buffer.borrow_mut();
        activations.quantize(x, weight.columns);
        let rows = activations.rows;
        let mut out = vec![0f32; rows * weight.rows];
        let tiles = weight.rows / TILE_ROWS;
        let per_item = if rows == 1 {
            TILES_PER_PASS_ONE_ROW
        } else {
            TILES_PER_PASS
        };
        let out_address = out.as_mut_ptr() as usize;
        let activations = &*activations;
        super::pool::run(tiles.div_ceil(per_item), &|items| {
            let out = out_address as *mut f32;
            for item in items {
                let first = item * per_item;
                // SAFETY: tiles first..first + count exist, `out` holds rows × weight.rows,
                // each item writes only its own tiles' columns, and the weight was packed
                // only where `available()` holds.
                unsafe {
                    match per_item.min(tiles - first) {
                        4 => tile_column::<4>(weight, first, activations, out),
                        3 => tile_column::<3>(weight, first, activations, out),
                        2 => tile_column::<2>(weight, first, activations, out),
                        _ => tile_column::<1>(weight, first, activations, out),
                    }
                }
            }
        });
        out
    })
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

    /// Against the float product of the dequantized weight: every shape the dispatch
    /// distinguishes (one row; rows not a multiple of 4; tile counts not a multiple of
    /// the pass; a single block) within the error of rounding activations to 8 bits.
    #[test]
    fn matches_the_float_product_of_the_same_weights() {
        if !available() {
            eprintln!("no AVX-512 VNNI here: nothing to test");
            return;
        }
        for (m, rows, columns) in [
            (1, 16, 32),
            (1, 80, 576),
            (3, 48, 64),
            (5, 32, 96),
            (9, 112, 576),
            (523, 16, 1536),
        ] {
            let (q, w) = q8_0(rows, columns, (m * rows + columns) as u64);
            let packed = PackedWeight::from_q8_0(&q.data().unwrap(), rows, columns).unwrap();
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
                "m {m} {rows}×{columns}: off by {worst} of {scale}"
            );
        }
    }

    #[test]
    fn a_packed_row_dequantizes_to_the_files_values() {
        let (q, w) = q8_0(32, 96, 7);
        let packed = PackedWeight::from_q8_0(&q.data().unwrap(), 32, 96).unwrap();
        let mut row = vec![0f32; 96];
        for r in [0, 5, 16, 31] {
            packed.dequantize_row(r, &mut row);
            assert_eq!(row, w[r * 96..(r + 1) * 96]);
        }
        let mut leading = vec![0f32; 64];
        packed.dequantize_row(17, &mut leading);
        assert_eq!(leading, w[17 * 96..17 * 96 + 64]);
    }

    #[test]
    fn shapes_the_tiles_cannot_take_are_refused() {
        let (q, _) = q8_0(32, 64, 1);
        let data = q.data().unwrap();
        assert!(PackedWeight::from_q8_0(&data, 24, 64).is_none());
        assert!(PackedWeight::from_q8_0(&data, 32, 48).is_none());
        assert!(PackedWeight::from_q8_0(&data[1..], 32, 64).is_none());
        assert!(PackedWeight::from_q8_0(&data, 32, 64).is_some());
    }
}

//! The int8 matmul on 256-bit registers: AVX2 (`vpmaddubsw`/`vpmaddwd`) and AVX-VNNI
//! (`vpdpbusd` on ymm). The packed layout is AVX-512's (tiles of 16 rows, each group of 4
//! inputs as the rows' 4 bytes side by side), read as two halves of 8 rows.
//!
//! Plain AVX2 has no byte dot product that takes two signed operands without overflow:
//! `vpmaddubsw` multiplies unsigned by signed bytes and adds pairs into saturating i16.
//! Weights are therefore packed signed, and each product is formed as |w| × (x with w's
//! sign), at most 128 × 127 per byte and 32,512 per pair, inside i16; `vpmaddwd` by ones
//! then adds the pairs into i32. AVX-VNNI takes the AVX-512 path's offset weights and
//! corrections instead.
//!
//! Blocking: four activation rows × one 8-row half tile per pass for prompts (four integer
//! and four float accumulators; on Zen 3 this ran at 52 GMAC per core-second against 41
//! for two rows × a whole tile, whose accumulators spill: the speed probe in int8.rs), one
//! row × two tiles for a generated token, whose speed is the memory's.

// AVX2 and AVX-VNNI intrinsics, reached only through PackedWeights packed for these
// families, which exist only where the CPU runs them.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::{PackedWeight, QuantizedRows, BLOCK, TILE_BLOCK_BYTES, TILE_ROWS};

/// Output rows per ymm register of i32 or f32.
const HALF_ROWS: usize = 8;
/// Activation rows that share each weight load in a prompt's matmul, and the 8-row halves
/// each pass takes.
const ROWS_PER_PASS: usize = 4;
const PROMPT_HALVES: usize = 1;
/// Weight tiles per work item: one for prompts, two for one row.
pub(super) const TILES_PER_ITEM: usize = 1;
pub(super) const TILES_PER_ITEM_ONE_ROW: usize = 2;

/// Quantizes one block of 32 values as the AVX-512 path does (the same operations, so
/// the same bytes): scale = max |v| / 127, each value × 1/scale rounded to nearest even.
///
/// SAFETY: the CPU has AVX2; `values` and `quants` hold 32 each.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn quantize_block(
    values: &[f32],
    quants: &mut [i8],
    scale: &mut f32,
    correction: &mut i32,
) {
    debug_assert!(values.len() == BLOCK && quants.len() == BLOCK);
    let p = values.as_ptr();
    let v = [
        _mm256_loadu_ps(p),
        _mm256_loadu_ps(p.add(8)),
        _mm256_loadu_ps(p.add(16)),
        _mm256_loadu_ps(p.add(24)),
    ];
    let sign = _mm256_set1_ps(-0.0);
    let largest = _mm256_max_ps(
        _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
        _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])),
    );
    let largest = _mm_max_ps(
        _mm256_castps256_ps128(largest),
        _mm256_extractf128_ps::<1>(largest),
    );
    let largest = _mm_max_ps(largest, _mm_movehl_ps(largest, largest));
    let largest = _mm_cvtss_f32(_mm_max_ss(
        largest,
        _mm_shuffle_ps::<0b01>(largest, largest),
    ));
    let d = largest / 127.0;
    // As on AVX-512: an all-zero block has no scale to invert.
    let inverse = _mm256_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
    let i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v[0], inverse));
    let i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v[1], inverse));
    let i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v[2], inverse));
    let i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v[3], inverse));
    // The packs work within 128-bit lanes: the bytes come out as 4-value pieces in the
    // order i0 i1 i2 i3 (low halves), then the same of the high halves.
    let bytes = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(quants.as_mut_ptr() as *mut __m256i, bytes);
    let total = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    let total = _mm_add_epi32(
        _mm256_castsi256_si128(total),
        _mm256_extracti128_si256::<1>(total),
    );
    let total = _mm_add_epi32(total, _mm_shuffle_epi32::<0b01_00_11_10>(total));
    let total = _mm_add_epi32(total, _mm_shuffle_epi32::<0b10_11_00_01>(total));
    *scale = d;
    *correction = -128 * _mm_cvtsi128_si32(total);
}

/// Rows `first_row..first_row + M` of `x` times the `H` 8-row halves of tiles from
/// `first_tile` on (H/2 tiles), written to `out` (x.rows × weight.rows, row-major). With
/// `VNNI`, weights are offset by +128 and `vpdpbusd` forms the products; otherwise they
/// are signed and formed as the module doc says. Addresses advance with wrapping pointer
/// arithmetic and constant indices, for the reason `unroll!` gives (lib.rs).
///
/// SAFETY: the caller checks that the rows and tiles exist, that `out` holds
/// x.rows × weight.rows values, that the weight was packed for this variant (offset iff
/// `VNNI`) and that the CPU has AVX2, FMA, F16C (and AVX-VNNI with `VNNI`).
#[inline(always)]
#[allow(non_upper_case_globals)]
unsafe fn halves_times_rows<const M: usize, const H: usize, const VNNI: bool>(
    weight: &PackedWeight,
    first_half: usize,
    x: &QuantizedRows,
    first_row: usize,
    out: *mut f32,
) {
    let blocks = weight.blocks;
    let columns = x.columns;
    let tile_quants = blocks * TILE_BLOCK_BYTES;
    let tile_scales = blocks * TILE_ROWS;
    let quants = weight.quants.as_ptr();
    let scales = weight.scales.as_ptr();
    // Half n is tile n / 2's rows 8 × (n % 2) onward: 32 bytes further in each group, 8
    // scales further in each block.
    let mut half_quants_at = [quants; H];
    let mut half_scales_at = [scales; H];
    unroll!(h < H, [0, 1, 2, 3], {
        let n = first_half + h;
        half_quants_at[h] = quants.wrapping_add((n / 2) * tile_quants + (n % 2) * 32);
        half_scales_at[h] = scales.wrapping_add((n / 2) * tile_scales + (n % 2) * HALF_ROWS);
    });
    let x_quants = x.quants.as_ptr().add(first_row * columns);
    let x_scales = x.scales.as_ptr().add(first_row * blocks);
    let x_corrections = x.corrections.as_ptr().add(first_row * blocks);
    let mut row_quants_at = [x_quants; M];
    let mut row_scales_at = [x_scales; M];
    let mut row_corrections_at = [x_corrections; M];
    unroll!(i < M, [0, 1, 2, 3, 4, 5, 6, 7], {
        row_quants_at[i] = x_quants.wrapping_add(i * columns);
        row_scales_at[i] = x_scales.wrapping_add(i * blocks);
        row_corrections_at[i] = x_corrections.wrapping_add(i * blocks);
    });
    let ones = _mm256_set1_epi16(1);
    let mut sums = [[_mm256_setzero_ps(); H]; M];
    for _ in 0..blocks {
        let mut dots = [[_mm256_setzero_si256(); H]; M];
        if VNNI {
            unroll!(i < M, [0, 1, 2, 3, 4, 5, 6, 7], {
                let correction = _mm256_set1_epi32(*row_corrections_at[i]);
                unroll!(h < H, [0, 1, 2, 3], {
                    dots[i][h] = correction;
                });
            });
        }
        let mut group = 0;
        while group < BLOCK {
            let mut weights = [_mm256_setzero_si256(); H];
            let mut magnitudes = [_mm256_setzero_si256(); H];
            unroll!(h < H, [0, 1, 2, 3], {
                weights[h] = _mm256_loadu_si256(
                    half_quants_at[h].wrapping_add(group * TILE_ROWS) as *const __m256i
                );
                if !VNNI {
                    magnitudes[h] = _mm256_abs_epi8(weights[h]);
                }
            });
            unroll!(i < M, [0, 1, 2, 3, 4, 5, 6, 7], {
                let four = _mm256_set1_epi32(std::ptr::read_unaligned(
                    row_quants_at[i].wrapping_add(group) as *const i32,
                ));
                unroll!(h < H, [0, 1, 2, 3], {
                    dots[i][h] = if VNNI {
                        dot_vnni(dots[i][h], weights[h], four)
                    } else {
                        let signed = _mm256_sign_epi8(four, weights[h]);
                        let pairs = _mm256_maddubs_epi16(magnitudes[h], signed);
                        _mm256_add_epi32(dots[i][h], _mm256_madd_epi16(pairs, ones))
                    };
                });
            });
            group += 4;
        }
        let mut weight_scales = [_mm256_setzero_ps(); H];
        unroll!(h < H, [0, 1, 2, 3], {
            weight_scales[h] =
                _mm256_cvtph_ps(_mm_loadu_si128(half_scales_at[h] as *const __m128i));
            half_quants_at[h] = half_quants_at[h].wrapping_add(TILE_BLOCK_BYTES);
            half_scales_at[h] = half_scales_at[h].wrapping_add(TILE_ROWS);
        });
        unroll!(i < M, [0, 1, 2, 3, 4, 5, 6, 7], {
            let x_scale = _mm256_set1_ps(*row_scales_at[i]);
            unroll!(h < H, [0, 1, 2, 3], {
                sums[i][h] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(dots[i][h]),
                    _mm256_mul_ps(weight_scales[h], x_scale),
                    sums[i][h],
                );
            });
            row_quants_at[i] = row_quants_at[i].wrapping_add(BLOCK);
            row_scales_at[i] = row_scales_at[i].wrapping_add(1);
            row_corrections_at[i] = row_corrections_at[i].wrapping_add(1);
        });
    }
    let row_out = out.add(first_row * weight.rows + first_half * HALF_ROWS);
    unroll!(i < M, [0, 1, 2, 3, 4, 5, 6, 7], {
        unroll!(h < H, [0, 1, 2, 3], {
            _mm256_storeu_ps(
                row_out.wrapping_add(i * weight.rows + h * HALF_ROWS),
                sums[i][h],
            );
        });
    });
}

/// `vpdpbusd` on ymm, from AVX-VNNI. Inlined into the caller's AVX-VNNI context only: the
/// VNNI variant of `halves_times_rows` is reached from `rows_avx_vnni` alone.
#[inline(always)]
unsafe fn dot_vnni(sum: __m256i, unsigned: __m256i, signed: __m256i) -> __m256i {
    _mm256_dpbusd_avx_epi32(sum, unsigned, signed)
}

/// Every row of `x` times `H` halves from `first_half`, `ROWS_PER_PASS` rows at a time.
#[inline(always)]
unsafe fn all_rows<const H: usize, const VNNI: bool>(
    weight: &PackedWeight,
    first_half: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    let mut row = 0;
    while row + ROWS_PER_PASS <= x.rows {
        halves_times_rows::<ROWS_PER_PASS, H, VNNI>(weight, first_half, x, row, out);
        row += ROWS_PER_PASS;
    }
    while row < x.rows {
        halves_times_rows::<1, H, VNNI>(weight, first_half, x, row, out);
        row += 1;
    }
}

/// Tiles `first_tile..first_tile + count` (count at most 2) for every row of `x`: a
/// generated token's single row takes both tiles' four halves at once; a prompt's rows
/// take one half at a time, `ROWS_PER_PASS` rows per pass.
#[inline(always)]
unsafe fn tiles_on<const VNNI: bool>(
    weight: &PackedWeight,
    first_tile: usize,
    count: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    let first_half = first_tile * 2;
    if x.rows == 1 && count == 2 {
        all_rows::<4, VNNI>(weight, first_half, x, out);
        return;
    }
    for half in (first_half..first_half + 2 * count).step_by(PROMPT_HALVES) {
        all_rows::<PROMPT_HALVES, VNNI>(weight, half, x, out);
    }
}

/// Every row of `x` times tiles `first_tile..first_tile + count`, count at most 2: the
/// AVX2 variant (signed weights).
///
/// SAFETY: as `halves_times_rows`, for a weight packed signed and a CPU with AVX2.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn tiles_avx2(
    weight: &PackedWeight,
    first_tile: usize,
    count: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    tiles_on::<false>(weight, first_tile, count, x, out)
}

/// As `tiles_avx2`, on AVX-VNNI (offset weights).
///
/// SAFETY: as `halves_times_rows`, for a weight packed offset and a CPU with AVX-VNNI.
#[target_feature(enable = "avx2,fma,f16c,avxvnni")]
pub(super) unsafe fn tiles_avx_vnni(
    weight: &PackedWeight,
    first_tile: usize,
    count: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    tiles_on::<true>(weight, first_tile, count, x, out)
}

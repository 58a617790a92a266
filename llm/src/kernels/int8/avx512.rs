//! The int8 matmul on AVX-512 VNNI: one 512-bit load and one `vpdpbusd` advance a tile's 16
//! rows by 4 inputs for one activation row. `vpdpbusd` multiplies unsigned by signed
//! bytes, so weights are packed offset by +128 (`PackedWeight::offset`) and each activation
//! block's correction (−128 × its sum) starts the block's integer sum and cancels the
//! offset exactly. A weight tile serves four activation rows while two tiles share each
//! activation load (four tiles for a single row, where the independent sums hide
//! `vpdpbusd`'s latency).

// AVX-512 intrinsics, reached only through PackedWeights packed for this family, which
// exist only where the CPU runs it.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::{PackedWeight, QuantizedRows, BLOCK, TILE_BLOCK_BYTES, TILE_ROWS};

/// Activation rows that share each weight load in a prompt's matmul.
const ROWS_PER_PASS: usize = 4;
/// Weight tiles per work item: two for prompts, four for one row.
pub(super) const TILES_PER_ITEM: usize = 2;
pub(super) const TILES_PER_ITEM_ONE_ROW: usize = 4;

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn quantize_block(
    values: &[f32],
    quants: &mut [i8],
    scale: &mut f32,
    correction: &mut i32,
) {
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

/// Rows `first_row..first_row + M` of `x` times tiles `first_tile..first_tile + T` of
/// `weight`, written to `out` (x.rows × weight.rows, row-major). M and T are at most 4.
/// Addresses advance with wrapping pointer arithmetic, every multiplication happening
/// once before the loops, for the same reason as `unroll!` (lib.rs).
///
/// SAFETY: the caller checks that the rows and tiles exist, that `out` holds
/// x.rows × weight.rows values, and that the CPU has AVX-512 VNNI.
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
///
/// SAFETY: as `tiles_times_rows`.
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

/// Every row of `x` times tiles `first_tile..first_tile + count`, count at most 4.
///
/// SAFETY: as `tiles_times_rows`.
pub(super) unsafe fn tiles(
    weight: &PackedWeight,
    first_tile: usize,
    count: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    match count {
        4 => tile_column::<4>(weight, first_tile, x, out),
        3 => tile_column::<3>(weight, first_tile, x, out),
        2 => tile_column::<2>(weight, first_tile, x, out),
        _ => tile_column::<1>(weight, first_tile, x, out),
    }
}

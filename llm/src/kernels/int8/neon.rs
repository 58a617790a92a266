//! The int8 matmul on aarch64 NEON with the dot-product extension: one `sdot` advances 4
//! rows of a tile by 4 inputs for one activation row (signed × signed bytes, so weights
//! are packed signed and no correction is needed). A tile's 16 rows are four registers.
//! Weight scales are kept in f32 beside the f16 ones (`PackedWeight::scales_f32`):
//! converting them per block would cost more than the block's products.
//!
//! Blocking: two activation rows × one tile per pass for prompts (8 integer and 8 float
//! accumulators of the 32 registers), one row × two tiles for a generated token.

// NEON intrinsics, reached only through PackedWeights packed for this family, which exist
// only where the CPU runs it.
#![allow(unsafe_code)]

use core::arch::aarch64::*;

use super::{PackedWeight, QuantizedRows, BLOCK, TILE_BLOCK_BYTES, TILE_ROWS};

/// Output rows per register of i32 or f32.
const QUARTER_ROWS: usize = 4;
/// Activation rows that share each weight load in a prompt's matmul.
const ROWS_PER_PASS: usize = 2;
/// Weight tiles per work item: one for prompts, two for one row.
pub(super) const TILES_PER_ITEM: usize = 1;
pub(super) const TILES_PER_ITEM_ONE_ROW: usize = 2;

/// `sdot`: each i32 lane of `sum` plus the dot product of the corresponding four bytes.
/// Written as inline assembly: the intrinsic is not stable in every toolchain we build on.
#[inline(always)]
unsafe fn sdot(sum: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut sum = sum;
    core::arch::asm!(
        "sdot {sum:v}.4s, {a:v}.16b, {b:v}.16b",
        sum = inout(vreg) sum,
        a = in(vreg) a,
        b = in(vreg) b,
        options(pure, nomem, nostack, preserves_flags)
    );
    sum
}

/// Rows `first_row..first_row + M` of `x` times the `Q` 4-row quarters of tiles from
/// `first_tile` on (Q/4 tiles), written to `out` (x.rows × weight.rows, row-major).
///
/// SAFETY: the caller checks that the rows and tiles exist, that `out` holds
/// x.rows × weight.rows values, that the weight was packed signed with f32 scales, and
/// that the CPU has NEON and the dot-product extension.
#[inline(always)]
#[allow(non_upper_case_globals)]
unsafe fn quarters_times_rows<const M: usize, const Q: usize>(
    weight: &PackedWeight,
    first_tile: usize,
    x: &QuantizedRows,
    first_row: usize,
    out: *mut f32,
) {
    let blocks = weight.blocks;
    let columns = x.columns;
    let tile_quants = blocks * TILE_BLOCK_BYTES;
    let tile_scales = blocks * TILE_ROWS;
    let quants = weight.quants.as_ptr().add(first_tile * tile_quants) as *const i8;
    let scales = weight.scales_f32.as_ptr().add(first_tile * tile_scales);
    let mut quarter_quants_at = [quants; Q];
    let mut quarter_scales_at = [scales; Q];
    unroll!(q < Q, [0, 1, 2, 3, 4, 5, 6, 7], {
        quarter_quants_at[q] = quants.wrapping_add((q / 4) * tile_quants + (q % 4) * 16);
        quarter_scales_at[q] = scales.wrapping_add((q / 4) * tile_scales + (q % 4) * QUARTER_ROWS);
    });
    let x_quants = x.quants.as_ptr().add(first_row * columns);
    let x_scales = x.scales.as_ptr().add(first_row * blocks);
    let mut row_quants_at = [x_quants; M];
    let mut row_scales_at = [x_scales; M];
    unroll!(i < M, [0, 1, 2, 3], {
        row_quants_at[i] = x_quants.wrapping_add(i * columns);
        row_scales_at[i] = x_scales.wrapping_add(i * blocks);
    });
    let mut sums = [[vdupq_n_f32(0.0); Q]; M];
    for _ in 0..blocks {
        let mut dots = [[vdupq_n_s32(0); Q]; M];
        let mut group = 0;
        while group < BLOCK {
            let mut weights = [vdupq_n_s8(0); Q];
            unroll!(q < Q, [0, 1, 2, 3, 4, 5, 6, 7], {
                weights[q] = vld1q_s8(quarter_quants_at[q].wrapping_add(group * TILE_ROWS));
            });
            unroll!(i < M, [0, 1, 2, 3], {
                let four = vreinterpretq_s8_s32(vdupq_n_s32(std::ptr::read_unaligned(
                    row_quants_at[i].wrapping_add(group) as *const i32,
                )));
                unroll!(q < Q, [0, 1, 2, 3, 4, 5, 6, 7], {
                    dots[i][q] = sdot(dots[i][q], weights[q], four);
                });
            });
            group += 4;
        }
        let mut weight_scales = [vdupq_n_f32(0.0); Q];
        unroll!(q < Q, [0, 1, 2, 3, 4, 5, 6, 7], {
            weight_scales[q] = vld1q_f32(quarter_scales_at[q]);
            quarter_quants_at[q] = quarter_quants_at[q].wrapping_add(TILE_BLOCK_BYTES);
            quarter_scales_at[q] = quarter_scales_at[q].wrapping_add(TILE_ROWS);
        });
        unroll!(i < M, [0, 1, 2, 3], {
            let x_scale = *row_scales_at[i];
            unroll!(q < Q, [0, 1, 2, 3, 4, 5, 6, 7], {
                sums[i][q] = vfmaq_f32(
                    sums[i][q],
                    vcvtq_f32_s32(dots[i][q]),
                    vmulq_n_f32(weight_scales[q], x_scale),
                );
            });
            row_quants_at[i] = row_quants_at[i].wrapping_add(BLOCK);
            row_scales_at[i] = row_scales_at[i].wrapping_add(1);
        });
    }
    let row_out = out.add(first_row * weight.rows + first_tile * TILE_ROWS);
    unroll!(i < M, [0, 1, 2, 3], {
        unroll!(q < Q, [0, 1, 2, 3, 4, 5, 6, 7], {
            vst1q_f32(
                row_out.wrapping_add(i * weight.rows + q * QUARTER_ROWS),
                sums[i][q],
            );
        });
    });
}

#[inline(always)]
unsafe fn all_rows<const Q: usize>(
    weight: &PackedWeight,
    first_tile: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    let mut row = 0;
    while row + ROWS_PER_PASS <= x.rows {
        quarters_times_rows::<ROWS_PER_PASS, Q>(weight, first_tile, x, row, out);
        row += ROWS_PER_PASS;
    }
    if row < x.rows {
        quarters_times_rows::<1, Q>(weight, first_tile, x, row, out);
    }
}

/// Every row of `x` times tiles `first_tile..first_tile + count`, count at most 2.
///
/// SAFETY: as `quarters_times_rows`.
#[target_feature(enable = "neon,dotprod")]
pub(super) unsafe fn tiles(
    weight: &PackedWeight,
    first_tile: usize,
    count: usize,
    x: &QuantizedRows,
    out: *mut f32,
) {
    match count {
        2 => all_rows::<8>(weight, first_tile, x, out),
        _ => all_rows::<4>(weight, first_tile, x, out),
    }
}

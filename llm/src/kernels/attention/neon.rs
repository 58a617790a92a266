//! The attention kernel on aarch64 NEON: four keys' scores per pass (their sums reduced
//! together by pairwise adds), an `exp` whose 2^n is built in the exponent bits, and the
//! weighted sum of values in column chunks of 64 floats.

// NEON intrinsics, reached only where the chosen family is neon-dotprod.
#![allow(unsafe_code)]

use core::arch::aarch64::*;

use super::Job;

/// Value columns summed per pass over the visible keys: sixteen accumulators.
const CHUNK: usize = 64;

/// One key/value head's group of query heads at one position, for any head size that is
/// a multiple of 4.
///
/// SAFETY: the CPU has NEON; the job's pointers cover `visible` key and value rows, the
/// group's query rows and outputs, and `groups × visible` scores.
#[target_feature(enable = "neon")]
#[allow(non_upper_case_globals)]
pub(super) unsafe fn attend(job: &Job, head_dim: usize) {
    debug_assert!(head_dim.is_multiple_of(4));
    for group in 0..job.groups {
        let query = job.queries.wrapping_add(group * job.query_stride);
        let scores = job.scores.wrapping_add(group * job.visible);
        let mut largest4 = vdupq_n_f32(f32::NEG_INFINITY);
        let mut j = 0;
        while j + 4 <= job.visible {
            let key = job.keys.wrapping_add(j * job.key_stride);
            let mut products = [vdupq_n_f32(0.0); 4];
            let mut c = 0;
            while c < head_dim {
                let q = vld1q_f32(query.wrapping_add(c));
                unroll!(n < 4, [0, 1, 2, 3], {
                    products[n] = vfmaq_f32(
                        products[n],
                        q,
                        vld1q_f32(key.wrapping_add(n * job.key_stride + c)),
                    );
                });
                c += 4;
            }
            let four = vmulq_n_f32(
                vpaddq_f32(
                    vpaddq_f32(products[0], products[1]),
                    vpaddq_f32(products[2], products[3]),
                ),
                job.scale,
            );
            vst1q_f32(scores.wrapping_add(j), four);
            largest4 = vmaxq_f32(largest4, four);
            j += 4;
        }
        let mut largest = vmaxvq_f32(largest4);
        while j < job.visible {
            let key = job.keys.wrapping_add(j * job.key_stride);
            let mut products = vdupq_n_f32(0.0);
            let mut c = 0;
            while c < head_dim {
                products = vfmaq_f32(
                    products,
                    vld1q_f32(query.wrapping_add(c)),
                    vld1q_f32(key.wrapping_add(c)),
                );
                c += 4;
            }
            let score = vaddvq_f32(products) * job.scale;
            *scores.wrapping_add(j) = score;
            largest = largest.max(score);
            j += 1;
        }
        let inverse = 1.0 / exp_shifted(scores, job.visible, largest);
        let out = job.out.wrapping_add(group * head_dim);
        let mut start = 0;
        while start < head_dim {
            let width = CHUNK.min(head_dim - start);
            let mut sums = [vdupq_n_f32(0.0); 16];
            for j in 0..job.visible {
                let weight = vdupq_n_f32(*scores.wrapping_add(j));
                let value = job.values.wrapping_add(j * job.value_stride + start);
                unroll!(
                    c < 16,
                    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                    {
                        if c * 4 < width {
                            sums[c] =
                                vfmaq_f32(sums[c], weight, vld1q_f32(value.wrapping_add(c * 4)));
                        }
                    }
                );
            }
            unroll!(
                c < 16,
                [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                {
                    if c * 4 < width {
                        vst1q_f32(
                            out.wrapping_add(start + c * 4),
                            vmulq_n_f32(sums[c], inverse),
                        );
                    }
                }
            );
            start += CHUNK;
        }
    }
}

/// Replaces `scores[..n]` by exp(score − largest) and returns their sum.
///
/// SAFETY: the CPU has NEON; `scores` holds `n` values.
#[target_feature(enable = "neon")]
pub(super) unsafe fn exp_shifted(scores: *mut f32, n: usize, largest: f32) -> f32 {
    let shift = vdupq_n_f32(largest);
    let mut total = vdupq_n_f32(0.0);
    let mut j = 0;
    while j + 4 <= n {
        let at = scores.wrapping_add(j);
        let e = exp(vsubq_f32(vld1q_f32(at), shift));
        vst1q_f32(at, e);
        total = vaddq_f32(total, e);
        j += 4;
    }
    let mut total = vaddvq_f32(total);
    while j < n {
        // The tail one value at a time, through the same polynomial.
        let e = vgetq_lane_f32::<0>(exp(vdupq_n_f32(*scores.wrapping_add(j) - largest)));
        *scores.wrapping_add(j) = e;
        total += e;
        j += 1;
    }
    total
}

/// e^x for x ≤ 0, as the AVX2 kernel computes it: x = n·ln 2 + r, a degree-7 Taylor
/// polynomial for e^r, and 2^n applied as two powers of two built in the exponent bits.
#[inline(always)]
unsafe fn exp(x: float32x4_t) -> float32x4_t {
    let x = vmaxq_f32(x, vdupq_n_f32(-104.0));
    let n = vrndnq_f32(vmulq_n_f32(x, std::f32::consts::LOG2_E));
    let r = vfmsq_f32(x, n, vdupq_n_f32(0.693_145_75));
    let r = vfmsq_f32(r, n, vdupq_n_f32(1.428_606_8e-6));
    let mut p = vdupq_n_f32(1.0 / 5040.0);
    for coefficient in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = vfmaq_f32(vdupq_n_f32(coefficient), p, r);
    }
    let n = vcvtq_s32_f32(n);
    let half = vshrq_n_s32::<1>(n);
    let rest = vsubq_s32(n, half);
    macro_rules! power {
        ($k:expr) => {
            vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32($k, vdupq_n_s32(127))))
        };
    }
    vmulq_f32(vmulq_f32(p, power!(half)), power!(rest))
}

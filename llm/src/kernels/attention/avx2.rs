//! The attention kernel on AVX2 and FMA: eight keys' scores per pass (their sums reduced
//! together, as the AVX-512 kernel does for sixteen), an `exp` whose 2^n is built in the
//! exponent bits, and the weighted sum of values in column chunks of 64 floats.

// AVX2/FMA intrinsics, reached only where the chosen family is AVX2 or AVX-VNNI.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::Job;

/// Value columns summed per pass over the visible keys: eight ymm accumulators.
const CHUNK: usize = 64;

/// One key/value head's group of query heads at one position, for any head size that is
/// a multiple of 8.
///
/// SAFETY: the CPU has AVX2 and FMA; the job's pointers cover `visible` key and value
/// rows, the group's query rows and outputs, and `groups × visible` scores.
#[target_feature(enable = "avx2,fma")]
#[allow(non_upper_case_globals)]
pub(super) unsafe fn attend(job: &Job, head_dim: usize) {
    debug_assert!(head_dim.is_multiple_of(8));
    for group in 0..job.groups {
        let query = job.queries.wrapping_add(group * job.query_stride);
        let scores = job.scores.wrapping_add(group * job.visible);
        let scale = _mm256_set1_ps(job.scale);
        let mut largest8 = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut j = 0;
        while j + 8 <= job.visible {
            let key = job.keys.wrapping_add(j * job.key_stride);
            let mut products = [_mm256_setzero_ps(); 8];
            let mut c = 0;
            while c < head_dim {
                let q = _mm256_loadu_ps(query.wrapping_add(c));
                unroll!(n < 8, [0, 1, 2, 3, 4, 5, 6, 7], {
                    products[n] = _mm256_fmadd_ps(
                        q,
                        _mm256_loadu_ps(key.wrapping_add(n * job.key_stride + c)),
                        products[n],
                    );
                });
                c += 8;
            }
            let eight = _mm256_mul_ps(sum_each(&products), scale);
            _mm256_storeu_ps(scores.wrapping_add(j), eight);
            largest8 = _mm256_max_ps(largest8, eight);
            j += 8;
        }
        let mut largest = max_of(largest8);
        while j < job.visible {
            let key = job.keys.wrapping_add(j * job.key_stride);
            let mut products = _mm256_setzero_ps();
            let mut c = 0;
            while c < head_dim {
                products = _mm256_fmadd_ps(
                    _mm256_loadu_ps(query.wrapping_add(c)),
                    _mm256_loadu_ps(key.wrapping_add(c)),
                    products,
                );
                c += 8;
            }
            let score = sum_of(products) * job.scale;
            *scores.wrapping_add(j) = score;
            largest = largest.max(score);
            j += 1;
        }
        let inverse = _mm256_set1_ps(1.0 / exp_shifted(scores, job.visible, largest));
        let out = job.out.wrapping_add(group * head_dim);
        let mut start = 0;
        while start < head_dim {
            let width = CHUNK.min(head_dim - start);
            let mut sums = [_mm256_setzero_ps(); 8];
            for j in 0..job.visible {
                let weight = _mm256_set1_ps(*scores.wrapping_add(j));
                let value = job.values.wrapping_add(j * job.value_stride + start);
                unroll!(c < 8, [0, 1, 2, 3, 4, 5, 6, 7], {
                    if c * 8 < width {
                        sums[c] = _mm256_fmadd_ps(
                            weight,
                            _mm256_loadu_ps(value.wrapping_add(c * 8)),
                            sums[c],
                        );
                    }
                });
            }
            unroll!(c < 8, [0, 1, 2, 3, 4, 5, 6, 7], {
                if c * 8 < width {
                    _mm256_storeu_ps(
                        out.wrapping_add(start + c * 8),
                        _mm256_mul_ps(sums[c], inverse),
                    );
                }
            });
            start += CHUNK;
        }
    }
}

/// The sum of each of 8 vectors, as one vector: lane n holds the sum of `v[n]`.
#[inline(always)]
unsafe fn sum_each(v: &[__m256; 8]) -> __m256 {
    // hadd adds neighbours within 128-bit lanes: after two rounds, each lane of `low` and
    // `high` holds half of one vector's total (its low or its high 128 bits).
    let h01 = _mm256_hadd_ps(v[0], v[1]);
    let h23 = _mm256_hadd_ps(v[2], v[3]);
    let h45 = _mm256_hadd_ps(v[4], v[5]);
    let h67 = _mm256_hadd_ps(v[6], v[7]);
    let first = _mm256_hadd_ps(h01, h23);
    let second = _mm256_hadd_ps(h45, h67);
    let low = _mm256_permute2f128_ps::<0x20>(first, second);
    let high = _mm256_permute2f128_ps::<0x31>(first, second);
    _mm256_add_ps(low, high)
}

#[inline(always)]
unsafe fn sum_of(v: __m256) -> f32 {
    let x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    _mm_cvtss_f32(_mm_add_ss(x, _mm_shuffle_ps::<0b01>(x, x)))
}

#[inline(always)]
unsafe fn max_of(v: __m256) -> f32 {
    let x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    _mm_cvtss_f32(_mm_max_ss(x, _mm_shuffle_ps::<0b01>(x, x)))
}

/// Replaces `scores[..n]` by exp(score − largest) and returns their sum.
///
/// SAFETY: the CPU has AVX2 and FMA; `scores` holds `n` values.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn exp_shifted(scores: *mut f32, n: usize, largest: f32) -> f32 {
    let shift = _mm256_set1_ps(largest);
    let mut total = _mm256_setzero_ps();
    let mut j = 0;
    while j + 8 <= n {
        let at = scores.wrapping_add(j);
        let e = exp(_mm256_sub_ps(_mm256_loadu_ps(at), shift));
        _mm256_storeu_ps(at, e);
        total = _mm256_add_ps(total, e);
        j += 8;
    }
    let mut total = sum_of(total);
    if j < n {
        // The tail through a buffer, padded with −∞ (whose exp is 0).
        let mut tail = [f32::NEG_INFINITY; 8];
        for (k, slot) in tail.iter_mut().enumerate().take(n - j) {
            *slot = *scores.wrapping_add(j + k) - largest;
        }
        let e = exp(_mm256_loadu_ps(tail.as_ptr()));
        _mm256_storeu_ps(tail.as_mut_ptr(), e);
        for (k, value) in tail.iter().enumerate().take(n - j) {
            *scores.wrapping_add(j + k) = *value;
            total += value;
        }
    }
    total
}

/// e^x for x ≤ 0, within a few units in the last place: x = n·ln 2 + r with |r| ≤ ln 2 / 2,
/// a degree-7 Taylor polynomial for e^r, and 2^n applied as two powers of two built in the
/// exponent bits (each at least 2^−75, a normal float, so results down to e^−104 round
/// into subnormals as a single scaling would).
#[inline(always)]
unsafe fn exp(x: __m256) -> __m256 {
    // Below this e^x is 0 in f32; clamping keeps n in range (and turns −∞ into 0).
    let x = _mm256_max_ps(x, _mm256_set1_ps(-104.0));
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    // ln 2 in two parts, so that n · LN2_HIGH is exact.
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_145_75), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm256_set1_ps(1.0 / 5040.0);
    for coefficient in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(coefficient));
    }
    let n = _mm256_cvtps_epi32(n);
    let half = _mm256_srai_epi32::<1>(n);
    let rest = _mm256_sub_epi32(n, half);
    // A macro, not a closure: a closure would not inherit the caller's target features.
    macro_rules! power {
        ($k:expr) => {
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
                $k,
                _mm256_set1_epi32(127),
            )))
        };
    }
    _mm256_mul_ps(_mm256_mul_ps(p, power!(half)), power!(rest))
}

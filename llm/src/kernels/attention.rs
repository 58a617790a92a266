//! Attention on the CPU in one pass per query: scores, causal and window masking, softmax
//! and the weighted sum of values, for the query heads that share a key/value head
//! together.
//!
//! candle builds the same result from a (seq × kv) mask tensor, a broadcast add, a scaled
//! copy, a softmax with scalar `expf`, two matmuls that first repack the transposed keys,
//! and a transpose of the output. For a 523-token prompt on SmolLM2 that was a third of
//! the prompt's time; here masked keys are never visited (half the work of a causal
//! prompt), `exp` is vectorised, and the output is written in the (seq, heads × head_dim)
//! layout the output projection reads.

// AVX-512 intrinsics, called only where the chosen family is AVX-512 VNNI; the AVX2 kernel
// (AVX2 and AVX-VNNI families) is in attention/avx2.rs.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "aarch64")]
mod neon;

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;
use std::cell::RefCell;

use candle_core::Tensor;

use super::KernelFamily;
use crate::parts::with_cpu_f32;

/// Which keys a query sees, and how scores are scaled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    /// Position of the first query.
    pub(crate) start: usize,
    /// Position of the first key held.
    pub(crate) kv_start: usize,
    /// A query sees keys at most `window - 1` positions back (local layers).
    pub(crate) window: Option<usize>,
    /// Multiplies the dot products (1/√head_dim, or the model's own).
    pub(crate) scale: f32,
}

/// Head sizes the kernel takes: whole 512-bit registers, at most 16 of them.
fn supported_head_dim(head_dim: usize) -> bool {
    head_dim.is_multiple_of(16) && (16..=256).contains(&head_dim)
}

/// Whether `family` has an attention kernel here.
fn has_kernel(family: KernelFamily) -> bool {
    family != KernelFamily::Candle && family.runs_here()
}

/// Attention of queries `q` (1, heads, seq, head_dim), contiguous, over `keys` and
/// `values` (1, kv_heads, kv_len, head_dim), whose last dimension is contiguous (views of a
/// cache buffer are). Returns (1, seq, heads × head_dim). `None` where the kernel does not
/// apply (batch > 1, other dtypes or devices, head sizes, no kernel for the chosen family):
/// the caller computes it with candle.
pub(crate) fn attend(
    q: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    span: Span,
) -> candle_core::Result<Option<Tensor>> {
    attend_on(super::family(), q, keys, values, span)
}

/// `attend` on a given family's kernel.
fn attend_on(
    family: KernelFamily,
    q: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    span: Span,
) -> candle_core::Result<Option<Tensor>> {
    let (batch, heads, seq, head_dim) = q.dims4()?;
    let (_, kv_heads, kv_len, _) = keys.dims4()?;
    let fits = batch == 1
        && has_kernel(family)
        && supported_head_dim(head_dim)
        && q.device().is_cpu()
        && [q, keys, values]
            .iter()
            .all(|t| t.dtype() == candle_core::DType::F32)
        && q.is_contiguous()
        && keys.dims4()? == values.dims4()?
        && keys.stride()[3] == 1
        && values.stride()[3] == 1
        && heads.is_multiple_of(kv_heads)
        && span.window != Some(0)
        && span.start >= span.kv_start
        && span.kv_start + kv_len >= span.start + seq;
    if !fits {
        return Ok(None);
    }
    let shape = Shape {
        heads,
        kv_heads,
        seq,
        head_dim,
        kv_len,
    };
    let out = with_cpu_f32(q, |q, _| {
        with_cpu_f32(keys, |k, k_strides| {
            with_cpu_f32(values, |v, v_strides| {
                let cache = Cache {
                    keys: k,
                    key_head_stride: k_strides[1],
                    key_stride: k_strides[2],
                    values: v,
                    value_head_stride: v_strides[1],
                    value_stride: v_strides[2],
                };
                Ok(run(family, q, &cache, shape, span))
            })
        })
    })?;
    Tensor::from_vec(out, (1, seq, heads * head_dim), q.device()).map(Some)
}

#[derive(Clone, Copy)]
struct Shape {
    heads: usize,
    kv_heads: usize,
    seq: usize,
    head_dim: usize,
    kv_len: usize,
}

struct Cache<'a> {
    keys: &'a [f32],
    key_head_stride: usize,
    key_stride: usize,
    values: &'a [f32],
    value_head_stride: usize,
    value_stride: usize,
}

thread_local! {
    /// Scores of one item's queries, reused as a buffer.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn run(family: KernelFamily, q: &[f32], cache: &Cache, shape: Shape, span: Span) -> Vec<f32> {
    let Shape {
        heads,
        kv_heads,
        seq,
        head_dim,
        kv_len,
    } = shape;
    let groups = heads / kv_heads;
    let mut out = vec![0f32; seq * heads * head_dim];
    let out_address = out.as_mut_ptr() as usize;
    // One item: one key/value head and one query position, for all the query heads that
    // share that key/value head.
    super::pool::run(kv_heads * seq, &|items| {
        SCORES.with(|scores| {
            let mut scores = scores.borrow_mut();
            for item in items {
                let (kv_head, position) = (item / seq, item % seq);
                let query_position = span.start + position;
                // Keys from `first` to `last` (indices into the cache) are visible.
                let last = query_position - span.kv_start;
                let oldest = match span.window {
                    Some(window) => (query_position + 1).saturating_sub(window),
                    None => 0,
                };
                let first = oldest.saturating_sub(span.kv_start);
                debug_assert!(last < kv_len);
                let visible = last + 1 - first;
                scores.resize(groups * visible, 0.0);
                let first_head = kv_head * groups;
                // SAFETY: the kernel reads rows first..=last of this key/value head and the
                // group's query rows, all inside the slices (checked by `attend`'s shapes),
                // and writes only this position's row of these query heads' columns; the
                // family runs on this CPU (`has_kernel`).
                unsafe {
                    let queries = q.as_ptr().add((first_head * seq + position) * head_dim);
                    let keys = cache
                        .keys
                        .as_ptr()
                        .add(kv_head * cache.key_head_stride + first * cache.key_stride);
                    let values = cache
                        .values
                        .as_ptr()
                        .add(kv_head * cache.value_head_stride + first * cache.value_stride);
                    let out =
                        (out_address as *mut f32).add((position * heads + first_head) * head_dim);
                    let job = Job {
                        queries,
                        query_stride: seq * head_dim,
                        groups,
                        keys,
                        key_stride: cache.key_stride,
                        values,
                        value_stride: cache.value_stride,
                        visible,
                        scale: span.scale,
                        scores: scores.as_mut_ptr(),
                        out,
                    };
                    match (family, head_dim / 16) {
                        (KernelFamily::Avx512Vnni, 4) => attend_one::<4>(&job),
                        (KernelFamily::Avx512Vnni, 8) => attend_one::<8>(&job),
                        (KernelFamily::Avx512Vnni, 16) => attend_one::<16>(&job),
                        (KernelFamily::Avx512Vnni, _) => attend_any(&job, head_dim),
                        #[cfg(target_arch = "x86_64")]
                        _ => avx2::attend(&job, head_dim),
                        #[cfg(target_arch = "aarch64")]
                        _ => neon::attend(&job, head_dim),
                        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
                        _ => unreachable!("no attention kernel for {family} here"),
                    }
                }
            }
        })
    });
    out
}

/// One key/value head's group of query heads at one position.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
struct Job {
    queries: *const f32,
    /// From one query head's row to the next head's.
    query_stride: usize,
    groups: usize,
    keys: *const f32,
    key_stride: usize,
    values: *const f32,
    value_stride: usize,
    visible: usize,
    scale: f32,
    /// groups × visible.
    scores: *mut f32,
    /// The first head's output; the group's heads follow each other.
    out: *mut f32,
}

/// Head sizes of 16 × C values, C a constant (4 for SmolLM2's 64).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(non_upper_case_globals)]
unsafe fn attend_one<const C: usize>(job: &Job) {
    let head_dim = C * 16;
    for group in 0..job.groups {
        let query = job.queries.wrapping_add(group * job.query_stride);
        let mut q = [_mm512_setzero_ps(); C];
        unroll!(
            c < C,
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            {
                q[c] = _mm512_loadu_ps(query.wrapping_add(c * 16));
            }
        );
        let scores = job.scores.wrapping_add(group * job.visible);
        let mut key = job.keys;
        let mut j = 0;
        let mut largest = f32::NEG_INFINITY;
        // Sixteen keys at a time, their sums reduced together (`sum_each`): reducing each
        // dot product on its own costs twice its multiply-adds. Not for the largest heads,
        // whose query alone fills half the registers.
        if C <= 8 {
            let scale = _mm512_set1_ps(job.scale);
            let mut largest16 = _mm512_set1_ps(f32::NEG_INFINITY);
            while j + 16 <= job.visible {
                let mut products = [_mm512_setzero_ps(); 16];
                unroll!(
                    n < 16,
                    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                    {
                        let row = key.wrapping_add(n * job.key_stride);
                        unroll!(c < C, [0, 1, 2, 3, 4, 5, 6, 7], {
                            products[n] = _mm512_fmadd_ps(
                                q[c],
                                _mm512_loadu_ps(row.wrapping_add(c * 16)),
                                products[n],
                            );
                        });
                    }
                );
                let sixteen = _mm512_mul_ps(sum_each(&products), scale);
                _mm512_storeu_ps(scores.wrapping_add(j), sixteen);
                largest16 = _mm512_max_ps(largest16, sixteen);
                key = key.wrapping_add(16 * job.key_stride);
                j += 16;
            }
            largest = _mm512_reduce_max_ps(largest16);
        }
        while j < job.visible {
            let mut products = _mm512_setzero_ps();
            unroll!(
                c < C,
                [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                {
                    products =
                        _mm512_fmadd_ps(q[c], _mm512_loadu_ps(key.wrapping_add(c * 16)), products);
                }
            );
            let score = _mm512_reduce_add_ps(products) * job.scale;
            *scores.wrapping_add(j) = score;
            largest = largest.max(score);
            key = key.wrapping_add(job.key_stride);
            j += 1;
        }
        let total = exp_shifted(scores, job.visible, largest);
        let mut sums = [_mm512_setzero_ps(); C];
        let mut value = job.values;
        for j in 0..job.visible {
            let weight = _mm512_set1_ps(*scores.wrapping_add(j));
            unroll!(
                c < C,
                [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                {
                    sums[c] = _mm512_fmadd_ps(
                        weight,
                        _mm512_loadu_ps(value.wrapping_add(c * 16)),
                        sums[c],
                    );
                }
            );
            value = value.wrapping_add(job.value_stride);
        }
        let inverse = _mm512_set1_ps(1.0 / total);
        let out = job.out.wrapping_add(group * head_dim);
        unroll!(
            c < C,
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            {
                _mm512_storeu_ps(out.wrapping_add(c * 16), _mm512_mul_ps(sums[c], inverse));
            }
        );
    }
}

/// The sum of each of 16 vectors, as one vector: lane n holds the sum of `v[n]`. Pairs are
/// added within 128-bit lanes, then quadruples, then the four lanes of four vectors.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn sum_each(v: &[__m512; 16]) -> __m512 {
    // Macros, not closures: a closure here would not inherit the caller's AVX-512 target
    // feature, and each intrinsic in it would become a call.
    // Per 128-bit lane, for vectors a, b: [a0+a2, b0+b2, a1+a3, b1+b3].
    macro_rules! pair {
        ($a:expr, $b:expr) => {
            _mm512_add_ps(_mm512_unpacklo_ps($a, $b), _mm512_unpackhi_ps($a, $b))
        };
    }
    // Per 128-bit lane, for the pairs of (a, b) and (c, d): that lane's sums of a, b, c, d.
    macro_rules! quad {
        ($ab:expr, $cd:expr) => {{
            let (ab, cd) = ($ab, $cd);
            _mm512_add_ps(
                _mm512_shuffle_ps::<0b01_00_01_00>(ab, cd),
                _mm512_shuffle_ps::<0b11_10_11_10>(ab, cd),
            )
        }};
    }
    let u0 = quad!(pair!(v[0], v[1]), pair!(v[2], v[3]));
    let u1 = quad!(pair!(v[4], v[5]), pair!(v[6], v[7]));
    let u2 = quad!(pair!(v[8], v[9]), pair!(v[10], v[11]));
    let u3 = quad!(pair!(v[12], v[13]), pair!(v[14], v[15]));
    // Lanes 0+2 and 1+3 of u0 and u1 (then u2 and u3), then the remaining pair of lanes,
    // which leaves u_k's total in lane k.
    let s01 = _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b01_00_01_00>(u0, u1),
        _mm512_shuffle_f32x4::<0b11_10_11_10>(u0, u1),
    );
    let s23 = _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b01_00_01_00>(u2, u3),
        _mm512_shuffle_f32x4::<0b11_10_11_10>(u2, u3),
    );
    _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b10_00_10_00>(s01, s23),
        _mm512_shuffle_f32x4::<0b11_01_11_01>(s01, s23),
    )
}

/// Any supported head size, with the query in memory rather than registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn attend_any(job: &Job, head_dim: usize) {
    for group in 0..job.groups {
        let query = job.queries.wrapping_add(group * job.query_stride);
        let scores = job.scores.wrapping_add(group * job.visible);
        let mut largest = f32::NEG_INFINITY;
        for j in 0..job.visible {
            let key = job.keys.wrapping_add(j * job.key_stride);
            let mut products = _mm512_setzero_ps();
            for c in (0..head_dim).step_by(16) {
                products = _mm512_fmadd_ps(
                    _mm512_loadu_ps(query.wrapping_add(c)),
                    _mm512_loadu_ps(key.wrapping_add(c)),
                    products,
                );
            }
            let score = _mm512_reduce_add_ps(products) * job.scale;
            *scores.wrapping_add(j) = score;
            largest = largest.max(score);
        }
        let inverse = 1.0 / exp_shifted(scores, job.visible, largest);
        let out = job.out.wrapping_add(group * head_dim);
        for c in (0..head_dim).step_by(16) {
            let mut sum = _mm512_setzero_ps();
            for j in 0..job.visible {
                let value = job.values.wrapping_add(j * job.value_stride + c);
                sum = _mm512_fmadd_ps(
                    _mm512_set1_ps(*scores.wrapping_add(j)),
                    _mm512_loadu_ps(value),
                    sum,
                );
            }
            _mm512_storeu_ps(
                out.wrapping_add(c),
                _mm512_mul_ps(sum, _mm512_set1_ps(inverse)),
            );
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn attend_one<const C: usize>(_: &Job) {
    unreachable!("the AVX-512 attention kernel runs only on x86-64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn attend_any(_: &Job, _: usize) {
    unreachable!("the AVX-512 attention kernel runs only on x86-64")
}

/// Replaces `scores[..n]` by exp(score − largest) and returns their sum.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp_shifted(scores: *mut f32, n: usize, largest: f32) -> f32 {
    let shift = _mm512_set1_ps(largest);
    let mut total = _mm512_setzero_ps();
    let mut j = 0;
    while j < n {
        let mask: __mmask16 = if n - j >= 16 {
            0xffff
        } else {
            (1u16 << (n - j)) - 1
        };
        let x = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, scores.wrapping_add(j)), shift);
        let e = _mm512_maskz_mov_ps(mask, exp(x));
        _mm512_mask_storeu_ps(scores.wrapping_add(j), mask, e);
        total = _mm512_add_ps(total, e);
        j += 16;
    }
    _mm512_reduce_add_ps(total)
}

/// e^x for x ≤ 0, within a few units in the last place: x = n·ln 2 + r with |r| ≤ ln 2 / 2,
/// a degree-7 Taylor polynomial for e^r, and 2^n applied exactly by `vscalefps`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp(x: __m512) -> __m512 {
    // Below this e^x is 0 in f32; clamping keeps n finite.
    let x = _mm512_max_ps(x, _mm512_set1_ps(-104.0));
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    // ln 2 in two parts, so that n · LN2_HIGH is exact.
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_145_75), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428_606_8e-6), r);
    let mut p = _mm512_set1_ps(1.0 / 5040.0);
    for coefficient in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(coefficient));
    }
    _mm512_scalef_ps(p, n)
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(dead_code)]
unsafe fn exp_shifted(_: *mut f32, _: usize, _: f32) -> f32 {
    unreachable!("the AVX-512 attention kernel runs only on x86-64")
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor, D};

    fn tensor(dims: (usize, usize, usize, usize), seed: usize) -> Tensor {
        let n = dims.0 * dims.1 * dims.2 * dims.3;
        let values: Vec<f32> = (0..n)
            .map(|i| (((i + seed) * 7919 % 2003) as f32 / 1001.0 - 1.0) * 2.0)
            .collect();
        Tensor::from_vec(values, dims, &Device::Cpu).unwrap()
    }

    /// candle's operations, as the models computed attention before this kernel.
    fn reference(q: &Tensor, k: &Tensor, v: &Tensor, span: Span) -> Tensor {
        let (_, heads, seq, head_dim) = q.dims4().unwrap();
        let (_, kv_heads, kv_len, _) = k.dims4().unwrap();
        let groups = heads / kv_heads;
        let k = k.repeat_interleave_heads(groups);
        let v = v.repeat_interleave_heads(groups);
        let scores = (q.matmul(&k.t().unwrap()).unwrap() * span.scale as f64).unwrap();
        let mask = crate::parts::attention_mask(
            span.start,
            seq,
            span.kv_start,
            kv_len,
            span.window,
            &Device::Cpu,
        )
        .unwrap();
        let scores = match mask {
            Some(mask) => scores.broadcast_add(&mask).unwrap(),
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores).unwrap();
        weights
            .matmul(&v)
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((1, seq, heads * head_dim))
            .unwrap()
    }

    trait RepeatHeads {
        fn repeat_interleave_heads(&self, n: usize) -> Tensor;
    }

    impl RepeatHeads for Tensor {
        fn repeat_interleave_heads(&self, n: usize) -> Tensor {
            let (b, h, l, d) = self.dims4().unwrap();
            self.unsqueeze(2)
                .unwrap()
                .expand((b, h, n, l, d))
                .unwrap()
                .reshape((b, h * n, l, d))
                .unwrap()
        }
    }

    #[test]
    fn equals_candles_masked_softmax_attention() {
        let families: Vec<_> = KernelFamily::ALL
            .into_iter()
            .filter(|f| has_kernel(*f))
            .collect();
        eprintln!("attention families tested here: {families:?}");
        // (heads, kv_heads, seq, head_dim, kv_start, start, window)
        let cases = [
            (9, 3, 37, 64, 0, 0, None),     // a causal prompt, SmolLM2's heads
            (2, 1, 3, 128, 0, 50, None),    // 16-key batches and a tail, 128 wide
            (9, 3, 1, 64, 0, 40, None),     // one decoded token
            (4, 1, 5, 256, 0, 12, None),    // Gemma 3's head size, a chunk after a prefix
            (4, 1, 3, 256, 6, 20, Some(8)), // a local layer's window, keys from 6
            (2, 2, 4, 48, 0, 0, None),      // a head size with no dedicated kernel
        ];
        for (case, &(heads, kv_heads, seq, head_dim, kv_start, start, window)) in
            cases.iter().enumerate()
        {
            let kv_len = start + seq - kv_start;
            let q = tensor((1, heads, seq, head_dim), case);
            // Keys and values as views of a larger cache buffer, as CacheBuffer returns them.
            let k = tensor((1, kv_heads, kv_len + 7, head_dim), 100 + case)
                .narrow(2, 0, kv_len)
                .unwrap();
            let v = tensor((1, kv_heads, kv_len + 7, head_dim), 200 + case)
                .narrow(2, 0, kv_len)
                .unwrap();
            let span = Span {
                start,
                kv_start,
                window,
                scale: 1.0 / (head_dim as f32).sqrt(),
            };
            let expected = reference(&q, &k.contiguous().unwrap(), &v.contiguous().unwrap(), span);
            for &family in &families {
                let got = attend_on(family, &q, &k, &v, span)
                    .unwrap()
                    .expect("the kernel applies");
                let difference = (got - &expected)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_keepdim(D::Minus1)
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(
                    difference < 1e-4,
                    "{family} case {case}: off by {difference}"
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sixteen_vectors_sum_into_their_own_lanes() {
        if !has_kernel(KernelFamily::Avx512Vnni) {
            return;
        }
        let values: Vec<f32> = (0..256).map(|i| ((i * 37) % 101) as f32 - 50.0).collect();
        let mut got = [0f32; 16];
        unsafe {
            let vectors: [__m512; 16] =
                std::array::from_fn(|n| _mm512_loadu_ps(values[n * 16..].as_ptr()));
            _mm512_storeu_ps(got.as_mut_ptr(), sum_each(&vectors));
        }
        for (n, sum) in got.iter().enumerate() {
            assert_eq!(
                *sum,
                values[n * 16..(n + 1) * 16].iter().sum::<f32>(),
                "lane {n}"
            );
        }
    }

    #[test]
    fn exp_is_accurate_over_the_softmax_range() {
        let families: Vec<_> = [
            KernelFamily::Avx512Vnni,
            KernelFamily::Avx2,
            KernelFamily::NeonDotprod,
        ]
        .into_iter()
        .filter(|f| has_kernel(*f))
        .collect();
        for family in families {
            let mut values: Vec<f32> = (0..=1000).map(|i| -(i as f32) * 0.09).collect();
            values.push(-200.0);
            values.push(f32::NEG_INFINITY);
            let expected: Vec<f32> = values.iter().map(|x| x.exp()).collect();
            // SAFETY: the family runs here (checked above).
            let total = unsafe {
                match family {
                    #[cfg(target_arch = "x86_64")]
                    KernelFamily::Avx512Vnni => exp_shifted(values.as_mut_ptr(), values.len(), 0.0),
                    #[cfg(target_arch = "x86_64")]
                    _ => avx2::exp_shifted(values.as_mut_ptr(), values.len(), 0.0),
                    #[cfg(target_arch = "aarch64")]
                    _ => neon::exp_shifted(values.as_mut_ptr(), values.len(), 0.0),
                    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
                    _ => unreachable!(),
                }
            };
            for (got, want) in values.iter().zip(&expected) {
                assert!(
                    (got - want).abs() <= want * 2e-6 + 1e-38,
                    "{family}: {got} vs {want}"
                );
            }
            let want_total: f32 = expected.iter().sum();
            assert!((total - want_total).abs() < want_total * 1e-5, "{family}");
        }
    }
}

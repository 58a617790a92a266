//! Our CPU kernels, reached through safe functions that check the shapes, CPU features and
//! layouts they rely on: `int8` (Q8_0 matmul), `attention` (one pass per query) and `pool`
//! (the worker threads both split their work over).
//!
//! Each kernel has one implementation per instruction-set family ([`KernelFamily`]). The
//! family is chosen once per process from what the CPU reports, capped by the caller
//! (`LocalOptions::kernels`), so that a machine with the highest family can test and
//! benchmark the lower ones.
//!
//! Architecture Invariant: a packed weight records the family it was packed for and is
//! only ever packed for a family this CPU runs, so every SIMD entry point's feature
//! precondition holds by construction.

use std::sync::atomic::{AtomicU8, Ordering};

pub(crate) mod attention;
pub(crate) mod int8;
pub(crate) mod pool;

/// The instruction-set families our kernels are written for, lowest first. `Candle` means
/// none of ours: candle's own kernels do the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelFamily {
    /// candle's kernels only (any CPU).
    Candle,
    /// x86-64 with AVX2, FMA and F16C (Haswell, Zen 1 and later): 256-bit registers, int8
    /// products by `vpmaddubsw`/`vpmaddwd`.
    Avx2,
    /// AVX2 plus AVX-VNNI (Alder Lake and later): 256-bit `vpdpbusd`.
    AvxVnni,
    /// AVX-512 F/BW with VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later).
    Avx512Vnni,
    /// aarch64 with NEON and the dot-product extension (`sdot`; Apple M1, Graviton 2, …).
    NeonDotprod,
}

impl KernelFamily {
    /// Every family, lowest first.
    pub const ALL: [KernelFamily; 5] = [
        Self::Candle,
        Self::Avx2,
        Self::AvxVnni,
        Self::Avx512Vnni,
        Self::NeonDotprod,
    ];

    /// The name `dossier bench` prints and `DOSSIER_KERNELS` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Candle => "candle",
            Self::Avx2 => "avx2",
            Self::AvxVnni => "avx-vnni",
            Self::Avx512Vnni => "avx512-vnni",
            Self::NeonDotprod => "neon-dotprod",
        }
    }

    /// The family a name denotes.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|family| family.name() == name)
    }

    /// Whether this CPU has every feature the family's kernels use.
    pub fn runs_here(self) -> bool {
        match self {
            Self::Candle => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Self::AvxVnni => Self::Avx2.runs_here() && is_x86_feature_detected!("avxvnni"),
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Vnni => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "aarch64")]
            Self::NeonDotprod => {
                std::arch::is_aarch64_feature_detected!("neon")
                    && std::arch::is_aarch64_feature_detected!("dotprod")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every family this CPU runs, lowest first (`Candle` always among them).
    pub fn on_this_cpu() -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|family| family.runs_here())
            .collect()
    }

    /// The highest family this CPU runs.
    pub fn best_here() -> Self {
        Self::on_this_cpu()
            .into_iter()
            .max_by_key(|family| family.rank())
            .unwrap_or(Self::Candle)
    }

    /// Speed order among the families of one architecture (ARM's one family ranks above
    /// candle like the x86 ones; the two never run on the same CPU).
    fn rank(self) -> u8 {
        match self {
            Self::Candle => 0,
            Self::Avx2 | Self::NeonDotprod => 1,
            Self::AvxVnni => 2,
            Self::Avx512Vnni => 3,
        }
    }

    /// The best family this CPU runs that is no higher than `ceiling`.
    pub fn best_up_to(ceiling: Self) -> Self {
        Self::on_this_cpu()
            .into_iter()
            .filter(|family| family.rank() <= ceiling.rank())
            .max_by_key(|family| family.rank())
            .unwrap_or(Self::Candle)
    }
}

impl std::fmt::Display for KernelFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// 0: not chosen yet; otherwise 1 + the index in `KernelFamily::ALL`.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// Sets the process's family: the best this CPU runs, at most `ceiling`. Later models
/// loaded in the same process may set it again (a test forcing families in turn).
pub(crate) fn choose(ceiling: Option<KernelFamily>) -> KernelFamily {
    let family = match ceiling {
        Some(ceiling) => KernelFamily::best_up_to(ceiling),
        None => KernelFamily::best_here(),
    };
    let index = KernelFamily::ALL
        .iter()
        .position(|f| *f == family)
        .expect("ALL lists every family");
    CHOSEN.store(index as u8 + 1, Ordering::Relaxed);
    family
}

/// The family our kernels run: the one last chosen, else the best this CPU runs.
pub fn family() -> KernelFamily {
    match CHOSEN.load(Ordering::Relaxed) {
        0 => KernelFamily::best_here(),
        n => KernelFamily::ALL[n as usize - 1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_candle_always_runs() {
        for family in KernelFamily::ALL {
            assert_eq!(KernelFamily::from_name(family.name()), Some(family));
        }
        assert_eq!(KernelFamily::from_name("avx512"), None);
        assert!(KernelFamily::on_this_cpu().contains(&KernelFamily::Candle));
        assert_eq!(
            KernelFamily::best_up_to(KernelFamily::Candle),
            KernelFamily::Candle
        );
        // A ceiling above what the CPU has gives what it has.
        assert_eq!(
            KernelFamily::best_up_to(KernelFamily::Avx512Vnni).rank(),
            KernelFamily::best_here().rank().min(3)
        );
    }
}

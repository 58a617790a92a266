//! The worker threads our kernels (int8.rs, attention.rs) split their work over.
//!
//! candle's own pool makes the calling thread wait, spinning, until every worker has
//! reported, including workers the OS has not scheduled yet. On a machine busy with other
//! work that wait is a whole time slice, and a token's 240 matmuls made generation about
//! ten times slower with two threads than with one. Here the work is a list of chunks that
//! whoever runs takes from a shared cursor; the caller takes chunks too, and once none are
//! left it waits only for workers that are in the middle of one. A worker that wakes after
//! the job is over finds it closed and goes back to waiting, without touching it.

// The workers see the caller's job through a pointer whose lifetime `run` keeps.
#![allow(unsafe_code)]

use std::cell::{Cell, UnsafeCell};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps: longer than the gap between two
/// matmuls of a generated token, so that generation never waits for a wake-up.
const SPIN: Duration = Duration::from_micros(200);

type Job = dyn Fn(Range<usize>) + Sync;

struct Shared {
    /// Bumped for each job; workers wake on a change.
    epoch: AtomicUsize,
    /// Set once the job's chunks are all taken; from then on no worker may start on it.
    closed: AtomicBool,
    /// Workers that have joined the current job and not yet left it.
    active: AtomicUsize,
    cursor: AtomicUsize,
    items: AtomicUsize,
    chunk: AtomicUsize,
    /// The current job, valid while `closed` is false or `active` is non-zero. A fat
    /// pointer, with its lifetime erased: `run` does not return before it is unused.
    job: UnsafeCell<Option<*const Job>>,
    panicked: AtomicBool,
    sleeping: Vec<AtomicBool>,
}

// SAFETY: `job` is written only by the thread in `run`, while `closed` is true and no
// worker is active, and read by workers only after they joined an open job (see `join`).
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

struct Pool {
    shared: Arc<Shared>,
    threads: Vec<Thread>,
    /// One job at a time: callers from several threads (serve) take turns.
    turn: std::sync::Mutex<()>,
}

thread_local! {
    static INSIDE_JOB: Cell<bool> = const { Cell::new(false) };
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let workers = threads() - 1;
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            closed: AtomicBool::new(true),
            active: AtomicUsize::new(0),
            cursor: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            chunk: AtomicUsize::new(1),
            job: UnsafeCell::new(None),
            panicked: AtomicBool::new(false),
            sleeping: (0..workers).map(|_| AtomicBool::new(false)).collect(),
        });
        let threads = (0..workers)
            .map(|index| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("dossier-llm-{index}"))
                    .spawn(move || work(&shared, index))
                    .expect("spawning an LLM worker thread")
                    .thread()
                    .clone()
            })
            .collect();
        Pool {
            shared,
            threads,
            turn: std::sync::Mutex::new(()),
        }
    })
}

/// The thread count the first model loaded asked for (`LocalOptions::kernel_threads`).
static REQUESTED: OnceLock<Option<usize>> = OnceLock::new();

/// Asks for `threads` workers (counting the caller), if no model asked before: the pool is
/// made once, on its first job.
pub(crate) fn request_threads(threads: Option<usize>) {
    let _ = REQUESTED.set(threads);
}

/// The count asked for, else the one candle's own pool takes: the RAYON_NUM_THREADS that
/// `--threads` sets, else every core.
fn threads() -> usize {
    REQUESTED
        .get()
        .copied()
        .flatten()
        .filter(|&n| n > 0)
        .unwrap_or_else(candle_core::utils::get_num_threads)
        .max(1)
}

/// Runs `f` over `0..items`, in chunks, on the calling thread and the pool's workers.
pub(crate) fn run(items: usize, f: &(dyn Fn(Range<usize>) + Sync)) {
    if items == 0 {
        return;
    }
    let pool = pool();
    if pool.threads.is_empty() || items == 1 || INSIDE_JOB.with(Cell::get) {
        f(0..items);
        return;
    }
    let _turn = pool.turn.lock().unwrap_or_else(|e| e.into_inner());
    let shared = &*pool.shared;
    // About eight chunks per thread: few enough to claim cheaply, enough that a thread
    // the OS runs late leaves its share to the others.
    let chunk = items.div_ceil((pool.threads.len() + 1) * 8).max(1);
    // SAFETY: `closed` is true and `active` is zero here (the previous `run` waited for
    // it), so no worker reads `job`; the pointer is cleared before this function returns.
    unsafe {
        let erased: *const Job =
            std::mem::transmute::<&(dyn Fn(Range<usize>) + Sync), &'static Job>(f);
        *shared.job.get() = Some(erased);
    }
    shared.items.store(items, SeqCst);
    shared.chunk.store(chunk, SeqCst);
    shared.cursor.store(0, SeqCst);
    shared.closed.store(false, SeqCst);
    shared.epoch.fetch_add(1, SeqCst);
    for (sleeping, thread) in shared.sleeping.iter().zip(&pool.threads) {
        if sleeping.swap(false, SeqCst) {
            thread.unpark();
        }
    }
    INSIDE_JOB.with(|inside| inside.set(true));
    take_chunks(shared, f);
    INSIDE_JOB.with(|inside| inside.set(false));
    shared.closed.store(true, SeqCst);
    let mut spins = 0u32;
    while shared.active.load(SeqCst) != 0 {
        spins += 1;
        if spins < 1_000 {
            std::hint::spin_loop();
        } else {
            // The worker in a chunk was descheduled: give it this core.
            std::thread::yield_now();
        }
    }
    // SAFETY: closed and no worker active: nobody reads `job`.
    unsafe { *shared.job.get() = None };
    if shared.panicked.swap(false, SeqCst) {
        panic!("an LLM worker thread panicked");
    }
}

fn take_chunks(shared: &Shared, f: &(dyn Fn(Range<usize>) + Sync)) {
    let items = shared.items.load(SeqCst);
    let chunk = shared.chunk.load(SeqCst);
    loop {
        let start = shared.cursor.fetch_add(chunk, SeqCst);
        if start >= items {
            break;
        }
        f(start..items.min(start + chunk));
    }
}

/// A worker joins the job of an epoch it has seen change, unless it is already closed.
fn join(shared: &Shared) {
    shared.active.fetch_add(1, SeqCst);
    if !shared.closed.load(SeqCst) {
        // SAFETY: the job is open and this worker is counted in `active`, so `run` keeps
        // the closure alive and `job` unchanged until this worker leaves.
        let job = unsafe { (*shared.job.get()).map(|job| &*job) };
        if let Some(job) = job {
            INSIDE_JOB.with(|inside| inside.set(true));
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| take_chunks(shared, job)));
            INSIDE_JOB.with(|inside| inside.set(false));
            if outcome.is_err() {
                shared.panicked.store(true, SeqCst);
            }
        }
    }
    shared.active.fetch_sub(1, SeqCst);
}

fn work(shared: &Shared, index: usize) {
    let mut seen = shared.epoch.load(SeqCst);
    loop {
        let started = Instant::now();
        let mut spins = 0u32;
        loop {
            let epoch = shared.epoch.load(SeqCst);
            if epoch != seen {
                seen = epoch;
                join(shared);
                break;
            }
            spins += 1;
            if spins.is_multiple_of(64) && started.elapsed() > SPIN {
                shared.sleeping[index].store(true, SeqCst);
                // A job published after the flag was set unparks this thread; one
                // published before it is seen here.
                if shared.epoch.load(SeqCst) == seen {
                    std::thread::park();
                }
                shared.sleeping[index].store(false, SeqCst);
                break;
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_runs_exactly_once_over_many_jobs() {
        for items in [1, 2, 3, 17, 1000] {
            for _ in 0..50 {
                let counts: Vec<AtomicUsize> = (0..items).map(|_| AtomicUsize::new(0)).collect();
                run(items, &|range| {
                    for i in range {
                        counts[i].fetch_add(1, SeqCst);
                    }
                });
                assert!(counts.iter().all(|c| c.load(SeqCst) == 1), "{items} items");
            }
        }
    }

    #[test]
    fn jobs_from_several_threads_take_turns() {
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        let total = AtomicUsize::new(0);
                        run(64, &|range| {
                            total.fetch_add(range.len(), SeqCst);
                        });
                        assert_eq!(total.load(SeqCst), 64);
                    }
                });
            }
        });
    }
}

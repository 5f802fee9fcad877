//! W1, thread tasks: (i) 100,000 no-op sync tasks on a pool of 4 threads, submitted from the
//! main thread and then each awaited in order → `throughput`; (ii) 10,000 × submit one
//! no-op task and wait for it → `roundtrip_p50`, `roundtrip_p99`.
//!
//! atasker: `#[background_task] fn noop()` on a supervisor with `thread_pool(4)` and reserves
//! 0/0, waited with `Task::wait`. Two baselines: `spawn_blocking` on a tokio runtime with
//! `max_blocking_threads(4)`, waited with `Runtime::block_on`; and rayon's `spawn` on a
//! 4-thread `rayon::ThreadPool`, which returns no handle, so each task counts down a
//! [`Latch`] the main thread waits on (one per burst, one per round trip). Everything is
//! submitted and waited from the main thread.

use crate::harness::{Collector, Config, Subject};
use crate::util::{percentile, rate, us};
use atasker::{Supervisor, Task};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// The W1 supervisor: 4 pool threads, no reserves (every task is NORMAL).
static SUP: LazyLock<Supervisor> = LazyLock::new(|| {
    Supervisor::builder()
        .name("w1")
        .thread_pool(4)
        .reserve_normal(0)
        .reserve_high(0)
        .build()
        .expect("valid W1 settings")
});

/// The no-op task.
#[atasker::background_task(supervisor = &*SUP)]
fn noop() {}

/// The baseline's runtime: spawn_blocking with at most 4 blocking threads. One (idle)
/// worker thread: the runtime needs one, `block_on` runs on the main thread.
fn baseline_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(4)
        .thread_name("baseline-rt")
        .build()
        .expect("a tokio runtime")
}

/// The first baseline (its ratios are printed `ratio W1 …`).
pub(crate) const BASELINE: &str = "baseline:spawn_blocking";

/// The second baseline (its ratios are printed `ratio W1:rayon_spawn …`).
pub(crate) const RAYON: &str = "baseline:rayon_spawn";

/// The burst and round-trip counts of one repetition.
fn sizes(cfg: &Config) -> (usize, usize) {
    (cfg.size(100_000), cfg.size(10_000))
}

/// Tasks each subject runs in one repetition, warm-ups included (for `--instructions`).
pub(crate) fn units(cfg: &Config) -> usize {
    let (burst, trips) = sizes(cfg);
    burst / 10 + burst + trips / 10 + trips
}

/// One side of a repetition in the order it runs: atasker, or the baselines that
/// `--subject` leaves (taking turns to go first, like the sides).
fn subjects(cfg: &Config, s: Subject, rep: usize) -> Vec<&'static str> {
    let mut v = match s {
        Subject::Atasker => vec!["atasker"],
        Subject::Baseline => vec![BASELINE, RAYON],
    };
    if rep % 2 == 1 {
        v.reverse();
    }
    v.retain(|name| cfg.measures(name));
    v
}

/// Runs W1's repetitions.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let (burst, trips) = sizes(cfg);
    let rt = baseline_rt();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .thread_name(|i| format!("rayon-{i}"))
        .build()
        .expect("a rayon pool");
    let burst_of = |name: &str, n: usize| -> Duration {
        match name {
            "atasker" => throughput_atasker(n),
            BASELINE => throughput_baseline(&rt, n),
            _ => throughput_rayon(&pool, n),
        }
    };
    let trips_of = |name: &str, n: usize| -> Vec<Duration> {
        match name {
            "atasker" => roundtrips_atasker(n),
            BASELINE => roundtrips_baseline(&rt, n),
            _ => roundtrips_rayon(&pool, n),
        }
    };
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            for name in subjects(cfg, s, rep) {
                // Each measured burst follows an unmeasured one a tenth its size, so that
                // every subject starts from the same state whatever ran just before.
                burst_of(name, burst / 10);
                let d = burst_of(name, burst);
                out.add(name, "throughput", rate(burst, d), "tasks/s");
            }
            if s == Subject::Atasker {
                // A pool of 4 should never need more than 4 threads.
                let alive = SUP.stats().pool_threads;
                if alive > 4 {
                    eprintln!("  [W1] note: {alive} pool threads alive for a pool of 4");
                }
            }
        }
        for s in cfg.order(rep) {
            for name in subjects(cfg, s, rep) {
                let mut v = trips_of(name, trips);
                v.sort_unstable();
                out.add(name, "roundtrip_p50", us(percentile(&v, 50.0)), "us");
                out.add(name, "roundtrip_p99", us(percentile(&v, 99.0)), "us");
            }
        }
    }
}

/// Submits `n` tasks, then waits for each; the time taken.
fn throughput_atasker(n: usize) -> Duration {
    let mut tasks: Vec<Task<()>> = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        tasks.push(noop());
    }
    for t in tasks {
        t.wait().expect("a no-op task");
    }
    t0.elapsed()
}

/// Submits `n` spawn_blocking no-ops, then awaits each; the time taken.
fn throughput_baseline(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let mut handles = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        handles.push(rt.spawn_blocking(|| ()));
    }
    rt.block_on(async {
        for h in handles {
            h.await.expect("a no-op task");
        }
    });
    t0.elapsed()
}

/// `n` × (submit one task, wait for it); each round trip. Preceded by `n / 10` unmeasured
/// round trips, so that every series starts from the same steady state (right after a
/// throughput burst, the first round trips are several times slower on either side).
fn roundtrips_atasker(n: usize) -> Vec<Duration> {
    for _ in 0..n / 10 {
        noop().wait().expect("a no-op task");
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        noop().wait().expect("a no-op task");
        v.push(t0.elapsed());
    }
    v
}

/// `n` × (spawn_blocking one no-op, block_on its handle); each round trip. Preceded by
/// `n / 10` unmeasured round trips, as for atasker.
fn roundtrips_baseline(rt: &tokio::runtime::Runtime, n: usize) -> Vec<Duration> {
    for _ in 0..n / 10 {
        rt.block_on(rt.spawn_blocking(|| ())).expect("a no-op task");
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        rt.block_on(rt.spawn_blocking(|| ())).expect("a no-op task");
        v.push(t0.elapsed());
    }
    v
}

/// A count-down latch for rayon's handle-less `spawn`: each task counts down once, and the
/// thread that made the latch parks until the count reaches zero (the cheapest honest wait:
/// one atomic per task, one unpark for the last).
struct Latch {
    /// Tasks still to finish.
    left: AtomicUsize,
    /// The thread that waits (the one that made the latch).
    waiter: Thread,
}

impl Latch {
    /// A latch for `n` tasks, waited on by the current thread.
    fn new(n: usize) -> Arc<Latch> {
        Arc::new(Latch {
            left: AtomicUsize::new(n),
            waiter: std::thread::current(),
        })
    }

    /// One task done; the last one wakes the waiter.
    fn count_down(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.waiter.unpark();
        }
    }

    /// Parks until every task is done (from the thread that made the latch).
    fn wait(&self) {
        while self.left.load(Ordering::Acquire) != 0 {
            std::thread::park();
        }
    }
}

/// Spawns `n` rayon no-ops, each counting down one latch, then waits for the latch; the
/// time taken.
fn throughput_rayon(pool: &rayon::ThreadPool, n: usize) -> Duration {
    let t0 = Instant::now();
    let latch = Latch::new(n);
    for _ in 0..n {
        let latch = latch.clone();
        pool.spawn(move || latch.count_down());
    }
    latch.wait();
    t0.elapsed()
}

/// `n` × (spawn one rayon no-op with a latch of its own, wait for the latch); each round
/// trip. Preceded by `n / 10` unmeasured round trips, as for atasker.
fn roundtrips_rayon(pool: &rayon::ThreadPool, n: usize) -> Vec<Duration> {
    let once = || {
        let latch = Latch::new(1);
        let done = latch.clone();
        pool.spawn(move || done.count_down());
        latch.wait();
    };
    for _ in 0..n / 10 {
        once();
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        once();
        v.push(t0.elapsed());
    }
    v
}

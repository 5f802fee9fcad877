//! W1, thread tasks: (i) 100,000 no-op sync tasks on a pool of 4 threads, submitted from the
//! main thread and then each awaited in order → `throughput`; (ii) 10,000 × submit one
//! no-op task and wait for it → `roundtrip_p50`, `roundtrip_p99`.
//!
//! atasker: `#[background_task] fn noop()` on a supervisor with `thread_pool(4)` and reserves
//! 0/0, waited with `Task::wait`. Baseline: `spawn_blocking` on a tokio runtime with
//! `max_blocking_threads(4)`, waited with `Runtime::block_on` — both submitted and waited
//! from the main thread.

use crate::harness::{Collector, Config, Subject};
use crate::util::{percentile, rate, us};
use atasker::{Supervisor, Task};
use std::sync::LazyLock;
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

/// The name of the baseline subject.
const BASELINE: &str = "baseline:spawn_blocking";

/// Runs W1's repetitions.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let burst = cfg.size(100_000);
    let trips = cfg.size(10_000);
    let rt = baseline_rt();
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            // Each measured burst follows an unmeasured one a tenth its size, so that both
            // sides start from the same state whatever ran just before.
            let (name, d) = match s {
                Subject::Atasker => {
                    throughput_atasker(burst / 10);
                    ("atasker", throughput_atasker(burst))
                }
                Subject::Baseline => {
                    throughput_baseline(&rt, burst / 10);
                    (BASELINE, throughput_baseline(&rt, burst))
                }
            };
            out.add(name, "throughput", rate(burst, d), "tasks/s");
            if s == Subject::Atasker {
                // A pool of 4 should never need more than 4 threads.
                let alive = SUP.stats().pool_threads;
                if alive > 4 {
                    eprintln!("  [W1] note: {alive} pool threads alive for a pool of 4");
                }
            }
        }
        for s in cfg.order(rep) {
            let (name, mut v) = match s {
                Subject::Atasker => ("atasker", roundtrips_atasker(trips)),
                Subject::Baseline => (BASELINE, roundtrips_baseline(&rt, trips)),
            };
            v.sort_unstable();
            out.add(name, "roundtrip_p50", us(percentile(&v, 50.0)), "us");
            out.add(name, "roundtrip_p99", us(percentile(&v, 99.0)), "us");
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

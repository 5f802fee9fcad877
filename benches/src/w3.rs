//! W3, coroutine tasks: 100,000 async no-op tasks spawned from the main thread, then each
//! awaited in order → `throughput`.
//!
//! atasker: `#[background_task] async fn anoop()` on a supervisor with `runtime_threads(2)`,
//! waited with `Task::wait`. Baseline: `tokio::spawn` (`Runtime::spawn`) on a 2-worker
//! multi-thread runtime, the handles awaited inside one `Runtime::block_on`.

use crate::harness::{Collector, Config, Subject};
use crate::util::{rate, tokio_rt};
use atasker::{Supervisor, Task};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The W3 supervisor: a 2-thread runtime for coroutines.
static SUP: LazyLock<Supervisor> = LazyLock::new(|| {
    Supervisor::builder()
        .name("w3")
        .runtime_threads(2)
        .build()
        .expect("valid W3 settings")
});

/// The async no-op task.
#[atasker::background_task(supervisor = &*SUP)]
async fn anoop() {}

/// The name of the baseline subject.
pub(crate) const BASELINE: &str = "baseline:tokio_spawn";

/// Tasks each subject runs in one repetition, warm-up included (for `--instructions`).
pub(crate) fn units(cfg: &Config) -> usize {
    let n = cfg.size(100_000);
    n / 10 + n
}

/// Runs W3's repetitions.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let n = cfg.size(100_000);
    let rt = tokio_rt(2);
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            // Each measured burst follows an unmeasured one a tenth its size (as in W1).
            let (name, d) = match s {
                Subject::Atasker => {
                    throughput_atasker(n / 10);
                    ("atasker", throughput_atasker(n))
                }
                Subject::Baseline => {
                    throughput_baseline(&rt, n / 10);
                    (BASELINE, throughput_baseline(&rt, n))
                }
            };
            out.add(name, "throughput", rate(n, d), "tasks/s");
        }
    }
}

/// Spawns `n` coroutines, then waits for each; the time taken.
fn throughput_atasker(n: usize) -> Duration {
    let mut tasks: Vec<Task<()>> = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        tasks.push(anoop());
    }
    for t in tasks {
        t.wait().expect("an async no-op");
    }
    t0.elapsed()
}

/// Spawns `n` tokio tasks, then awaits each; the time taken.
fn throughput_baseline(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let mut handles = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        handles.push(rt.spawn(async {}));
    }
    rt.block_on(async {
        for h in handles {
            h.await.expect("an async no-op");
        }
    });
    t0.elapsed()
}

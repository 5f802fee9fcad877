//! W7, worker lifecycle: 1,000 × (create, start, stop, drop) an interval worker, one after
//! the other → `cycle` µs, the **mean** per cycle (total time ÷ cycles).
//!
//! atasker: `Worker::builder().interval(1 s).build(|| ())` + `start()` + `stop()` on a
//! supervisor with `runtime_threads(2)`. Baseline: spawn a task looping on a 1 s
//! `tokio::time::interval` on a 2-worker runtime, abort it and `block_on` its handle.

use crate::harness::{Collector, Config, Subject};
use crate::util::{tokio_rt, us};
use atasker::{Supervisor, Worker};
use std::time::{Duration, Instant};

/// The workers' interval (they never reach a second run).
const EVERY: Duration = Duration::from_secs(1);

/// The name of the baseline subject.
const BASELINE: &str = "baseline:tokio_abort";

/// Runs W7's repetitions.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let n = cfg.size(1_000);
    let sup = Supervisor::builder()
        .name("w7")
        .runtime_threads(2)
        .build()
        .expect("valid W7 settings");
    let rt = tokio_rt(2);
    if cfg.wants(Subject::Atasker) {
        cycles_atasker(&sup, 100);
    }
    if cfg.wants(Subject::Baseline) {
        cycles_baseline(&rt, 100);
    }
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            let (name, d) = match s {
                Subject::Atasker => ("atasker", cycles_atasker(&sup, n)),
                Subject::Baseline => (BASELINE, cycles_baseline(&rt, n)),
            };
            out.add(name, "cycle", us(d) / n as f64, "us");
        }
    }
    sup.stop();
}

/// `n` worker lifecycles; the total time.
fn cycles_atasker(sup: &Supervisor, n: usize) -> Duration {
    let t0 = Instant::now();
    for _ in 0..n {
        let w = Worker::builder()
            .name("w7")
            .supervisor(sup)
            .interval(EVERY)
            .build(|| ());
        assert!(w.start(), "W7: a fresh worker starts");
        w.stop();
    }
    t0.elapsed()
}

/// `n` × spawn + abort + await of a tokio interval task; the total time.
fn cycles_baseline(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let t0 = Instant::now();
    for _ in 0..n {
        let h = rt.spawn(async {
            let mut iv = tokio::time::interval(EVERY);
            loop {
                iv.tick().await;
                std::hint::black_box(());
            }
        });
        h.abort();
        let _ = rt.block_on(h);
    }
    t0.elapsed()
}

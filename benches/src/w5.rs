//! W5, queue worker: 200,000 integers put from the main thread, the executor sums them →
//! `throughput` items/s from the first put until the sum is complete.
//!
//! atasker: `QueueWorker::builder().build(|n: u64| …)` (a thread-pool executor, as
//! `#[background_worker(queue)] fn` makes), started before the puts, on a supervisor with
//! `runtime_threads(2)`; the coroutine executor (`build_async`) is reported too, as
//! `atasker:async`. Baseline: an unbounded `async-channel` fed with `send_blocking` and one
//! consumer task on a 2-worker tokio runtime. Every consumer adds into the same [`Sink`].

use crate::harness::{Collector, Config, Subject};
use crate::util::{rate, tokio_rt, Sink};
use atasker::{QueueWorker, Supervisor};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The name of the baseline subject.
pub(crate) const BASELINE: &str = "baseline:async_channel";

/// The atasker variant with the coroutine executor.
pub(crate) const ASYNC: &str = "atasker:async";

/// Items each subject sums in one repetition (for `--instructions`; the fixed warm-up
/// before the repetitions cancels out there).
pub(crate) fn units(cfg: &Config) -> usize {
    cfg.size(200_000)
}

/// How long one measurement may take before the run is declared stuck.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs W5's repetitions.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let n = cfg.size(200_000);
    let sup = Supervisor::builder()
        .name("w5")
        .runtime_threads(2)
        .build()
        .expect("valid W5 settings");
    let rt = tokio_rt(2);
    if cfg.wants(Subject::Atasker) && cfg.measures("atasker") {
        atasker_thread(&sup, 2_000);
    }
    if cfg.wants(Subject::Atasker) && cfg.measures(ASYNC) {
        atasker_async(&sup, 2_000);
    }
    if cfg.wants(Subject::Baseline) {
        baseline(&rt, 2_000);
    }
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            match s {
                Subject::Atasker => {
                    if cfg.measures("atasker") {
                        let d = atasker_thread(&sup, n);
                        out.add("atasker", "throughput", rate(n, d), "items/s");
                    }
                    if cfg.measures(ASYNC) {
                        let d = atasker_async(&sup, n);
                        out.add(ASYNC, "throughput", rate(n, d), "items/s");
                    }
                }
                Subject::Baseline => {
                    let d = baseline(&rt, n);
                    out.add(BASELINE, "throughput", rate(n, d), "items/s");
                }
            }
        }
    }
    sup.stop();
}

/// Puts `1..=n` into `put`, waits for `sink` to see them all; the time taken.
fn feed(n: usize, sink: &Sink, put: impl Fn(u64)) -> Duration {
    let t0 = Instant::now();
    for i in 1..=n as u64 {
        put(i);
    }
    let sum = sink.wait(LIMIT).expect("W5: the consumer took too long");
    let d = t0.elapsed();
    let n = n as u64;
    assert_eq!(sum, n * (n + 1) / 2, "W5: every item summed once");
    d
}

/// A started worker built by `build` around `sink`, fed `n` items; the time taken.
fn measure(n: usize, build: impl FnOnce(Arc<Sink>) -> QueueWorker<u64>) -> Duration {
    let sink = Arc::new(Sink::new(n as u64));
    let w = build(sink.clone());
    w.start();
    let d = feed(n, &sink, |i| w.put(i));
    w.stop();
    d
}

/// The thread-pool executor.
fn atasker_thread(sup: &Supervisor, n: usize) -> Duration {
    measure(n, |sink| {
        QueueWorker::builder()
            .name("w5")
            .supervisor(sup)
            .build(move |v: u64| sink.add(v))
    })
}

/// The coroutine executor.
fn atasker_async(sup: &Supervisor, n: usize) -> Duration {
    measure(n, |sink| {
        QueueWorker::builder()
            .name("w5-async")
            .supervisor(sup)
            .build_async(move |v: u64| {
                sink.add(v);
                std::future::ready(())
            })
    })
}

/// async-channel + one tokio consumer task.
fn baseline(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let sink = Arc::new(Sink::new(n as u64));
    let (tx, rx) = async_channel::unbounded::<u64>();
    let consumer = {
        let sink = sink.clone();
        rt.spawn(async move {
            while let Ok(v) = rx.recv().await {
                sink.add(v);
            }
        })
    };
    let d = feed(n, &sink, |i| tx.send_blocking(i).expect("an open channel"));
    drop(tx);
    rt.block_on(consumer).expect("the consumer");
    d
}

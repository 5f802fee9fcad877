//! W4, interval worker: every 10 ms for 3 s → `runs` (ideal 300), `lateness_mean`,
//! `lateness_max` (ms) of each run against the ideal schedule `start + k · 10 ms`.
//!
//! `start` is the instant just before `Worker::start` (or the baseline's spawn); run `k` is
//! the `k`-th executor call, timestamped on entry; runs from `start + 3 s` on are not counted.
//!
//! atasker: `Worker::builder().interval(10 ms).build(…)` (a thread-pool executor, as
//! `#[background_worker(interval = 0.01)] fn` makes) on a supervisor with `runtime_threads(2)`.
//! Baseline: a task on a 2-worker tokio runtime looping on `tokio::time::interval(10 ms)`
//! with `MissedTickBehavior::Burst`.

use crate::harness::{Collector, Config, Subject};
use crate::util::{ms, sleep_until, tokio_rt};
use atasker::{Supervisor, Worker};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The interval.
const EVERY: Duration = Duration::from_millis(10);

/// The name of the baseline subject.
const BASELINE: &str = "baseline:tokio_interval";

/// Runs W4's repetitions.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let span = cfg.pick(Duration::from_secs(3), Duration::from_millis(300));
    let sup = Supervisor::builder()
        .name("w4")
        .runtime_threads(2)
        .build()
        .expect("valid W4 settings");
    let rt = tokio_rt(2);
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            let (name, Runs { times, start }) = match s {
                Subject::Atasker => ("atasker", atasker_runs(&sup, span)),
                Subject::Baseline => (BASELINE, baseline_runs(&rt, span)),
            };
            let (runs, mean, max) = lateness(&times, start, span);
            out.add(name, "runs", runs as f64, "count");
            out.add(name, "lateness_mean", mean, "ms");
            out.add(name, "lateness_max", max, "ms");
        }
    }
    sup.stop();
}

/// One measurement: the run timestamps and the instant the schedule starts from.
struct Runs {
    /// When each run began.
    times: Vec<Instant>,
    /// Just before the worker was started.
    start: Instant,
}

/// A place for the executor to timestamp its runs.
type Log = Arc<Mutex<Vec<Instant>>>;

/// A log with room for the expected runs.
fn log(span: Duration) -> Log {
    let expected = (span.as_millis() / EVERY.as_millis()) as usize;
    Arc::new(Mutex::new(Vec::with_capacity(expected * 2 + 16)))
}

/// Runs an atasker interval worker for `span`; its run timestamps.
fn atasker_runs(sup: &Supervisor, span: Duration) -> Runs {
    let times = log(span);
    let w = {
        let times = times.clone();
        Worker::builder()
            .name("w4")
            .supervisor(sup)
            .interval(EVERY)
            .build(move || times.lock().unwrap().push(Instant::now()))
    };
    let start = Instant::now();
    w.start();
    sleep_until(start + span);
    w.stop();
    let times = std::mem::take(&mut *times.lock().unwrap());
    Runs { times, start }
}

/// Runs a tokio interval task (burst catch-up) for `span`; its tick timestamps.
fn baseline_runs(rt: &tokio::runtime::Runtime, span: Duration) -> Runs {
    let times = log(span);
    let start = Instant::now();
    let h = {
        let times = times.clone();
        rt.spawn(async move {
            let mut iv = tokio::time::interval(EVERY);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            loop {
                iv.tick().await;
                times.lock().unwrap().push(Instant::now());
            }
        })
    };
    sleep_until(start + span);
    h.abort();
    let _ = rt.block_on(h);
    let times = std::mem::take(&mut *times.lock().unwrap());
    Runs { times, start }
}

/// `(runs, mean lateness ms, max lateness ms)` of the runs before `start + span`, run `k`
/// against `start + k · EVERY`.
fn lateness(times: &[Instant], start: Instant, span: Duration) -> (usize, f64, f64) {
    let end = start + span;
    let late: Vec<f64> = times
        .iter()
        .take_while(|&&t| t < end)
        .enumerate()
        .map(|(k, &t)| ms(t.saturating_duration_since(start + EVERY * k as u32)))
        .collect();
    if late.is_empty() {
        return (0, f64::NAN, f64::NAN);
    }
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    let max = late.iter().copied().fold(0.0, f64::max);
    (late.len(), mean, max)
}

//! W6, idle footprint: 100 interval workers at 1 s, then 5 s idle → `rss` MiB (the process
//! and its descendants, at the end) and `cpu` seconds used in those 5 s.
//!
//! Each subject is measured in a fresh child process (this binary, re-executed with
//! `ATASKER_BENCH_CHILD=w6-atasker` or `w6-baseline`), so that the figures do not mix with
//! each other or with the other workloads. The child starts its 100 workers, lets the first
//! runs settle for [`SETTLE`], measures CPU over the idle window (per-thread `schedstat`,
//! nanosecond precision) and prints `rss_kib cpu_seconds` on stdout.
//!
//! atasker: 100 `Worker::builder().interval(1 s).build(|| ())` (thread-pool executors, as
//! `#[background_worker(interval = 1)] fn` makes) on the global supervisor with its default
//! settings. Baseline: 100 tasks on a default multi-thread tokio runtime (one worker per
//! core, like the supervisor's), each looping on a 1 s `tokio::time::interval`.

use crate::harness::{Collector, Config, Subject};
use crate::util::{rss_kib_tree, CpuClock};
use atasker::Worker;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

/// Workers per child.
const WORKERS: usize = 100;

/// Their interval.
const EVERY: Duration = Duration::from_secs(1);

/// Time after starting the workers before the idle window opens (their first runs, which
/// start threads, are set-up, not idling).
const SETTLE: Duration = Duration::from_millis(250);

/// The name of the baseline subject.
const BASELINE: &str = "baseline:tokio_interval";

/// Runs W6's repetitions (two child processes each).
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let idle = cfg.pick(Duration::from_secs(5), Duration::from_millis(500));
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            let (name, kind) = match s {
                Subject::Atasker => ("atasker", "w6-atasker"),
                Subject::Baseline => (BASELINE, "w6-baseline"),
            };
            let (rss_kib, cpu) = measure(kind, idle);
            out.add(name, "rss", rss_kib / 1024.0, "MiB");
            out.add(name, "cpu", cpu, "s");
        }
    }
}

/// Runs one child of `kind` for `idle`; `(rss KiB, cpu s)`.
fn measure(kind: &str, idle: Duration) -> (f64, f64) {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let output = Command::new(exe)
        .env(crate::CHILD_ENV, kind)
        .env("ATASKER_BENCH_IDLE_MS", idle.as_millis().to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("a W6 child");
    let text = String::from_utf8_lossy(&output.stdout);
    let parsed = text
        .split_whitespace()
        .map(str::parse::<f64>)
        .collect::<Result<Vec<_>, _>>();
    match parsed.as_deref() {
        Ok([rss, cpu]) if output.status.success() => (*rss, *cpu),
        _ => panic!("W6 child {kind} failed ({}): {text:?}", output.status),
    }
}

/// The child's side: `which` is `atasker` or `baseline`.
pub(crate) fn child(which: &str) -> ExitCode {
    let idle = std::env::var("ATASKER_BENCH_IDLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_millis);
    let (rss, cpu) = match which {
        "atasker" => {
            let workers: Vec<Worker> = (0..WORKERS)
                .map(|i| {
                    Worker::builder()
                        .name(format!("idle-{i}"))
                        .interval(EVERY)
                        .build(|| ())
                })
                .collect();
            for w in &workers {
                w.start();
            }
            let m = window(idle);
            drop(workers);
            m
        }
        "baseline" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_time()
                .build()
                .expect("a tokio runtime");
            for _ in 0..WORKERS {
                rt.spawn(async {
                    let mut iv = tokio::time::interval(EVERY);
                    loop {
                        iv.tick().await;
                        std::hint::black_box(());
                    }
                });
            }
            window(idle)
        }
        _ => {
            eprintln!("W6: unknown child {which}");
            return ExitCode::from(2);
        }
    };
    println!("{rss} {cpu}");
    ExitCode::SUCCESS
}

/// Settles, then idles for `idle`; `(rss KiB at the end, cpu seconds in the window)`.
fn window(idle: Duration) -> (u64, f64) {
    std::thread::sleep(SETTLE);
    let clock = CpuClock::start();
    std::thread::sleep(idle);
    let cpu = clock.secs();
    (rss_kib_tree(), cpu)
}

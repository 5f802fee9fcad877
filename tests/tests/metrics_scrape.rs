//! With the `metrics` feature, every counter is exported through the `metrics` facade: a
//! Prometheus exporter scraped over HTTP shows the names, labels and values `stats()` shows.
//! Run with `cargo test -p atasker-tests --features metrics`.
#![cfg(feature = "metrics")]

mod common;
mod metrics_common;

use atasker::prelude::*;
use common::wait_until;
use metrics_common::{install_and_serve, scrape, value};
use std::time::Duration;

#[background_task(static)]
fn square(n: u64) -> u64 {
    n * n
}

#[test]
fn a_scrape_matches_stats() {
    let addr = install_and_serve();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("scraped")
            .thread_pool(2)
            .process_pool(1)
            .build()
            .unwrap(),
    ));
    for _ in 0..5 {
        sup.task().name("m::ok").spawn(|| ()).wait().unwrap();
    }
    for _ in 0..2 {
        let t = sup
            .task()
            .name("m::bad")
            .priority(Priority::High)
            .spawn(|| -> u8 { panic!("no") });
        assert!(t.wait().is_err());
    }
    let slow = sup
        .task()
        .name("m::slow")
        .timeout(Duration::from_millis(10))
        .spawn_async(async { tokio::time::sleep(Duration::from_secs(60)).await });
    assert_eq!(slow.wait(), Err(TaskError::TimedOut));
    let w = Worker::builder()
        .name("m::pump")
        .supervisor(sup)
        .interval(Duration::from_millis(20))
        .build(|| Err::<(), _>("jammed"));
    assert!(w.start());
    wait_until("three runs", || w.stats().runs >= 3);
    w.stop();
    // A task run three times: three runs, two retries.
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = runs.clone();
    let retried = (sup.task().name("m::flaky").retries(2))
        .backoff(Duration::from_millis(1))
        .spawn(
            move || match seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 | 1 => Err("busy"),
                n => Ok(n),
            },
        );
    assert_eq!(retried.wait(), Ok(Ok(2)));
    // A static task in the global supervisor's process pool.
    assert_eq!(square(7).wait(), Ok(49));

    let stats = sup.stats();
    let m = scrape(addr);
    let total = |task: &str, pool: &str, priority: &str, outcome: &str| {
        value(
            &m,
            "atasker_tasks_total",
            &[
                ("supervisor", "scraped"),
                ("outcome", outcome),
                ("pool", pool),
                ("priority", priority),
                ("task", task),
            ],
        )
    };
    assert_eq!(
        total("m::ok", "threads", "normal", "completed"),
        Some(stats.tasks["m::ok"].completed as f64)
    );
    assert_eq!(total("m::ok", "threads", "normal", "completed"), Some(5.0));
    assert_eq!(total("m::bad", "threads", "high", "failed"), Some(2.0));
    assert_eq!(
        total("m::slow", "coroutines", "normal", "timed_out"),
        Some(1.0)
    );
    let submitted = value(
        &m,
        "atasker_tasks_submitted_total",
        &[
            ("supervisor", "scraped"),
            ("pool", "threads"),
            ("priority", "normal"),
            ("task", "m::ok"),
        ],
    );
    assert_eq!(submitted, Some(5.0));
    let retries = value(
        &m,
        "atasker_tasks_retried_total",
        &[
            ("supervisor", "scraped"),
            ("pool", "threads"),
            ("priority", "normal"),
            ("task", "m::flaky"),
        ],
    );
    assert_eq!(retries, Some(stats.tasks["m::flaky"].retried as f64));
    assert_eq!(retries, Some(2.0));
    // Durations are histograms (with buckets), counted once per task that ran.
    let runs = value(
        &m,
        "atasker_task_duration_seconds_count",
        &[
            ("supervisor", "scraped"),
            ("pool", "threads"),
            ("priority", "normal"),
            ("task", "m::ok"),
        ],
    );
    assert_eq!(runs, Some(5.0));
    let bucket = value(
        &m,
        "atasker_task_duration_seconds_bucket",
        &[
            ("supervisor", "scraped"),
            ("le", "+Inf"),
            ("pool", "threads"),
            ("priority", "normal"),
            ("task", "m::ok"),
        ],
    );
    assert_eq!(bucket, Some(5.0));
    assert!(value(
        &m,
        "atasker_queue_wait_seconds_count",
        &[
            ("supervisor", "scraped"),
            ("pool", "threads"),
            ("priority", "normal")
        ]
    )
    .is_some());
    // Gauges: nothing runs or waits now, as `stats()` says.
    assert_eq!(stats.threads.normal.running, 0);
    assert_eq!(
        value(
            &m,
            "atasker_tasks_running",
            &[
                ("supervisor", "scraped"),
                ("pool", "threads"),
                ("priority", "normal")
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &m,
            "atasker_tasks_queued",
            &[
                ("supervisor", "scraped"),
                ("pool", "threads"),
                ("priority", "normal")
            ]
        ),
        Some(0.0)
    );
    // Workers.
    let pump = stats.workers.iter().find(|w| w.name == "m::pump").unwrap();
    assert_eq!(
        value(
            &m,
            "atasker_worker_runs_total",
            &[
                ("supervisor", "scraped"),
                ("outcome", "error"),
                ("worker", "m::pump")
            ]
        ),
        Some(pump.errors as f64)
    );
    assert!(
        value(
            &m,
            "atasker_worker_run_duration_seconds_count",
            &[("supervisor", "scraped"), ("worker", "m::pump")]
        )
        .unwrap()
            >= 3.0
    );
    // Processes.
    assert!(
        value(
            &m,
            "atasker_worker_processes_started_total",
            &[("supervisor", "default")]
        )
        .unwrap()
            >= 1.0
    );
    // Labels are bounded: no task id anywhere.
    assert!(m.keys().all(|(_, labels)| !labels.contains_key("id")));
    sup.stop();
}

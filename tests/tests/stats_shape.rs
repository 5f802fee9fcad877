//! The shape of `stats()` as JSON is stable: durations as seconds (`f64`), instants as seconds
//! since the Unix epoch, per-task-name counters, and per-worker schedule fields. This test
//! pins every key, so that a change to the shape is a deliberate one.

mod common;

use atasker::{Supervisor, TaskError, Worker};
use common::{wait_until, SOON};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

#[test]
fn the_stats_json_has_a_stable_shape() {
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("shape")
            .thread_pool(2)
            .build()
            .unwrap(),
    ));
    for _ in 0..2 {
        let t = sup
            .task()
            .name("app::resize")
            .spawn(|| std::thread::sleep(Duration::from_millis(5)));
        t.wait().unwrap();
    }
    let boom = sup
        .task()
        .name("app::boom")
        .spawn(|| -> u8 { panic!("boom") });
    assert!(matches!(boom.wait(), Err(TaskError::Panicked { .. })));
    let slow = sup
        .task()
        .name("app::slow")
        .timeout(Duration::from_millis(20))
        .spawn_async(async { tokio::time::sleep(Duration::from_secs(60)).await });
    assert_eq!(slow.wait(), Err(TaskError::TimedOut));
    let tick = Worker::builder()
        .name("tick")
        .supervisor(sup)
        .interval(Duration::from_secs(3600))
        .build(|| ());
    assert!(tick.start());
    wait_until("the first tick", || tick.stats().runs == 1);
    wait_until("the next tick is scheduled", || {
        tick.stats().next_run_at.is_some()
    });

    let json = serde_json::to_value(sup.stats()).unwrap();
    println!("{}", serde_json::to_string_pretty(&json).unwrap());
    assert_eq!(
        keys(&json),
        set(&[
            "threads",
            "processes",
            "coroutines",
            "remote",
            "node",
            "pool_threads",
            "tasks",
            "workers"
        ])
    );
    // Not a node (no `serve_cluster`): `node` is null, not left out.
    assert!(json["node"].is_null());
    let priority = set(&[
        "submitted",
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
        "retried",
        "max_wait",
    ]);
    for pool in ["threads", "processes", "coroutines", "remote"] {
        assert_eq!(
            keys(&json[pool]),
            set(&["low", "normal", "high", "critical"])
        );
        for p in ["low", "normal", "high", "critical"] {
            assert_eq!(keys(&json[pool][p]), priority, "{pool}.{p}");
            assert!(json[pool][p]["max_wait"].is_f64(), "durations are seconds");
        }
    }
    // Two `resize` runs and the worker's run (a worker's runs are tasks of its pool).
    assert_eq!(json["threads"]["normal"]["completed"], 3);
    assert_eq!(json["threads"]["normal"]["failed"], 1);

    // Per task name.
    assert_eq!(
        keys(&json["tasks"]),
        set(&["app::resize", "app::boom", "app::slow", "worker run"])
    );
    let task = set(&[
        "completed",
        "failed",
        "timed_out",
        "cancelled",
        "retried",
        "mean_duration",
        "max_duration",
        "mean_wait",
        "max_wait",
    ]);
    for name in ["app::resize", "app::boom", "app::slow"] {
        assert_eq!(keys(&json["tasks"][name]), task, "{name}");
    }
    let resize = &json["tasks"]["app::resize"];
    assert_eq!(
        (resize["completed"].as_u64(), resize["failed"].as_u64()),
        (Some(2), Some(0))
    );
    let mean = resize["mean_duration"].as_f64().unwrap();
    assert!(
        (0.004..SOON.as_secs_f64()).contains(&mean),
        "mean of two 5 ms runs: {mean}"
    );
    assert!(resize["max_duration"].as_f64().unwrap() >= mean);
    assert_eq!(json["tasks"]["app::boom"]["failed"], 1);
    assert_eq!(json["tasks"]["app::slow"]["timed_out"], 1);
    assert_eq!(json["tasks"]["app::slow"]["failed"], 0);

    // Per worker.
    let w = &json["workers"][0];
    assert_eq!(
        keys(w),
        set(&[
            "name",
            "kind",
            "state",
            "runs",
            "errors",
            "last_duration",
            "last_run_at",
            "next_run_at",
            "missed",
        ])
    );
    assert_eq!(
        (w["name"].as_str(), w["kind"].as_str()),
        (Some("tick"), Some("interval"))
    );
    assert!(w["last_duration"].is_f64());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = w["last_run_at"].as_f64().unwrap();
    let next = w["next_run_at"].as_f64().unwrap();
    assert!(
        (now - 60.0..=now).contains(&last),
        "last_run_at {last}, now {now}"
    );
    assert!(
        (last + 3000.0..last + 3700.0).contains(&next),
        "next tick in an hour: {next}"
    );
    assert_eq!(w["missed"], 0);

    tick.stop();
    let w = serde_json::to_value(tick.stats()).unwrap();
    assert!(
        w["next_run_at"].is_null(),
        "a stopped worker has no next run"
    );
    sup.stop();
}

#[test]
fn an_overrun_counts_the_ticks_it_missed() {
    let sup = common::supervisor("missed", 2, 0, 0);
    let first = std::sync::atomic::AtomicBool::new(true);
    let w = Worker::builder()
        .supervisor(sup)
        .interval(Duration::from_millis(100))
        .build(move || {
            if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(550));
            }
        });
    assert!(w.start());
    wait_until("two runs", || w.stats().runs >= 2);
    // The first run lasted at least 550 ms: the ticks at 100..500 ms had no run of their own.
    let missed = w.stats().missed;
    assert!(missed >= 4, "missed {missed}");
    w.stop();

    let calm = Worker::builder()
        .supervisor(sup)
        .interval(Duration::from_secs(1))
        .build(|| ());
    assert!(calm.start());
    wait_until("a run", || calm.stats().runs >= 1);
    assert_eq!(
        calm.stats().missed,
        0,
        "runs that fit their interval miss nothing"
    );
    calm.stop();
}

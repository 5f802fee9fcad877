//! Task handles: results, panics, cancel, timeouts, waiting.

mod common;

use atasker::{Priority, Supervisor, TaskError};
use common::{supervisor, wait_until, Gate, QUIET, SOON};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn cancel_a_queued_task() {
    let sup = supervisor("cancel", 1, 0, 0);
    let gate = Gate::new();
    let g = gate.clone();
    let running = sup.task().spawn(move || g.wait());
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let queued = sup.task().spawn(move || r.store(true, Ordering::SeqCst));
    std::thread::sleep(QUIET);
    assert!(queued.cancel(), "a queued task can be cancelled");
    assert!(!queued.cancel(), "only once");
    assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    assert!(
        !running.cancel(),
        "a running thread task cannot be interrupted"
    );
    gate.open();
    running.wait().unwrap();
    // The pool goes on; the cancelled task never runs.
    sup.task().spawn(|| ()).wait().unwrap();
    assert!(!ran.load(Ordering::SeqCst));
    let s = sup.stats().threads.normal;
    assert_eq!(
        (s.cancelled, s.completed, s.queued, s.running),
        (1, 2, 0, 0)
    );
}

#[test]
fn cancel_a_delayed_task() {
    let sup = supervisor("cancel-delay", 1, 0, 0);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    // The cancel must come before the delay ends: a delay of seconds, not milliseconds.
    let t = sup
        .task()
        .delay(Duration::from_secs(1))
        .spawn(move || r.store(true, Ordering::SeqCst));
    assert!(t.cancel());
    // Past the moment it would have started: it never runs.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
}

#[test]
fn cancel_a_running_coroutine() {
    let sup = supervisor("cancel-co", 1, 0, 0);
    let t = sup.task().spawn_async(async {
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    std::thread::sleep(QUIET);
    let start = Instant::now();
    assert!(t.cancel());
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(sup.stats().coroutines.normal.cancelled, 1);
}

#[test]
fn a_panic_is_reported_and_the_pool_survives() {
    let sup = supervisor("panic", 1, 0, 0);
    for i in 0..20 {
        let t = sup.task().spawn(move || -> u32 { panic!("boom {i}") });
        assert_eq!(
            t.wait(),
            Err(TaskError::Panicked {
                message: format!("boom {i}")
            })
        );
    }
    assert_eq!(sup.task().spawn(|| 5).wait(), Ok(5));
    let t = sup.task().spawn_async(async { panic!("async boom") });
    assert_eq!(
        t.wait(),
        Err(TaskError::Panicked {
            message: "async boom".into()
        })
    );
    assert_eq!(sup.task().spawn_async(async { 6 }).wait(), Ok(6));
    assert_eq!(sup.stats().threads.normal.failed, 20);
    assert_eq!(sup.stats().pool_threads, 1);
}

#[test]
fn wait_timeout_returns_none_until_done() {
    let gate = Gate::new();
    let g = gate.clone();
    let mut t = atasker::spawn(move || {
        g.wait();
        3
    });
    assert_eq!(t.wait_timeout(Duration::from_millis(50)), None);
    assert!(!t.is_finished());
    gate.open();
    assert_eq!(t.wait_timeout(SOON), Some(Ok(3)));
    assert!(t.is_finished());
    assert_eq!(t.wait_timeout(SOON), Some(Err(TaskError::Consumed)));
}

/// A plain coroutine (no delay, no deadline) keeps its result in tokio's task: its handle
/// waits, times out, reports `Consumed` and counts exactly as a cell's does.
#[test]
fn a_plain_coroutine_handle_waits_times_out_and_counts() {
    let sup = supervisor("plain-coroutine", 1, 0, 0);
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let mut t = sup.task().name("plain").spawn_async(async move {
        gate.await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        4
    });
    assert_eq!(t.wait_timeout(Duration::from_millis(50)), None);
    assert!(!t.is_finished());
    assert_eq!(sup.stats().coroutines.normal.running, 1);
    go.send(()).unwrap();
    assert_eq!(t.wait_timeout(SOON), Some(Ok(4)));
    assert!(t.is_finished());
    assert!(!t.cancel(), "a finished coroutine cannot be cancelled");
    assert_eq!(t.wait_timeout(SOON), Some(Err(TaskError::Consumed)));
    let failed = sup.task().name("plain").spawn_async(async {
        panic!("no");
    });
    assert!(matches!(failed.wait(), Err(TaskError::Panicked { .. })));
    let s = sup.stats();
    let c = s.coroutines.normal;
    assert_eq!(
        (c.submitted, c.completed, c.failed, c.running),
        (2, 1, 1, 0)
    );
    let by_name = &s.tasks["plain"];
    assert_eq!((by_name.completed, by_name.failed), (1, 1));
    assert!(
        by_name.max_duration >= Duration::from_millis(20),
        "{by_name:?}"
    );
    // Awaited from async code, the same handle.
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(sup.task().spawn_async(async { 5 })), Ok(5));
}

#[test]
fn wait_completed_keeps_input_order() {
    let tasks: Vec<_> = [300u64, 10, 150, 0]
        .into_iter()
        .map(|ms| {
            atasker::spawn(move || {
                std::thread::sleep(Duration::from_millis(ms));
                ms
            })
        })
        .collect();
    assert_eq!(
        atasker::wait_completed(tasks, Some(SOON)),
        Ok(vec![300, 10, 150, 0])
    );
}

#[test]
fn wait_completed_times_out() {
    let gate = Gate::new();
    let g = gate.clone();
    let tasks = vec![
        atasker::spawn(|| 1),
        atasker::spawn(move || {
            g.wait();
            2
        }),
    ];
    let start = Instant::now();
    assert_eq!(
        atasker::wait_completed(tasks, Some(Duration::from_millis(100))),
        Err(TaskError::TimedOut)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    gate.open();
}

#[test]
fn wait_completed_reports_the_first_error() {
    let tasks = vec![
        atasker::spawn(|| 1),
        atasker::spawn(|| -> i32 { panic!("second") }),
    ];
    assert_eq!(
        atasker::wait_completed(tasks, None),
        Err(TaskError::Panicked {
            message: "second".into()
        })
    );
}

#[test]
fn timeouts_count_from_the_start() {
    let sup = supervisor("timeout", 1, 0, 0);
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().spawn(move || g.wait());
    // Queued for longer than its deadline, then runs at once: not timed out. (The margin
    // between the run and the deadline is seconds, so a slow machine cannot fail it.)
    let t = sup.task().timeout(Duration::from_secs(2)).spawn(|| ());
    std::thread::sleep(Duration::from_millis(2500));
    gate.open();
    blocker.wait().unwrap();
    assert_eq!(t.wait(), Ok(()));

    // Reported at the deadline, while the task still runs: it cannot end before its gate
    // opens, and the gate opens only after the report.
    let start = Instant::now();
    let gate = Gate::new();
    let g = gate.clone();
    let slow = sup
        .task()
        .timeout(Duration::from_millis(100))
        .spawn(move || g.wait());
    assert_eq!(slow.wait(), Err(TaskError::TimedOut));
    assert!(
        start.elapsed() < SOON,
        "reported at the deadline, not at the end: {:?}",
        start.elapsed()
    );
    gate.open();

    let co = sup
        .task()
        .timeout(Duration::from_millis(100))
        .spawn_async(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
    assert_eq!(co.wait(), Err(TaskError::TimedOut));
    assert_eq!(sup.stats().coroutines.normal.failed, 1);
}

#[test]
fn tasks_run_on_named_pool_threads() {
    let sup = supervisor("plant", 2, 0, 0);
    let name = sup
        .task()
        .spawn(|| std::thread::current().name().unwrap().to_owned())
        .wait()
        .unwrap();
    assert!(name.starts_with("atasker-plant-"), "{name}");
}

#[test]
fn queue_wait_hooks_fire_while_the_task_waits() {
    // Seconds apart, so that "the warning fired, the critical hook not yet" holds on a slow
    // machine too.
    const WARN: Duration = Duration::from_millis(500);
    const CRIT: Duration = Duration::from_millis(2500);
    // What the hooks saw, checked here: a failed assert inside a hook would be caught by
    // the supervisor (a hook's panic never takes the watchdog down), not fail the test.
    let warned: Arc<Mutex<Vec<(&'static str, Duration)>>> = Arc::default();
    let critical: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (w, c) = (warned.clone(), critical.clone());
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("hooks")
            .thread_pool(1)
            .reserve_normal(0)
            .reserve_high(0)
            .timeout_warning(WARN)
            .timeout_critical(CRIT)
            .on_timeout_warning(move |t| w.lock().unwrap().push((t.name, t.waited)))
            .on_timeout_critical(move |t| c.lock().unwrap().push(t.waited))
            .build()
            .unwrap(),
    ));
    let warnings = || warned.lock().unwrap().len();
    let criticals = || critical.lock().unwrap().len();
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().spawn(move || g.wait());
    let queued = sup
        .task()
        .name("waiter")
        .priority(Priority::Low)
        .spawn(|| ());
    wait_until("the warning hook fires", || warnings() == 1);
    assert_eq!(criticals(), 0, "the critical hook waits for its own limit");
    wait_until("the critical hook fires", || criticals() == 1);
    std::thread::sleep(QUIET);
    assert_eq!(warnings(), 1, "once");
    assert_eq!(criticals(), 1, "once");
    let (name, waited) = warned.lock().unwrap()[0];
    assert_eq!(name, "waiter");
    assert!(waited >= WARN, "{waited:?}");
    let waited = critical.lock().unwrap()[0];
    assert!(waited >= CRIT, "{waited:?}");
    gate.open();
    blocker.wait().unwrap();
    queued.wait().unwrap();
    assert!(sup.stats().threads.low.max_wait >= CRIT);
    // A task that never waits fires nothing. (A CRITICAL task: it starts at once whatever
    // the pool does, even if the slot of the task just finished is not released yet.)
    sup.task()
        .priority(Priority::Critical)
        .spawn(|| ())
        .wait()
        .unwrap();
    std::thread::sleep(WARN + Duration::from_millis(300));
    assert_eq!(warnings(), 1);
}

#[test]
fn stats_count_every_outcome() {
    let sup = supervisor("stats", 1, 0, 0);
    sup.task().spawn(|| ()).wait().unwrap();
    sup.task()
        .priority(Priority::High)
        .spawn(|| panic!("x"))
        .wait()
        .unwrap_err();
    let t = sup.task().delay(SOON).priority(Priority::Low).spawn(|| ());
    let s = sup.stats().threads;
    assert_eq!(s.low.queued, 1);
    t.cancel();
    sup.task().spawn_async(async {}).wait().unwrap();
    let s = sup.stats();
    assert_eq!(
        (s.threads.normal.submitted, s.threads.normal.completed),
        (1, 1)
    );
    assert_eq!((s.threads.high.submitted, s.threads.high.failed), (1, 1));
    assert_eq!(
        (
            s.threads.low.submitted,
            s.threads.low.cancelled,
            s.threads.low.queued
        ),
        (1, 1, 0)
    );
    assert_eq!(s.coroutines.normal.completed, 1);
    let json = serde_json::to_value(&s).unwrap();
    for key in [
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
        "max_wait",
    ] {
        assert!(
            json["threads"]["normal"].get(key).is_some(),
            "{key} missing in {json}"
        );
    }
}

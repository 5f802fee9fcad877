//! `#[background_task(static)]` and `#[background_worker(static)]`: the real
//! macros, run through the process pool. A child process cannot touch the
//! test's memory, so what the executors do is observed through their results,
//! the workers' stats and the `on_error` hook (which runs in the parent).

mod common;

use atasker::prelude::*;
use common::wait_until;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The supervisor of most tests here: a process pool of 4.
fn plant() -> &'static Supervisor {
    static PLANT: OnceLock<Supervisor> = OnceLock::new();
    PLANT.get_or_init(|| {
        Supervisor::builder()
            .name("macro")
            .process_pool(4)
            .build()
            .unwrap()
    })
}

/// A process pool of one, without reserves: only CRITICAL starts while it is
/// busy, so the order of the queued tasks shows their priorities.
fn ladder() -> &'static Supervisor {
    static LADDER: OnceLock<Supervisor> = OnceLock::new();
    LADDER.get_or_init(|| {
        Supervisor::builder()
            .name("macro-ladder")
            .process_pool(1)
            .build()
            .unwrap()
    })
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

// ---- tasks ----

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Order {
    id: u64,
    items: Vec<String>,
    note: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Receipt {
    order: Order,
    total: usize,
    pid: u32,
}

/// Adds up an order in another process.
#[background_task(static, supervisor = plant())]
fn bill(order: Order, (price, times): (usize, usize)) -> Receipt {
    let total = order.items.len() * price * times;
    Receipt {
        order,
        total,
        pid: std::process::id(),
    }
}

#[background_task(static, supervisor = plant())]
fn child_pid() -> u32 {
    std::process::id()
}

#[background_task(static, supervisor = plant())]
fn boom(n: u32) -> u32 {
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[background_task(static, timeout = 0.2, supervisor = plant())]
fn sleepy() -> u32 {
    std::thread::sleep(Duration::from_secs(30));
    1
}

/// Holds the only slot of `ladder()` until the file `gate` exists.
#[background_task(static, priority = Priority::Critical, supervisor = ladder())]
fn hold(gate: String) -> u128 {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::path::Path::new(&gate).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    now_nanos()
}

#[background_task(static, priority = Priority::Low, supervisor = ladder())]
fn low() -> u128 {
    now_nanos()
}

#[background_task(static, priority = Priority::High, supervisor = ladder())]
fn high() -> u128 {
    now_nanos()
}

#[test]
fn a_static_task_round_trips_its_arguments_and_result() {
    let order = Order {
        id: 7,
        items: vec!["bolt".into(), "nut".into(), "washer".into()],
        note: Some("fragile".into()),
    };
    let receipt = bill(order.clone(), (5, 2)).wait().unwrap();
    assert_eq!(receipt.order, order);
    assert_eq!(receipt.total, 3 * 5 * 2);
    assert_ne!(receipt.pid, std::process::id(), "it ran in another process");
}

#[test]
fn a_static_task_without_arguments() {
    let pid = child_pid().wait().unwrap();
    assert_ne!(pid, std::process::id());
}

#[tokio::test]
async fn a_static_task_is_a_future() {
    let order = Order {
        id: 1,
        items: vec!["gear".into()],
        note: None,
    };
    let receipt = bill(order, (3, 1)).await.unwrap();
    assert_eq!(receipt.total, 3);
}

#[test]
fn a_panic_in_a_static_task_is_reported() {
    match boom(3).wait() {
        Err(TaskError::Panicked { message, .. }) => {
            assert!(message.contains("boom 3"), "{message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    // The pool serves on.
    assert_eq!(boom(0).wait(), Ok(0));
}

#[test]
fn a_static_task_past_its_timeout_is_killed() {
    let started = Instant::now();
    assert_eq!(sleepy().wait(), Err(TaskError::TimedOut));
    // Far below the 30 s sleep, far above what a busy machine needs to start a child.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the deadline did not cut the 30 s sleep short: {:?}",
        started.elapsed()
    );
    // A fresh child takes over.
    assert_ne!(child_pid().wait().unwrap(), std::process::id());
}

#[test]
fn the_priority_option_orders_queued_static_tasks() {
    let gate = std::env::temp_dir().join(format!("atasker-macro-gate-{}", std::process::id()));
    let _ = std::fs::remove_file(&gate);
    let held = hold(gate.to_str().unwrap().to_owned());
    wait_until("the hold task runs", || {
        ladder().stats().processes.critical.running == 1
    });
    // Queued behind the running CRITICAL task: LOW first, HIGH second.
    let low = low();
    wait_until("the low task is queued", || {
        ladder().stats().processes.low.queued == 1
    });
    let high = high();
    wait_until("the high task is queued", || {
        ladder().stats().processes.high.queued == 1
    });
    std::fs::write(&gate, b"open").unwrap();
    let held_until = held.wait().unwrap();
    let high_at = high.wait().unwrap();
    let low_at = low.wait().unwrap();
    assert!(held_until <= high_at, "HIGH started before the slot freed");
    assert!(high_at < low_at, "HIGH started after LOW");
    let stats = ladder().stats().processes;
    assert_eq!(stats.critical.completed, 1);
    assert_eq!(stats.high.completed, 1);
    assert_eq!(stats.low.completed, 1);
    assert_eq!(stats.normal.submitted, 0);
    let _ = std::fs::remove_file(&gate);
}

// ---- workers ----

/// Counts the runs of `tick` — in the memory of the process that runs it.
static TICKS_HERE: AtomicU64 = AtomicU64::new(0);

#[background_worker(interval = 0.02, static, supervisor = plant())]
fn tick() -> bool {
    TICKS_HERE.fetch_add(1, SeqCst);
    true
}

#[test]
fn a_static_interval_worker_runs_in_the_process_pool() {
    assert_eq!(tick.name(), "tick");
    assert!(tick.start());
    wait_until("three runs", || tick.stats().runs >= 3);
    tick.stop();
    assert!(!tick.is_active());
    assert_eq!(tick.stats().errors, 0);
    assert_eq!(
        TICKS_HERE.load(SeqCst),
        0,
        "the executor ran in another process"
    );
}

#[background_worker(static, supervisor = plant())]
fn once() -> bool {
    false
}

#[test]
fn a_static_loop_worker_stops_itself() {
    assert!(once.start());
    wait_until("the worker stops itself", || !once.is_active());
    assert_eq!(once.stats().runs, 1);
}

#[background_worker(delay = 0.01, delay_before = 0.01, static, supervisor = plant())]
fn poll() -> Result<(), String> {
    Ok(())
}

#[test]
fn a_static_delay_worker_runs_again_after_its_delay() {
    assert!(poll.start());
    wait_until("two runs", || poll.stats().runs >= 2);
    poll.stop();
    assert_eq!(poll.stats().errors, 0);
}

static RING_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_ring(error: &WorkerError) {
    RING_ERRORS.lock().unwrap().push(error.to_string());
}

#[background_worker(event, static, supervisor = plant(), on_error = record_ring)]
fn ring() -> Result<bool, String> {
    Err(format!("rang in {}", std::process::id()))
}

#[test]
fn a_static_event_worker_runs_once_per_trigger() {
    assert!(ring.start());
    ring.trigger();
    wait_until("one run", || ring.stats().runs == 1);
    ring.trigger();
    wait_until("two runs", || ring.stats().runs == 2);
    wait_until("two errors", || RING_ERRORS.lock().unwrap().len() == 2);
    ring.stop();
    let errors = RING_ERRORS.lock().unwrap().clone();
    let here = format!("rang in {}", std::process::id());
    assert!(
        errors
            .iter()
            .all(|e| e.contains("rang in") && !e.contains(&here)),
        "{errors:?}"
    );
}

#[derive(Serialize, Deserialize, Debug)]
struct Job {
    id: u32,
    fail: bool,
}

static JOB_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_job(error: &WorkerError) {
    JOB_ERRORS.lock().unwrap().push(error.to_string());
}

#[background_worker(queue, static, capacity = 4, supervisor = plant(), on_error = record_job)]
fn handle(job: Job) -> Result<(), String> {
    if job.fail {
        Err(format!("job {} failed", job.id))
    } else {
        Ok(())
    }
}

#[test]
fn a_static_queue_worker_processes_every_item() {
    assert!(handle.start());
    for id in 0..10 {
        handle.put(Job {
            id,
            fail: id % 4 == 0,
        });
    }
    wait_until("ten runs", || handle.stats().runs == 10);
    wait_until("three errors", || JOB_ERRORS.lock().unwrap().len() == 3);
    handle.stop();
    assert_eq!(handle.stats().errors, 3);
    assert_eq!(handle.queued(), 0);
    let errors = JOB_ERRORS.lock().unwrap().clone();
    for id in [0, 4, 8] {
        let text = format!("job {id} failed");
        assert!(errors.iter().any(|e| e.contains(&text)), "{errors:?}");
    }
}

// ---- retries ----

/// Counts its runs in the file `path` (children share no memory with the test): fails
/// (an `Err`, then a panic) until its third run.
#[background_task(static, retries = 4, backoff = 0.01, supervisor = plant())]
fn flaky_in_a_child(path: String) -> Result<u32, String> {
    let n = std::fs::read_to_string(&path).map_or(0, |s| s.trim().parse().unwrap_or(0)) + 1;
    std::fs::write(&path, n.to_string()).map_err(|e| e.to_string())?;
    match n {
        1 => Err("first run fails".into()),
        2 => panic!("second run panics"),
        n => Ok(n),
    }
}

#[test]
fn a_static_task_with_retries_runs_again_in_a_child_until_it_succeeds() {
    let path = std::env::temp_dir().join(format!("atasker-retry-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let path = path.to_string_lossy().into_owned();
    assert_eq!(flaky_in_a_child(path.clone()).wait(), Ok(Ok(3)));
    let _ = std::fs::remove_file(&path);
    let name = "process_macro::flaky_in_a_child";
    assert_eq!(plant().stats().tasks[name].retried, 2);
}

//! Retries (API.md §12): a run that returns `Err`, panics or times out is run again after
//! `backoff × 2^(n-1)` (full jitter, capped at `backoff_max`), up to `retries` more times;
//! the handle resolves once, with the last run's outcome; a cancel or a stop is never
//! retried; a waiting retry holds no slot; the stats count each run and `retried`.

mod common;

use atasker::{Supervisor, TaskError};
use common::{wait_until, SOON};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn sup(name: &str, threads: usize) -> Supervisor {
    Supervisor::builder()
        .name(name)
        .thread_pool(threads)
        .build()
        .unwrap()
}

/// A closure that fails (`Err(n)`) its first `fails` runs, then returns `Ok(n)`; `runs`
/// counts the runs and `at` records when each started.
fn flaky(
    fails: u32,
    runs: &Arc<AtomicU32>,
    at: &Arc<Mutex<Vec<Instant>>>,
) -> impl Fn() -> Result<u32, u32> + Send + Sync + 'static {
    let (runs, at) = (runs.clone(), at.clone());
    move || {
        at.lock().unwrap().push(Instant::now());
        let n = runs.fetch_add(1, SeqCst);
        if n < fails {
            Err(n)
        } else {
            Ok(n)
        }
    }
}

#[test]
fn a_task_that_succeeds_on_its_third_run_resolves_once_with_that_value() {
    let s = sup("retry-third", 2);
    let (runs, at) = (Arc::default(), Arc::default());
    let t = (s.task().name("third").retries(5))
        .backoff(Duration::from_millis(10))
        .spawn(flaky(2, &runs, &at));
    assert_eq!(t.wait(), Ok(Ok(2)));
    assert_eq!(runs.load(SeqCst), 3);
    // Each run is a task; the two that failed were retried.
    let stats = s.stats();
    let n = stats.threads.normal;
    assert_eq!((n.submitted, n.completed, n.retried), (3, 3, 2));
    assert_eq!(stats.tasks["third"].retried, 2);
    assert_eq!(stats.tasks["third"].completed, 3);
}

#[test]
fn attempts_are_spaced_within_their_jittered_bound_and_the_last_error_is_the_outcome() {
    let s = sup("retry-spacing", 2);
    let (runs, at) = (Arc::default(), Arc::default());
    let backoff = Duration::from_millis(40);
    let started = Instant::now();
    let t = (s.task().retries(3).backoff(backoff))
        .backoff_max(Duration::from_millis(100))
        .spawn(flaky(u32::MAX, &runs, &at));
    // Every run failed: the handle has the last run's `Err`.
    assert_eq!(t.wait(), Ok(Err(3)));
    assert_eq!(runs.load(SeqCst), 4);
    let at = at.lock().unwrap().clone();
    // Full jitter: retry n waits at most min(backoff × 2^(n-1), backoff_max); the slack
    // is generous, for a busy machine.
    let caps = [40, 80, 100].map(Duration::from_millis);
    let slack = Duration::from_secs(2);
    for (n, w) in at.windows(2).enumerate() {
        let gap = w[1] - w[0];
        assert!(gap <= caps[n] + slack, "retry {} waited {gap:?}", n + 1);
    }
    assert!(started.elapsed() < SOON);
    assert_eq!(s.stats().threads.normal.retried, 3);
}

#[test]
fn panics_and_deadlines_are_retried() {
    let s = sup("retry-panics", 2);
    let runs = Arc::new(AtomicU32::new(0));
    let seen = runs.clone();
    let t = s
        .task()
        .retries(2)
        .backoff(Duration::from_millis(5))
        .spawn(move || {
            if seen.fetch_add(1, SeqCst) == 0 {
                panic!("first run breaks");
            }
            Ok::<_, ()>("fine")
        });
    assert_eq!(t.wait(), Ok(Ok("fine")));
    assert_eq!(runs.load(SeqCst), 2);

    // A coroutine past its deadline is aborted and run again.
    let runs = Arc::new(AtomicU32::new(0));
    let seen = runs.clone();
    let t = (s.task().timeout(Duration::from_millis(30)).retries(2))
        .backoff(Duration::from_millis(5))
        .spawn_async(move || {
            let first = seen.fetch_add(1, SeqCst) == 0;
            async move {
                if first {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                Ok::<_, ()>(7)
            }
        });
    assert_eq!(t.wait(), Ok(Ok(7)));
    assert_eq!(runs.load(SeqCst), 2);
    assert_eq!(s.stats().coroutines.normal.retried, 1);
}

#[test]
fn with_no_retries_left_a_panic_is_the_outcome() {
    let s = sup("retry-last-panic", 1);
    let t = s
        .task()
        .retries(1)
        .backoff(Duration::from_millis(1))
        .spawn(|| {
            if true {
                panic!("always");
            }
            Ok::<(), ()>(())
        });
    assert!(matches!(t.wait(), Err(TaskError::Panicked { .. })));
    let n = s.stats().threads.normal;
    assert_eq!((n.submitted, n.failed, n.retried), (2, 2, 1));
}

/// A task on `s` whose first run failed and whose retry waits for an hour; its run count.
fn waiting_retry(s: &Supervisor) -> (atasker::Task<Result<u32, u32>>, Arc<AtomicU32>) {
    let (runs, at) = (Arc::default(), Arc::default());
    let t = s
        .task()
        .retries(3)
        .backoff(Duration::from_secs(3600))
        .spawn(flaky(u32::MAX, &runs, &at));
    wait_until("a retry waits", || s.stats().threads.normal.retried == 1);
    (t, runs)
}

#[test]
fn a_cancel_during_the_backoff_ends_the_task_and_no_run_follows() {
    let s = sup("retry-cancel", 1);
    let (t, runs) = waiting_retry(&s);
    assert!(t.cancel());
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(runs.load(SeqCst), 1);
}

#[test]
fn a_stop_deadline_during_the_backoff_cancels_the_task_without_hanging() {
    let s = sup("retry-stop-deadline", 1);
    let (t, runs) = waiting_retry(&s);
    let started = Instant::now();
    s.stop_timeout(Duration::from_millis(200));
    assert!(started.elapsed() < SOON);
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
    assert_eq!(runs.load(SeqCst), 1);
}

#[test]
fn a_stop_lets_a_waiting_retry_run_as_it_lets_a_delayed_task_run() {
    let s = sup("retry-stop", 1);
    let (runs, at) = (Arc::default(), Arc::default());
    let t = (s.task().retries(3))
        .backoff(Duration::from_millis(100))
        .spawn(flaky(1, &runs, &at));
    wait_until("a retry waits", || s.stats().threads.normal.retried == 1);
    s.stop();
    assert_eq!(t.wait(), Ok(Ok(1)));
    assert_eq!(runs.load(SeqCst), 2);
}

#[test]
fn a_waiting_retry_holds_no_slot() {
    let s = sup("retry-no-slot", 1);
    let (runs, at) = (Arc::default(), Arc::default());
    let retried = (s.task().retries(1))
        .backoff(Duration::from_secs(2))
        .backoff_max(Duration::from_secs(2))
        .spawn(flaky(1, &runs, &at));
    wait_until("a retry waits", || s.stats().threads.normal.retried == 1);
    // The only thread is free: another task runs while the retry waits (unless its
    // jittered wait was very short, the retried task is still unfinished then).
    assert_eq!(s.task().spawn(|| 5).wait(), Ok(5));
    assert_eq!(retried.wait(), Ok(Ok(1)));
}

#[test]
fn a_pool_thread_waiting_for_a_retried_task_of_its_own_full_pool_does_not_deadlock() {
    let s: &'static Supervisor = Box::leak(Box::new(sup("retry-nested", 1)));
    let outer = s.task().spawn(move || {
        let (runs, at) = (Arc::default(), Arc::default());
        let inner = (s.task().retries(2))
            .backoff(Duration::from_millis(20))
            .spawn(flaky(1, &runs, &at));
        inner.wait()
    });
    assert_eq!(outer.wait(), Ok(Ok(Ok(1))));
}

#[test]
fn a_retried_task_on_a_stopped_supervisor_is_refused() {
    let s = sup("retry-refused", 1);
    s.stop();
    let t = s.task().retries(3).spawn(|| Ok::<_, ()>(1));
    assert_eq!(t.wait(), Err(TaskError::SupervisorStopped));
}

#[test]
fn zero_retries_runs_once() {
    let s = sup("retry-zero", 1);
    let (runs, at) = (Arc::default(), Arc::default());
    let t = s.task().retries(0).spawn(flaky(5, &runs, &at));
    assert_eq!(t.wait(), Ok(Err(0)));
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(s.stats().threads.normal.retried, 0);
}

// ---- the macro's options ----

static MACRO_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails its first run.
#[atasker::background_task(retries = 2, backoff = 0.01)]
fn fetch(url: String) -> Result<String, String> {
    if MACRO_RUNS.fetch_add(1, SeqCst) == 0 {
        return Err(format!("{url}: busy"));
    }
    Ok(format!("{url}: ok"))
}

static ASYNC_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails its first two runs.
#[atasker::background_task(retries = 3, backoff = std::time::Duration::from_millis(5), backoff_max = 1)]
async fn fetch_async(n: u32) -> Result<u32, String> {
    match ASYNC_RUNS.fetch_add(1, SeqCst) {
        0 | 1 => Err("busy".into()),
        _ => Ok(n * 2),
    }
}

#[test]
fn the_macro_s_retries_run_a_fn_and_an_async_fn_again_with_their_arguments() {
    assert_eq!(fetch("plc".into()).wait(), Ok(Ok("plc: ok".into())));
    assert_eq!(MACRO_RUNS.load(SeqCst), 2);
    assert_eq!(fetch_async(21).wait(), Ok(Ok(42)));
    assert_eq!(ASYNC_RUNS.load(SeqCst), 3);
    let tasks = Supervisor::global().stats().tasks;
    assert_eq!(tasks["tasks_retry::fetch"].retried, 1);
    assert_eq!(tasks["tasks_retry::fetch_async"].retried, 2);
}

#[test]
fn a_retried_coroutine_cancelled_during_its_backoff_or_its_run_resolves_cancelled() {
    let s = sup("retry-async-cancel", 1);
    let runs = Arc::new(AtomicU32::new(0));
    let seen = runs.clone();
    let mut t = (s.task().retries(3))
        .backoff(Duration::from_secs(3600))
        .spawn_async(move || {
            seen.fetch_add(1, SeqCst);
            async { Err::<(), _>("no") }
        });
    wait_until("a retry waits", || s.stats().coroutines.normal.retried == 1);
    assert!(t.cancel());
    assert_eq!(t.wait_timeout(SOON), Some(Err(TaskError::Cancelled)));
    assert_eq!(runs.load(SeqCst), 1);
    // Cancelled while a run goes on.
    let mut t = s.task().retries(3).spawn_async(|| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<(), ()>(())
    });
    wait_until("the run started", || {
        s.stats().coroutines.normal.running == 1
    });
    assert!(t.cancel());
    assert_eq!(t.wait_timeout(SOON), Some(Err(TaskError::Cancelled)));
}

#[test]
fn a_stop_deadline_during_a_retried_coroutine_s_backoff_cancels_it() {
    let s = sup("retry-async-stop", 1);
    let mut t = (s.task().retries(3))
        .backoff(Duration::from_secs(3600))
        .spawn_async(|| async { Err::<(), _>("no") });
    wait_until("a retry waits", || s.stats().coroutines.normal.retried == 1);
    s.stop_timeout(Duration::from_millis(200));
    assert_eq!(t.wait_timeout(SOON), Some(Err(TaskError::Cancelled)));
}

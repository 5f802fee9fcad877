//! `cancel()` of a coroutine: its future has been dropped by the time `wait()` returns
//! `Cancelled`, as with tokio's `JoinHandle` after `abort` — whether it was running,
//! delayed, or cancelled by a stop deadline.

mod common;

use atasker::{Supervisor, TaskError};
use common::SOON;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Sets its flag at the end of a slow `Drop`.
struct SlowGuard(Arc<AtomicBool>);

impl Drop for SlowGuard {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(200));
        self.0.store(true, SeqCst);
    }
}

fn supervisor() -> &'static Supervisor {
    Box::leak(Box::new(Supervisor::builder().build().unwrap()))
}

#[test]
fn a_cancelled_running_coroutine_is_dropped_before_wait_returns() {
    let sup = supervisor();
    for timeout in [None, Some(Duration::from_secs(60))] {
        let dropped = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut builder = sup.task();
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let task = builder.spawn_async(async move {
            let _guard = SlowGuard(d);
            tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        rx.recv_timeout(SOON).unwrap();
        assert!(task.cancel());
        assert!(!task.cancel(), "a second cancel finds it cancelled");
        assert_eq!(task.wait(), Err(TaskError::Cancelled));
        assert!(
            dropped.load(SeqCst),
            "wait() returned before the future was dropped"
        );
    }
}

#[test]
fn a_cancelled_delayed_coroutine_is_dropped_before_wait_returns() {
    let sup = supervisor();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SlowGuard(dropped.clone());
    let task = sup
        .task()
        .delay(Duration::from_secs(60))
        .spawn_async(async move {
            let _guard = guard;
        });
    assert!(task.cancel());
    assert_eq!(task.wait(), Err(TaskError::Cancelled));
    assert!(dropped.load(SeqCst));
    let s = sup.stats().coroutines.normal;
    assert_eq!((s.cancelled, s.running, s.queued), (1, 0, 0));
}

#[test]
fn a_stop_deadline_drops_running_coroutines_before_they_report() {
    for own_runtime in [true, false] {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut b = Supervisor::builder();
        if !own_runtime {
            b = b.runtime(rt.handle().clone());
        }
        let sup: &'static Supervisor = Box::leak(Box::new(b.build().unwrap()));
        let dropped = Arc::new(AtomicBool::new(false));
        let d = dropped.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let task = sup.task().spawn_async(async move {
            let _guard = SlowGuard(d);
            tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        rx.recv_timeout(SOON).unwrap();
        sup.stop_timeout(Duration::from_millis(50));
        assert_eq!(task.wait(), Err(TaskError::Cancelled));
        assert!(dropped.load(SeqCst), "own runtime: {own_runtime}");
    }
}

#[test]
fn a_coroutine_finishing_as_it_is_cancelled_ends_once() {
    let sup = supervisor();
    for _ in 0..200 {
        let task = sup.task().spawn_async(async { 1 });
        let cancelled = task.cancel();
        let r = task.wait();
        if cancelled {
            assert_eq!(r, Err(TaskError::Cancelled));
        } else {
            assert_eq!(r, Ok(1));
        }
    }
    let s = sup.stats().coroutines.normal;
    assert_eq!(s.completed + s.cancelled, 200);
    assert_eq!((s.running, s.queued, s.failed), (0, 0, 0));
}

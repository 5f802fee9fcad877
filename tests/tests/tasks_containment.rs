//! User code the library runs on its own threads (a result's or a closure's `Drop`, a
//! queue-wait hook, `on_error`, an error's `Display`) never takes a pool thread, a worker or
//! the watchdog with it.

mod common;

use atasker::{EventWorker, QueueWorker, Supervisor, TaskError};
use common::{supervisor, wait_until, Gate, SOON};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// A value whose `Drop` panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("boom in drop");
    }
}

/// Runs `sup.stop()` on another thread and checks it returns.
fn stops(sup: &'static Supervisor) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        sup.stop();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(SOON).expect("stop() hung");
}

#[test]
fn a_panicking_drop_of_an_unclaimed_result_keeps_the_pool_thread() {
    let sup = supervisor("drop-result", 1, 0, 0);
    for _ in 0..3 {
        drop(sup.task().spawn(|| Bomb));
    }
    let mut next = sup.task().spawn(|| 2);
    assert_eq!(next.wait_timeout(SOON), Some(Ok(2)));
    // A result that is ready before its handle is dropped is dropped by the dropping thread,
    // its panic contained too.
    let t = sup.task().spawn(|| Bomb);
    wait_until("finished", || t.is_finished());
    drop(t);
    // Coroutines alike: dropped before the result is made, and after.
    drop(sup.task().spawn_async(async { Bomb }));
    let t = sup.task().spawn_async(async { Bomb });
    wait_until("finished", || t.is_finished());
    drop(t);
    let mut next = sup.task().spawn(|| 3);
    assert_eq!(next.wait_timeout(SOON), Some(Ok(3)));
    stops(sup);
}

#[test]
fn a_panicking_drop_of_a_cancelled_closure_keeps_the_pool_thread() {
    let sup = supervisor("drop-closure", 1, 0, 0);
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().spawn(move || g.wait());
    let bomb = Bomb;
    let queued = sup.task().spawn(move || {
        let _keep = &bomb;
    });
    assert!(queued.cancel());
    gate.open();
    assert_eq!(blocker.wait(), Ok(()));
    let mut next = sup.task().spawn(|| 4);
    assert_eq!(next.wait_timeout(SOON), Some(Ok(4)));
    stops(sup);
}

#[test]
fn a_panicking_queue_wait_hook_keeps_the_watchdog() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("hook-panic")
            .thread_pool(1)
            .reserve_normal(0)
            .reserve_high(0)
            .timeout_warning(Duration::from_millis(50))
            .timeout_critical(Duration::from_secs(60))
            .on_timeout_warning(move |_| {
                c.fetch_add(1, SeqCst);
                panic!("hook panics");
            })
            .build()
            .unwrap(),
    ));
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().spawn(move || g.wait());
    let first = sup.task().spawn(|| 1);
    wait_until("the first warning", || calls.load(SeqCst) >= 1);
    // The watchdog survived its hook's panic: a second overdue task is reported too.
    let second = sup.task().spawn(|| 2);
    wait_until("the second warning", || calls.load(SeqCst) >= 2);
    gate.open();
    assert_eq!(blocker.wait(), Ok(()));
    assert_eq!(first.wait(), Ok(1));
    assert_eq!(second.wait(), Ok(2));
    stops(sup);
}

/// An error whose `Display` panics.
struct BadDisplay;

impl std::fmt::Display for BadDisplay {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("display panics")
    }
}

#[test]
fn a_panicking_display_or_on_error_keeps_the_worker() {
    let sup = supervisor("display-panic", 2, 0, 0);
    let hook_calls = Arc::new(AtomicUsize::new(0));
    let h = hook_calls.clone();
    let sync = EventWorker::builder()
        .supervisor(sup)
        .on_error(move |_| {
            h.fetch_add(1, SeqCst);
            panic!("on_error panics");
        })
        .build(|| Err::<(), _>(BadDisplay));
    let asynchronous = EventWorker::builder()
        .supervisor(sup)
        .on_error(|_| panic!("on_error panics"))
        .build_async(|| async { Err::<(), _>(BadDisplay) });
    for w in [&sync, &asynchronous] {
        assert!(w.start());
        for n in 1..=3 {
            w.trigger();
            wait_until("a failed run", || w.stats().errors >= n);
        }
        assert!(w.is_active(), "the worker survived");
        w.stop();
    }
    assert!(hook_calls.load(SeqCst) >= 3);
    let q = QueueWorker::builder()
        .supervisor(sup)
        .build(|_: u8| Err::<(), _>(BadDisplay));
    assert!(q.start());
    for n in 0..3 {
        q.put(n);
    }
    wait_until("three failed runs", || q.stats().errors >= 3);
    assert!(q.is_active());
    q.stop();
    let mut next = sup.task().spawn(|| 5);
    assert_eq!(next.wait_timeout(SOON), Some(Ok(5)));
    assert_eq!(
        sup.task().spawn(|| -> u8 { panic!("x") }).wait(),
        Err(TaskError::Panicked {
            message: "x".into()
        })
    );
    stops(sup);
}

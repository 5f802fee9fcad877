//! Stopping a supervisor: draining, deadlines, rejection.

mod common;

use atasker::TaskError;
use common::{supervisor, Gate, QUIET};
use std::time::{Duration, Instant};

#[test]
fn stop_lets_queued_tasks_run() {
    let sup = supervisor("drain", 1, 0, 0);
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            sup.task().spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                i
            })
        })
        .collect();
    let co = sup.task().spawn_async(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        "co"
    });
    sup.stop();
    // Everything finished before stop returned.
    assert!(tasks.iter().all(|t| t.is_finished()));
    assert!(co.is_finished());
    assert_eq!(
        atasker::wait_completed(tasks, None),
        Ok(vec![0, 1, 2, 3, 4])
    );
    assert_eq!(co.wait(), Ok("co"));
    sup.stop(); // idempotent
}

/// Coroutines that end while a stop waits: when it returns, every result is there.
#[test]
fn stop_returns_with_every_coroutine_result_in_place() {
    let sup = supervisor("results", 1, 0, 0);
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            sup.task().spawn_async(async move {
                tokio::time::sleep(Duration::from_millis(20 + i % 7)).await;
                i
            })
        })
        .collect();
    sup.stop();
    assert!(tasks.iter().all(|t| t.is_finished()));
    assert_eq!(
        atasker::wait_completed(tasks, Some(Duration::ZERO)),
        Ok((0..200).collect())
    );
}

/// A coroutine that blocked in place (a blocking `wait` inside it) and then ended does not
/// hold a stop up.
#[test]
fn a_coroutine_that_blocked_in_place_does_not_hold_a_stop() {
    let sup = supervisor("blocked-in-place", 2, 0, 0);
    let co = sup.task().spawn_async(async move {
        let inner = sup.task().spawn(|| 20);
        inner.wait().unwrap() + 1
    });
    assert_eq!(co.wait(), Ok(21));
    let t0 = Instant::now();
    sup.stop();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[test]
fn after_stop_new_work_is_rejected() {
    let sup = supervisor("reject", 1, 0, 0);
    sup.stop();
    assert!(sup.is_stopped());
    assert_eq!(
        sup.task().spawn(|| 1).wait(),
        Err(TaskError::SupervisorStopped)
    );
    assert_eq!(
        sup.task().spawn_async(async { 1 }).wait(),
        Err(TaskError::SupervisorStopped)
    );
    assert_eq!(sup.stats().threads.normal.submitted, 0);
}

#[test]
fn stop_timeout_cancels_what_is_left() {
    let sup = supervisor("deadline", 1, 0, 0);
    let gate = Gate::new();
    let g = gate.clone();
    let running = sup.task().spawn(move || {
        g.wait();
        "finished on its own"
    });
    std::thread::sleep(QUIET);
    let queued: Vec<_> = (0..3).map(|i| sup.task().spawn(move || i)).collect();
    let delayed = sup.task().delay(Duration::from_secs(60)).spawn(|| ());
    let co = sup.task().spawn_async(async {
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let start = Instant::now();
    sup.stop_timeout(Duration::from_millis(200));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(5),
        "{took:?}"
    );
    for t in queued {
        assert_eq!(t.wait(), Err(TaskError::Cancelled));
    }
    assert_eq!(delayed.wait(), Err(TaskError::Cancelled));
    assert_eq!(co.wait(), Err(TaskError::Cancelled));
    // The running thread task cannot be interrupted; it finishes on its own.
    assert!(!running.is_finished());
    gate.open();
    assert_eq!(running.wait(), Ok("finished on its own"));
    let s = sup.stats();
    assert_eq!(s.threads.normal.cancelled, 4);
    assert_eq!(s.coroutines.normal.cancelled, 1);
    assert_eq!(s.threads.normal.completed, 1);
}

#[test]
fn a_task_may_stop_its_own_supervisor() {
    let sup = supervisor("self-stop", 2, 0, 0);
    let t = sup.task().spawn(move || sup.stop());
    let mut t = t;
    assert_eq!(t.wait_timeout(common::SOON), Some(Ok(())));
    assert!(sup.is_stopped());
}

#[test]
fn stopped_awaits_the_end_of_a_stop_without_blocking_the_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sup: &'static atasker::Supervisor = Box::leak(Box::new(
            atasker::Supervisor::builder()
                .runtime(tokio::runtime::Handle::current())
                .build()
                .unwrap(),
        ));
        // A coroutine on this very runtime must keep running while we wait for the stop.
        let ticks = sup.task().spawn_async(async {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            "ticked"
        });
        let stopper = std::thread::spawn(move || sup.stop());
        tokio::time::timeout(Duration::from_secs(10), sup.stopped())
            .await
            .expect("stopped() never returned");
        assert_eq!(ticks.await, Ok("ticked"));
        stopper.join().unwrap();
        // Once a stop has ended, it returns at once.
        sup.stopped().await;
    });
}

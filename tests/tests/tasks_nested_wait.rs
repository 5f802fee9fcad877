//! A task that waits for another task of its own full pool never deadlocks: the awaited
//! task, still queued, runs on the waiting thread. It takes no new slot, and every other
//! queued task keeps its place in the ladder.

mod common;

use atasker::{Priority, Supervisor, Task};
use common::{supervisor, wait_until, Gate, Log, SOON};
use std::time::Duration;

fn within<T: Send + 'static>(what: &str, mut t: Task<T>) -> T {
    match t.wait_timeout(SOON) {
        Some(Ok(v)) => v,
        Some(Err(e)) => panic!("{what}: {e}"),
        None => panic!("{what}: deadlocked"),
    }
}

#[test]
fn a_task_waiting_for_a_task_of_its_full_pool_finishes() {
    let sup = supervisor("nested-1", 1, 0, 0);
    let outer = sup
        .task()
        .spawn(move || sup.task().spawn(|| 1).wait().unwrap() + 1);
    assert_eq!(within("outer", outer), 2);

    // Deeper nesting, `wait_timeout` and `wait_completed` alike.
    let outer = sup.task().spawn(move || {
        let inner = sup.task().spawn(move || {
            let mut t = sup.task().spawn(|| 10);
            t.wait_timeout(SOON).unwrap().unwrap() + 1
        });
        let both = vec![inner, sup.task().priority(Priority::Low).spawn(|| 100)];
        atasker::wait_completed(both, Some(SOON)).unwrap()
    });
    assert_eq!(within("nested", outer), vec![11, 100]);
}

#[test]
fn a_nested_wait_through_block_on_finishes() {
    let sup = supervisor("nested-block-on", 1, 0, 0);
    let outer = sup.task().spawn(move || {
        let inner = sup.task().spawn(|| 3);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(inner).unwrap() * 2
    });
    assert_eq!(within("outer", outer), 6);
}

#[test]
fn a_delayed_inner_task_runs_on_the_waiting_thread_once_due() {
    let sup = supervisor("nested-delay", 1, 0, 0);
    let outer = sup.task().spawn(move || {
        let inner = sup.task().delay(Duration::from_millis(100)).spawn(|| 7);
        inner.wait().unwrap()
    });
    assert_eq!(within("outer", outer), 7);
}

#[test]
fn the_inner_task_takes_no_slot_and_passes_nobody() {
    // Pool 2: one thread is blocked, the other runs the waiting task; two more tasks wait
    // in the queue before the inner task is spawned.
    let sup: &'static Supervisor = supervisor("nested-ladder", 2, 0, 0);
    let log = Log::new();
    let gate = Gate::new();
    let g = gate.clone();
    let blocker = sup.task().spawn(move || g.wait());
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let l = log.clone();
    let outer = sup.task().spawn(move || {
        started_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        let l2 = l.clone();
        let inner = sup.task().priority(Priority::Low).spawn(move || {
            l2.push("inner");
            sup.stats().threads.normal.running + sup.stats().threads.low.running
        });
        let running = inner.wait().unwrap();
        l.push("outer done");
        running
    });
    started_rx.recv_timeout(SOON).unwrap();
    let queued: Vec<_> = (0..2)
        .map(|i| {
            let l = log.clone();
            sup.task().spawn(move || l.push(format!("queued {i}")))
        })
        .collect();
    go_tx.send(()).unwrap();
    // The inner task (LOW, spawned after two NORMAL ones that wait) ran on the outer task's
    // thread while the pool was full: the queued ones never started before it finished.
    let running = within("outer", outer);
    // The queued tasks start only once the outer task's slot frees (the blocker holds the
    // other one): nothing else ran before the inner task, nor beside it.
    assert_eq!(log.get()[..2], ["inner", "outer done"]);
    assert_eq!(
        running, 3,
        "blocker, outer and inner were running, nothing else"
    );
    gate.open();
    blocker.wait().unwrap();
    atasker::wait_completed(queued, Some(SOON)).unwrap();
    wait_until("all ran", || log.len() == 4);
    let tail: std::collections::BTreeSet<_> = log.get()[2..].iter().cloned().collect();
    assert_eq!(
        tail,
        ["queued 0".to_string(), "queued 1".to_string()].into()
    );
}

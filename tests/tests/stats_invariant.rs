//! The accounting invariant: submitted = queued + running + completed + failed + cancelled, in
//! every snapshot, for every pool and priority.

mod common;

use atasker::{PoolKind, Priority, Stats, TaskError};
use common::{supervisor, wait_until};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn check(stats: &Stats) {
    for pool in [PoolKind::Threads, PoolKind::Processes, PoolKind::Coroutines] {
        for p in [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Critical,
        ] {
            let s = stats.pool(pool).priority(p);
            assert_eq!(
                s.submitted,
                s.queued + s.running + s.completed + s.failed + s.cancelled,
                "{pool} {p}: {s:?}"
            );
        }
    }
}

#[test]
fn every_snapshot_balances_under_load_and_after_stop() {
    let sup = supervisor("invariant", 2, 1, 1);
    let done = Arc::new(AtomicBool::new(false));
    let snapshots = Arc::new(AtomicU64::new(0));
    let (d, n) = (done.clone(), snapshots.clone());
    let checker = std::thread::spawn(move || {
        while !d.load(Ordering::SeqCst) {
            check(&sup.stats());
            n.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut tasks = Vec::new();
    for i in 0..3000u64 {
        let p = Priority::ALL[(i % 4) as usize];
        let b = sup.task().priority(p);
        let t = match i % 5 {
            0 => b.spawn(move || -> u64 { panic!("{i}") }),
            1 => b.spawn_async(async move { i }),
            2 => b.delay(Duration::from_millis(i % 7)).spawn(move || i),
            _ => b.spawn(move || i),
        };
        if i % 11 == 0 {
            t.cancel();
        }
        tasks.push(t);
    }
    // The checker runs while the load does (not only if the scheduler happens to let it).
    wait_until("the checker takes a snapshot", || {
        snapshots.load(Ordering::SeqCst) > 0
    });
    for t in tasks {
        match t.wait() {
            Ok(_) | Err(TaskError::Panicked { .. }) | Err(TaskError::Cancelled) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    sup.stop();
    done.store(true, Ordering::SeqCst);
    checker.join().unwrap();
    let stats = sup.stats();
    check(&stats);
    for pool in [PoolKind::Threads, PoolKind::Coroutines] {
        let t = stats.pool(pool).total();
        assert_eq!(
            (t.queued, t.running),
            (0, 0),
            "{pool}: nothing left after stop"
        );
    }
    let total = stats.threads.total().submitted + stats.coroutines.total().submitted;
    assert_eq!(total, 3000, "every task counted once");
}

#[test]
fn wait_works_inside_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A blocking wait on a runtime thread hands the runtime's other work elsewhere.
        let other = tokio::spawn(async { 5 });
        let t = atasker::spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            4
        });
        assert_eq!(t.wait(), Ok(4));
        assert_eq!(other.await.unwrap(), 5);
    });
}

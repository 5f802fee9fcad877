//! Soak: thousands of executor panics, stops under load, backpressure. Each test is bounded
//! in count and time and stops by itself.

mod common;

use atasker::{EventWorker, Priority, QueueWorker, Supervisor, TaskError, Worker, WorkerError};
use common::{supervisor, wait_until};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

/// Keeps the expected panics of this file out of the test output.
fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.starts_with("soak:") {
                default(info);
            }
        }));
    });
}

#[test]
fn soak_ten_thousand_panics_lose_no_thread_and_no_worker() {
    quiet_panics();
    let sup = supervisor("soak-panics", 4, 2, 2);
    const TASKS: usize = 6000;
    // Thread and coroutine tasks, every priority.
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let b = sup.task().priority(Priority::ALL[i % 4]);
            if i % 2 == 0 {
                b.spawn(move || -> usize { panic!("soak: thread {i}") })
            } else {
                b.spawn_async(async move { panic!("soak: coroutine {i}") })
            }
        })
        .collect();
    let mut panicked = 0;
    for t in tasks {
        match t.wait() {
            Err(TaskError::Panicked { message }) if message.starts_with("soak:") => panicked += 1,
            other => panic!("expected a panic, got {other:?}"),
        }
    }
    assert_eq!(panicked, TASKS, "every panic reported once");

    // Worker executors of every kind, sync and async: 1,000 panics each.
    const PER_WORKER: usize = 1000;
    let reported = Arc::new(AtomicUsize::new(0));
    let on_error = {
        let r = reported.clone();
        move |e: &WorkerError| {
            assert!(matches!(e, WorkerError::Panicked { .. }), "{e}");
            r.fetch_add(1, SeqCst);
        }
    };
    let loop_runs = Arc::new(AtomicUsize::new(0));
    let lr = loop_runs.clone();
    let looping = Worker::builder()
        .supervisor(sup)
        .on_error(on_error.clone())
        .build(move || -> bool {
            let n = lr.fetch_add(1, SeqCst);
            if n >= PER_WORKER {
                return false;
            }
            panic!("soak: loop {n}")
        });
    let ar = Arc::new(AtomicUsize::new(0));
    let a = ar.clone();
    let looping_async = Worker::builder()
        .supervisor(sup)
        .on_error(on_error.clone())
        .build_async(move || {
            let n = a.fetch_add(1, SeqCst);
            async move {
                if n >= PER_WORKER {
                    return false;
                }
                panic!("soak: async loop {n}")
            }
        });
    let queue = QueueWorker::builder()
        .supervisor(sup)
        .on_error(on_error.clone())
        .build(|i: usize| -> () { panic!("soak: item {i}") });
    let queue_async = QueueWorker::builder()
        .supervisor(sup)
        .on_error(on_error.clone())
        .build_async(|i: usize| async move {
            if i < usize::MAX {
                panic!("soak: async item {i}")
            }
        });
    let er = Arc::new(AtomicUsize::new(0));
    let e = er.clone();
    let event = EventWorker::builder()
        .supervisor(sup)
        .on_error(on_error.clone())
        .build(move || -> () {
            e.fetch_add(1, SeqCst);
            panic!("soak: event")
        });
    for i in 0..PER_WORKER {
        queue.put(i);
        queue_async.put(i);
    }
    for w in [&looping, &looping_async] {
        assert!(w.start());
    }
    assert!(queue.start() && queue_async.start() && event.start());
    let start = Instant::now();
    while er.load(SeqCst) < PER_WORKER {
        event.trigger();
        wait_until("event run", || er.load(SeqCst) > 0);
        std::thread::yield_now();
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    wait_until("worker panics reported", || {
        reported.load(SeqCst) >= 4 * PER_WORKER
    });
    wait_until("queues drained", || {
        queue.queued() == 0 && queue_async.queued() == 0
    });
    wait_until("loops ended on false", || {
        !looping.is_active() && !looping_async.is_active()
    });
    event.stop();
    queue.stop();
    queue_async.stop();
    let events = event.stats().errors as usize;
    assert_eq!(
        reported.load(SeqCst),
        4 * PER_WORKER + events,
        "each panic reported once"
    );
    for w in sup.stats().workers {
        assert!(w.errors >= PER_WORKER as u64, "{w:?}");
    }
    // Nothing was lost: the pool still has its threads and works.
    assert!(sup.stats().pool_threads >= 1);
    assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    assert_eq!(sup.task().spawn_async(async { 2 }).wait(), Ok(2));
    assert!(looping.start(), "a worker that stopped on false restarts");
    looping.stop();
}

#[test]
fn soak_stop_under_load_hangs_nothing_and_balances() {
    for (round, graceful) in [(0, true), (1, false)] {
        let sup: &'static Supervisor = supervisor(&format!("soak-stop-{round}"), 2, 1, 1);
        let ran = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..5000)
            .map(|i| {
                let r = ran.clone();
                let b = sup.task().priority(Priority::ALL[i % 3]);
                if i % 3 == 0 {
                    b.spawn_async(async move {
                        tokio::time::sleep(Duration::from_micros(100)).await;
                        r.fetch_add(1, SeqCst);
                    })
                } else {
                    b.spawn(move || {
                        std::thread::sleep(Duration::from_micros(100));
                        r.fetch_add(1, SeqCst);
                    })
                }
            })
            .collect();
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let w = Worker::builder()
            .supervisor(sup)
            .interval(Duration::from_millis(1))
            .build(move || {
                t.fetch_add(1, SeqCst);
            });
        let q = QueueWorker::builder().supervisor(sup).build(|_: u32| ());
        for i in 0..1000 {
            q.put(i);
        }
        w.start();
        q.start();
        // Stop/start the worker while the load runs: a restarted worker works.
        for _ in 0..20 {
            w.restart();
        }
        let before = ticks.load(SeqCst);
        wait_until("restarted worker ticks", || ticks.load(SeqCst) > before);
        let start = Instant::now();
        if graceful {
            sup.stop();
        } else {
            sup.stop_timeout(Duration::from_millis(20));
        }
        assert!(start.elapsed() < Duration::from_secs(30), "stop returned");
        assert!(!w.is_active() && !q.is_active());
        let mut outcomes = [0usize; 2];
        for t in tasks {
            match t.wait() {
                Ok(()) => outcomes[0] += 1,
                Err(TaskError::Cancelled) => outcomes[1] += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        if graceful {
            assert_eq!(outcomes, [5000, 0], "stop lets queued tasks run");
        }
        assert_eq!(outcomes[0] + outcomes[1], 5000);
        assert_eq!(ran.load(SeqCst), outcomes[0]);
        let s = sup.stats();
        for pool in [s.threads.total(), s.coroutines.total()] {
            assert_eq!(
                pool.submitted,
                pool.completed + pool.cancelled + pool.failed
            );
            assert_eq!((pool.queued, pool.running), (0, 0));
        }
        // Items not processed are still queued, not dropped.
        assert_eq!(
            s.workers
                .iter()
                .find(|w| w.kind == atasker::WorkerKind::Queue)
                .unwrap()
                .runs as usize
                + q.queued(),
            1000
        );
        assert_eq!(
            sup.task().spawn(|| ()).wait(),
            Err(TaskError::SupervisorStopped)
        );
        assert!(!w.start(), "a stopped supervisor starts no worker");
    }
}

#[test]
fn soak_bounded_queue_pushes_back_without_loss() {
    const CAP: usize = 16;
    const ITEMS: u64 = 100_000;
    let sum = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let s = sum.clone();
    let q = QueueWorker::builder().capacity(CAP).build(move |n: u64| {
        if n.is_multiple_of(1000) {
            std::thread::sleep(Duration::from_millis(1)); // a slow consumer now and then
        }
        s.fetch_add(n as usize, SeqCst);
    });
    q.start();
    let (q2, m) = (q.clone(), max_seen.clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let watcher = std::thread::spawn(move || {
        while !st.load(SeqCst) {
            m.fetch_max(q2.queued(), SeqCst);
            std::thread::yield_now();
        }
    });
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = q.clone();
            std::thread::spawn(move || {
                for n in (p..ITEMS).step_by(2) {
                    q.put(n);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let expect = (ITEMS * (ITEMS - 1) / 2) as usize;
    wait_until("every item processed", || sum.load(SeqCst) == expect);
    stop.store(true, SeqCst);
    watcher.join().unwrap();
    assert!(
        max_seen.load(SeqCst) <= CAP,
        "queue bounded: {}",
        max_seen.load(SeqCst)
    );
    assert_eq!(q.stats().runs, ITEMS);
    q.stop();
}

//! A supervisor stop drains its queue workers: items waiting in them are queued work too. At a
//! `stop_timeout` deadline, what is left is handed back by `take_remaining()`.

mod common;

use atasker::{QueueWorker, Supervisor};
use common::{supervisor, Log, SOON};
use std::time::{Duration, Instant};

#[test]
fn stop_serves_every_waiting_item_of_every_queue_worker_kind() {
    let sup = supervisor("drain", 2, 0, 0);
    let log = Log::new();
    let l = log.clone();
    let threads = QueueWorker::builder().supervisor(sup).build(move |n: u32| {
        std::thread::sleep(Duration::from_millis(2));
        l.push(format!("t{n}"));
    });
    let l = log.clone();
    let coroutine = QueueWorker::builder()
        .supervisor(sup)
        .build_async(move |n: u32| {
            let l = l.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                l.push(format!("c{n}"));
            }
        });
    for w in [&threads, &coroutine] {
        assert!(w.start());
        for n in 0..50 {
            w.put(n);
        }
    }
    sup.stop();
    let expected: Vec<String> = (0..50).map(|n| format!("t{n}")).collect();
    let got: Vec<String> = log
        .get()
        .into_iter()
        .filter(|s| s.starts_with('t'))
        .collect();
    assert_eq!(got, expected, "thread executor: every item, in order");
    let expected: Vec<String> = (0..50).map(|n| format!("c{n}")).collect();
    let got: Vec<String> = log
        .get()
        .into_iter()
        .filter(|s| s.starts_with('c'))
        .collect();
    assert_eq!(got, expected, "coroutine executor: every item, in order");
    assert_eq!((threads.queued(), coroutine.queued()), (0, 0));
    assert!(
        !threads.is_active() && !threads.start(),
        "a stopped supervisor is final"
    );
    let s = sup.stats();
    assert_eq!(s.threads.normal.queued + s.threads.normal.running, 0);
}

#[test]
fn a_stop_deadline_hands_the_rest_back() {
    let sup: &'static Supervisor = supervisor("drain-deadline", 1, 0, 0);
    let log = Log::new();
    let l = log.clone();
    let w = QueueWorker::builder().supervisor(sup).build(move |n: u32| {
        std::thread::sleep(Duration::from_millis(100));
        l.push(n.to_string());
    });
    assert!(w.start());
    for n in 0..50 {
        w.put(n);
    }
    let started = Instant::now();
    sup.stop_timeout(Duration::from_millis(500));
    assert!(started.elapsed() < SOON);
    // The run in progress at the deadline still finishes (a thread cannot be interrupted).
    common::wait_until("the last run ends", || {
        let s = sup.stats().threads.normal;
        s.running == 0 && s.queued == 0
    });
    let rest = w.take_remaining();
    let served: Vec<u32> = log.get().iter().map(|s| s.parse().unwrap()).collect();
    assert!(!served.is_empty() && !rest.is_empty(), "served {served:?}");
    // Every item either ran or came back, each once, in order.
    let all: Vec<u32> = served.iter().chain(&rest).copied().collect();
    assert_eq!(
        all,
        (0..50).collect::<Vec<_>>(),
        "nothing lost, nothing twice"
    );
    assert_eq!(w.queued(), 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        log.len(),
        served.len(),
        "no item ran after the deadline's run"
    );
}

#[test]
fn items_of_a_stopped_queue_worker_stay_for_take_remaining() {
    let sup = supervisor("drain-stopped", 1, 0, 0);
    let w = QueueWorker::builder().supervisor(sup).build(|_: u32| ());
    w.put(1);
    w.put(2);
    sup.stop();
    assert_eq!(w.take_remaining(), [1, 2]);
}

#[test]
fn every_worker_is_told_to_stop_at_once_while_queues_drain() {
    let sup = supervisor("drain-together", 3, 0, 0);
    let q = QueueWorker::builder().supervisor(sup).build(|_: u32| {
        std::thread::sleep(Duration::from_millis(50));
    });
    // Made after the queue worker: a stop that waited for each worker in turn would leave it
    // ticking through the whole drain.
    let ticker = atasker::Worker::builder()
        .supervisor(sup)
        .interval(Duration::from_millis(20))
        .build(|| ());
    assert!(q.start() && ticker.start());
    for n in 0..30 {
        q.put(n);
    }
    common::wait_until("a tick", || ticker.stats().runs >= 1);
    let before = ticker.stats().runs;
    sup.stop(); // the drain takes about 1.5 s
    assert_eq!(q.stats().runs, 30, "the queue drained");
    let during = ticker.stats().runs - before;
    assert!(
        during <= 2,
        "the ticker ran {during} times while the queue drained"
    );
}

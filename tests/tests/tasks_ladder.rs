//! The admission ladder: which tasks start when, and in what order.

mod common;

use atasker::{Priority, Task};
use common::{supervisor, wait_until, Gate, Log, QUIET};
use std::time::Duration;

/// Spawns a task that logs its start, then blocks on its own gate.
fn blocker(
    sup: &'static atasker::Supervisor,
    log: &Log,
    name: &'static str,
    p: Priority,
) -> (Task<()>, Gate) {
    let gate = Gate::new();
    let (l, g) = (log.clone(), gate.clone());
    let t = sup.task().priority(p).spawn(move || {
        l.push(name);
        g.wait();
    });
    (t, gate)
}

fn started(log: &Log, name: &str) {
    wait_until(&format!("{name} starts"), || log.contains(name));
}

fn not_started(log: &Log, name: &str) {
    std::thread::sleep(QUIET);
    assert!(
        !log.contains(name),
        "{name} started too early: {:?}",
        log.get()
    );
}

#[test]
fn ladder_admits_by_priority_and_starts_queued_highest_first() {
    use Priority::*;
    let sup = supervisor("ladder", 2, 1, 1);
    let log = Log::new();
    let (l1, gl1) = blocker(sup, &log, "L1", Low);
    let (l2, gl2) = blocker(sup, &log, "L2", Low);
    started(&log, "L1");
    started(&log, "L2");
    let (l3, gl3) = blocker(sup, &log, "L3", Low); // busy 2 = pool: LOW waits
    not_started(&log, "L3");
    let (n1, gn1) = blocker(sup, &log, "N1", Normal); // 2 < 3
    started(&log, "N1");
    let (n2, gn2) = blocker(sup, &log, "N2", Normal); // busy 3: NORMAL waits
    not_started(&log, "N2");
    let (h1, gh1) = blocker(sup, &log, "H1", High); // 3 < 4
    started(&log, "H1");
    let (h2, gh2) = blocker(sup, &log, "H2", High); // busy 4: HIGH waits
    not_started(&log, "H2");
    let (c1, gc1) = blocker(sup, &log, "C1", Critical); // above every limit
    started(&log, "C1");
    let s = sup.stats().threads;
    assert_eq!((s.low.running, s.low.queued), (2, 1));
    assert_eq!((s.normal.running, s.normal.queued), (1, 1));
    assert_eq!((s.high.running, s.high.queued), (1, 1));
    assert_eq!(s.critical.running, 1);

    gc1.open(); // busy 4: still nothing may start
    c1.wait().unwrap();
    not_started(&log, "H2");
    gl1.open(); // busy 3 → H2
    l1.wait().unwrap();
    started(&log, "H2");
    not_started(&log, "N2");
    gl2.open(); // busy 3 → NORMAL cap is 3: nothing
    l2.wait().unwrap();
    not_started(&log, "N2");
    gn1.open(); // busy 2 → N2
    n1.wait().unwrap();
    started(&log, "N2");
    not_started(&log, "L3");
    gh1.open(); // busy 2 → LOW cap is 2: nothing
    h1.wait().unwrap();
    not_started(&log, "L3");
    gn2.open(); // busy 1 → L3
    n2.wait().unwrap();
    started(&log, "L3");
    gh2.open();
    gl3.open();
    h2.wait().unwrap();
    l3.wait().unwrap();
    // L1 and L2 start at the same moment on two threads: they may log in either order.
    // Every later start waited for the one before it, so the rest of the order is exact.
    let got = log.get();
    let mut first_two = got[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["L1", "L2"], "{got:?}");
    assert_eq!(got[2..], ["N1", "H1", "C1", "H2", "N2", "L3"], "{got:?}");
}

#[test]
fn strict_priority_with_zero_reserves() {
    let sup = supervisor("strict", 1, 0, 0);
    for round in 0..5 {
        let log = Log::new();
        let (b, gate) = blocker(sup, &log, "B", Priority::Normal);
        started(&log, "B");
        let mut tasks = Vec::new();
        for (name, p) in [
            ("L1", Priority::Low),
            ("L2", Priority::Low),
            ("N", Priority::Normal),
            ("H", Priority::High),
        ] {
            let l = log.clone();
            tasks.push(sup.task().priority(p).spawn(move || l.push(name)));
        }
        not_started(&log, "L1");
        gate.open();
        b.wait().unwrap();
        atasker::wait_completed(tasks, None).unwrap();
        assert_eq!(log.get(), ["B", "H", "N", "L1", "L2"], "round {round}");
    }
}

#[test]
fn fifo_within_a_priority() {
    let sup = supervisor("fifo", 1, 0, 0);
    let log = Log::new();
    let (b, gate) = blocker(sup, &log, "B", Priority::Normal);
    started(&log, "B");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let l = log.clone();
            sup.task()
                .priority(Priority::Low)
                .spawn(move || l.push(i.to_string()))
        })
        .collect();
    gate.open();
    b.wait().unwrap();
    atasker::wait_completed(tasks, None).unwrap();
    let expect: Vec<String> = std::iter::once("B".to_string())
        .chain((0..50).map(|i| i.to_string()))
        .collect();
    assert_eq!(log.get(), expect);
}

#[test]
fn critical_starts_above_the_limit() {
    let sup = supervisor("critical", 1, 0, 0);
    let log = Log::new();
    let (b, gate) = blocker(sup, &log, "B", Priority::Critical);
    started(&log, "B");
    let (n, gn) = blocker(sup, &log, "N", Priority::High);
    not_started(&log, "N");
    // A second critical task still starts while the pool is full.
    let mut c = sup.task().priority(Priority::Critical).spawn(|| 7);
    assert_eq!(c.wait_timeout(common::SOON), Some(Ok(7)));
    // A running CRITICAL task counts as busy: N waits for B.
    not_started(&log, "N");
    gate.open();
    b.wait().unwrap();
    started(&log, "N");
    gn.open();
    n.wait().unwrap();
}

#[test]
fn a_delayed_task_holds_no_slot() {
    let sup = supervisor("delay", 1, 0, 0);
    // The only slot stays free while a task waits for its delay: a task submitted after it
    // runs at once. (Had the delayed task taken the slot, the quick one would wait a minute.)
    let far = sup
        .task()
        .delay(Duration::from_secs(60))
        .spawn(|| "too early");
    let mut quick = sup.task().spawn(|| "quick");
    assert_eq!(quick.wait_timeout(common::SOON), Some(Ok("quick")));
    assert!(!far.is_finished(), "the delayed task is still waiting");
    assert!(far.cancel());
    assert_eq!(far.wait(), Err(atasker::TaskError::Cancelled));
    // And the delay is honoured.
    let start = std::time::Instant::now();
    let delayed = sup
        .task()
        .delay(Duration::from_millis(300))
        .spawn(move || start.elapsed());
    let delayed_at = delayed.wait().unwrap();
    assert!(
        delayed_at >= Duration::from_millis(300),
        "delay not honoured: {delayed_at:?}"
    );
}

#[test]
fn slot_frees_without_polling_delay() {
    // 200 tasks back to back through one thread: the Python original would need 20 s.
    let sup = supervisor("nopoll", 1, 0, 0);
    let start = std::time::Instant::now();
    let tasks: Vec<_> = (0..200).map(|i| sup.task().spawn(move || i)).collect();
    let out = atasker::wait_completed(tasks, None).unwrap();
    assert_eq!(out, (0..200).collect::<Vec<_>>());
    assert!(start.elapsed() < Duration::from_secs(5));
}

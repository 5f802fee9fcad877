//! Cron workers with real timers: aligned to the wall clock's seconds (not to `start()`), a
//! forward jump of the clock (a stall, a resumed machine) gives one run and counts the missed
//! ticks, a clock stepped back repeats nothing, and `trigger()` runs now without shifting the
//! schedule. An expression that can never fire is a build error; a schedule that runs out
//! is an error, not a run; `next_run_at` is known when `start()` returns. Daylight-saving
//! arithmetic is tested on the schedule itself, in milliseconds (`atasker-core`'s
//! `worker::cron` unit tests).

mod common;

use atasker::{BuildError, Supervisor, Worker, WorkerError, WorkerKind};
use common::{supervisor, wait_until, Gate, Log, SOON};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

#[test]
fn an_every_second_worker_runs_on_the_seconds_not_from_its_start() {
    let sup = supervisor("cron-seconds", 2, 0, 0);
    // Start half-way into a second.
    let now = unix(SystemTime::now());
    std::thread::sleep(Duration::from_secs_f64(1.5 - now.fract()));
    let log = Log::new();
    let l = log.clone();
    let w = Worker::builder()
        .supervisor(sup)
        .cron("* * * * * *")
        .unwrap()
        .build(move || l.push(format!("{:.6}", unix(SystemTime::now()))));
    assert_eq!(w.stats().kind, WorkerKind::Cron);
    let started = unix(SystemTime::now());
    assert!(w.start());
    assert_eq!(log.len(), 0, "a cron worker does not run at start()");
    wait_until("three ticks", || log.len() >= 3);
    w.stop();
    let runs: Vec<f64> = log.get().iter().map(|s| s.parse().unwrap()).collect();
    assert!(
        runs[0] - started >= 0.2,
        "the first run waited for the next whole second"
    );
    for t in &runs {
        assert!(t.fract() < 0.45, "run at {t}: not on a second boundary");
    }
    let seconds: std::collections::BTreeSet<i64> = runs.iter().map(|t| *t as i64).collect();
    assert_eq!(seconds.len(), runs.len(), "one run per tick");
    let s = w.stats();
    assert!(s.next_run_at.is_none(), "a stopped worker has no next run");
}

#[test]
fn a_clock_jumping_forward_gives_one_run_for_the_missed_ticks() {
    let sup = supervisor("cron-jump", 2, 0, 0);
    let offset = Arc::new(AtomicI64::new(0));
    let o = offset.clone();
    let w = Worker::builder()
        .supervisor(sup)
        .cron("* * * * * *")
        .unwrap()
        .wall_clock(move || {
            let off = o.load(SeqCst);
            SystemTime::now() + Duration::from_secs(off as u64)
        })
        .build(|| ());
    assert!(w.start());
    wait_until("a first tick", || w.stats().runs >= 1);
    let runs = w.stats().runs;
    // The machine "sleeps" 30 s: the clock jumps.
    offset.store(30, SeqCst);
    wait_until("the catch-up run", || w.stats().runs > runs);
    let s = w.stats();
    assert!(
        s.missed >= 25,
        "missed {} of the ~29 skipped ticks",
        s.missed
    );
    // One run for them all, then back to one per second.
    std::thread::sleep(Duration::from_millis(1500));
    let s = w.stats();
    assert!(
        s.runs <= runs + 4,
        "no burst: {} runs after {}",
        s.runs,
        runs
    );
    w.stop();
}

#[test]
fn a_clock_stepped_back_repeats_no_tick() {
    let sup = supervisor("cron-back", 2, 0, 0);
    let back = Arc::new(AtomicI64::new(0));
    let b = back.clone();
    let log = Log::new();
    let l = log.clone();
    let w = Worker::builder()
        .supervisor(sup)
        .cron("* * * * * *")
        .unwrap()
        .wall_clock(move || SystemTime::now() - Duration::from_secs(b.load(SeqCst) as u64))
        .build(move || l.push("run"));
    assert!(w.start());
    wait_until("a first tick", || log.len() >= 1);
    let before = log.len();
    back.store(3, SeqCst); // stepped back 3 s
    std::thread::sleep(Duration::from_millis(1800));
    assert!(
        log.len() <= before + 1,
        "ticks already run are not run again"
    );
    wait_until("the clock caught up and the schedule goes on", || {
        log.len() >= before + 2
    });
    w.stop();
}

#[test]
fn trigger_runs_now_and_keeps_the_schedule() {
    let sup = supervisor("cron-trigger", 2, 0, 0);
    let w = Worker::builder()
        .supervisor(sup)
        .cron("0 0 0 1 1 *") // once a year
        .unwrap()
        .time_zone("Europe/Berlin")
        .unwrap()
        .build(|| ());
    assert!(w.start());
    wait_until("the next tick is known", || w.stats().next_run_at.is_some());
    let next = w.stats().next_run_at;
    w.trigger();
    wait_until("the triggered run", || w.stats().runs == 1);
    wait_until("waiting again", || w.stats().next_run_at.is_some());
    assert_eq!(w.stats().next_run_at, next, "the schedule did not move");
    let left = next.unwrap().duration_since(SystemTime::now()).unwrap();
    assert!(left <= Duration::from_secs(366 * 86_400) && left > SOON);
    w.stop();
}

#[test]
fn an_expression_that_can_never_fire_is_a_build_error() {
    for expr in [
        "0 0 0 30 2 *",     // February 30th
        "0 0 31 4 *",       // April 31st, 5 fields
        "0 0 0 31 2 +MON",  // `+`: the 31st of February and a Monday
        "0 0 0 30W 2 *",    // the weekday nearest to February 30th
        "0 0 0 1 1 * 2020", // a year gone by
    ] {
        match Worker::builder().cron(expr) {
            Err(BuildError::Cron(why)) => {
                assert!(why.contains(expr), "{expr}: {why}");
                assert!(why.contains("never fires"), "{expr}: {why}");
            }
            other => panic!("{expr}: {other:?}"),
        }
    }
    // Rare is not never: a leap day, a leap day on a Monday, the last day of February.
    for expr in [
        "0 0 0 29 2 *",
        "0 0 0 29 2 +MON",
        "0 0 0 L 2 *",
        "0 0 1 * MON",
    ] {
        assert!(Worker::builder().cron(expr).is_ok(), "{expr}");
    }
}

#[test]
fn a_schedule_that_runs_out_is_an_error_not_a_run() {
    let sup = supervisor("cron-runs-out", 2, 0, 0);
    let (ran, failures) = (Arc::new(AtomicU32::new(0)), Log::new());
    let (r, f) = (ran.clone(), failures.clone());
    // Valid until the year 4000; this worker's clock reads 4004.
    let w = Worker::builder()
        .supervisor(sup)
        .cron("0 0 0 1 1 * 4000")
        .unwrap()
        .wall_clock(|| UNIX_EPOCH + Duration::from_secs(64_200_000_000))
        .on_error(move |e: &WorkerError| f.push(e.to_string()))
        .build(move || {
            r.fetch_add(1, SeqCst);
        });
    assert!(w.start());
    wait_until("the schedule's error", || w.stats().errors >= 1);
    let s = w.stats();
    assert_eq!(ran.load(SeqCst), 0, "the executor never ran");
    assert_eq!(s.runs, 0, "`runs` counts executor runs only: {s:?}");
    assert_eq!(s.last_run_at, None, "{s:?}");
    assert_eq!(s.last_duration, None, "{s:?}");
    assert_eq!(s.next_run_at, None, "no next tick: {s:?}");
    assert!(
        failures.len() >= 1 && failures.get()[0].contains("4000"),
        "{:?}",
        failures.get()
    );
    w.stop();
}

#[test]
fn next_run_at_is_known_when_start_returns() {
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("cron-next-at-start")
            .runtime_threads(1)
            .build()
            .unwrap(),
    ));
    // The runtime's one thread is blocked: no worker loop can run before `start()` returns.
    let (gate, blocked) = (Gate::new(), Gate::new());
    let (g, b) = (gate.clone(), blocked.clone());
    let hog = sup.task().spawn_async(async move {
        b.open();
        g.wait();
    });
    blocked.wait();
    let hour = Duration::from_secs(3600);
    let workers = [
        Worker::builder().cron("0 0 * * * *").unwrap(),
        Worker::builder().interval(hour),
        Worker::builder().delay(hour),
        Worker::builder().interval(hour).delay_before(hour),
    ]
    .map(|b| b.supervisor(sup).build(|| ()));
    let asynchronous = Worker::builder()
        .supervisor(sup)
        .delay(hour)
        .build_async(|| async {});
    for w in workers.iter().chain([&asynchronous]) {
        let before = SystemTime::now();
        assert!(w.start());
        let next = w.stats().next_run_at;
        let kind = w.stats().kind;
        let next = next.unwrap_or_else(|| panic!("{kind:?}: no next_run_at after start()"));
        // A cron worker's next tick is within the hour; the others' first run is due now.
        let within = if kind == WorkerKind::Cron { hour } else { SOON };
        assert!(
            next + SOON >= before && next <= before + within,
            "{kind:?}: next run {next:?}"
        );
    }
    let cron = workers[0].stats().next_run_at.unwrap();
    assert!(
        cron > SystemTime::now(),
        "a cron worker's next run is its next tick"
    );
    gate.open();
    hog.wait().unwrap();
    for w in workers.iter().chain([&asynchronous]) {
        w.stop();
    }
}

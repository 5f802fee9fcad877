//! "Forever" durations (API.md §10): every `Duration` a user passes may be anything up to
//! `Duration::MAX`; one too large for an `Instant` means "never" — never a panic in the
//! caller or on a library thread, never a worker that ends `Stopped` with `errors = 0`.

mod common;

use atasker::{Priority, Supervisor, TaskError, Worker, WorkerState};
use common::{wait_until, SOON};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

const FOREVER: Duration = Duration::MAX;

/// The supervisor of `nap`: one worker process, a warning at 50 ms, never critical; its
/// warning hook counts in `WARNED`.
fn windows() -> &'static Supervisor {
    static SUP: std::sync::OnceLock<&'static Supervisor> = std::sync::OnceLock::new();
    SUP.get_or_init(|| {
        Box::leak(Box::new(
            Supervisor::builder()
                .name("forever-windows")
                .process_pool(1)
                .timeout_warning(Duration::from_millis(50))
                .timeout_critical(FOREVER)
                .on_timeout_warning(|_| {
                    WARNED.fetch_add(1, SeqCst);
                })
                .build()
                .unwrap(),
        ))
    })
}

static WARNED: AtomicUsize = AtomicUsize::new(0);

#[atasker::background_task(static, supervisor = windows())]
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn sup(name: &str) -> Supervisor {
    Supervisor::builder()
        .name(name)
        .thread_pool(2)
        .timeout_warning(FOREVER)
        .timeout_critical(FOREVER)
        .build()
        .unwrap()
}

#[test]
fn waits_with_a_forever_timeout_return_the_result() {
    let s = sup("forever-waits");
    let mut t = s.task().spawn(|| 7);
    assert_eq!(t.wait_timeout(FOREVER), Some(Ok(7)));
    let mut slow = s.task().spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        8
    });
    assert_eq!(slow.wait_timeout(FOREVER), Some(Ok(8)));
    let tasks: Vec<_> = (0..3).map(|i| s.task().spawn(move || i)).collect();
    assert_eq!(
        atasker::wait_completed(tasks, Some(FOREVER)),
        Ok(vec![0, 1, 2])
    );
    s.stop_timeout(FOREVER);
}

#[test]
fn a_forever_task_timeout_never_fires_and_a_forever_delay_never_falls_due() {
    let s = sup("forever-tasks");
    let t = s.task().timeout(FOREVER).spawn(|| {
        std::thread::sleep(Duration::from_millis(20));
        1
    });
    assert_eq!(t.wait(), Ok(1));
    let a = s.task().timeout(FOREVER).spawn_async(async { 2 });
    assert_eq!(a.wait(), Ok(2));
    // A delay of for ever: the task stays queued until it is cancelled.
    let mut d = s.task().delay(FOREVER).spawn(|| 3);
    assert_eq!(d.wait_timeout(Duration::from_millis(100)), None);
    assert!(d.cancel());
    assert_eq!(d.wait(), Err(TaskError::Cancelled));
    let mut da = s
        .task()
        .priority(Priority::High)
        .delay(FOREVER)
        .spawn_async(async { 4 });
    assert_eq!(da.wait_timeout(Duration::from_millis(50)), None);
    assert!(da.cancel());
    s.stop_timeout(FOREVER);
}

/// Starts `w`, waits for its first run, checks that it stays active without errors, and
/// stops it: the way a worker with a schedule of for ever must behave.
fn runs_once_and_waits(w: &Worker, runs: &AtomicUsize) {
    assert!(w.start());
    wait_until("the first run", || runs.load(SeqCst) == 1);
    std::thread::sleep(Duration::from_millis(100));
    let st = w.stats();
    assert!(w.is_active(), "{st:?}");
    assert_eq!(st.errors, 0, "{st:?}");
    assert_eq!(runs.load(SeqCst), 1);
    w.stop();
    assert_eq!(w.stats().state, WorkerState::Stopped);
}

#[test]
fn interval_and_delay_workers_with_a_forever_schedule_run_once_then_wait() {
    let s: &'static Supervisor = Box::leak(Box::new(sup("forever-workers")));
    for (what, asynchronous) in [
        ("interval", false),
        ("interval", true),
        ("delay", false),
        ("delay", true),
    ] {
        let runs = Arc::new(AtomicUsize::new(0));
        let b = Worker::builder()
            .name(format!("{what}-{asynchronous}"))
            .supervisor(s);
        let b = if what == "interval" {
            b.interval(FOREVER)
        } else {
            b.delay(FOREVER)
        };
        let r = runs.clone();
        let w = if asynchronous {
            b.build_async(move || {
                let r = r.clone();
                async move {
                    r.fetch_add(1, SeqCst);
                }
            })
        } else {
            b.build(move || {
                r.fetch_add(1, SeqCst);
            })
        };
        runs_once_and_waits(&w, &runs);
        // A trigger still runs it now.
        assert!(w.start());
        wait_until("the run after a restart", || runs.load(SeqCst) == 2);
        // A trigger during a run is dropped: trigger until one lands while it waits.
        wait_until("a triggered run", || {
            w.trigger();
            runs.load(SeqCst) >= 3
        });
        assert!(w.is_active());
        w.stop();
    }
}

#[test]
fn a_forever_delay_before_never_starts_the_first_run() {
    let s: &'static Supervisor = Box::leak(Box::new(sup("forever-delay-before")));
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let w = Worker::builder()
        .supervisor(s)
        .interval(Duration::from_millis(10))
        .delay_before(FOREVER)
        .build_async(move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, SeqCst);
            }
        });
    assert!(w.start());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(runs.load(SeqCst), 0);
    assert!(w.is_active());
    assert_eq!(w.stats().errors, 0);
    w.stop();
    assert_eq!(w.stats().state, WorkerState::Stopped);
}

#[test]
fn a_stop_with_a_forever_timeout_waits_for_the_running_task() {
    let s = sup("forever-stop");
    let t = s.task().spawn(|| {
        std::thread::sleep(Duration::from_millis(100));
        5
    });
    std::thread::sleep(Duration::from_millis(10));
    let started = std::time::Instant::now();
    s.stop_timeout(FOREVER);
    assert!(started.elapsed() < SOON);
    assert_eq!(t.wait(), Ok(5));
}

#[test]
fn forever_queue_wait_thresholds_never_warn() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let s = Supervisor::builder()
        .name("forever-thresholds")
        .thread_pool(1)
        .timeout_warning(FOREVER)
        .timeout_critical(FOREVER)
        .on_timeout_warning(move |_| {
            h.fetch_add(1, SeqCst);
        })
        .build()
        .unwrap();
    let gate = common::Gate::new();
    let g = gate.clone();
    let busy = s.task().spawn(move || g.wait());
    let queued = s.task().spawn(|| ());
    std::thread::sleep(Duration::from_millis(100));
    gate.open();
    busy.wait().unwrap();
    queued.wait().unwrap();
    assert_eq!(hits.load(SeqCst), 0);
    s.stop();
}

#[test]
fn a_forever_critical_threshold_keeps_the_watchdog_alive_over_process_windows() {
    // One runs, the others wait in its child's window: the watchdog looks at them there.
    let first: Vec<_> = (0..4).map(|_| nap(300)).collect();
    wait_until("a warning", || WARNED.load(SeqCst) >= 1);
    for t in first {
        assert_eq!(t.wait(), Ok(300));
    }
    // The watchdog is still alive: every later backlog is warned too, also one whose
    // jobs the child's driver takes ahead while the watchdog looks (a race: many rounds).
    for round in 0..60 {
        let before = WARNED.load(SeqCst);
        let later: Vec<_> = (0..3).map(|_| nap(70)).collect();
        wait_until(&format!("a warning in round {round}"), || {
            WARNED.load(SeqCst) > before
        });
        for t in later {
            assert_eq!(t.wait(), Ok(70));
        }
    }
}

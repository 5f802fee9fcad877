//! `static` tasks on the process pool: round trips, output, faults, deadlines, cancels, the
//! ladder, stats and stop. Each static task below is written exactly as
//! `#[background_task(static)]` expands it (see `process_common`).

#[macro_use]
mod process_common;

use atasker::{Priority, Supervisor, TaskError};
use process_common::*;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Point {
    x: i64,
    y: i64,
    label: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Shape {
    Empty,
    Circle { center: Point, radius: f64 },
    Poly(Vec<Point>),
}

static_task! {
    fn double(n: u64) -> u64 { n * 2 }
}

static_task! {
    fn concat(a: String, b: String, times: usize) -> String { format!("{a}{b}").repeat(times) }
}

static_task! {
    fn shift(p: Point, dx: i64) -> Point { Point { x: p.x + dx, ..p } }
}

static_task! {
    fn describe(s: Shape) -> (String, Option<usize>) {
        match s {
            Shape::Empty => ("empty".into(), None),
            Shape::Circle { radius, .. } => (format!("circle {radius}"), None),
            Shape::Poly(v) => ("poly".into(), Some(v.len())),
        }
    }
}

static_task! {
    fn sum_and_sort(v: Vec<i32>) -> (i64, Vec<i32>) {
        let mut v = v;
        v.sort();
        (v.iter().map(|&x| i64::from(x)).sum(), v)
    }
}

static_task! {
    fn nothing() -> () {}
}

static_task! {
    fn chatty(n: u32) -> u32 {
        println!("static task says hello {n}");
        eprintln!("static task says hello on stderr {n}");
        print!("no newline ");
        n + 1
    }
}

static_task! {
    fn pid() -> u32 { std::process::id() }
}

static_task! {
    fn boom(n: u32) -> u32 {
        if n > 0 {
            panic!("boom: {n}");
        }
        n
    }
}

static_task! {
    fn abort_now() -> () { std::process::abort() }
}

static_task! {
    fn exit_with(code: i32) -> () { std::process::exit(code) }
}

static_task! {
    /// Writes its pid to `marker`, then sleeps; returns its pid.
    fn sleepy(marker: String, ms: u64) -> u32 {
        if !marker.is_empty() {
            std::fs::write(&marker, std::process::id().to_string()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(ms));
        std::process::id()
    }
}

static_task! {
    fn hello_string() -> String { "hello".to_owned() }
}

static_task! {
    fn env_has_marker() -> bool {
        std::env::vars().any(|(k, _)| k.starts_with("ATASKER_CHILD"))
    }
}

/// Set by a plain `.init_array` constructor of this test binary, like an inventory or
/// typetag registration would be.
static CONSTRUCTOR_RAN: AtomicBool = AtomicBool::new(false);

extern "C" fn constructor() {
    CONSTRUCTOR_RAN.store(true, Ordering::SeqCst);
}

#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = constructor;

static_task! {
    /// What the child sees: its constructors ran, its arguments, its threads.
    fn child_facts() -> (bool, Vec<String>, usize) {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        (CONSTRUCTOR_RAN.load(Ordering::SeqCst), std::env::args().collect(), threads)
    }
}

fn normal(sup: &'static Supervisor) -> atasker::__private::TaskOptions {
    on(sup, Priority::Normal)
}

#[test]
fn round_trips_of_argument_and_result_shapes() {
    let sup = supervisor("shapes", 2);
    let o = || normal(sup);
    assert_eq!(double(o(), 21).wait(), Ok(42));
    assert_eq!(double(o(), u64::MAX / 2).wait(), Ok(u64::MAX - 1));
    assert_eq!(
        concat(o(), "ab".into(), "ç".into(), 3).wait().unwrap(),
        "abçabçabç"
    );
    let p = Point {
        x: -5,
        y: 7,
        label: "p".into(),
    };
    assert_eq!(
        shift(o(), p.clone(), 10).wait(),
        Ok(Point { x: 5, ..p.clone() })
    );
    assert_eq!(
        describe(o(), Shape::Empty).wait(),
        Ok(("empty".into(), None))
    );
    assert_eq!(
        describe(
            o(),
            Shape::Circle {
                center: p.clone(),
                radius: 1.5
            }
        )
        .wait(),
        Ok(("circle 1.5".into(), None))
    );
    assert_eq!(
        describe(o(), Shape::Poly(vec![p.clone(), p.clone(), p])).wait(),
        Ok(("poly".into(), Some(3)))
    );
    assert_eq!(
        sum_and_sort(o(), vec![3, -1, 2]).wait(),
        Ok((4, vec![-1, 2, 3]))
    );
    let big: Vec<i32> = (0..200_000).rev().collect();
    let (sum, sorted) = sum_and_sort(o(), big).wait().unwrap();
    assert_eq!(sum, (0..200_000i64).sum::<i64>());
    assert!(sorted.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(nothing(o()).wait(), Ok(()));
    // The child's environment no longer has the marker: its own children are normal.
    assert_eq!(env_has_marker(o()).wait(), Ok(false));
    // Many at once, results in order.
    let tasks: Vec<_> = (0..50).map(|i| double(o(), i)).collect();
    let results = atasker::wait_completed(tasks, Some(SOON)).unwrap();
    assert_eq!(results, (0..50).map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn a_static_task_is_also_a_future() {
    let sup = supervisor("future", 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(async { double(normal(sup), 4).await });
    assert_eq!(r, Ok(8));
}

#[test]
fn the_global_supervisor_runs_static_tasks() {
    let opts = atasker::__private::TaskOptions {
        name: "global",
        priority: Priority::Normal,
        timeout: None,
        delay: None,
        supervisor: None,
        limit: None,
        retry: None,
    };
    assert_eq!(double(opts, 5).wait(), Ok(10));
}

#[test]
fn a_static_task_may_print() {
    let sup = supervisor("print", 1);
    assert_eq!(chatty(normal(sup), 1).wait(), Ok(2));
    assert_eq!(chatty(normal(sup), 2).wait(), Ok(3));
    assert_eq!(double(normal(sup), 2).wait(), Ok(4));
}

#[test]
fn a_panic_is_reported_and_the_child_serves_on() {
    let sup = supervisor("panic", 1);
    let before = pid(normal(sup)).wait().unwrap();
    assert_ne!(before, std::process::id());
    assert_eq!(
        boom(normal(sup), 7).wait(),
        Err(TaskError::Panicked {
            message: "boom: 7".into()
        })
    );
    assert_eq!(boom(normal(sup), 0).wait(), Ok(0));
    assert_eq!(
        pid(normal(sup)).wait(),
        Ok(before),
        "the same child serves on"
    );
}

#[test]
fn an_abort_is_reported_and_a_fresh_child_takes_over() {
    let sup = supervisor("abort", 1);
    let before = pid(normal(sup)).wait().unwrap();
    assert_eq!(
        abort_now(normal(sup)).wait(),
        Err(TaskError::ProcessExited {
            code: None,
            signal: Some(6)
        })
    );
    wait_gone(before);
    let after = pid(normal(sup)).wait().unwrap();
    assert_ne!(after, before);
    assert_eq!(double(normal(sup), 3).wait(), Ok(6));
    assert_eq!(
        exit_with(normal(sup), 7).wait(),
        Err(TaskError::ProcessExited {
            code: Some(7),
            signal: None
        })
    );
    assert_eq!(double(normal(sup), 4).wait(), Ok(8));
}

#[test]
fn a_child_killed_from_outside_fails_only_its_task() {
    let sup = supervisor("sigkill", 1);
    let m = marker("sigkill");
    let long = sleepy(normal(sup), path(&m), 30_000);
    let victim = pid_in(&m);
    let queued: Vec<_> = (0..100).map(|i| double(normal(sup), i)).collect();
    sigkill(victim);
    assert_eq!(
        long.wait(),
        Err(TaskError::ProcessExited {
            code: None,
            signal: Some(9)
        })
    );
    let results = atasker::wait_completed(queued, Some(SOON)).unwrap();
    assert_eq!(results, (0..100).map(|i| i * 2).collect::<Vec<_>>());
    assert_ne!(pid(normal(sup)).wait().unwrap(), victim);
}

#[test]
fn a_child_that_died_while_idle_is_replaced_without_losing_the_task() {
    let sup = supervisor("idle-death", 1);
    let first = pid(normal(sup)).wait().unwrap();
    sigkill(first);
    wait_gone(first);
    // The request reaches a dead child's pipe: it is offered to a fresh child instead.
    assert_eq!(double(normal(sup), 8).wait(), Ok(16));
    assert_ne!(pid(normal(sup)).wait().unwrap(), first);
}

#[test]
fn a_deadline_kills_the_child() {
    let sup = supervisor("deadline", 1);
    let m = marker("deadline");
    let t0 = Instant::now();
    let t = sleepy(
        with_timeout(sup, Duration::from_millis(300)),
        path(&m),
        30_000,
    );
    let victim = pid_in(&m);
    assert_eq!(t.wait(), Err(TaskError::TimedOut));
    assert!(t0.elapsed() < SOON, "took {:?}", t0.elapsed());
    wait_gone(victim);
    assert_ne!(pid(normal(sup)).wait().unwrap(), victim);
    // A deadline that is not reached changes nothing.
    assert_eq!(
        sleepy(
            with_timeout(sup, Duration::from_secs(30)),
            String::new(),
            10
        )
        .wait()
        .map(|_| ()),
        Ok(())
    );
}

#[test]
fn cancel_of_a_running_static_task_kills_its_child() {
    let sup = supervisor("cancel", 1);
    let m = marker("cancel");
    let t = sleepy(normal(sup), path(&m), 30_000);
    let queued = double(normal(sup), 5);
    let victim = pid_in(&m);
    assert!(t.cancel());
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
    wait_gone(victim);
    assert_eq!(
        queued.wait(),
        Ok(10),
        "the queued task runs on a fresh child"
    );
    assert_ne!(pid(normal(sup)).wait().unwrap(), victim);
}

#[test]
fn cancel_of_a_queued_static_task() {
    let sup = supervisor("cancel-queued", 1);
    let m = marker("cancel-queued");
    // The blocker holds the only child until released, so `queued` is still queued when
    // it is cancelled, however slow the machine.
    let release = Release::new("cancel-queued");
    let blocker = hold(normal(sup), path(&m), release.path());
    let child = pid_in(&m);
    let queued = double(normal(sup), 5);
    assert!(queued.cancel());
    assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    release.open();
    assert_eq!(blocker.wait(), Ok(child), "the running task is untouched");
}

#[test]
fn a_result_that_does_not_decode_fails_with_codec_and_replaces_the_child() {
    let sup = supervisor("codec", 1);
    let before = pid(normal(sup)).wait().unwrap();
    // A wrapper that expects a `u8` from an entry that returns a `String`: the reply
    // decodes with bytes left over.
    fn mismatched(opts: atasker::__private::TaskOptions) -> atasker::Task<u8> {
        fn __atasker_call(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
            atasker::__private::call_static(input, out, |(): ()| "hello".to_owned())
        }
        #[atasker::__private::linkme::distributed_slice(
            atasker::__private::ATASKER_STATIC_TASKS_V0_1
        )]
        #[linkme(crate = atasker::__private::linkme)]
        static ENTRY: atasker::__private::StaticEntry = atasker::__private::StaticEntry {
            name: "mismatched",
            call: __atasker_call,
        };
        atasker::__private::spawn_static(opts, &ENTRY, ())
    }
    let e = mismatched(normal(sup)).wait().unwrap_err();
    assert!(
        matches!(&e, TaskError::Codec(m) if m.contains("left over")),
        "{e:?}"
    );
    wait_gone(before);
    assert_ne!(pid(normal(sup)).wait().unwrap(), before);
    assert_eq!(hello_string(normal(sup)).wait().unwrap(), "hello");

    // Arguments the child cannot decode: a codec error, and the child serves on.
    fn wrong_args(opts: atasker::__private::TaskOptions) -> atasker::Task<u64> {
        fn __atasker_call(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
            atasker::__private::call_static(input, out, |(n,): (u64,)| n)
        }
        #[atasker::__private::linkme::distributed_slice(
            atasker::__private::ATASKER_STATIC_TASKS_V0_1
        )]
        #[linkme(crate = atasker::__private::linkme)]
        static ENTRY: atasker::__private::StaticEntry = atasker::__private::StaticEntry {
            name: "wrong_args",
            call: __atasker_call,
        };
        atasker::__private::spawn_static(opts, &ENTRY, (1u64, 2u64))
    }
    let child = pid(normal(sup)).wait().unwrap();
    let e = wrong_args(normal(sup)).wait().unwrap_err();
    assert!(
        matches!(&e, TaskError::Codec(m) if m.contains("arguments")),
        "{e:?}"
    );
    assert_eq!(pid(normal(sup)).wait(), Ok(child));
}

#[test]
fn an_entry_outside_the_registry_is_refused() {
    static STRAY: atasker::__private::StaticEntry = atasker::__private::StaticEntry {
        name: "stray",
        call: |_, _| Ok(()),
    };
    let sup = supervisor("stray", 1);
    let t: atasker::Task<()> = atasker::__private::spawn_static(normal(sup), &STRAY, ());
    assert!(matches!(t.wait(), Err(TaskError::Unavailable(m)) if m.contains("stray")));
}

#[test]
fn the_ladder_governs_the_process_pool() {
    let sup = supervisor("ladder", 1);
    let m = marker("ladder");
    // The blocker holds the only slot until released: the checks below do not depend on
    // how fast the machine is.
    let release = Release::new("ladder");
    let blocker = hold(on(sup, Priority::Low), path(&m), release.path());
    pid_in(&m);
    // One slot, busy: every priority below CRITICAL waits, whatever the order of arrival.
    let l = started_at(on(sup, Priority::Low), "low".into());
    let n = started_at(on(sup, Priority::Normal), "normal".into());
    let h = started_at(on(sup, Priority::High), "high".into());
    let s = sup.stats().processes;
    assert_eq!(
        (s.low.queued, s.normal.queued, s.high.queued),
        (1, 1, 1),
        "{s:?}"
    );
    // CRITICAL starts at once, on an extra child, while the blocker runs.
    let c = started_at(on(sup, Priority::Critical), "critical".into());
    let (_, c_at) = c.wait().unwrap();
    assert!(!blocker.is_finished(), "critical waited for the blocker");
    release.open();
    blocker.wait().unwrap();
    let mut order = [l.wait().unwrap(), n.wait().unwrap(), h.wait().unwrap()];
    order.sort_by_key(|(_, at)| *at);
    let names: Vec<_> = order.iter().map(|(tag, _)| tag.as_str()).collect();
    assert_eq!(names, ["high", "normal", "low"]);
    assert!(c_at < order[0].1);
}

#[test]
fn stats_count_process_tasks() {
    let sup = supervisor("stats", 1);
    assert_eq!(double(normal(sup), 1).wait(), Ok(2));
    assert!(boom(normal(sup), 1).wait().is_err());
    let m = marker("stats");
    // Held until released: `queued` is cancelled while queued, and the blocker is counted
    // as running, however slow the machine.
    let release = Release::new("stats");
    let blocker = hold(normal(sup), path(&m), release.path());
    pid_in(&m);
    let queued = double(normal(sup), 2);
    assert!(queued.cancel());
    let running = sup.stats().processes.normal;
    assert_eq!((running.running, running.queued), (1, 0));
    release.open();
    blocker.wait().unwrap();
    let low = double(on(sup, Priority::Low), 3);
    assert_eq!(low.wait(), Ok(6));
    let s = sup.stats();
    let p = s.processes.normal;
    assert_eq!(
        (
            p.submitted,
            p.completed,
            p.failed,
            p.cancelled,
            p.queued,
            p.running
        ),
        (4, 2, 1, 1, 0, 0),
        "{p:?}"
    );
    assert_eq!(s.processes.low.completed, 1);
    assert_eq!(s.threads.total().submitted, 0);
    assert_eq!(s.coroutines.total().submitted, 0);
}

#[test]
fn stop_closes_the_children() {
    let sup = supervisor("stop", 2);
    // Two tasks held until both have started: they run at the same time, so on two
    // children.
    let (ma, mb) = (marker("stop-a"), marker("stop-b"));
    let release = Release::new("stop");
    let a = hold(normal(sup), path(&ma), release.path());
    let b = hold(normal(sup), path(&mb), release.path());
    let started = [pid_in(&ma), pid_in(&mb)];
    release.open();
    let pids = [a.wait().unwrap(), b.wait().unwrap()];
    assert_eq!(pids, started);
    assert_ne!(pids[0], pids[1]);
    let queued = sleepy(normal(sup), String::new(), 50);
    let t0 = Instant::now();
    sup.stop();
    assert!(queued.wait().is_ok(), "stop lets queued tasks run");
    assert!(t0.elapsed() < SOON);
    for pid in pids {
        assert!(gone(pid), "child {pid} outlived stop");
    }
    assert_eq!(
        double(normal(sup), 1).wait(),
        Err(TaskError::SupervisorStopped)
    );
    sup.stop(); // idempotent
}

#[test]
fn stop_timeout_kills_running_process_tasks() {
    let sup = supervisor("stop-timeout", 1);
    let m = marker("stop-timeout");
    let running = sleepy(normal(sup), path(&m), 30_000);
    let victim = pid_in(&m);
    let queued = double(normal(sup), 1);
    let t0 = Instant::now();
    sup.stop_timeout(Duration::from_millis(300));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(running.wait(), Err(TaskError::Cancelled));
    assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    wait_gone(victim);
}

#[test]
fn a_child_runs_every_constructor_and_never_the_test_harness() {
    let sup = supervisor("facts", 1);
    let (constructed, args, threads) = child_facts(normal(sup)).wait().unwrap();
    assert!(
        constructed,
        "a constructor of the executable did not run in the child"
    );
    // The harness would have been given (and would have started) more: the child is the bare
    // executable, serving on its main thread.
    assert_eq!(args.len(), 1, "{args:?}");
    assert_eq!(threads, 1);
}

#[test]
fn a_static_task_queued_too_long_fires_the_warning_hook() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(atasker::PoolKind, Priority)>>> = Arc::default();
    let hook = seen.clone();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("proc-watchdog")
            .process_pool(1)
            .timeout_warning(Duration::from_millis(100))
            .timeout_critical(Duration::from_secs(60))
            .on_timeout_warning(move |t: &atasker::TaskInfo| {
                hook.lock().unwrap().push((t.pool, t.priority))
            })
            .build()
            .unwrap(),
    ));
    let m = marker("watchdog");
    // Held until the hook has fired: the task waits as long as it takes, not 600 ms.
    let release = Release::new("watchdog");
    let blocker = hold(normal(sup), path(&m), release.path());
    pid_in(&m);
    let waiting = double(on(sup, Priority::High), 1);
    let deadline = Instant::now() + SOON;
    while seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the warning hook never fired");
        std::thread::sleep(Duration::from_millis(5));
    }
    release.open();
    assert_eq!(waiting.wait(), Ok(2));
    blocker.wait().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [(atasker::PoolKind::Processes, Priority::High)]
    );
}

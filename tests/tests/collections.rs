//! Collections (`FunctionCollection`, `TaskCollection`) and the `Locker`: the Python
//! original's behaviour (`f.py`, `threads.py`) without its bugs. Each test names the bug of
//! the notes (`atasker-python.md` §2G, §2H, §4) it proves gone.

mod common;

use atasker::{
    FunctionCollection, LockInfo, LockTimeout, Locker, Priority, Supervisor, TaskCollection,
    TaskError,
};
use common::{supervisor, wait_until, Gate, Log, QUIET, SOON};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A user's error type: its own failures, and the library's (a panic, a stopped supervisor).
#[derive(Debug, Clone, PartialEq)]
enum AppError {
    Bad(String),
    Task(TaskError),
}

impl From<TaskError> for AppError {
    fn from(e: TaskError) -> Self {
        AppError::Task(e)
    }
}

fn panicked(message: &str) -> AppError {
    AppError::Task(TaskError::Panicked {
        message: message.into(),
    })
}

/// Runs `f` on a thread of its own and returns its value, failing the test (instead of
/// hanging it) when `f` has not returned within `SOON`.
fn within_soon<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(SOON)
        .unwrap_or_else(|_| panic!("{what} did not return within {SOON:?} (a hang)"))
}

// ---- FunctionCollection ---------------------------------------------------------------

/// G2/G3: `run()` goes highest priority first (the original sorted ascending and read
/// `priority=CRITICAL` (0) as the default 100); equal priorities keep the order of `add`.
#[test]
fn function_collection_runs_highest_priority_first() {
    use Priority::*;
    let log = Log::new();
    let mut c = FunctionCollection::new();
    for (name, p) in [
        ("low", Low),
        ("normal-1", Normal),
        ("critical", Critical),
        ("high", High),
        ("normal-2", Normal),
    ] {
        let l = log.clone();
        c.add(name, p, move || {
            l.push(name);
            Ok::<_, AppError>(())
        });
    }
    assert_eq!(c.len(), 5);
    let (_, all_ok) = c.run();
    assert!(all_ok);
    assert_eq!(
        log.get(),
        ["critical", "high", "normal-1", "normal-2", "low"]
    );
}

/// G3: results are keyed by the name given to `add` (the original keyed them by
/// `module.qualname`, so two functions could collide), one entry per function.
#[test]
fn function_collection_results_by_name() {
    let mut c = FunctionCollection::new();
    c.add("one", Priority::Low, || Ok::<u32, AppError>(1))
        .add("two", Priority::High, || Ok(2))
        .add("three", Priority::Normal, || Ok(3));
    let (results, all_ok) = c.run();
    let want: BTreeMap<&str, Result<u32, AppError>> =
        BTreeMap::from([("one", Ok(1)), ("two", Ok(2)), ("three", Ok(3))]);
    assert_eq!(results, want);
    assert!(all_ok);
}

/// G3: an error or a panic does not stop the rest (the original, without `on_error`,
/// re-raised the exception and skipped every later function); it is in the results, and
/// `all_ok` is `false`.
#[test]
fn function_collection_error_and_panic_do_not_stop_the_rest() {
    use Priority::*;
    let log = Log::new();
    let mut c = FunctionCollection::new();
    let l = log.clone();
    c.add("a-first", Critical, move || {
        l.push("a");
        Ok::<u32, AppError>(1)
    });
    let l = log.clone();
    c.add("b-fails", High, move || {
        l.push("b");
        Err(AppError::Bad("no".into()))
    });
    let l = log.clone();
    c.add("c-panics", Normal, move || {
        l.push("c");
        panic!("boom")
    });
    let l = log.clone();
    c.add("d-last", Low, move || {
        l.push("d");
        Ok(4)
    });
    let (results, all_ok) = c.run();
    assert_eq!(
        log.get(),
        ["a", "b", "c", "d"],
        "every function ran, in order"
    );
    assert!(!all_ok);
    assert_eq!(results["a-first"], Ok(1));
    assert_eq!(results["b-fails"], Err(AppError::Bad("no".into())));
    assert_eq!(results["c-panics"], Err(panicked("boom")));
    assert_eq!(results["d-last"], Ok(4));
}

/// A name is a key: adding it again replaces the function (no silent collision, no second
/// run), `remove` takes one out, and `run()` may be called again.
#[test]
fn function_collection_names_replace_remove_and_run_again() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut c = FunctionCollection::new();
    c.add("x", Priority::Normal, || Ok::<&str, AppError>("old"));
    let r = runs.clone();
    c.add("x", Priority::Normal, move || {
        r.fetch_add(1, SeqCst);
        Ok("new")
    });
    c.add("gone", Priority::Normal, || Ok("gone"));
    assert!(c.remove("gone"));
    assert!(!c.remove("gone"));
    assert_eq!(c.len(), 1);
    for round in 1..=2 {
        let (results, all_ok) = c.run();
        assert!(all_ok);
        assert_eq!(results.len(), 1);
        assert_eq!(results["x"], Ok("new"));
        assert_eq!(runs.load(SeqCst), round);
    }
    let mut empty: FunctionCollection<(), AppError> = FunctionCollection::new();
    let (results, all_ok) = empty.run();
    assert!(
        results.is_empty() && all_ok,
        "an empty collection is all ok"
    );
}

// ---- TaskCollection --------------------------------------------------------------------

/// G5: the functions run concurrently, as tasks: each of two waits until both have started,
/// which only succeeds when they run at the same time.
#[test]
fn task_collection_runs_concurrently() {
    let sup = supervisor("coll-conc", 4, 0, 0);
    let started = Arc::new(AtomicUsize::new(0));
    let mut c = TaskCollection::new().supervisor(sup);
    for name in ["left", "right"] {
        let s = started.clone();
        c.add(name, Priority::Normal, move || {
            s.fetch_add(1, SeqCst);
            let deadline = Instant::now() + SOON;
            while s.load(SeqCst) < 2 {
                if Instant::now() > deadline {
                    return Err(AppError::Bad(format!("{name} ran alone")));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(name.len())
        });
    }
    let (results, all_ok) = within_soon("execute()", move || c.execute());
    assert_eq!(results, BTreeMap::from([("left", Ok(4)), ("right", Ok(5))]));
    assert!(all_ok);
}

/// G5: a failing or panicking function does not hang `execute()` (the original re-raised
/// before marking the task done, so `execute()` waited for ever); results are by name (the
/// original's were in completion order).
#[test]
fn task_collection_execute_returns_with_errors_and_panics() {
    let sup = supervisor("coll-err", 2, 0, 0);
    let mut c = TaskCollection::new().supervisor(sup);
    c.add("ok", Priority::Normal, || Ok::<u32, AppError>(7))
        .add("fails", Priority::High, || Err(AppError::Bad("no".into())))
        .add("panics", Priority::Low, || panic!("kaboom"));
    let c = Arc::new(c);
    for _ in 0..2 {
        let c2 = c.clone();
        let (results, all_ok) = within_soon("execute()", move || c2.execute());
        assert!(!all_ok);
        assert_eq!(results.len(), 3);
        assert_eq!(results["ok"], Ok(7));
        assert_eq!(results["fails"], Err(AppError::Bad("no".into())));
        assert_eq!(results["panics"], Err(panicked("kaboom")));
    }
}

/// `Critical` is honoured (the original read CRITICAL (0) as the default priority, and its
/// CRITICAL could wait behind a full pool): with the pool's one thread held by a task, the
/// collection's CRITICAL function starts at once, the others wait and then start highest
/// first.
#[test]
fn task_collection_critical_starts_in_a_full_pool() {
    use Priority::*;
    let sup = supervisor("coll-crit", 1, 0, 0);
    let log = Log::new();
    let gate = Gate::new();
    let (l, g) = (log.clone(), gate.clone());
    let busy = sup.task().spawn(move || {
        l.push("busy");
        g.wait();
    });
    wait_until("the pool is busy", || log.contains("busy"));

    let mut c = TaskCollection::new().supervisor(sup);
    for (name, p) in [("low", Low), ("normal", Normal), ("critical", Critical)] {
        let l = log.clone();
        c.add(name, p, move || {
            l.push(name);
            Ok::<_, AppError>(name)
        });
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(c.execute());
    });
    wait_until("the CRITICAL function starts in a full pool", || {
        log.contains("critical")
    });
    std::thread::sleep(QUIET);
    assert_eq!(
        log.get(),
        ["busy", "critical"],
        "only CRITICAL passed the full pool"
    );
    gate.open();
    busy.wait().unwrap();
    let (results, all_ok) = rx.recv_timeout(SOON).expect("execute() returned");
    assert!(all_ok);
    assert_eq!(results["critical"], Ok("critical"));
    assert_eq!(log.get(), ["busy", "critical", "normal", "low"]);
}

/// After a supervisor stop, `execute()` still returns at once: every function's result is
/// the task's error (`SupervisorStopped`), converted into the user's error type.
#[test]
fn task_collection_on_a_stopped_supervisor_returns_errors() {
    let sup = Supervisor::builder().name("coll-stopped").build().unwrap();
    sup.stop();
    let mut c = TaskCollection::new().supervisor(&sup);
    c.add("a", Priority::Normal, || Ok::<u8, AppError>(1))
        .add("b", Priority::Critical, || Ok(2));
    let (results, all_ok) = within_soon("execute()", move || c.execute());
    assert!(!all_ok);
    assert_eq!(
        results["a"],
        Err(AppError::Task(TaskError::SupervisorStopped))
    );
    assert_eq!(
        results["b"],
        Err(AppError::Task(TaskError::SupervisorStopped))
    );
}

/// The global supervisor by default, and `execute_async` for async code (a current-thread
/// runtime, where the blocking `execute()` must not be used).
#[test]
fn task_collection_global_default_and_async() {
    let mut c = TaskCollection::new();
    c.add("two", Priority::High, || Ok::<u32, AppError>(2))
        .add("three", Priority::Low, || Ok(3));
    let (results, all_ok) = c.execute();
    assert!(all_ok);
    assert_eq!(results, BTreeMap::from([("three", Ok(3)), ("two", Ok(2))]));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (results, all_ok) = rt.block_on(c.execute_async());
    assert!(all_ok);
    assert_eq!(results["two"], Ok(2));
}

// ---- Locker ----------------------------------------------------------------------------

/// The guard excludes: threads that take the lock never overlap in the section it guards.
#[test]
fn locker_guard_excludes_across_threads() {
    let lock = Arc::new(Locker::new("counter"));
    let inside = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(Mutex::new(0u32));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (lock, inside, overlaps, total) = (
                lock.clone(),
                inside.clone(),
                overlaps.clone(),
                total.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let _guard = lock.lock().expect("no timeout with 5 s");
                    if inside.swap(true, SeqCst) {
                        overlaps.fetch_add(1, SeqCst);
                    }
                    let n = *total.lock().unwrap();
                    std::thread::yield_now();
                    *total.lock().unwrap() = n + 1;
                    inside.store(false, SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(overlaps.load(SeqCst), 0, "two threads inside at once");
    assert_eq!(*total.lock().unwrap(), 200);
}

/// Holds `lock` on a thread named `name` until the returned gate opens; returns once held.
fn hold_on_thread(lock: &'static Locker, name: &str) -> (std::thread::JoinHandle<()>, Gate) {
    let gate = Gate::new();
    let (held_tx, held_rx) = mpsc::channel();
    let g = gate.clone();
    let t = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _guard = lock.lock().expect("free lock");
            let _ = held_tx.send(std::thread::current().id());
            g.wait();
        })
        .unwrap();
    held_rx
        .recv_timeout(SOON)
        .expect("the holder took the lock");
    (t, gate)
}

static HOOKED: Mutex<Vec<LockInfo>> = Mutex::new(Vec::new());

fn record(info: &LockInfo) {
    HOOKED.lock().unwrap().push(info.clone());
}

/// A `static` Locker (a const constructor with a const timeout and hook).
static PLC: Locker = Locker::new("plc")
    .timeout(Duration::from_millis(100))
    .on_critical(record);

/// H2/H3 and §4.18: a lock not acquired in time is an `Err(LockTimeout)` (the original's
/// decorator returned a silent `None`), and the critical hook is called once with the
/// lock's name, the holding thread and since when it holds it.
#[test]
fn locker_timeout_is_an_error_and_calls_the_hook_once() {
    let (holder, gate) = hold_on_thread(&PLC, "plc-holder");
    let holder_id = holder.thread().id();
    let asked = Instant::now();
    let err: LockTimeout = PLC.lock().expect_err("held elsewhere: a timeout");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(100),
        "gave up early: {waited:?}"
    );
    assert!(waited < SOON, "waited too long: {waited:?}");

    let hooked = HOOKED.lock().unwrap().clone();
    assert_eq!(hooked.len(), 1, "the hook is called once per timeout");
    let info = &hooked[0];
    assert_eq!(info.name, "plc");
    assert_eq!(info.holder_thread, holder_id);
    assert_eq!(info.holder_name.as_deref(), Some("plc-holder"));
    assert!(info.held_since <= asked);
    assert!(info.held_for >= info.waited);
    assert!(info.waited >= Duration::from_millis(100));
    assert_eq!(err.info.name, "plc");
    assert_eq!(err.info.holder_thread, holder_id);
    let text = err.to_string();
    assert!(
        text.contains("`plc`") && text.contains("plc-holder"),
        "{text}"
    );

    // Also through `run`, the original's decorator: an `Err`, never a silent value.
    assert!(PLC.run(|| 42).is_err());
    assert_eq!(HOOKED.lock().unwrap().len(), 2);

    gate.open();
    holder.join().unwrap();
    assert_eq!(PLC.run(|| 42).expect("free again"), 42);
    assert_eq!(HOOKED.lock().unwrap().len(), 2, "no hook without a timeout");
}

/// A hook set at run time (capturing state) replaces the const one.
#[test]
fn locker_run_time_hook() {
    static LOCK: Locker = Locker::new("runtime-hook").timeout(Duration::from_millis(50));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    LOCK.set_on_critical(move |info: &LockInfo| s.lock().unwrap().push(info.name));
    let (holder, gate) = hold_on_thread(&LOCK, "rt-holder");
    assert!(LOCK.lock().is_err());
    assert_eq!(*seen.lock().unwrap(), ["runtime-hook"]);
    gate.open();
    holder.join().unwrap();
}

/// A panicking hook does not turn the timeout into a panic: the caller still gets `Err`.
#[test]
fn locker_panicking_hook_is_contained() {
    static LOCK: Locker = Locker::new("bad-hook")
        .timeout(Duration::from_millis(30))
        .on_critical(|_| panic!("hook failed"));
    let (holder, gate) = hold_on_thread(&LOCK, "bad-hook-holder");
    assert!(LOCK.lock().is_err());
    gate.open();
    holder.join().unwrap();
}

/// `Duration::MAX` waits for ever (no `Instant` overflow, no timeout): the lock is taken
/// when the holder lets go, however long that takes.
#[test]
fn locker_duration_max_waits_until_released() {
    static FOREVER: Locker = Locker::new("forever").timeout(Duration::MAX);
    let (holder, gate) = hold_on_thread(&FOREVER, "forever-holder");
    let (tx, rx) = mpsc::channel();
    let asked = Instant::now(); // before the waiter starts: `QUIET * 2` at least to the release
    let waiter = std::thread::spawn(move || {
        let got = FOREVER.lock().map(|_guard| asked.elapsed());
        let _ = tx.send(got.is_ok());
        got
    });
    std::thread::sleep(QUIET * 2);
    assert!(rx.try_recv().is_err(), "the waiter must still wait");
    gate.open();
    holder.join().unwrap();
    assert!(rx.recv_timeout(SOON).expect("the waiter got through"));
    let waited = waiter.join().unwrap().unwrap();
    assert!(waited >= QUIET * 2, "{waited:?}");
}

/// Re-entrant by default (the original's `relative=True`): the holding thread takes it
/// again at once, and it is free once the outer guard is dropped. `.reentrant(false)`
/// turns a nested lock into a timeout naming this very thread as the holder (the original
/// turned it into a silent `None`).
#[test]
fn locker_reentrancy() {
    static RE: Locker = Locker::new("re").timeout(Duration::from_millis(50));
    {
        let outer = RE.lock().unwrap();
        let inner = RE.lock().expect("re-entrant");
        drop(inner);
        drop(outer);
    }
    let (holder, gate) = hold_on_thread(&RE, "re-holder");
    assert!(RE.lock().is_err(), "held by another thread");
    gate.open();
    holder.join().unwrap();

    static FLAT: Locker = Locker::new("flat")
        .timeout(Duration::from_millis(50))
        .reentrant(false);
    let _outer = FLAT.lock().unwrap();
    let err = FLAT
        .lock()
        .expect_err("a nested lock of a non-re-entrant Locker");
    assert_eq!(err.info.holder_thread, std::thread::current().id());
}

/// The documented default timeout: 5 s, as in the original (`Locker(timeout=5)`).
#[test]
fn locker_default_timeout() {
    assert_eq!(Locker::DEFAULT_TIMEOUT, Duration::from_secs(5));
    assert_eq!(Locker::new("x").name(), "x");
}

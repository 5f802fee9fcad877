//! Per-name concurrency limits (`limit = N`): at most `N` tasks of one name run at once,
//! on the thread pool, the process pool and as coroutines. Tasks over the limit wait
//! queued, holding no slot, in ladder order; a nested wait never deadlocks on a limit; a
//! cancelled waiting task leaks nothing; the queue-wait hooks see a task held by its limit.

mod common;
// `static_task!`: a static task in the macro's shape, with the options (so a limit) from
// the caller.
#[macro_use]
mod process_common;

use atasker::__private::TaskOptions;
use atasker::{Priority, Supervisor, Task, TaskError};
use common::{supervisor, wait_until, Gate, Log, QUIET, SOON};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The task's result, which must come within `SOON` (else: a deadlock).
fn done<T: Send + 'static>(mut t: Task<T>) -> Result<T, TaskError> {
    t.wait_timeout(SOON).expect("the task never finished")
}

/// How many tasks are inside a section at once, and the most there ever were.
#[derive(Default)]
struct Peak {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Peak {
    fn enter(&self) {
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(n, SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, SeqCst);
    }
    fn now(&self) -> usize {
        self.now.load(SeqCst)
    }
    fn max(&self) -> usize {
        self.max.load(SeqCst)
    }
}

/// Spawns a thread task named `name` (with `limit`, if any) at `p` that logs `tag` when it
/// starts, then blocks on its own gate.
fn blocker(
    sup: &'static Supervisor,
    log: &Log,
    tag: &'static str,
    (name, p, limit): (&'static str, Priority, Option<u32>),
) -> (Task<()>, Gate) {
    let gate = Gate::new();
    let (l, g) = (log.clone(), gate.clone());
    let mut b = sup.task().name(name).priority(p);
    if let Some(n) = limit {
        b = b.limit(n);
    }
    let t = b.spawn(move || {
        l.push(tag);
        g.wait();
    });
    (t, gate)
}

fn started(log: &Log, tag: &str) {
    wait_until(&format!("{tag} starts"), || log.contains(tag));
}

fn not_started(log: &Log, tag: &str) {
    std::thread::sleep(QUIET);
    assert!(!log.contains(tag), "{tag} started: {:?}", log.get());
}

#[test]
fn at_most_the_limit_runs_at_once_and_other_names_pass() {
    let sup = supervisor("limit-50", 8, 0, 0);
    let peak = Arc::new(Peak::default());
    let gate = Gate::new();
    let ended = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (peak, gate, ended) = (peak.clone(), gate.clone(), ended.clone());
            sup.task().name("plc").limit(2).spawn(move || {
                peak.enter();
                gate.wait();
                std::thread::sleep(Duration::from_millis(1));
                peak.leave();
                ended.fetch_add(1, SeqCst);
                i
            })
        })
        .collect();
    wait_until("two plc tasks run", || peak.now() == 2);
    std::thread::sleep(QUIET);
    assert_eq!(peak.max(), 2, "six slots are free, but the limit is 2");
    let s = sup.stats().threads.normal;
    assert_eq!((s.running, s.queued), (2, 48), "the others wait queued");
    // A task of another name, submitted after the 48 waiting ones, starts at once.
    let other = sup.task().name("other").spawn(|| "other ran");
    assert_eq!(done(other), Ok("other ran"));
    assert_eq!(ended.load(SeqCst), 0, "the plc tasks still run");
    gate.open();
    let got: Vec<usize> = tasks.into_iter().map(|t| done(t).unwrap()).collect();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    assert_eq!((peak.max(), peak.now()), (2, 0));
}

#[test]
fn a_blocked_task_holds_no_slot_and_starts_first_once_its_name_has_room() {
    use Priority::*;
    // Two slots for every priority.
    let sup = supervisor("limit-slot", 2, 0, 0);
    let log = Log::new();
    let (a1, ga1) = blocker(sup, &log, "A1", ("a", Normal, Some(1)));
    started(&log, "A1");
    // A2 waits for its name, not for a slot: B (of a lower priority) takes the free one.
    let (a2, ga2) = blocker(sup, &log, "A2", ("a", High, Some(1)));
    let (b, gb) = blocker(sup, &log, "B", ("b", Low, None));
    started(&log, "B");
    not_started(&log, "A2");
    // Now the pool is full: C waits for a slot, behind A2.
    let (c, gc) = blocker(sup, &log, "C", ("c", Low, None));
    not_started(&log, "C");
    // A1 ends: A2 takes its slot, C still waits.
    ga1.open();
    done(a1).unwrap();
    started(&log, "A2");
    not_started(&log, "C");
    gb.open();
    done(b).unwrap();
    started(&log, "C");
    ga2.open();
    gc.open();
    done(a2).unwrap();
    done(c).unwrap();
    assert_eq!(log.get(), ["A1", "B", "A2", "C"]);
}

#[test]
fn a_limited_task_waiting_for_one_of_its_name_does_not_deadlock() {
    for pool in [1, 2] {
        let sup = supervisor(&format!("limit-nest-{pool}"), pool, 0, 0);
        let nest = move || sup.task().name("nest").limit(1);
        let outer = nest().spawn(move || nest().spawn(|| 20).wait().unwrap() + 1);
        assert_eq!(done(outer), Ok(21), "pool {pool}");
        // Deeper, and with an inner task that queues only after its delay.
        let outer = nest().spawn(move || {
            let mid = nest().spawn(move || {
                let inner = nest().delay(Duration::from_millis(50)).spawn(|| 1);
                inner.wait().unwrap() + 1
            });
            mid.wait().unwrap() + 1
        });
        assert_eq!(done(outer), Ok(3), "pool {pool}");
        // The runs taken inline left no count behind: two in a row still run.
        for _ in 0..2 {
            assert_eq!(done(nest().spawn(|| 0)), Ok(0), "pool {pool}");
        }
    }
}

#[test]
fn a_cancelled_blocked_task_leaks_no_count() {
    let sup = supervisor("limit-cancel", 4, 0, 0);
    let log = Log::new();
    let (a1, g1) = blocker(sup, &log, "A1", ("a", Priority::Normal, Some(1)));
    started(&log, "A1");
    let (a2, _g2) = blocker(sup, &log, "A2", ("a", Priority::Normal, Some(1)));
    not_started(&log, "A2");
    assert!(a2.cancel());
    assert_eq!(done(a2), Err(TaskError::Cancelled));
    g1.open();
    done(a1).unwrap();
    // The name has room again, for one task at a time.
    let peak = Arc::new(Peak::default());
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let peak = peak.clone();
            sup.task().name("a").limit(1).spawn(move || {
                peak.enter();
                std::thread::sleep(Duration::from_millis(5));
                peak.leave();
            })
        })
        .collect();
    for t in tasks {
        done(t).unwrap();
    }
    assert_eq!(peak.max(), 1);
    assert!(!log.contains("A2"));
    wait_until("nothing is queued", || {
        let s = sup.stats().threads.normal;
        (s.running, s.queued) == (0, 0)
    });
}

#[test]
fn the_queue_wait_warning_fires_for_a_task_held_by_its_limit() {
    let warned = Arc::new(Mutex::new(Vec::new()));
    let seen = warned.clone();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("limit-warn")
            .thread_pool(4)
            .timeout_warning(Duration::from_millis(50))
            .on_timeout_warning(move |t| seen.lock().unwrap().push(t.id))
            .build()
            .unwrap(),
    ));
    let log = Log::new();
    let (a1, g1) = blocker(sup, &log, "A1", ("slow", Priority::Normal, Some(1)));
    started(&log, "A1");
    let (a2, g2) = blocker(sup, &log, "A2", ("slow", Priority::Normal, Some(1)));
    let id = a2.id();
    wait_until("the warning fires for A2", || {
        warned.lock().unwrap().contains(&id)
    });
    assert!(!log.contains("A2"), "still held by its limit");
    assert!(
        !warned.lock().unwrap().contains(&a1.id()),
        "A1 never queued"
    );
    g1.open();
    g2.open();
    done(a1).unwrap();
    done(a2).unwrap();
}

#[test]
fn coroutines_with_a_limit_run_at_most_that_many_at_once() {
    let sup = supervisor("limit-async", 2, 0, 0);
    let peak = Arc::new(Peak::default());
    let log = Log::new();
    let (open, gate) = tokio::sync::watch::channel(false);
    let spawn = |i: usize| {
        let (peak, log, mut gate) = (peak.clone(), log.clone(), gate.clone());
        sup.task().name("co").limit(2).spawn_async(async move {
            peak.enter();
            log.push(i.to_string());
            let _ = gate.wait_for(|open| *open).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
            peak.leave();
            i
        })
    };
    let tasks: Vec<_> = (0..30).map(spawn).collect();
    wait_until("two coroutines run", || peak.now() == 2);
    std::thread::sleep(QUIET);
    assert_eq!(peak.max(), 2);
    assert_eq!(sup.stats().coroutines.normal.queued, 28);
    // Cancelling waiting ones frees nothing they did not hold: still two run.
    let waiting: Vec<usize> = (0..30).filter(|i| !log.contains(&i.to_string())).collect();
    let cancelled: Vec<usize> = waiting.into_iter().take(5).collect();
    for &i in &cancelled {
        assert!(tasks[i].cancel(), "{i} waits");
    }
    std::thread::sleep(QUIET);
    assert_eq!((peak.now(), peak.max()), (2, 2));
    open.send(true).unwrap();
    for (i, t) in tasks.into_iter().enumerate() {
        let want = if cancelled.contains(&i) {
            Err(TaskError::Cancelled)
        } else {
            Ok(i)
        };
        assert_eq!(done(t), want, "task {i}");
    }
    assert_eq!((peak.max(), peak.now()), (2, 0));
    for i in cancelled {
        assert!(!log.contains(&i.to_string()), "{i} never ran");
    }
}

#[test]
fn a_coroutine_gives_its_permit_back_on_a_deadline_and_a_cancel() {
    let sup = supervisor("limit-async-end", 2, 0, 0);
    let one = move || sup.task().name("one").limit(1);
    let t = one()
        .timeout(Duration::from_millis(30))
        .spawn_async(std::future::pending::<()>());
    assert_eq!(done(t), Err(TaskError::TimedOut));
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let t = one().spawn_async(async move {
        s.fetch_add(1, SeqCst);
        std::future::pending::<()>().await
    });
    wait_until("it runs after the deadline", || started.load(SeqCst) == 1);
    assert!(t.cancel());
    assert_eq!(done(t), Err(TaskError::Cancelled));
    assert_eq!(done(one().spawn_async(async { 7 })), Ok(7));
}

// --- The process pool -------------------------------------------------------------------

/// Nanoseconds since the epoch (comparable across processes).
fn epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

static_task! {
    /// Marks its start with a file in `dir`, holds its child until the file `release`
    /// exists (at most a minute), then a moment more; returns when it started and ended.
    fn held(dir: String, release: String) -> (u128, u128) {
        let start = epoch_ns();
        let mark = Path::new(&dir).join(format!("{}-{start}", std::process::id()));
        std::fs::write(mark, b"").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !Path::new(&release).exists() {
            assert!(Instant::now() < deadline, "never released");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(5));
        (start, epoch_ns())
    }
}

/// Options for a static task named `name` on `sup`, with `limit` (0: none).
fn options(sup: &'static Supervisor, name: &'static str, limit: u32) -> TaskOptions {
    TaskOptions {
        name,
        priority: Priority::Normal,
        timeout: None,
        delay: None,
        supervisor: Some(sup),
        limit: NonZeroU32::new(limit),
        retry: None,
    }
}

/// A fresh, empty directory in the temp dir.
fn fresh_dir(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("atasker-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

fn text(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

#[test]
fn process_tasks_with_a_limit_run_at_most_that_many_at_once() {
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("limit-proc")
            .process_pool(4)
            .build()
            .unwrap(),
    ));
    let (marks, free_marks) = (fresh_dir("limit-marks"), fresh_dir("limit-free"));
    let release = fresh_dir("limit-release").join("go");
    let tasks: Vec<_> = (0..6)
        .map(|_| held(options(sup, "plc", 2), text(&marks), text(&release)))
        .collect();
    wait_until("two runs start", || files_in(&marks) == 2);
    // Long enough for a third child to start, were the limit not kept.
    std::thread::sleep(QUIET * 4);
    assert_eq!(files_in(&marks), 2);
    // Another name runs meanwhile, on a free slot.
    let free_release = free_marks.join("go");
    std::fs::write(&free_release, b"").unwrap();
    let free = held(
        options(sup, "free", 0),
        text(&free_marks),
        text(&free_release),
    );
    done(free).unwrap();
    assert_eq!(files_in(&marks), 2, "the plc tasks are still held");
    std::fs::write(&release, b"").unwrap();
    let spans: Vec<(u128, u128)> = tasks.into_iter().map(|t| done(t).unwrap()).collect();
    assert_eq!(files_in(&marks), 6);
    // How many runs were going on as each one started: never more than the limit.
    let most = (spans.iter())
        .map(|&(at, _)| spans.iter().filter(|&&(s, e)| s <= at && at < e).count())
        .max();
    assert_eq!(most, Some(2), "{spans:?}");
    for dir in [marks, free_marks, release.parent().unwrap().to_owned()] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn the_queue_wait_warning_fires_for_a_coroutine_held_by_its_limit() {
    let warned = Arc::new(Mutex::new(Vec::new()));
    let seen = warned.clone();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("limit-warn-async")
            .timeout_warning(Duration::from_millis(50))
            .on_timeout_warning(move |t| seen.lock().unwrap().push(t.id))
            .build()
            .unwrap(),
    ));
    let (open, gate) = tokio::sync::watch::channel(false);
    let held = |gate: tokio::sync::watch::Receiver<bool>| {
        let mut gate = gate;
        sup.task().name("plc").limit(1).spawn_async(async move {
            let _ = gate.wait_for(|o| *o).await;
        })
    };
    let first = held(gate.clone());
    let second = held(gate.clone());
    let id = second.id();
    wait_until("the warning fires for the waiting coroutine", || {
        warned.lock().unwrap().contains(&id)
    });
    assert!(
        !warned.lock().unwrap().contains(&first.id()),
        "the first never waited"
    );
    open.send(true).unwrap();
    assert_eq!(first.wait(), Ok(()));
    assert_eq!(second.wait(), Ok(()));
}

//! The process pool's windows keep the ladder's promise: a task sent ahead to a busy child
//! that has not started is taken back when another child frees, or when a higher-priority
//! task queues behind it; it still runs exactly once, and its result reaches the caller.
//! Each static task below is written exactly as `#[background_task(static)]` expands it
//! (see `process_common`).
//!
//! The tests hold the children with tasks that wait for a release file, queue tasks behind
//! them, then release one: its driver wakes with the answer and sends the queued tasks
//! ahead, behind the next one (the ladder's order). Nothing is timed but a slow task that
//! outlasts the quick ones many times over.

#[macro_use]
mod process_common;

use atasker::{Priority, Supervisor, Task};
use process_common::*;
use std::time::Duration;

static_task! {
    fn sleepy(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
}

static_task! {
    /// Appends its pid to `path` (a run counter), sleeps `ms`, and returns `n`.
    fn record(path: String, n: u32, ms: u64) -> u32 {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        // One `write(2)`: lines of concurrent writers never tear.
        f.write_all(format!("{}\n", std::process::id()).as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        n
    }
}

/// How long the slow task runs: the quick ones take a few milliseconds each.
const SLOW_MS: u64 = 3_000;

/// A pool of two children, each held by a task; `queue` queues tasks behind them (the
/// first it queues is the slow one). The first child is released: its driver sends the
/// slow task and up to a window of quick ones to it; then the second child is released,
/// to run what is left. Returns the supervisor, the slow task, what `queue` returned, and
/// the pids of the first and second child.
fn slow_first<T>(
    tag: &str,
    queue: impl FnOnce(&'static Supervisor) -> T,
) -> (&'static Supervisor, Task<u64>, T, u32, u32) {
    let sup = supervisor(tag, 2);
    let (m1, m2) = (marker(&format!("{tag}-1")), marker(&format!("{tag}-2")));
    let (r1, r2) = (
        Release::new(&format!("{tag}-1")),
        Release::new(&format!("{tag}-2")),
    );
    let first = hold(on(sup, Priority::Normal), path(&m1), r1.path());
    let a = pid_in(&m1);
    let second = hold(on(sup, Priority::Normal), path(&m2), r2.path());
    let b = pid_in(&m2);
    let slow = sleepy(on(sup, Priority::Normal), SLOW_MS);
    let queued = queue(sup);
    r1.open();
    assert_eq!(first.wait(), Ok(a));
    // Its driver sends the slow task and quick ones behind it in one write, right after
    // the answer; the slow task starts at once.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!slow.is_finished());
    r2.open();
    assert_eq!(second.wait(), Ok(b));
    (sup, slow, queued, a, b)
}

#[test]
fn quick_tasks_sent_behind_a_slow_one_run_on_the_free_child() {
    let (sup, slow, quick, _, _) = slow_first("windows-slow", |sup| {
        (0..40)
            .map(|_| sleepy(on(sup, Priority::Normal), 3))
            .collect::<Vec<_>>()
    });
    for (i, t) in quick.into_iter().enumerate() {
        assert_eq!(t.wait(), Ok(3), "quick task {i}");
    }
    // Every quick task ended while the slow one still runs: none waited behind it.
    assert!(
        !slow.is_finished(),
        "quick tasks waited for the slow one while the other child was free"
    );
    assert_eq!(slow.wait(), Ok(SLOW_MS));
    let s = sup.stats().processes.normal;
    assert_eq!(
        (s.submitted, s.completed, s.failed, s.cancelled),
        (43, 43, 0, 0),
        "{s:?}"
    );
    assert_eq!((s.running, s.queued), (0, 0), "{s:?}");
}

#[test]
fn a_task_taken_back_runs_exactly_once_and_answers_its_caller() {
    let dir = marker("windows-once");
    std::fs::create_dir(&dir).unwrap();
    let (sup, slow, quick, a, b) = slow_first("windows-once", |sup| {
        (0..40)
            .map(|i| {
                record(
                    on(sup, Priority::Normal),
                    path(&dir.join(i.to_string())),
                    i,
                    2,
                )
            })
            .collect::<Vec<_>>()
    });
    for (i, t) in quick.into_iter().enumerate() {
        assert_eq!(t.wait(), Ok(i as u32), "task {i}");
    }
    assert!(!slow.is_finished(), "a task waited for the slow one");
    for i in 0..40 {
        let runs = std::fs::read_to_string(dir.join(i.to_string())).unwrap();
        // The first child runs the slow task the whole time: every quick one ran on the
        // second, those taken back from the first child's window too.
        assert_eq!(runs, format!("{b}\n"), "task {i}: runs by pid");
    }
    assert_eq!(slow.wait(), Ok(SLOW_MS));
    // The first child skipped the requests taken back from it, and serves on.
    assert!(!gone(a), "the first child was killed");
    let again = record(on(sup, Priority::Normal), path(&dir.join("again")), 40, 0);
    let again2 = record(on(sup, Priority::Normal), path(&dir.join("again2")), 41, 0);
    assert_eq!((again.wait(), again2.wait()), (Ok(40), Ok(41)));
    let s = sup.stats().processes.normal;
    assert_eq!(
        (s.submitted, s.completed, s.failed, s.cancelled),
        (45, 45, 0, 0),
        "{s:?}"
    );
    assert_eq!((s.running, s.queued), (0, 0), "{s:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_high_task_starts_before_the_normal_ones_sent_ahead() {
    let tag = "windows-high";
    let sup = supervisor(tag, 1);
    let (m1, m2) = (marker(&format!("{tag}-1")), marker(&format!("{tag}-2")));
    let (r1, r2) = (
        Release::new(&format!("{tag}-1")),
        Release::new(&format!("{tag}-2")),
    );
    let first = hold(on(sup, Priority::Normal), path(&m1), r1.path());
    let child = pid_in(&m1);
    let second = hold(on(sup, Priority::Normal), path(&m2), r2.path());
    let normals: Vec<_> = (0..30)
        .map(|i| started_at(on(sup, Priority::Normal), format!("normal-{i}")))
        .collect();
    r1.open();
    assert_eq!(first.wait(), Ok(child));
    // `second` runs: the driver sent it with the NORMAL tasks behind it, in one write.
    assert_eq!(pid_in(&m2), child);
    std::thread::sleep(Duration::from_millis(100));
    let s = sup.stats().processes;
    assert_eq!((s.normal.running, s.normal.queued), (1, 30), "{s:?}");
    // The child is busy: the HIGH task queues, behind none of them.
    let high = started_at(on(sup, Priority::High), "high".into());
    let s = sup.stats().processes;
    assert_eq!((s.high.queued, s.normal.queued), (1, 30), "{s:?}");
    r2.open();
    assert_eq!(second.wait(), Ok(child));
    let (_, high_at) = high.wait().unwrap();
    let normals: Vec<u128> = normals
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let (tag, at) = t.wait().unwrap();
            assert_eq!(tag, format!("normal-{i}"));
            at
        })
        .collect();
    let before = normals.iter().filter(|&&at| at < high_at).count();
    assert_eq!(
        before, 0,
        "NORMAL tasks sent ahead started before the HIGH one"
    );
    assert!(
        normals.windows(2).all(|w| w[0] < w[1]),
        "normals out of order"
    );
    // Taken back and sent again: the child skipped the withdrawn requests, and serves on.
    assert_eq!(
        sleepy(on(sup, Priority::Normal), 0).wait(),
        Ok(0),
        "the pool serves on"
    );
    assert!(!gone(child), "the child was killed");
    let s = sup.stats().processes;
    assert_eq!(
        (s.normal.completed, s.normal.queued, s.normal.running),
        (33, 0, 0),
        "{s:?}"
    );
    assert_eq!((s.high.completed, s.high.queued), (1, 0), "{s:?}");
}

/// Not a test of the order: that under both kinds of taking back at once, nothing runs
/// twice, nothing is lost, and the statistics balance.
#[test]
fn under_mixed_priorities_and_durations_every_task_runs_once() {
    let dir = marker("windows-mixed");
    std::fs::create_dir(&dir).unwrap();
    let sup = supervisor("windows-mixed", 2);
    let priorities = [Priority::Low, Priority::Normal, Priority::High];
    // Slow ones now and then hold a child while windows fill behind them; quick ones of
    // every priority keep arriving in waves, so that tasks are taken back for free
    // children and for higher priorities at once.
    let tasks: Vec<_> = (0..240u32)
        .map(|i| {
            if i % 10 == 9 {
                std::thread::sleep(Duration::from_millis(8));
            }
            let ms = if i % 12 == 0 { 60 } else { u64::from(i % 3) };
            let p = priorities[(i as usize / 10 + i as usize % 2) % 3];
            record(on(sup, p), path(&dir.join(i.to_string())), i, ms)
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.wait(), Ok(i as u32), "task {i}");
        let runs = std::fs::read_to_string(dir.join(i.to_string())).unwrap();
        assert_eq!(runs.lines().count(), 1, "task {i} ran {runs:?}");
    }
    let s = sup.stats().processes;
    for (name, p) in [("low", s.low), ("normal", s.normal), ("high", s.high)] {
        assert_eq!(
            (p.submitted, p.completed, p.failed, p.cancelled),
            (80, 80, 0, 0),
            "{name}: {p:?}"
        );
        assert_eq!((p.running, p.queued), (0, 0), "{name}: {p:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! The process pool's window: while every child is busy, queued tasks are sent ahead to a
//! child, and still behave as queued tasks: priorities hold for what is not sent yet, a
//! cancel keeps one from running, a dying child re-runs none, the statistics count them as
//! queued, and a deadline counts from the start. Each static task below is written exactly
//! as `#[background_task(static)]` expands it (see `process_common`).
//!
//! The tests hold a child with a task that waits for a release file, queue tasks behind it,
//! then release it: the driver wakes with the answer and sends queued tasks ahead while the
//! next held task runs. Nothing depends on the window's size beyond "fewer than 20".

#[macro_use]
mod process_common;

use atasker::{Priority, Supervisor, TaskError};
use process_common::*;
use std::path::Path;
use std::time::{Duration, Instant};

static_task! {
    /// Appends a line to `path` (a run counter) and returns `n`.
    fn record(path: String, n: u32) -> u32 {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        // One `write(2)`: lines of concurrent writers never tear.
        f.write_all(format!("{}\n", std::process::id()).as_bytes()).unwrap();
        n
    }
}

static_task! {
    /// Writes its pid to `marker`, waits for `release`, then kills its own process: by
    /// `abort()` (SIGABRT) or `kill(getpid(), SIGKILL)`.
    fn crash(marker: String, release: String, sigkill: bool) -> () {
        std::fs::write(&marker, std::process::id().to_string()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !Path::new(&release).exists() {
            assert!(Instant::now() < deadline, "never released");
            std::thread::sleep(Duration::from_millis(2));
        }
        if sigkill {
            // SAFETY: a plain kill(2) of this very process.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        std::process::abort()
    }
}

static_task! {
    fn sleepy(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
}

static_task! {
    fn pid() -> u32 { std::process::id() }
}

/// A pool of one child that runs a held task `second` (marker written), with the tasks
/// `queue` queued behind it: the first held task was released once they were queued, so
/// that the driver woke and filled the child's window while `second` runs.
struct Held {
    sup: &'static Supervisor,
    release: Release,
    second: atasker::Task<u32>,
    child: u32,
}

fn held_with<T>(tag: &str, queue: impl FnOnce(&'static Supervisor) -> T) -> (Held, T) {
    let sup = supervisor(tag, 1);
    let (m1, m2) = (marker(&format!("{tag}-1")), marker(&format!("{tag}-2")));
    let (r1, r2) = (Release::new(&format!("{tag}-1")), Release::new(tag));
    let first = hold(on(sup, Priority::Low), path(&m1), r1.path());
    pid_in(&m1);
    let second = hold(on(sup, Priority::Low), path(&m2), r2.path());
    let queued = queue(sup);
    r1.open();
    assert!(first.wait().is_ok());
    let child = pid_in(&m2);
    let held = Held {
        sup,
        release: r2,
        second,
        child,
    };
    (held, queued)
}

#[test]
fn a_higher_priority_task_overtakes_the_queued_tasks_not_sent_yet() {
    let (held, lows) = held_with("overtake", |sup| {
        (0..40)
            .map(|i| started_at(on(sup, Priority::Low), format!("low-{i}")))
            .collect::<Vec<_>>()
    });
    // Every child is busy and its window full: the HIGH task queues behind what was sent.
    let high = started_at(on(held.sup, Priority::High), "high".into());
    held.release.open();
    assert_eq!(held.second.wait(), Ok(held.child));
    let (_, high_at) = high.wait().unwrap();
    let lows: Vec<u128> = lows.into_iter().map(|t| t.wait().unwrap().1).collect();
    // The lows ran in order (FIFO within a priority), and the HIGH task passed all those
    // not sent yet: only those already in the window ran before it.
    assert!(lows.windows(2).all(|w| w[0] < w[1]), "lows out of order");
    let before = lows.iter().filter(|&&at| at < high_at).count();
    assert!(
        before < 20,
        "{before} queued LOW tasks ran before the HIGH one"
    );
    assert!(high_at < lows[39], "the HIGH task waited for every LOW one");
}

#[test]
fn a_cancelled_task_in_a_window_never_runs() {
    let ran = marker("cancel-window-ran");
    let (held, queued) = held_with("cancel-window", |sup| {
        let x = record(on(sup, Priority::Low), path(&ran), 1);
        let after = record(on(sup, Priority::Low), path(&ran), 2);
        (x, after)
    });
    let (x, after) = queued;
    assert!(
        x.cancel(),
        "a task sent ahead has not started: cancel succeeds"
    );
    assert_eq!(x.wait(), Err(TaskError::Cancelled));
    held.release.open();
    assert_eq!(held.second.wait(), Ok(held.child));
    assert_eq!(after.wait(), Ok(2));
    // The child reached the cancelled request before the next one: it skipped it, and
    // was not killed for it.
    let lines = std::fs::read_to_string(&ran).unwrap();
    assert_eq!(
        lines.lines().count(),
        1,
        "the cancelled task ran: {lines:?}"
    );
    assert_eq!(pid(on(held.sup, Priority::Low)).wait(), Ok(held.child));
    let s = held.sup.stats().processes.low;
    assert_eq!((s.cancelled, s.running, s.queued), (1, 0, 0), "{s:?}");
    let _ = std::fs::remove_file(&ran);
}

/// A child that dies while its window is full: its task fails; the others, which it never
/// started, run once each on a fresh child.
fn a_child_dying_with_a_full_window(sigkill: bool) {
    let tag = if sigkill { "die-kill" } else { "die-abort" };
    let dir = marker(tag);
    std::fs::create_dir(&dir).unwrap();
    let crashed = marker(&format!("{tag}-crash"));
    let release = Release::new(&format!("{tag}-crash"));
    let (held, (victim, rest)) = held_with(tag, |sup| {
        let victim = crash(
            on(sup, Priority::Low),
            path(&crashed),
            release.path(),
            sigkill,
        );
        let rest: Vec<_> = (0..30)
            .map(|i| record(on(sup, Priority::Low), path(&dir.join(i.to_string())), i))
            .collect();
        (victim, rest)
    });
    held.release.open();
    assert_eq!(held.second.wait(), Ok(held.child));
    let doomed = pid_in(&crashed);
    release.open();
    let signal = if sigkill {
        libc::SIGKILL
    } else {
        libc::SIGABRT
    };
    assert_eq!(
        victim.wait(),
        Err(TaskError::ProcessExited {
            code: None,
            signal: Some(signal)
        })
    );
    for (i, t) in rest.into_iter().enumerate() {
        assert_eq!(t.wait(), Ok(i as u32), "task {i}");
        let runs = std::fs::read_to_string(dir.join(i.to_string())).unwrap();
        assert_eq!(
            runs.lines().count(),
            1,
            "task {i} ran more than once: {runs:?}"
        );
    }
    wait_gone(doomed);
    assert_ne!(pid(on(held.sup, Priority::Low)).wait().unwrap(), doomed);
    let s = held.sup.stats().processes.low;
    assert_eq!((s.failed, s.running, s.queued), (1, 0, 0), "{s:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_child_that_aborts_with_a_full_window_costs_only_its_task() {
    a_child_dying_with_a_full_window(false);
}

#[test]
fn a_child_killed_with_a_full_window_costs_only_its_task() {
    a_child_dying_with_a_full_window(true);
}

#[test]
fn tasks_in_a_window_count_as_queued() {
    let (held, quick) = held_with("stats-window", |sup| {
        (0..40)
            .map(|i| started_at(on(sup, Priority::Low), i.to_string()))
            .collect::<Vec<_>>()
    });
    // One task runs; the 40 behind it wait, in the window or in the ladder.
    let s = held.sup.stats().processes.low;
    assert_eq!((s.running, s.queued), (1, 40), "{s:?}");
    held.release.open();
    held.second.wait().unwrap();
    for (i, t) in quick.into_iter().enumerate() {
        assert_eq!(t.wait().unwrap().0, i.to_string());
    }
    let s = held.sup.stats().processes.low;
    assert_eq!((s.completed, s.running, s.queued), (42, 0, 0), "{s:?}");
}

#[test]
fn running_never_exceeds_the_pool_while_windows_are_full() {
    let sup = supervisor("stats-burst", 2);
    let tasks: Vec<_> = (0..3000)
        .map(|i| sleepy(on(sup, Priority::Normal), i % 2))
        .collect();
    let mut most = 0;
    while tasks.iter().any(|t| !t.is_finished()) {
        let s = sup.stats().processes.normal;
        most = most.max(s.running);
        assert!(s.running <= 2, "{s:?}");
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.wait(), Ok(i as u64 % 2));
    }
    assert!(most >= 1);
}

#[test]
fn a_deadline_counts_from_the_start_not_from_the_send() {
    let (held, t) = held_with("deadline-window", |sup| {
        let opts = atasker::__private::TaskOptions {
            timeout: Some(Duration::from_millis(800)),
            delay: None,
            ..on(sup, Priority::Low)
        };
        sleepy(opts, 10)
    });
    // Longer in the window than its deadline: it has not started, so it has not timed out.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!t.is_finished());
    held.release.open();
    held.second.wait().unwrap();
    assert_eq!(t.wait(), Ok(10));
}

/// A reply held for a batch goes out even while the child runs a request that its last run
/// said would be quick and is not.
#[test]
fn a_held_reply_is_not_kept_behind_a_slow_request() {
    let sup = supervisor("held-reply", 1);
    for _ in 0..2 {
        assert_eq!(sleepy(on(sup, Priority::Normal), 0).wait(), Ok(0));
    }
    let m = marker("held-reply-1");
    let r = Release::new("held-reply");
    let first = hold(on(sup, Priority::Normal), path(&m), r.path());
    pid_in(&m);
    // Queued behind `first`, then sent ahead together once it ends.
    let mut quick = sleepy(on(sup, Priority::Normal), 0);
    let slow = sleepy(on(sup, Priority::Normal), 3_000);
    r.open();
    assert!(first.wait().is_ok());
    assert_eq!(
        quick.wait_timeout(Duration::from_millis(1_500)),
        Some(Ok(0))
    );
    assert!(!slow.is_finished(), "the slow request still runs");
    assert_eq!(slow.wait(), Ok(3_000));
}

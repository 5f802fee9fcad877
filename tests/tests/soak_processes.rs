//! Soak: static tasks under load while a helper thread SIGKILLs random children.

#[macro_use]
mod process_common;

use atasker::{PoolKind, Priority, Supervisor, TaskError};
use process_common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

static_task! {
    fn work(i: u64) -> u64 {
        std::thread::sleep(Duration::from_micros(500));
        i * 2
    }
}

static_task! {
    /// Checks in under `dir`, then waits (at most a minute) until `n` tasks have: the `n`
    /// tasks run at the same time, so each in its own child. Returns its pid.
    fn pid_together(dir: String, n: usize) -> u32 {
        let me = std::process::id();
        std::fs::write(std::path::Path::new(&dir).join(me.to_string()), b"").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_dir(&dir).unwrap().count() < n {
            assert!(Instant::now() < deadline, "only some of the {n} tasks started");
            std::thread::sleep(Duration::from_millis(2));
        }
        me
    }
}

/// The pids of this process's live children.
fn children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) S ppid …`
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(me) && !matches!(state, Some("Z" | "X")) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn soak_random_child_kills_lose_only_the_killed_tasks() {
    const TASKS: u64 = 1000;
    const POOL: usize = 3;
    let sup: &'static Supervisor = supervisor("soak-kill", POOL);
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let (st, k) = (stop.clone(), kills.clone());
    let killer = std::thread::spawn(move || {
        let mut victims = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let start = Instant::now();
        while !st.load(SeqCst) && start.elapsed() < Duration::from_secs(40) && k.load(SeqCst) < 40 {
            std::thread::sleep(Duration::from_millis(15));
            let kids = children();
            if kids.is_empty() || st.load(SeqCst) {
                continue;
            }
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let victim = kids[(seed % kids.len() as u64) as usize];
            // SAFETY: a plain kill(2) of one of our own children.
            if unsafe { libc::kill(victim as libc::pid_t, libc::SIGKILL) } == 0 {
                k.fetch_add(1, SeqCst);
                victims.push(victim);
            }
        }
        victims
    });
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| work(on(sup, Priority::ALL[(i % 3) as usize]), i))
        .collect();
    let (mut ok, mut exited) = (0u64, 0u64);
    for (i, t) in tasks.into_iter().enumerate() {
        match t.wait() {
            Ok(v) => {
                assert_eq!(v, i as u64 * 2);
                ok += 1;
            }
            Err(TaskError::ProcessExited {
                signal: Some(9), ..
            }) => exited += 1,
            Err(e) => panic!("task {i}: unexpected {e}"),
        }
    }
    // The killer may find no child until the load is over (a slow machine): it then kills
    // an idle one. Either way it kills something before it is stopped.
    let deadline = Instant::now() + SOON;
    while kills.load(SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the killer killed nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, SeqCst);
    // A kill that lands as a task starts legitimately fails that task: let every victim
    // be dead before the probes below.
    for pid in killer.join().unwrap() {
        wait_gone(pid);
    }
    let kills = kills.load(SeqCst) as u64;
    assert_eq!(ok + exited, TASKS, "every task finished once");
    assert!(
        exited <= kills,
        "only killed tasks failed: {exited} failures, {kills} kills"
    );
    assert!(kills > 0, "the soak killed something");
    // The invariant holds and nothing is left.
    let s = sup.stats().pool(PoolKind::Processes).total();
    assert_eq!(
        s.submitted,
        s.completed + s.failed + s.cancelled + s.queued + s.running
    );
    assert_eq!(
        (s.queued, s.running, s.completed, s.failed),
        (0, 0, ok, exited)
    );
    // The pool is back to full size: POOL tasks run at once (each waits until all have
    // started), each in its own live child.
    let dir = std::env::temp_dir().join(format!("atasker-test-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap().to_owned();
    let probes: Vec<_> = (0..POOL)
        .map(|_| pid_together(on(sup, Priority::Low), d.clone(), POOL))
        .collect();
    let pids: HashSet<u32> = probes.into_iter().map(|t| t.wait().unwrap()).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(pids.len(), POOL, "{pids:?}");
    sup.stop();
}

//! Small shared pieces: statistics, a completion latch, runtimes and `/proc` readers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The median of `v` (the mean of the middle two for an even count); sorts `v`.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    assert!(!v.is_empty(), "median of nothing");
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of sorted `v`.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "percentile of nothing");
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds in `d`, as a float.
pub(crate) fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Milliseconds in `d`, as a float.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Items per second for `n` items in `d`.
pub(crate) fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Sums items and opens once `n` have arrived: the W5 consumer's side, identical for every
/// subject. `add` is lock-free until the last item.
pub(crate) struct Sink {
    /// How many items complete the run.
    n: u64,
    /// Items seen.
    count: AtomicU64,
    /// Their sum.
    sum: AtomicU64,
    /// Set with the last item.
    done: Mutex<bool>,
    /// Signalled with the last item.
    cv: Condvar,
}

impl Sink {
    /// A sink that completes after `n` items.
    pub(crate) fn new(n: u64) -> Self {
        Sink {
            n,
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            done: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// Adds one item.
    pub(crate) fn add(&self, v: u64) {
        self.sum.fetch_add(v, Ordering::Relaxed);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            *self.done.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    /// Waits for the last item (at most `limit`); the sum, or `None` on timeout.
    pub(crate) fn wait(&self, limit: Duration) -> Option<u64> {
        let deadline = Instant::now() + limit;
        let mut done = self.done.lock().unwrap();
        while !*done {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            done = self.cv.wait_timeout(done, deadline - now).unwrap().0;
        }
        Some(self.sum.load(Ordering::Acquire))
    }
}

/// A one-shot gate threads can wait at (W8's blockers).
#[derive(Default)]
pub(crate) struct Gate {
    /// Open?
    open: Mutex<bool>,
    /// Signalled when opened.
    cv: Condvar,
}

impl Gate {
    /// Opens the gate for every waiter.
    pub(crate) fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// Waits until the gate is open.
    pub(crate) fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
    }
}

/// A multi-thread tokio runtime with `workers` worker threads (timers enabled): the
/// baselines' runtime, sized like the supervisor's.
pub(crate) fn tokio_rt(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("baseline-rt")
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

/// Whether this process runs under valgrind (whose core it preloads into the program).
pub(crate) fn under_valgrind() -> bool {
    std::env::var_os("LD_PRELOAD").is_some_and(|p| p.to_string_lossy().contains("/vgpreload_core-"))
}

/// Sleeps until `t` (no-op if it has passed).
pub(crate) fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// The resident set of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`); 0 if gone.
fn rss_kib(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The parent pid of process `pid` (field 4 of `/proc/<pid>/stat`).
fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing paren are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The resident set in KiB of this process plus all its descendants (a process pool's
/// children count toward a footprint).
pub(crate) fn rss_kib_tree() -> u64 {
    let me = std::process::id();
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let parents: Vec<(u32, u32)> = pids.iter().filter_map(|&p| Some((p, ppid(p)?))).collect();
    let mut tree = vec![me];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|&&(_, pp)| pp == parent)
                .map(|&(p, _)| p),
        );
        i += 1;
    }
    tree.into_iter().map(rss_kib).sum()
}

/// CPU time used by this process, precise to the nanosecond: the sum of the threads'
/// run times (`/proc/self/task/*/schedstat`, field 1), with the thread ids it covers.
///
/// `/proc/self/stat`'s `utime + stime` counts exited threads too but only in clock ticks
/// (10 ms), too coarse for an idle process; see [`CpuClock`] for how the two combine.
fn cpu_by_thread() -> Vec<(u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid: u32 = e.file_name().to_str()?.parse().ok()?;
        let s = std::fs::read_to_string(e.path().join("schedstat")).ok()?;
        Some((tid, s.split_whitespace().next()?.parse().ok()?))
    })
    .collect()
}

/// This process's `utime + stime` in seconds (`/proc/self/stat`, clock ticks of 10 ms).
fn cpu_ticks_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    // Fields 14 and 15 of stat are utime and stime; `f` starts at field 3.
    let ticks: u64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on every Linux architecture this runs on.
    ticks as f64 / 100.0
}

/// Measures the CPU this process uses between [`CpuClock::start`] and [`CpuClock::secs`].
pub(crate) struct CpuClock {
    /// Per-thread run time at the start.
    threads: Vec<(u32, u64)>,
    /// `utime + stime` at the start (the fallback).
    ticks: f64,
}

impl CpuClock {
    /// Starts measuring.
    pub(crate) fn start() -> Self {
        CpuClock {
            threads: cpu_by_thread(),
            ticks: cpu_ticks_secs(),
        }
    }

    /// CPU seconds used since the start, over all threads (threads started meanwhile
    /// included). Precise (per-thread schedstat) unless a thread that existed at the start
    /// has exited; then the coarse tick count is used.
    pub(crate) fn secs(&self) -> f64 {
        let now = cpu_by_thread();
        let lost = self
            .threads
            .iter()
            .any(|(tid, _)| !now.iter().any(|(t, _)| t == tid));
        if lost {
            eprintln!("  (a thread exited during the window: CPU time in 10 ms ticks)");
            return cpu_ticks_secs() - self.ticks;
        }
        let ns: u64 = now
            .iter()
            .map(|(tid, ns)| {
                let before = self
                    .threads
                    .iter()
                    .find(|(t, _)| t == tid)
                    .map_or(0, |(_, b)| *b);
                ns.saturating_sub(before)
            })
            .sum();
        ns as f64 / 1e9
    }
}

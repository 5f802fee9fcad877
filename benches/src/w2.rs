//! W2, process tasks: `fn add(a: u64, b: u64) -> u64` in another process: (i) 2,000
//! sequential calls → `roundtrip_p50`, `roundtrip_p99` µs; (ii) 20,000 calls submitted at once
//! to a pool of 2 processes, then each waited → `throughput` calls/s.
//!
//! The atasker side is `#[background_task(static)] fn add` on a private supervisor with a
//! process pool of 2 (reserves 0), its children started before the clock starts.
//!
//! The baseline: a persistent child process of this same binary ([`echo_child`],
//! started with `ATASKER_BENCH_CHILD=w2-echo`) that reads 16-byte frames (two little-endian
//! `u64`) on stdin and answers each with their 8-byte sum on stdout — the practical floor of
//! any process pool. For (ii) two such children are each fed by a writer thread and drained by
//! a reader thread (requests pipelined; the child flushes whenever no request is buffered).

use crate::harness::{Collector, Config, Subject};
use crate::util::{percentile, rate, us};
use atasker::Supervisor;
use std::io::{BufReader, BufWriter, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The supervisor of the atasker side: 2 processes, no reserves.
static SUP: LazyLock<Supervisor> = LazyLock::new(|| {
    Supervisor::builder()
        .name("w2")
        .process_pool(2)
        .process_reserve_normal(0)
        .process_reserve_high(0)
        .build()
        .expect("valid settings")
});

/// The workload's function, in a worker process.
#[atasker::background_task(static, supervisor = &SUP)]
fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Under valgrind, `/proc/self/exe` is valgrind itself: the children are started from the
/// bench binary's path instead, so that they run natively and callgrind counts the parent's
/// side alone (`benches/instructions.sh`).
fn children_outside_valgrind() {
    let preload = std::env::var("LD_PRELOAD").unwrap_or_default();
    if preload.contains("vgpreload") {
        if let Ok(exe) = std::env::current_exe() {
            atasker::__private::set_child_program(Some(&exe));
        }
    }
}

/// `n` sequential calls, after 4 concurrent ones (both children started) and `n / 10`
/// unmeasured ones; each round trip.
fn roundtrips_atasker(n: usize) -> Vec<Duration> {
    let warm: Vec<_> = (0..4).map(|i| add(i, 1)).collect();
    atasker::wait_completed(warm, None).expect("warm-up calls");
    for i in 0..(n / 10).max(10) as u64 {
        add(i, i).wait().expect("a warm-up call");
    }
    let mut v = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let t0 = Instant::now();
        let r = add(i, 1).wait().expect("a call");
        v.push(t0.elapsed());
        assert_eq!(r, i + 1, "add's result");
    }
    v
}

/// `n` calls submitted at once, then each waited; the time taken.
fn throughput_atasker(n: usize) -> Duration {
    let warm: Vec<_> = (0..4).map(|i| add(i, 1)).collect();
    atasker::wait_completed(warm, None).expect("warm-up calls");
    let t0 = Instant::now();
    let calls: Vec<_> = (0..n as u64).map(|i| add(i, 1)).collect();
    let sums = atasker::wait_completed(calls, None).expect("every call");
    let d = t0.elapsed();
    assert_eq!(sums.len(), n);
    d
}

/// The name of the baseline subject.
const BASELINE: &str = "baseline:pipe_child";

/// Runs W2's repetitions, atasker and the pipe-child baseline in turn.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    let calls = cfg.size(2_000);
    let burst = cfg.size(20_000);
    children_outside_valgrind();
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            match s {
                Subject::Atasker => {
                    let mut v = roundtrips_atasker(calls);
                    v.sort_unstable();
                    out.add("atasker", "roundtrip_p50", us(percentile(&v, 50.0)), "us");
                    out.add("atasker", "roundtrip_p99", us(percentile(&v, 99.0)), "us");
                    let d = throughput_atasker(burst);
                    out.add("atasker", "throughput", rate(burst, d), "calls/s");
                }
                Subject::Baseline => {
                    let mut v = roundtrips_baseline(calls);
                    v.sort_unstable();
                    out.add(BASELINE, "roundtrip_p50", us(percentile(&v, 50.0)), "us");
                    out.add(BASELINE, "roundtrip_p99", us(percentile(&v, 99.0)), "us");
                    let d = throughput_baseline(burst, 2);
                    out.add(BASELINE, "throughput", rate(burst, d), "calls/s");
                }
            }
        }
    }
}

/// The echo child: answers each 16-byte request `(a, b)` with the 8-byte `a + b`, flushing
/// whenever no further request is already buffered; exits at end of input.
pub(crate) fn echo_child() -> ExitCode {
    let mut input = BufReader::with_capacity(64 * 1024, std::io::stdin().lock());
    let mut output = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut frame = [0u8; 16];
    loop {
        if input.read_exact(&mut frame).is_err() {
            return ExitCode::SUCCESS;
        }
        let a = u64::from_le_bytes(frame[..8].try_into().expect("8 bytes"));
        let b = u64::from_le_bytes(frame[8..].try_into().expect("8 bytes"));
        if output.write_all(&a.wrapping_add(b).to_le_bytes()).is_err() {
            return ExitCode::FAILURE;
        }
        if input.buffer().is_empty() && output.flush().is_err() {
            return ExitCode::FAILURE;
        }
    }
}

/// A running echo child and its pipes.
struct Echo {
    /// The process.
    child: Child,
    /// Its stdin (requests).
    tx: ChildStdin,
    /// Its stdout (replies).
    rx: ChildStdout,
}

impl Echo {
    /// Starts an echo child (this binary with the child marker).
    fn spawn() -> Echo {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .env(crate::CHILD_ENV, "w2-echo")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("an echo child");
        let tx = child.stdin.take().expect("piped stdin");
        let rx = child.stdout.take().expect("piped stdout");
        Echo { child, tx, rx }
    }

    /// Closes the pipes and reaps the child.
    fn finish(self) {
        let Echo { mut child, tx, rx } = self;
        drop(tx);
        drop(rx);
        let _ = child.wait();
    }
}

/// The request frame for `(a, b)`.
fn frame(a: u64, b: u64) -> [u8; 16] {
    let mut f = [0u8; 16];
    f[..8].copy_from_slice(&a.to_le_bytes());
    f[8..].copy_from_slice(&b.to_le_bytes());
    f
}

/// `n` sequential calls to one echo child; each round trip.
fn roundtrips_baseline(n: usize) -> Vec<Duration> {
    let mut echo = Echo::spawn();
    let mut v = Vec::with_capacity(n);
    let mut reply = [0u8; 8];
    // Warm-up: the child is started and paged in.
    for i in 0..(n / 10).max(10) as u64 {
        echo.tx.write_all(&frame(i, i)).expect("a request");
        echo.rx.read_exact(&mut reply).expect("a reply");
    }
    for i in 0..n as u64 {
        let t0 = Instant::now();
        echo.tx.write_all(&frame(i, 1)).expect("a request");
        echo.rx.read_exact(&mut reply).expect("a reply");
        v.push(t0.elapsed());
        assert_eq!(u64::from_le_bytes(reply), i + 1, "echo child's sum");
    }
    echo.finish();
    v
}

/// `n` calls submitted at once to `procs` echo children (round robin), every reply read;
/// the time taken (children already running).
fn throughput_baseline(n: usize, procs: usize) -> Duration {
    let echos: Vec<Echo> = (0..procs).map(|_| Echo::spawn()).collect();
    let mut parts: Vec<(ChildStdin, ChildStdout, Child)> =
        echos.into_iter().map(|e| (e.tx, e.rx, e.child)).collect();
    let shares: Vec<Vec<u64>> = (0..procs)
        .map(|k| (0..n as u64).filter(|i| *i as usize % procs == k).collect())
        .collect();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for ((tx, rx, _), mine) in parts.iter_mut().zip(&shares) {
            let count = mine.len();
            s.spawn(move || {
                let mut w = BufWriter::new(tx);
                for &i in mine {
                    w.write_all(&frame(i, 1)).expect("a request");
                }
                w.flush().expect("requests flushed");
            });
            s.spawn(move || {
                let mut r = BufReader::new(rx);
                let mut reply = [0u8; 8];
                for _ in 0..count {
                    r.read_exact(&mut reply).expect("a reply");
                }
            });
        }
    });
    let d = t0.elapsed();
    for (tx, rx, mut child) in parts {
        drop(tx);
        drop(rx);
        let _ = child.wait();
    }
    d
}

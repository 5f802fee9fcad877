//! A Ctrl-C in a terminal (SIGINT to the foreground process group) or a SIGTERM to the group
//! does not reach worker processes: the parent decides what becomes of their tasks (here it
//! lets them finish, as a graceful shutdown does).
//! The parent is a helper process (this test binary, running `helper_process` only) in a
//! process group of its own, so that the test can signal that whole group.

#[macro_use]
mod process_common;

use atasker::Priority;
use process_common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering::SeqCst};
use std::time::{Duration, Instant};

const HELPER: &str = "ATASKER_TEST_SIGNALS_HELPER";

static_task! {
    fn slow_square(n: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(1500));
        n * n
    }
}

static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    LAST_SIGNAL.store(sig, SeqCst);
}

/// Not a test of its own: the parent process of `a_signal_to_the_group_spares_the_children`.
#[test]
fn helper_process() {
    if std::env::var_os(HELPER).is_none() {
        return;
    }
    // A real handler (not SIG_IGN, which children would inherit): as a program that shuts
    // down gracefully on Ctrl-C has.
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (one atomic store).
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
    let sup = supervisor("signals", 2);
    let tasks: Vec<_> = (1..=2)
        .map(|n| slow_square(on(sup, Priority::Normal), n))
        .collect();
    let deadline = Instant::now() + SOON;
    while sup.stats().processes.normal.running < 2 {
        assert!(Instant::now() < deadline, "the static tasks never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let the children reach the task body.
    std::thread::sleep(Duration::from_millis(200));
    println!("READY");
    std::io::stdout().flush().unwrap();
    let results = atasker::wait_completed(tasks, Some(SOON));
    println!("SIGNAL {}", LAST_SIGNAL.load(SeqCst));
    println!("RESULTS {results:?}");
    std::io::stdout().flush().unwrap();
}

#[test]
fn a_signal_to_the_group_spares_the_children() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER, "1")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = helper.id() as libc::pid_t;
    let lines = BufReader::new(helper.stdout.take().unwrap()).lines();
    let mut signalled = false;
    let mut seen = Vec::new();
    for line in lines {
        let line = line.unwrap();
        if line.contains("READY") && !signalled {
            for sig in [libc::SIGINT, libc::SIGTERM] {
                // SAFETY: a plain kill(2) to the helper's own process group.
                assert_eq!(unsafe { libc::kill(-pgid, sig) }, 0);
            }
            signalled = true;
        }
        seen.push(line);
    }
    let status = helper.wait().unwrap();
    let out = seen.join("\n");
    assert!(signalled, "the helper never got ready:\n{out}");
    assert!(status.success(), "helper failed:\n{out}");
    assert!(
        out.contains("RESULTS Ok([1, 4])"),
        "the static tasks did not finish:\n{out}"
    );
    assert!(
        out.contains(&format!("SIGNAL {}", libc::SIGTERM))
            || out.contains(&format!("SIGNAL {}", libc::SIGINT)),
        "the parent itself got the signals:\n{out}"
    );
}

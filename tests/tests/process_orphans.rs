//! Children never outlive their parent: a parent killed with SIGKILL leaves no child running.
//! The parent here is a helper process (this test binary, running `helper_process` only).

#[macro_use]
mod process_common;

use atasker::Priority;
use process_common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HELPER: &str = "ATASKER_TEST_ORPHANS_HELPER";

static_task! {
    fn announce_and_sleep(ms: u64) -> u32 {
        println!("CHILD {}", std::process::id());
        std::io::stdout().flush().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        std::process::id()
    }
}

static_task! {
    /// Announces its child, then waits (at most a minute) until `n` tasks have checked in
    /// under `dir`: the `n` tasks run at the same time, so on `n` different children.
    fn announce_together(dir: String, n: usize) -> u32 {
        let me = std::process::id();
        std::fs::write(std::path::Path::new(&dir).join(me.to_string()), b"").unwrap();
        println!("CHILD {me}");
        std::io::stdout().flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::read_dir(&dir).unwrap().count() < n {
            assert!(Instant::now() < deadline, "only some of the {n} tasks started");
            std::thread::sleep(Duration::from_millis(2));
        }
        me
    }
}

/// Not a test of its own: the parent process of `children_die_with_a_killed_parent`.
#[test]
fn helper_process() {
    if std::env::var_os(HELPER).is_none() {
        return;
    }
    let sup = supervisor("orphans", 3);
    // Three children (three tasks that run at the same time, whatever the machine's
    // speed); then one stays idle while two are busy.
    let dir = std::env::temp_dir().join(format!("atasker-test-orphans-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap().to_owned();
    let warm: Vec<_> = (0..3)
        .map(|_| announce_together(on(sup, Priority::Normal), d.clone(), 3))
        .collect();
    atasker::wait_completed(warm, Some(SOON)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let busy: Vec<_> = (0..2)
        .map(|_| announce_and_sleep(on(sup, Priority::Normal), 60_000))
        .collect();
    println!("READY");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
    drop(busy);
}

#[test]
fn children_die_with_a_killed_parent() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = helper.stdout.take().unwrap();
    // Whatever happens below, the helper does not outlive this test (std signals a child only
    // while it is not reaped).
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut helper = Reap(helper);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut pids = Vec::new();
    let mut announced = 0;
    let mut ready = false;
    let deadline = Instant::now() + SOON * 2;
    while !(ready && announced == 5) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("the helper did not get ready");
        // libtest may print "test helper_process ... " in front of the first line.
        if let Some((_, pid)) = line.split_once("CHILD ") {
            announced += 1;
            let pid: u32 = pid.trim().parse().unwrap();
            if !pids.contains(&pid) {
                pids.push(pid);
            }
        } else if line.contains("READY") {
            ready = true;
        }
    }
    assert_eq!(pids.len(), 3, "three children: {pids:?}");
    for &pid in &pids {
        assert!(!gone(pid), "child {pid} should run before the parent dies");
    }

    let helper_pid = helper.0.id();
    sigkill(helper_pid);
    helper.0.wait().unwrap();

    // Busy and idle children alike are gone.
    for &pid in &pids {
        wait_gone(pid);
    }
    // And nothing on the machine still carries this parent's marker.
    let needle = format!("ATASKER_CHILD_V0_1={helper_pid}:");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let has = env
            .split(|&b| b == 0)
            .any(|kv| kv.starts_with(needle.as_bytes()));
        assert!(!has || gone(pid), "process {pid} outlived its parent");
    }
}

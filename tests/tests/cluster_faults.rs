//! Remote tasks survive the faults a cluster meets (API §7, "Faults" and "Connections"), with
//! real nodes (this test binary re-executed with `ATASKER_NODE`) and a real `redis-server`:
//!
//! - 10,000 tasks over two nodes each run once and answer once, and both nodes serve;
//! - a node killed with SIGKILL loses nothing: its tasks finish on the other node, and only
//!   what it held runs twice;
//! - a Redis killed and restarted mid-run (AOF, `appendfsync always`) loses nothing, and the
//!   producer and the nodes reconnect by themselves;
//! - a task that kills every node it runs on fails with `TaskError::Cluster` after exactly
//!   `max_deliveries` runs, instead of killing nodes for ever;
//! - a live node keeps its task however long it runs, even while its runtime is blocked
//!   (its heartbeat has a thread of its own);
//! - slow, frozen and reset connections heal, and nothing is lost meanwhile, not even an
//!   entry Redis delivered to a live node over a connection that died before the node read
//!   it;
//! - an out-of-memory Redis fails submissions with `TaskError::Cluster`, never a hang.
//!
//! Each task appends one line `<id> <node pid>` to a log when it starts (small `O_APPEND`
//! writes are atomic), so the log counts executions, including those whose answer was lost.

#[macro_use]
mod cluster_common;

use atasker::{Priority, Supervisor, Task, TaskError};
use cluster_common::*;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::os::unix::process::parent_id;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// The environment variable that makes `helper_blocked_node` a node (its value: the URL).
const BLOCKED_NODE: &str = "ATASKER_TEST_FAULTS_BLOCKED_NODE";
/// The log directory of `helper_blocked_node`.
const BLOCKED_NODE_DIR: &str = "ATASKER_TEST_FAULTS_BLOCKED_NODE_DIR";

remote_task! {
    /// Logs its run, sleeps `ms`, and returns its id and its node's pid.
    fn echo(dir: String, id: u64, ms: u64) -> (u64, u32) {
        log_run(&dir, id);
        std::thread::sleep(Duration::from_millis(ms));
        (id, parent_id())
    }
}

remote_task! {
    /// Logs its run and kills its node with SIGKILL (and so itself: children die with
    /// their parent); never answers.
    fn kill_my_node(dir: String, id: u64) -> u32 {
        log_run(&dir, id);
        let node = parent_id();
        // SAFETY: a plain kill(2) of this worker's parent, the node.
        unsafe { libc::kill(node as libc::pid_t, libc::SIGKILL) };
        std::thread::sleep(Duration::from_secs(60));
        node
    }
}

remote_task! {
    /// Takes (and drops) a large argument; no node runs it in the test that uses it.
    fn big(payload: Vec<u8>) -> usize {
        payload.len()
    }
}

/// Appends `<id> <node pid>` to `dir/runs.log`.
fn log_run(dir: &str, id: u64) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(Path::new(dir).join("runs.log"))
        .unwrap();
    // One write(2) of a short line: atomic under O_APPEND.
    f.write_all(format!("{id} {}\n", parent_id()).as_bytes())
        .unwrap();
}

/// A fresh directory for one test's execution log, removed at the end.
struct LogDir(PathBuf);

impl LogDir {
    fn new(tag: &str) -> LogDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "atasker-faults-{tag}-{}-{nanos}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        LogDir(dir)
    }

    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }

    /// Every run so far, in order: (task id, node pid).
    fn runs(&self) -> Vec<(u64, u32)> {
        std::fs::read_to_string(self.0.join("runs.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (id, pid) = l.split_once(' ').expect("a log line");
                (id.parse().unwrap(), pid.parse().unwrap())
            })
            .collect()
    }

    /// The node pids each task ran on, in order.
    fn runs_by_id(&self) -> BTreeMap<u64, Vec<u32>> {
        let mut by_id = BTreeMap::<u64, Vec<u32>>::new();
        for (id, pid) in self.runs() {
            by_id.entry(id).or_default().push(pid);
        }
        by_id
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills the nodes (and so their worker processes) when the test ends, whatever happened.
struct Nodes(Vec<Child>);

impl Nodes {
    fn pid(&self, i: usize) -> u32 {
        self.0[i].id()
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            kill9(c);
        }
    }
}

/// Waits for every task (of ids `first`, `first + 1`, …) against one deadline and returns
/// the results in order. If the deadline passes, panics with the tasks still unanswered,
/// the nodes the log says they ran on and, given a server, what Redis holds.
fn results<T: Send + 'static>(
    tasks: Vec<Task<T>>,
    first: u64,
    within: Duration,
    log: &LogDir,
    redis: Option<&RedisServer>,
) -> Vec<Result<T, TaskError>> {
    let deadline = Instant::now() + within;
    let total = tasks.len();
    let mut out = Vec::with_capacity(total);
    let mut missing = Vec::new();
    for (i, mut t) in tasks.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        match t.wait_timeout(left) {
            Some(r) => out.push(r),
            None => missing.push(first + i as u64),
        }
    }
    if !missing.is_empty() {
        let runs = log.runs_by_id();
        let ran: Vec<_> = missing
            .iter()
            .map(|&id| (id, runs.get(&id).cloned().unwrap_or_default()))
            .collect();
        panic!(
            "{} of {total} tasks unanswered after {within:?}; (id, runs on nodes): \
             {ran:?}\n{}",
            missing.len(),
            redis.map(redis_state).unwrap_or_default()
        );
    }
    out
}

/// What Redis holds under the default namespace, for failure messages.
fn redis_state(redis: &RedisServer) -> String {
    let mut out = String::from("Redis:\n");
    let Reply::Array(keys) = redis.call(&["KEYS", "atasker:*"]) else {
        return "Redis: KEYS failed".into();
    };
    for key in keys {
        let key = key.to_string();
        let ty = redis.cmd(&["TYPE", &key]);
        let line = if key.contains(":hb:") {
            format!("PTTL {}", redis.cmd(&["PTTL", &key]))
        } else if key.contains(":q:") {
            format!(
                "XLEN {}; consumers {}; pending {}",
                redis.cmd(&["XLEN", &key]),
                redis.cmd(&["XINFO", "CONSUMERS", &key, "nodes"]),
                redis.cmd(&["XPENDING", &key, "nodes", "-", "+", "20"])
            )
        } else if ty == "stream" {
            format!("XLEN {}", redis.cmd(&["XLEN", &key]))
        } else {
            ty
        };
        out.push_str(&format!("  {key}: {line}\n"));
    }
    out
}

/// The remote NORMAL tasks this process saw complete.
fn completed(sup: &Supervisor) -> u64 {
    sup.stats().remote.normal.completed
}

/// Asserts each of `0..n` ran at least once and returns how many extra runs there were.
fn extra_runs(log: &LogDir, n: u64) -> usize {
    let by_id = log.runs_by_id();
    let lost: Vec<u64> = (0..n).filter(|id| !by_id.contains_key(id)).collect();
    assert!(lost.is_empty(), "tasks that never ran: {lost:?}");
    let strangers: Vec<u64> = by_id.keys().copied().filter(|&id| id >= n).collect();
    assert!(strangers.is_empty(), "runs of unknown ids: {strangers:?}");
    log.runs().len() - n as usize
}

#[test]
fn ten_thousand_tasks_over_two_nodes_each_answer_once() {
    const N: u64 = 10_000;
    // Durability is not under test here: no fsync per write (which would make the test about
    // the disk's speed).
    let redis = RedisServer::start_with(&["--appendfsync", "no"]);
    let log = LogDir::new("10k");
    let nodes = Nodes(vec![
        node(&redis.url(), 2, 5.0, &[]),
        node(&redis.url(), 2, 5.0, &[]),
    ]);
    let sup = producer(&redis.url(), Duration::from_secs(5));
    let opts = on(sup, Priority::Normal, None);
    let t = Instant::now();
    let tasks: Vec<_> = (0..N).map(|id| echo(opts, log.path(), id, 0)).collect();
    let results = results(tasks, 0, Duration::from_secs(120), &log, Some(&redis));
    eprintln!("{N} tasks answered in {:?}", t.elapsed());

    let mut served = BTreeMap::<u32, u64>::new();
    for (id, r) in (0..N).zip(results) {
        let (got, pid) = r.unwrap_or_else(|e| panic!("task {id} failed: {e}"));
        assert_eq!(got, id, "task {id} answered another task's value");
        *served.entry(pid).or_default() += 1;
    }
    let pids = HashSet::from([nodes.pid(0), nodes.pid(1)]);
    assert!(
        served.keys().all(|p| pids.contains(p)),
        "answers from strangers: {served:?}, nodes {pids:?}"
    );
    assert_eq!(served.len(), 2, "one node served everything: {served:?}");
    // No node failed: nothing may run twice.
    assert_eq!(extra_runs(&log, N), 0, "tasks ran more than once");
    let remote = sup.stats().remote.normal;
    assert_eq!(
        (remote.submitted, remote.completed, remote.failed),
        (N, N, 0),
        "{remote:?}"
    );
}

#[test]
fn a_killed_node_s_tasks_finish_on_the_other() {
    const N: u64 = 60;
    const PROCESSES: usize = 2;
    let redis = RedisServer::start();
    let log = LogDir::new("killed");
    let mut nodes = Nodes(vec![
        node(&redis.url(), PROCESSES, 2.0, &[]),
        node(&redis.url(), PROCESSES, 2.0, &[]),
    ]);
    let (victim, survivor) = (nodes.pid(0), nodes.pid(1));
    let sup = producer(&redis.url(), Duration::from_secs(2));
    let opts = on(sup, Priority::Normal, None);
    let tasks: Vec<_> = (0..N).map(|id| echo(opts, log.path(), id, 300)).collect();
    eventually(Duration::from_secs(30), "10 tasks finished", || {
        completed(sup) >= 10
    });
    // Both nodes are busy now (50 tasks of 300 ms are still queued or running): the
    // victim dies holding tasks.
    kill9(&mut nodes.0[0]);

    for (id, r) in (0..N).zip(results(
        tasks,
        0,
        Duration::from_secs(60),
        &log,
        Some(&redis),
    )) {
        let (got, pid) = r.unwrap_or_else(|e| panic!("task {id} failed: {e}"));
        assert_eq!(got, id);
        assert!(pid == victim || pid == survivor, "answered by {pid}");
    }
    // Only what the victim ran and had not answered when it died can run twice (a second
    // time on the survivor): the tasks running in its pool (at most PROCESSES, no
    // reserves), plus those finished whose answer was still on its way (the slot is free
    // as soon as the task ends; at most one per slot, since an answer's round trip is far
    // shorter than a 300 ms task). What it held but had not started never ran there.
    let extra = extra_runs(&log, N);
    assert!(
        extra <= 2 * PROCESSES,
        "{extra} duplicate runs: {:?}",
        log.runs()
    );
    for (id, pids) in log.runs_by_id() {
        if pids.len() > 1 {
            assert_eq!(
                (pids.len(), pids[0], pids[1]),
                (2, victim, survivor),
                "task {id} ran on {pids:?} (victim {victim}, survivor {survivor})"
            );
        }
    }
    // One resolution per task, whatever ran twice: the stats count each once.
    let s = sup.stats().remote.normal;
    assert_eq!((s.submitted, s.completed, s.failed), (N, N, 0));
    eprintln!("{extra} tasks of the killed node ran again on the other");
}

#[test]
fn redis_restarted_mid_run_loses_nothing() {
    const N: u64 = 300;
    let mut redis = RedisServer::start();
    let log = LogDir::new("restart");
    let _nodes = Nodes(vec![
        node(&redis.url(), 2, 5.0, &[]),
        node(&redis.url(), 2, 5.0, &[]),
    ]);
    let sup = producer(&redis.url(), Duration::from_secs(5));
    let opts = on(sup, Priority::Normal, None);
    let tasks: Vec<_> = (0..N).map(|id| echo(opts, log.path(), id, 20)).collect();
    eventually(Duration::from_secs(30), "30 tasks finished", || {
        completed(sup) >= 30
    });
    redis.kill();
    let at_kill = completed(sup);
    std::thread::sleep(Duration::from_secs(1));
    redis.restart();
    assert!(at_kill < N, "every task finished before Redis was killed");

    for (id, r) in (0..N).zip(results(
        tasks,
        0,
        Duration::from_secs(60),
        &log,
        Some(&redis),
    )) {
        assert_eq!(r.map(|(got, _)| got), Ok(id), "task {id}");
    }
    // Each ran (duplicates are allowed: delivery is at least once).
    let extra = extra_runs(&log, N);
    eprintln!("{at_kill} of {N} done when Redis was killed; {extra} duplicate runs");
}

#[test]
fn a_task_that_kills_its_node_fails_after_max_deliveries() {
    let redis = RedisServer::start();
    let log = LogDir::new("deadly");
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("producer")
            .process_pool(1)
            .cluster(redis.url())
            .node_timeout(Duration::from_secs(2))
            .max_deliveries(3)
            .build()
            .unwrap(),
    ));
    let mut task = kill_my_node(on(sup, Priority::Normal, None), log.path(), 7);
    let mut nodes = Nodes(Vec::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    // Nodes use the default max_deliveries (3): the reclaiming node's setting counts.
    let result = 'outer: loop {
        nodes.0.push(node(&redis.url(), 1, 2.0, &[]));
        let current = nodes.0.last_mut().unwrap();
        loop {
            if let Some(r) = task.wait_timeout(Duration::from_millis(50)) {
                break 'outer r;
            }
            if current.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "unresolved after {} nodes; runs: {:?}",
                nodes.0.len(),
                log.runs()
            );
        }
    };
    match &result {
        Err(TaskError::Cluster(text)) => assert!(text.contains("deliver"), "{text}"),
        other => panic!("expected TaskError::Cluster, got {other:?}"),
    }
    let runs = log.runs();
    assert_eq!(runs.len(), 3, "runs: {runs:?}");
    let pids: HashSet<u32> = runs.iter().map(|&(_, p)| p).collect();
    assert_eq!(pids.len(), 3, "one node ran it twice: {runs:?}");
    eprintln!("{result:?} after {} nodes", nodes.0.len());
}

#[test]
fn a_long_task_on_a_live_node_runs_once() {
    let redis = RedisServer::start();
    let log = LogDir::new("long");
    let _nodes = Nodes(vec![
        node(&redis.url(), 2, 3.0, &[]),
        node(&redis.url(), 2, 3.0, &[]),
    ]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let opts = on(sup, Priority::Normal, None);
    let tasks: Vec<_> = (0..2)
        .map(|id| echo(opts, log.path(), id, 12_000))
        .collect();
    for (id, r) in (0..2).zip(results(
        tasks,
        0,
        Duration::from_secs(60),
        &log,
        Some(&redis),
    )) {
        assert_eq!(r.map(|(got, _)| got), Ok(id), "task {id}");
    }
    // Four node timeouts passed while each ran, with a free slot on the other node.
    assert_eq!(
        log.runs_by_id().values().map(Vec::len).collect::<Vec<_>>(),
        [1, 1]
    );
}

/// Not a test of its own: the node of `a_node_whose_runtime_is_blocked_keeps_its_task`, a
/// supervisor with a single runtime thread, which it blocks for 8 s once its one task runs.
#[test]
fn helper_blocked_node() {
    let Ok(url) = std::env::var(BLOCKED_NODE) else {
        return;
    };
    // The test owns the directory: never removed here.
    let dir = std::mem::ManuallyDrop::new(LogDir(std::env::var(BLOCKED_NODE_DIR).unwrap().into()));
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("blocked")
            .runtime_threads(1)
            .process_pool(1)
            .cluster(url)
            .node_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
    ));
    sup.serve_cluster().unwrap();
    eventually(Duration::from_secs(30), "the task started here", || {
        !dir.runs().is_empty()
    });
    let marker = dir.0.join("blocked");
    let _blocker = sup.task().spawn_async(async move {
        std::fs::write(marker, b"").unwrap();
        // Blocks the only runtime thread: no future of this supervisor runs meanwhile.
        std::thread::sleep(Duration::from_secs(8));
    });
    std::thread::sleep(Duration::from_secs(20));
}

#[test]
fn a_node_whose_runtime_is_blocked_keeps_its_task() {
    let redis = RedisServer::start();
    let log = LogDir::new("blocked");
    let mut nodes = Nodes(vec![spawn_self_as(
        &[
            (BLOCKED_NODE, redis.url().as_str()),
            (BLOCKED_NODE_DIR, log.path().as_str()),
        ],
        "helper_blocked_node",
    )]);
    let blocked_node = nodes.pid(0);
    let sup = producer(&redis.url(), Duration::from_secs(2));
    let mut task = echo(on(sup, Priority::Normal, None), log.path(), 0, 6_000);
    eventually(Duration::from_secs(30), "the task started", || {
        !log.runs().is_empty()
    });
    assert_eq!(log.runs(), [(0, blocked_node)], "not on the blocked node");
    // A second node, which would take the task over if the first looked dead.
    nodes.0.push(node(&redis.url(), 1, 2.0, &[]));
    eventually(SOON, "the blocked node's runtime is blocked", || {
        log.0.join("blocked").exists()
    });

    let result = task.wait_timeout(Duration::from_secs(60));
    assert_eq!(result, Some(Ok((0, blocked_node))));
    assert_eq!(log.runs(), [(0, blocked_node)], "the task moved");
}

#[test]
fn a_slow_frozen_or_reset_connection_heals() {
    const N: u64 = 100;
    const MORE: u64 = 10;
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port());
    let log = LogDir::new("proxy");
    let mut nodes = Nodes(vec![
        node(&proxy.url(), 2, 3.0, &[]),
        node(&redis.url(), 1, 3.0, &[]),
    ]);
    let sup = producer(&proxy.url(), Duration::from_secs(3));
    let opts = on(sup, Priority::Normal, None);

    let tasks = std::thread::scope(|s| {
        s.spawn(|| {
            proxy.set_mode(Mode::Delay(Duration::from_millis(200)));
            std::thread::sleep(Duration::from_secs(1));
            // Longer than any call's deadline (1 s) and than the node timeout.
            proxy.set_mode(Mode::Freeze);
            std::thread::sleep(Duration::from_secs(4));
            // The partition heals: what it held goes through, as TCP would deliver it.
            proxy.set_mode(Mode::Pass);
            std::thread::sleep(Duration::from_secs(1));
            proxy.reset_all();
        });
        (0..N)
            .map(|id| {
                std::thread::sleep(Duration::from_millis(60));
                echo(opts, log.path(), id, 10)
            })
            .collect::<Vec<_>>()
    });
    for (id, r) in (0..N).zip(results(
        tasks,
        0,
        Duration::from_secs(60),
        &log,
        Some(&redis),
    )) {
        assert_eq!(r.map(|(got, _)| got), Ok(id), "task {id}");
    }
    let extra = extra_runs(&log, N);

    // The proxied node alone now: it and the producer healed for good.
    kill9(&mut nodes.0[1]);
    let proxied = nodes.pid(0);
    let tasks: Vec<_> = (N..N + MORE)
        .map(|id| echo(opts, log.path(), id, 10))
        .collect();
    for (id, r) in (N..N + MORE).zip(results(
        tasks,
        N,
        Duration::from_secs(30),
        &log,
        Some(&redis),
    )) {
        assert_eq!(r, Ok((id, proxied)), "task {id}");
    }
    eprintln!("{extra} duplicate runs");
}

#[test]
fn an_out_of_memory_redis_fails_submissions_instead_of_hanging() {
    // An empty Redis uses about 900 KB: 2 MB lets a few tasks in before it is full.
    let redis =
        RedisServer::start_with(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let opts = on(sup, Priority::Normal, None);
    // How many entries the task queues hold.
    let queued = || -> i64 {
        let Reply::Array(keys) = redis.call(&["KEYS", "atasker:q:*"]) else {
            panic!("KEYS did not answer a list")
        };
        keys.iter()
            .map(|k| {
                let Reply::Bulk(k) = k else {
                    panic!("a key: {k}")
                };
                match redis.call(&[b"XLEN".as_slice(), k]) {
                    Reply::Int(n) => n,
                    other => panic!("XLEN answered {other}"),
                }
            })
            .sum()
    };
    let mut kept = Vec::new();
    for i in 0..50u8 {
        let mut task = big(opts, vec![i; 200 * 1024]);
        match task.wait_timeout(Duration::from_millis(300)) {
            Some(Err(TaskError::Cluster(text))) => {
                assert!(text.contains("OOM"), "{text}");
                assert!(i > 0, "the first task was refused: the test proves less");
                assert_eq!(queued(), i64::from(i), "a refused task was queued");
                eprintln!("submission {i} failed: {text}");
                return;
            }
            Some(other) => panic!("submission {i}: {other:?}"),
            None => {
                // Not a hang: Redis took it.
                let n = kept.len() as i64 + 1;
                eventually(SOON, "the task is in its queue", || queued() == n);
                kept.push(task);
            }
        }
    }
    panic!("50 tasks of 200 KB went into a Redis with 2 MB of memory");
}

#[test]
fn a_delivery_whose_answer_is_lost_still_runs() {
    // A long node timeout: the node's heartbeat outlives the partition, so no other node
    // would ever take its entries over; the node itself must notice what it holds unseen.
    const TIMEOUT: f64 = 12.0;
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port());
    let log = LogDir::new("unseen");
    let _nodes = Nodes(vec![node(&proxy.url(), 2, TIMEOUT, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs_f64(TIMEOUT));
    let opts = on(sup, Priority::Normal, None);
    let first = echo(opts, log.path(), 0, 10);
    assert!(results(vec![first], 0, SOON, &log, Some(&redis))[0].is_ok());
    // The idle node now waits in a blocking read at the server. Cut it off and submit: the
    // server gives it an entry at once, and the answer is held until the node's call
    // deadline (a third of the timeout, plus the read's block) has given up on it.
    std::thread::sleep(Duration::from_millis(300));
    proxy.set_mode(Mode::Freeze);
    let tasks: Vec<_> = (1..5).map(|id| echo(opts, log.path(), id, 10)).collect();
    std::thread::sleep(Duration::from_secs(7));
    let held = pending(&redis);
    proxy.set_mode(Mode::Pass);
    for (id, r) in (1..5).zip(results(
        tasks,
        1,
        Duration::from_secs(30),
        &log,
        Some(&redis),
    )) {
        assert_eq!(r.map(|(got, _)| got), Ok(id), "task {id}");
    }
    extra_runs(&log, 5);
    eprintln!("{held} entries were delivered over the frozen connection");
}

/// How many entries nodes hold (delivered, not yet acknowledged), for messages.
fn pending(redis: &RedisServer) -> i64 {
    let Reply::Array(keys) = redis.call(&["KEYS", "atasker:q:*"]) else {
        return -1;
    };
    keys.iter()
        .map(|k| {
            let Reply::Bulk(k) = k else { return 0 };
            match redis.call(&[b"XPENDING".as_slice(), k, b"nodes"]) {
                Reply::Array(summary) => match summary.first() {
                    Some(Reply::Int(n)) => *n,
                    _ => 0,
                },
                _ => 0,
            }
        })
        .sum()
}

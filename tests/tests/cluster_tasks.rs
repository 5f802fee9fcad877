//! Remote tasks through real nodes (this test binary re-executed with `ATASKER_NODE`) and a
//! real `redis-server`: every argument and result shape crosses, errors come back as the
//! same `TaskError` as locally, a deadline is enforced on the node, priorities hold in a busy
//! node's queue, and without a cluster a remote task runs in the local process pool.

#[macro_use]
mod cluster_common;

use atasker::{PoolKind, Priority, Supervisor, TaskError};
use cluster_common::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::process::Child;
use std::time::{Duration, Instant};

/// Kills the nodes when the test ends, whatever happened.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            kill9(c);
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Shape {
    Unit,
    Pair(i64, String),
    Named {
        tags: Vec<String>,
        weight: Option<f64>,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Job {
    id: u64,
    shapes: Vec<Shape>,
    table: BTreeMap<String, Vec<u8>>,
}

remote_task! {
    fn echo_job(job: Job) -> Job { job }
}

remote_task! {
    fn many(a: u8, b: String, c: (u16, Option<i32>), d: Vec<u8>) -> (usize, String) {
        (usize::from(a) + usize::from(c.0) + d.len() + c.1.unwrap_or(0) as usize, b.to_uppercase())
    }
}

remote_task! {
    fn nothing() -> () {}
}

remote_task! {
    fn fallible(ok: bool) -> Result<u32, String> {
        if ok { Ok(7) } else { Err("no".into()) }
    }
}

remote_task! {
    fn boom(msg: String) -> u8 { panic!("{msg}") }
}

remote_task! {
    fn abort_node_child() -> u8 { std::process::abort() }
}

remote_task! {
    fn sleep_ms(ms: u64) -> u32 {
        std::thread::sleep(Duration::from_millis(ms));
        std::os::unix::process::parent_id()
    }
}

remote_task! {
    /// Appends `tag` to `log` when it starts, then sleeps `ms`.
    fn logged(log: String, tag: String, ms: u64) -> () {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
        // One `write(2)`: lines of concurrent writers never tear.
        f.write_all(format!("{tag}\n").as_bytes()).unwrap();
        drop(f);
        std::thread::sleep(Duration::from_millis(ms));
    }
}

fn temp_log(name: &str) -> String {
    let p = std::env::temp_dir().join(format!("atasker-{name}-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p.to_string_lossy().into_owned()
}

fn lines(log: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_shape_round_trips_through_a_node() {
    let redis = RedisServer::start();
    let _nodes = Nodes(vec![node(&redis.url(), 2, 5.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(5));
    let opts = on(sup, Priority::Normal, None);
    let job = Job {
        id: 42,
        shapes: vec![
            Shape::Unit,
            Shape::Pair(-3, "ü∂".into()),
            Shape::Named {
                tags: vec!["a".into(), String::new()],
                weight: Some(0.5),
            },
        ],
        table: BTreeMap::from([("big".to_string(), vec![7u8; 1 << 20])]),
    };
    assert_eq!(echo_job(opts, job.clone()).wait(), Ok(job));
    assert_eq!(
        many(opts, 1, "abc".into(), (2, Some(3)), vec![0; 4]).wait(),
        Ok((10, "ABC".into()))
    );
    assert_eq!(nothing(opts).wait(), Ok(()));
    assert_eq!(fallible(opts, true).wait(), Ok(Ok(7)));
    assert_eq!(fallible(opts, false).wait(), Ok(Err("no".into())));
    let remote = sup.stats().remote.normal;
    assert_eq!((remote.submitted, remote.completed), (5, 5));
    assert_eq!(sup.stats().processes.normal.submitted, 0, "ran locally");
}

#[test]
fn errors_cross_as_the_same_task_errors_and_the_deadline_is_the_node_s() {
    let redis = RedisServer::start();
    let _nodes = Nodes(vec![node(&redis.url(), 1, 5.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(5));
    let opts = on(sup, Priority::Normal, None);
    assert_eq!(
        boom(opts, "kaput".into()).wait(),
        Err(TaskError::Panicked {
            message: "kaput".into()
        })
    );
    assert!(matches!(
        abort_node_child(opts).wait(),
        Err(TaskError::ProcessExited {
            signal: Some(6),
            ..
        })
    ));
    let started = Instant::now();
    let timed = on(sup, Priority::Normal, Some(Duration::from_millis(300)));
    assert_eq!(sleep_ms(timed, 30_000).wait(), Err(TaskError::TimedOut));
    assert!(started.elapsed() < Duration::from_secs(20));
    // The node replaced its child and serves on.
    assert!(sleep_ms(opts, 1).wait().is_ok());
    let failed = sup.stats().remote.normal.failed;
    assert_eq!(failed, 3);
}

#[test]
fn without_a_cluster_a_remote_task_runs_in_the_local_process_pool() {
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder().process_pool(1).build().unwrap(),
    ));
    let opts = on(sup, Priority::Normal, None);
    assert_eq!(
        many(opts, 1, "x".into(), (1, None), vec![]).wait(),
        Ok((2, "X".into()))
    );
    // Its parent is this process: it ran in a worker process of ours.
    assert_eq!(sleep_ms(opts, 1).wait(), Ok(std::process::id()));
    let s = sup.stats();
    assert_eq!(s.processes.normal.completed, 2);
    assert_eq!(s.remote.normal.submitted, 0);
    assert!(s.node.is_none());
}

#[test]
fn a_busy_node_starts_queued_tasks_highest_first_and_critical_at_once() {
    let redis = RedisServer::start();
    let log = temp_log("priorities");
    let sup = producer(&redis.url(), Duration::from_secs(5));
    // The node has one worker process, held by a blocker, before anything else is queued.
    let _nodes = Nodes(vec![node(&redis.url(), 1, 5.0, &[])]);
    let blocker = logged(
        on(sup, Priority::Normal, None),
        log.clone(),
        "blocker".into(),
        3000,
    );
    eventually(SOON, "the blocker started", || {
        lines(&log).contains(&"blocker".to_string())
    });
    let queued: Vec<_> = [Priority::Low, Priority::Normal, Priority::High]
        .into_iter()
        .flat_map(|p| (0..2).map(move |i| (p, i)))
        .map(|(p, i)| logged(on(sup, p, None), log.clone(), format!("{p}-{i}"), 50))
        .collect();
    eventually(SOON, "all six queued in Redis", || {
        sup.stats().remote.low.queued
            + sup.stats().remote.normal.queued
            + sup.stats().remote.high.queued
            == 6
    });
    // CRITICAL starts while the blocker still runs (it gets a worker process of its own).
    let critical = logged(
        on(sup, Priority::Critical, None),
        log.clone(),
        "critical".into(),
        0,
    );
    assert_eq!(critical.wait(), Ok(()));
    assert!(
        !blocker.is_finished(),
        "the critical task waited for the blocker"
    );
    assert_eq!(blocker.wait(), Ok(()));
    for t in queued {
        assert_eq!(t.wait(), Ok(()));
    }
    let order: Vec<String> = lines(&log)
        .into_iter()
        .filter(|l| l != "blocker" && l != "critical")
        .map(|l| l.split('-').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        order,
        ["high", "high", "normal", "normal", "low", "low"],
        "{:?}",
        lines(&log)
    );
    let _ = std::fs::remove_file(&log);
}

#[test]
fn stats_show_queued_then_running_then_done_and_the_pool_is_remote() {
    let redis = RedisServer::start();
    let sup = producer(&redis.url(), Duration::from_secs(5));
    let log = temp_log("states");
    let t = logged(on(sup, Priority::High, None), log.clone(), "x".into(), 1500);
    eventually(SOON, "queued with no node", || {
        sup.stats().remote.high.queued == 1
    });
    let _nodes = Nodes(vec![node(&redis.url(), 1, 5.0, &[])]);
    eventually(SOON, "running on the node", || {
        sup.stats().remote.high.running == 1
    });
    assert_eq!(t.wait(), Ok(()));
    let s = sup.stats().remote.high;
    assert_eq!(
        (s.submitted, s.queued, s.running, s.completed),
        (1, 0, 0, 1)
    );
    assert!(s.max_wait > Duration::ZERO);
    assert_eq!(PoolKind::Remote.to_string(), "remote");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn a_task_redis_no_longer_knows_fails_instead_of_waiting_for_ever() {
    let redis = RedisServer::start();
    let sup = producer(&redis.url(), Duration::from_secs(1));
    let mut t = sleep_ms(on(sup, Priority::Low, None), 1);
    eventually(SOON, "queued in Redis", || {
        redis.cmd(&["KEYS", "atasker:q:*:low"]) != "[]"
    });
    // What a failover to a lagging replica (or a restart without AOF) does: the entry is gone.
    let key = redis.cmd(&["KEYS", "atasker:q:*:low"]);
    let key = key.trim_matches(['[', ']']);
    assert_eq!(redis.cmd(&["DEL", key]), "1");
    match t.wait_timeout(SOON) {
        Some(Err(TaskError::Cluster(text))) => assert!(text.contains("no longer knows"), "{text}"),
        other => panic!("{other:?}"),
    }
}

// ---- durable delays ----

/// Options for a remote task on `sup` queued `delay` from now.
fn later(sup: &'static Supervisor, delay: Duration) -> atasker::__private::TaskOptions {
    atasker::__private::TaskOptions {
        delay: Some(delay),
        ..on(sup, Priority::Normal, None)
    }
}

/// How many tasks wait in the delayed sets of `redis` (every build's).
fn delayed(redis: &RedisServer) -> usize {
    (redis.keys("atasker:z:*").iter())
        .map(|k| redis.cmd(&["ZCARD", k]).parse::<usize>().unwrap())
        .sum()
}

#[test]
fn a_delayed_remote_task_waits_in_redis_then_runs() {
    let redis = RedisServer::start();
    let _nodes = Nodes(vec![node(&redis.url(), 1, 3.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let log = temp_log("delayed");
    let asked = Instant::now();
    let t = logged(
        later(sup, Duration::from_millis(1500)),
        log.clone(),
        "late".into(),
        0,
    );
    // It waits in Redis, in its build's delayed set, not in a queue.
    eventually(SOON, "the task in the delayed set", || delayed(&redis) == 1);
    assert!(lines(&log).is_empty(), "it ran before its time");
    assert_eq!(t.wait(), Ok(()));
    // Due by the server's clock in ms: a little slack for the rounding.
    assert!(
        asked.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(lines(&log), ["late"]);
    assert_eq!(delayed(&redis), 0);
    assert_eq!(
        redis.cmd(&["EVAL", "return #redis.call('KEYS', 'atasker:zp:*')", "0"]),
        "0"
    );
}

#[test]
fn a_delayed_remote_task_cancelled_before_its_time_never_runs() {
    let redis = RedisServer::start();
    let _nodes = Nodes(vec![node(&redis.url(), 1, 3.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let log = temp_log("delayed-cancel");
    let t = logged(
        later(sup, Duration::from_secs(2)),
        log.clone(),
        "x".into(),
        0,
    );
    eventually(SOON, "the task in the delayed set", || delayed(&redis) == 1);
    assert!(t.cancel());
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
    eventually(SOON, "the delayed entry removed", || delayed(&redis) == 0);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(lines(&log).is_empty(), "a cancelled task ran");
}

/// The environment variable that makes `helper_delayed_producer` submit (its value: the
/// Redis URL and the log, separated by a space).
const DELAYED_PRODUCER: &str = "ATASKER_TEST_DELAYED_PRODUCER";

/// Run as a separate process by the test below: submits 20 tasks delayed by 1 s, waits
/// until Redis holds them, and exits at once, without a stop (as a crashed CLI would).
#[test]
fn helper_delayed_producer() {
    let Ok(args) = std::env::var(DELAYED_PRODUCER) else {
        return;
    };
    let (url, log) = args.split_once(' ').unwrap();
    let sup = producer(url, Duration::from_secs(3));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            logged(
                later(sup, Duration::from_secs(1)),
                log.into(),
                i.to_string(),
                0,
            )
        })
        .collect();
    let port: u16 = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/0")
        .parse()
        .unwrap();
    let mut c = Conn::tcp(port).unwrap();
    eventually(SOON, "the tasks in Redis", || {
        let keys = c.call(&["KEYS", "atasker:z:*"]).unwrap().to_string();
        let key = keys.trim_matches(['[', ']']).to_owned();
        !key.is_empty() && c.call(&["ZCARD", &key]).unwrap().to_string() == "20"
    });
    std::mem::forget(tasks);
    std::process::exit(0);
}

#[test]
fn delayed_remote_tasks_run_once_after_their_producer_exited_with_two_nodes_racing() {
    let redis = RedisServer::start();
    let log = temp_log("delayed-orphans");
    let mut p = spawn_self_as(
        &[(DELAYED_PRODUCER, &format!("{} {log}", redis.url()))],
        "helper_delayed_producer",
    );
    let status = wait_exit(&mut p, SOON * 2).expect("the producer exits");
    assert!(status.success());
    // Its tasks wait in Redis; two nodes race to move them when they fall due.
    assert_eq!(delayed(&redis), 20);
    let _nodes = Nodes(vec![
        node(&redis.url(), 2, 3.0, &[]),
        node(&redis.url(), 2, 3.0, &[]),
    ]);
    eventually(SOON * 2, "every task ran", || lines(&log).len() >= 20);
    std::thread::sleep(Duration::from_millis(500));
    let mut ran = lines(&log);
    ran.sort_by_key(|l| l.parse::<u32>().unwrap());
    let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(ran, want, "each ran exactly once");
    assert_eq!(delayed(&redis), 0);
}

// ---- remote retries ----

/// The producer of `tagged_node` (set by the one test that calls it).
static RETRY_SUP: std::sync::OnceLock<&'static Supervisor> = std::sync::OnceLock::new();

fn retry_sup() -> &'static Supervisor {
    RETRY_SUP.get().expect("set by the test")
}

/// Fails on a node whose environment says it is broken, answers the node's tag elsewhere
/// (the node's worker processes inherit its environment).
#[atasker::background_task(static, remote, retries = 5, backoff = 1.5, backoff_max = 1.5, supervisor = retry_sup())]
fn tagged_node() -> Result<String, String> {
    match std::env::var("ATASKER_TEST_NODE_TAG").as_deref() {
        Ok("broken") => Err("this node is broken".into()),
        Ok(tag) => Ok(tag.to_owned()),
        Err(_) => Err("no tag".into()),
    }
}

#[test]
fn a_remote_retry_waits_in_redis_and_runs_on_another_node_after_the_first_is_killed() {
    let redis = RedisServer::start();
    assert!(RETRY_SUP
        .set(producer(&redis.url(), Duration::from_secs(2)))
        .is_ok());
    let mut broken = node(&redis.url(), 1, 2.0, &[("ATASKER_TEST_NODE_TAG", "broken")]);
    let mut t = tagged_node();
    // The first run fails on the broken node: the retry waits in Redis, not in the node.
    eventually(SOON, "the retry in the delayed set", || {
        delayed(&redis) == 1
    });
    kill9(&mut broken);
    let _good = Nodes(vec![node(
        &redis.url(),
        1,
        2.0,
        &[("ATASKER_TEST_NODE_TAG", "good")],
    )]);
    assert_eq!(t.wait_timeout(SOON * 3), Some(Ok(Ok("good".to_owned()))));
    assert_eq!(delayed(&redis), 0);
}

// ---- fleet-wide limits ----

remote_task! {
    /// Sleeps `ms`, then appends `<start ms> <end ms>` (wall clock) to `log`.
    fn spanned(log: String, ms: u64) -> () {
        use std::io::Write;
        let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let start = now();
        std::thread::sleep(Duration::from_millis(ms));
        let line = format!("{start} {}\n", now());
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
        f.write_all(line.as_bytes()).unwrap();
    }
}

remote_task! {
    /// Sleeps `ms` on the node tagged `A` only; answers the node's tag.
    fn slow_on_a(ms: u64) -> String {
        let tag = std::env::var("ATASKER_TEST_NODE_TAG").unwrap_or_default();
        if tag == "A" {
            std::thread::sleep(Duration::from_millis(ms));
        }
        tag
    }
}

/// Options for a remote task on `sup` with a fleet-wide limit of `n`.
fn limited(sup: &'static Supervisor, n: u32) -> atasker::__private::TaskOptions {
    atasker::__private::TaskOptions {
        limit: std::num::NonZeroU32::new(n),
        ..on(sup, Priority::Normal, None)
    }
}

#[test]
fn a_fleet_wide_limit_holds_across_two_nodes() {
    let redis = RedisServer::start();
    let _nodes = Nodes(vec![
        node(&redis.url(), 2, 3.0, &[]),
        node(&redis.url(), 2, 3.0, &[]),
    ]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let log = temp_log("fleet-limit");
    let tasks: Vec<_> = (0..6)
        .map(|_| spanned(limited(sup, 1), log.clone(), 150))
        .collect();
    for mut t in tasks {
        assert_eq!(t.wait_timeout(SOON * 2), Some(Ok(())));
    }
    let mut runs: Vec<(u128, u128)> = lines(&log)
        .iter()
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert_eq!(runs.len(), 6);
    runs.sort();
    // One at a time in the whole fleet: each run starts after the one before it ended.
    for w in runs.windows(2) {
        assert!(w[1].0 >= w[0].1, "two runs at once: {w:?}");
    }
    assert_eq!(
        redis.keys("atasker:l:*"),
        Vec::<String>::new(),
        "a permit left held"
    );
}

#[test]
fn a_killed_node_s_permit_frees_after_the_node_timeout() {
    let redis = RedisServer::start();
    let mut a = node(&redis.url(), 1, 2.0, &[("ATASKER_TEST_NODE_TAG", "A")]);
    let sup = producer(&redis.url(), Duration::from_secs(2));
    let mut first = slow_on_a(limited(sup, 1), 60_000);
    eventually(SOON, "node A holds the permit", || {
        !redis.keys("atasker:l:*").is_empty()
    });
    kill9(&mut a);
    let _b = Nodes(vec![node(
        &redis.url(),
        1,
        2.0,
        &[("ATASKER_TEST_NODE_TAG", "B")],
    )]);
    let mut second = slow_on_a(limited(sup, 1), 60_000);
    // Once A's heartbeat has expired, its permit is free and its task is B's too.
    assert_eq!(second.wait_timeout(SOON * 2), Some(Ok("B".to_owned())));
    assert_eq!(first.wait_timeout(SOON * 2), Some(Ok("B".to_owned())));
}

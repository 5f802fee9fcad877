//! A task of another build is never taken: this test binary submits as build
//! `another-build` (`ATASKER_BUILD_ID`, read once per process, set before anything asks for
//! it), while its node (the same binary started again without the variable) fingerprints
//! its executable. The task stays in its own build's queue, the queue-wait hooks fire for it,
//! and a cancel removes its entry.
//!
//! A file of its own: the build id holds for the whole process.

#[macro_use]
mod cluster_common;

use atasker::{PoolKind, Priority, Supervisor, TaskError, TaskInfo};
use cluster_common::*;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

remote_task! {
    /// Doubles `x`.
    fn double(x: u32) -> u32 {
        x * 2
    }
}

/// The node of the test: killed with SIGKILL when the test ends, however it ends.
struct NodeGuard(Child);

impl Drop for NodeGuard {
    fn drop(&mut self) {
        kill9(&mut self.0);
    }
}

/// A zero set-up node of this binary's own build: like [`node`], but without the
/// `ATASKER_BUILD_ID` this process set for itself.
fn native_node(url: &str) -> Child {
    spawn(
        self_command("zero_setup_node_never_runs_main")
            .env_remove("ATASKER_BUILD_ID")
            .env("ATASKER_NODE", url)
            .env("ATASKER_NODE_PROCESSES", "1")
            .env("ATASKER_NODE_TIMEOUT", "3"),
    )
}

/// The keys matching `pattern`, as text.
fn keys(redis: &RedisServer, pattern: &str) -> Vec<String> {
    match redis.call(&["KEYS", pattern]) {
        Reply::Array(keys) => keys.iter().map(ToString::to_string).collect(),
        other => panic!("KEYS {pattern}: {other}"),
    }
}

#[test]
fn a_task_of_another_build_is_never_taken_and_its_queue_wait_hook_fires() {
    // Before any supervisor exists: the fingerprint is read once per process.
    std::env::set_var("ATASKER_BUILD_ID", "another-build");
    let redis = RedisServer::start();
    let node = NodeGuard(native_node(&redis.url()));

    // The node is alive and has made its queues (with their group).
    let mut node_fp = String::new();
    eventually(
        Duration::from_secs(30),
        "the node's heartbeat",
        || match keys(&redis, "atasker:hb:*").first() {
            Some(key) => {
                node_fp = redis.cmd(&["GET", key.as_str()]);
                node_fp != "(nil)"
            }
            None => false,
        },
    );
    let node_queue = format!("atasker:q:{node_fp}:normal");
    eventually(SOON, "the node's queues", || {
        redis.cmd(&["EXISTS", node_queue.as_str()]) == "1"
    });

    let warned: Arc<Mutex<Vec<TaskInfo>>> = Arc::default();
    let critical: Arc<Mutex<Vec<TaskInfo>>> = Arc::default();
    let (w, c) = (warned.clone(), critical.clone());
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("producer")
            .process_pool(1)
            .cluster(redis.url())
            .node_timeout(Duration::from_secs(3))
            .timeout_warning(Duration::from_secs(1))
            .timeout_critical(Duration::from_secs(2))
            .on_timeout_warning(move |t| w.lock().unwrap().push(t.clone()))
            .on_timeout_critical(move |t| c.lock().unwrap().push(t.clone()))
            .build()
            .unwrap(),
    ));

    let submitted = Instant::now();
    let mut task = double(on(sup, Priority::Normal, None), 21);
    eventually(SOON, "the warning hook", || {
        !warned.lock().unwrap().is_empty()
    });
    {
        let warned = warned.lock().unwrap();
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert_eq!(warned[0].id, task.id());
        assert_eq!(warned[0].pool, PoolKind::Remote);
        assert_eq!(warned[0].priority, Priority::Normal);
        assert!(warned[0].waited >= Duration::from_secs(1), "{warned:?}");
    }
    assert_eq!(sup.stats().remote.normal.queued, 1);

    let queues = keys(&redis, "atasker:q:*:normal");
    let foreign: Vec<&String> = queues.iter().filter(|q| **q != node_queue).collect();
    assert_eq!(foreign.len(), 1, "queues: {queues:?}");
    let foreign = foreign[0].clone();

    std::thread::sleep(Duration::from_secs(3).saturating_sub(submitted.elapsed()));
    assert!(
        !task.is_finished(),
        "{:?}",
        task.wait_timeout(Duration::ZERO)
    );
    assert_eq!(redis.cmd(&["XLEN", node_queue.as_str()]), "0");
    assert_eq!(redis.cmd(&["XLEN", foreign.as_str()]), "1");
    {
        let critical = critical.lock().unwrap();
        assert_eq!(critical.len(), 1, "{critical:?}");
        assert_eq!(critical[0].pool, PoolKind::Remote);
    }
    assert_eq!(sup.stats().remote.normal.queued, 1);
    assert_eq!(sup.stats().remote.normal.running, 0);

    assert!(task.cancel(), "cancel of a task no node can take");
    assert_eq!(task.wait_timeout(SOON), Some(Err(TaskError::Cancelled)));
    eventually(SOON, "the foreign entry removed", || {
        redis.cmd(&["XLEN", foreign.as_str()]) == "0"
    });
    assert_eq!(warned.lock().unwrap().len(), 1, "the hook fired again");
    drop(node);
}

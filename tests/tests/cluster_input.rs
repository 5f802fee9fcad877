//! What a cluster node and a producer do with input they do not expect, and with the
//! edges of their lives: malformed or foreign task entries written straight into a queue
//! (each is answered where it names a reply stream, acknowledged and deleted, and the node
//! serves on), a cancel of a task no node has taken (its entry goes), credentials that must
//! never show (in `Debug`, stats, build errors, logs, a node's output), a node's graceful
//! stop on SIGTERM, and a zero set-up node's bad settings (exit code 2).
//!
//! Each test starts its own `redis-server` and its nodes (this test binary started again
//! with `ATASKER_NODE`), and kills the nodes at its end, even when it fails. A task entry is
//! a stream entry in `atasker:q:<fingerprint>:<priority>` with the fields `t`, `n`, `r`, `a`
//! (see `atasker-core/src/cluster/broker.rs`); the tests write such entries with their own
//! reply stream and read the answers with `XRANGE`.

#[macro_use]
mod cluster_common;

use atasker::{Priority, Supervisor, TaskError};
use cluster_common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the first task of a test may take: the node is a fresh process that connects,
/// beats and starts a worker process first.
const FIRST: Duration = Duration::from_secs(30);

remote_task! {
    /// Doubles `x`.
    fn double(x: u32) -> u32 {
        x * 2
    }
}

remote_task! {
    /// Appends `line` to the file at `path`; returns the line's length.
    fn append(path: String, line: String) -> usize {
        append_line(Path::new(&path), &line);
        line.len()
    }
}

remote_task! {
    /// Appends `start`, sleeps `ms`, appends `end` to the file at `path`; returns `ms`.
    fn slow(path: String, ms: u64) -> u64 {
        append_line(Path::new(&path), "start");
        std::thread::sleep(Duration::from_millis(ms));
        append_line(Path::new(&path), "end");
        ms
    }
}

fn append_line(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    // One `write(2)`: lines of concurrent writers never tear.
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// The nodes of one test: killed with SIGKILL when the test ends, however it ends.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            kill9(child);
        }
    }
}

/// A fresh file path (not created) for a task's log.
fn log_path(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "atasker-cluster-input-{tag}-{}-{n}.log",
        std::process::id()
    ))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// This test binary started again as a zero set-up node with `env`, its stderr written to
/// `stderr` (like [`node`], which inherits it).
fn node_logged(env: &[(&str, &str)], stderr: &Path) -> Child {
    let file = std::fs::File::create(stderr).unwrap();
    spawn(
        self_command("zero_setup_node_never_runs_main")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stderr(file),
    )
}

/// A raw command on a new connection authenticated with `password` first (the harness's
/// `call` does not authenticate).
fn authed<A: AsRef<[u8]>>(redis: &RedisServer, password: &str, args: &[A]) -> Reply {
    let mut conn = redis.conn();
    let ok = conn.call(&["AUTH", password]).unwrap();
    assert_eq!(ok, Reply::Status("OK".into()), "AUTH");
    conn.call(args).unwrap()
}

/// The build fingerprint of the (first) node serving on `redis`, from its heartbeat.
fn node_fingerprint(redis: &RedisServer) -> String {
    let mut fp = String::new();
    eventually(FIRST, "a node's heartbeat key", || {
        let Reply::Array(keys) = redis.call(&["KEYS", "atasker:hb:*"]) else {
            return false;
        };
        let Some(key) = keys.first() else {
            return false;
        };
        fp = redis.cmd(&["GET", key.to_string().as_str()]);
        fp != "(nil)"
    });
    assert_eq!(fp.len(), 16, "fingerprint {fp:?}");
    fp
}

/// The entries of stream `key`, each as its field map (values as lossy text).
fn entries(redis: &RedisServer, key: &str) -> Vec<HashMap<String, String>> {
    let Reply::Array(items) = redis.call(&["XRANGE", key, "-", "+"]) else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Reply::Array(mut pair) = item else {
                return None;
            };
            let Reply::Array(fields) = pair.pop()? else {
                return None;
            };
            let fields: Vec<String> = fields.iter().map(ToString::to_string).collect();
            Some(
                fields
                    .chunks(2)
                    .filter(|kv| kv.len() == 2)
                    .map(|kv| (kv[0].clone(), kv[1].clone()))
                    .collect(),
            )
        })
        .collect()
}

/// The final answer (not the start notice) to task `tid` in reply stream `key`.
fn answer(redis: &RedisServer, key: &str, tid: &str) -> HashMap<String, String> {
    let mut found = None;
    eventually(SOON, &format!("an answer to {tid} in {key}"), || {
        found = entries(redis, key).into_iter().find(|e| {
            e.get("t").map(String::as_str) == Some(tid)
                && e.get("k").map(String::as_str) != Some("s")
        });
        found.is_some()
    });
    found.unwrap()
}

fn xlen(redis: &RedisServer, key: &str) -> String {
    redis.cmd(&["XLEN", key])
}

/// XADDs one entry of `fields` to `key`; returns its id.
fn xadd(redis: &RedisServer, key: &str, fields: &[(&str, &[u8])]) -> String {
    let mut args: Vec<Vec<u8>> = vec![b"XADD".to_vec(), key.as_bytes().to_vec(), b"*".to_vec()];
    for (f, v) in fields {
        args.push(f.as_bytes().to_vec());
        args.push(v.to_vec());
    }
    let id = redis.call(&args);
    assert!(matches!(id, Reply::Bulk(_)), "XADD {key}: {id}");
    id.to_string()
}

#[test]
fn malformed_entries_are_answered_acknowledged_and_the_node_serves_on() {
    let redis = RedisServer::start();
    let mut nodes = Nodes(vec![node(&redis.url(), 1, 3.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(3));

    let mut t = double(on(sup, Priority::Normal, None), 21);
    assert_eq!(t.wait_timeout(FIRST), Some(Ok(42)), "first round trip");
    let fp = node_fingerprint(&redis);
    let queue = format!("atasker:q:{fp}:normal");
    let reply = "atasker:r:raw-test";
    let real = "cluster_input::double";

    // (a) nothing of ours: nobody to answer.
    xadd(&redis, &queue, &[("x", b"1")]);
    // (b) a submitter, but no task name.
    xadd(&redis, &queue, &[("t", b"9001"), ("r", reply.as_bytes())]);
    // (c) a real task whose arguments do not decode.
    xadd(
        &redis,
        &queue,
        &[
            ("t", b"9002"),
            ("n", real.as_bytes()),
            ("r", reply.as_bytes()),
            ("a", b"\xff\xff\xff"),
        ],
    );
    // (d) a task this build does not have.
    xadd(
        &redis,
        &queue,
        &[
            ("t", b"9003"),
            ("n", b"cluster_input::no_such_task"),
            ("r", reply.as_bytes()),
            ("a", b"\x00"),
        ],
    );
    // (e) arguments larger than a frame may hold (64 MiB).
    let huge = vec![0u8; 65 << 20];
    xadd(
        &redis,
        &queue,
        &[
            ("t", b"9004"),
            ("n", real.as_bytes()),
            ("r", reply.as_bytes()),
            ("a", &huge),
        ],
    );
    drop(huge);

    let b = answer(&redis, reply, "9001");
    assert_eq!(b.get("k").map(String::as_str), Some("e"), "(b) {b:?}");
    assert_eq!(b.get("c").map(String::as_str), Some("cluster"), "(b) {b:?}");
    assert!(b["m"].contains("`n`"), "(b) {b:?}");

    let c = answer(&redis, reply, "9002");
    assert_eq!(c.get("k").map(String::as_str), Some("e"), "(c) {c:?}");
    assert_eq!(c.get("c").map(String::as_str), Some("codec"), "(c) {c:?}");

    let d = answer(&redis, reply, "9003");
    assert_eq!(d.get("k").map(String::as_str), Some("e"), "(d) {d:?}");
    assert_eq!(d.get("c").map(String::as_str), Some("cluster"), "(d) {d:?}");
    assert!(d["m"].contains("cluster_input::no_such_task"), "(d) {d:?}");

    let e = answer(&redis, reply, "9004");
    assert_eq!(e.get("k").map(String::as_str), Some("e"), "(e) {e:?}");
    assert_eq!(e.get("c").map(String::as_str), Some("codec"), "(e) {e:?}");
    assert!(e["m"].contains("64 MiB"), "(e) {e:?}");

    // Every entry, (a) included, was acknowledged and deleted.
    eventually(SOON, "nothing pending in the queue's group", || {
        redis.cmd(&["XPENDING", queue.as_str(), "nodes"]) == "[0, (nil), (nil), (nil)]"
    });
    eventually(SOON, "the queue is empty", || xlen(&redis, &queue) == "0");

    assert!(
        nodes.0[0].try_wait().unwrap().is_none(),
        "the node exited on malformed input"
    );
    let mut t = double(on(sup, Priority::Normal, None), 5);
    assert_eq!(t.wait_timeout(SOON), Some(Ok(10)), "round trip after");
}

#[test]
fn cancel_removes_a_queued_remote_task() {
    let redis = RedisServer::start();
    let mut nodes = Nodes(Vec::new());
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let log = log_path("cancel");
    let path = || log.to_string_lossy().into_owned();

    // Cancelled at once: perhaps before the producer has its entry id.
    let early = append(on(sup, Priority::Normal, None), path(), "early".into());
    assert!(early.cancel(), "cancel of a task just submitted");
    assert_eq!(early.wait(), Err(TaskError::Cancelled));

    let queued = append(on(sup, Priority::Normal, None), path(), "cancelled".into());
    let mut queue = String::new();
    eventually(SOON, "the task's entry in a queue", || {
        let Reply::Array(keys) = redis.call(&["KEYS", "atasker:q:*"]) else {
            return false;
        };
        match keys.as_slice() {
            [key] => {
                queue = key.to_string();
                xlen(&redis, &queue) == "1"
            }
            _ => false,
        }
    });
    assert!(queue.ends_with(":normal"), "{queue}");
    assert!(queued.cancel(), "cancel of a queued remote task");
    assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    eventually(SOON, "the cancelled entry removed", || {
        xlen(&redis, &queue) == "0"
    });

    nodes.0.push(node(&redis.url(), 1, 3.0, &[]));
    let mut served = append(on(sup, Priority::Normal, None), path(), "served".into());
    assert_eq!(served.wait_timeout(FIRST), Some(Ok(6)));
    // Let the node take anything else that might still be there.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(read(&log), "served\n", "cancelled tasks ran");
    assert_eq!(sup.stats().remote.normal.cancelled, 2);
    let _ = std::fs::remove_file(&log);
}

/// Every event and span of the process as text, for the credentials test.
struct Capture {
    text: Mutex<String>,
    next: std::sync::atomic::AtomicU64,
}

struct Line<'a>(&'a mut String);

impl tracing::field::Visit for Line<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }
}

impl tracing::Subscriber for &'static Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}", attrs.metadata().name());
        attrs.record(&mut Line(&mut line));
        self.push(line);
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        tracing::span::Id::from_u64(id)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = "record".to_owned();
        values.record(&mut Line(&mut line));
        self.push(line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{} {}", event.metadata().level(), event.metadata().target());
        event.record(&mut Line(&mut line));
        self.push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Capture {
    fn push(&self, line: String) {
        let mut text = self.text.lock().unwrap();
        text.push_str(&line);
        text.push('\n');
    }
}

/// The process-wide capture (installed once, for the whole test binary: tasks and the
/// cluster's loops log from other threads).
fn capture() -> &'static Capture {
    static C: OnceLock<&'static Capture> = OnceLock::new();
    C.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture {
            text: Mutex::new(String::new()),
            next: std::sync::atomic::AtomicU64::new(0),
        }));
        tracing::subscriber::set_global_default(c).expect("the only subscriber");
        c
    })
}

fn captured() -> String {
    capture().text.lock().unwrap().clone()
}

#[test]
fn credentials_never_show() {
    const PW: &str = "s3cr3t-pw";
    const WRONG: &str = "wr0ng-pw-7f3a";
    capture();
    // Not `RedisServer::start_with(&["--requirepass", PW])`: the harness waits for an
    // unauthenticated PING, which a server with a password refuses (NOAUTH), so it would
    // never start. The password is set once the server runs instead.
    let redis = RedisServer::start();
    assert_eq!(redis.cmd(&["CONFIG", "SET", "requirepass", PW]), "OK");
    assert!(
        redis.cmd(&["PING"]).contains("NOAUTH"),
        "the password is not required"
    );
    let port = redis.port();
    let url = format!("redis://:{PW}@127.0.0.1:{port}/0");
    let node_err = log_path("node-stderr");
    let mut nodes = Nodes(vec![node_logged(
        &[
            ("ATASKER_NODE", url.as_str()),
            ("ATASKER_NODE_PROCESSES", "1"),
            ("ATASKER_NODE_TIMEOUT", "3"),
        ],
        &node_err,
    )]);
    let sup = producer(&url, Duration::from_secs(3));
    let mut t = double(on(sup, Priority::Normal, None), 4);
    assert_eq!(t.wait_timeout(FIRST), Some(Ok(8)), "round trip with AUTH");
    assert_eq!(
        authed(&redis, PW, &["KEYS", "atasker:hb:*"])
            .to_string()
            .matches("atasker:hb:")
            .count(),
        1,
        "the node's heartbeat"
    );

    let debug = format!("{sup:?}");
    assert!(!debug.contains(PW), "Debug: {debug}");
    let stats = serde_json::to_string(&sup.stats()).unwrap();
    assert!(!stats.contains(PW), "stats: {stats}");

    let err = Supervisor::builder()
        .cluster(format!("redis://u:{PW}@host:notaport/0"))
        .build()
        .unwrap_err();
    assert!(matches!(err, atasker::BuildError::ClusterUrl(_)), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(PW), "BuildError: {text}");
    }

    // A producer pointed at a dead port: it logs that it cannot connect, without the
    // password, and its task stays queued until cancelled.
    let dead_port = free_port();
    let dead = producer(
        &format!("redis://:{PW}@127.0.0.1:{dead_port}/0"),
        Duration::from_secs(3),
    );
    let mut lost = double(on(dead, Priority::Normal, None), 1);
    assert_eq!(lost.wait_timeout(Duration::from_secs(2)), None);
    assert!(lost.cancel(), "cancel of a task never sent");
    assert_eq!(lost.wait_timeout(SOON), Some(Err(TaskError::Cancelled)));
    let debug = format!("{dead:?}");
    assert!(!debug.contains(PW), "Debug: {debug}");
    let stats = serde_json::to_string(&dead.stats()).unwrap();
    assert!(!stats.contains(PW), "stats: {stats}");
    let logs = captured();
    assert!(
        logs.contains(&format!("redis=redis://***@127.0.0.1:{dead_port}/0")),
        "no warning about the dead server:\n{logs}"
    );

    // A wrong password: a configuration error, said at once (API.md §10): the task fails
    // with `TaskError::Cluster` naming the kind, and the log says so, without the password.
    let wrong = producer(
        &format!("redis://:{WRONG}@127.0.0.1:{port}/0"),
        Duration::from_secs(3),
    );
    let mut refused = double(on(wrong, Priority::Normal, None), 2);
    let outcome = refused.wait_timeout(Duration::from_secs(5));
    let Some(Err(TaskError::Cluster(text))) = &outcome else {
        panic!("a task of a producer with a wrong password, after 5 s: {outcome:?}");
    };
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains(WRONG) && !text.contains(PW), "{text}");
    let logs = captured();
    let warned: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(&format!("redis=redis://***@127.0.0.1:{port}/0")))
        .collect();
    eprintln!("what the wrong-password producer logged: {warned:#?}");
    assert!(
        !warned.is_empty(),
        "the wrong password went unlogged:\n{logs}"
    );

    let logs = captured();
    assert!(!logs.contains(PW), "the password in the logs:\n{logs}");
    assert!(
        !logs.contains(WRONG),
        "the wrong password in the logs:\n{logs}"
    );
    for node in &mut nodes.0 {
        kill9(node);
    }
    let node_out = read(&node_err);
    assert!(
        node_out.contains(&format!("redis://***@127.0.0.1:{port}/0")),
        "the node's output: {node_out}"
    );
    assert!(!node_out.contains(PW), "the node's output: {node_out}");
    let _ = std::fs::remove_file(&node_err);
}

#[test]
fn a_node_stops_gracefully_on_sigterm() {
    let redis = RedisServer::start();
    let mut nodes = Nodes(vec![node(&redis.url(), 1, 3.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let log = log_path("sigterm");

    let mut running = slow(
        on(sup, Priority::Normal, None),
        log.to_string_lossy().into_owned(),
        3000,
    );
    eventually(FIRST, "the task started on the node", || {
        read(&log) == "start\n"
    });
    let signalled = Instant::now();
    sigterm(&nodes.0[0]);
    assert_eq!(
        running.wait_timeout(SOON),
        Some(Ok(3000)),
        "the running task"
    );
    assert_eq!(read(&log), "start\nend\n");
    let status = wait_exit(&mut nodes.0[0], SOON).expect("the node did not exit");
    assert_eq!(status.code(), Some(0), "{status:?}");
    eprintln!("the node exited {:?} after SIGTERM", signalled.elapsed());

    let mut after = double(on(sup, Priority::Normal, None), 3);
    assert_eq!(
        after.wait_timeout(Duration::from_secs(2)),
        None,
        "a task was taken after the node exited"
    );
    assert!(after.cancel());
    assert_eq!(after.wait_timeout(SOON), Some(Err(TaskError::Cancelled)));
    let _ = std::fs::remove_file(&log);
}

#[test]
fn zero_setup_bad_settings_exit_2() {
    let cases: [(&[(&str, &str)], &str); 7] = [
        (
            &[
                ("ATASKER_NODE", "redis://127.0.0.1:1/0"),
                ("ATASKER_NODE_PROCESSES", "zero"),
            ],
            "ATASKER_NODE_PROCESSES=zero",
        ),
        (
            &[
                ("ATASKER_NODE", "redis://127.0.0.1:1/0"),
                ("ATASKER_NODE_PROCESSES", "0"),
            ],
            "ATASKER_NODE_PROCESSES=0",
        ),
        (
            &[("ATASKER_NODE", "http://nonsense")],
            "invalid cluster URL",
        ),
        (
            &[("ATASKER_NODE", "http://u:hidden-pw@nonsense")],
            "invalid cluster URL",
        ),
        (
            &[
                ("ATASKER_NODE", "redis://127.0.0.1:1/0"),
                ("ATASKER_NODE_TIMEOUT", "NaN"),
            ],
            "ATASKER_NODE_TIMEOUT=NaN",
        ),
        (
            &[
                ("ATASKER_NODE", "redis://127.0.0.1:1/0"),
                ("ATASKER_NODE_NAMESPACE", "a:b"),
            ],
            "ATASKER_NODE_NAMESPACE=a:b",
        ),
        (
            &[
                ("ATASKER_NODE", "redis://127.0.0.1:1/0"),
                ("ATASKER_NODE_TIMEOUT", "0.1"),
            ],
            "ATASKER_NODE_TIMEOUT=0.1",
        ),
    ];
    for (i, (env, says)) in cases.into_iter().enumerate() {
        let err = log_path(&format!("bad-{i}"));
        let mut nodes = Nodes(vec![node_logged(env, &err)]);
        let status = wait_exit(&mut nodes.0[0], SOON);
        let out = read(&err);
        let _ = std::fs::remove_file(&err);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(2),
            "{env:?}: {status:?}, stderr: {out}"
        );
        assert!(out.contains(says), "{env:?}: stderr: {out}");
        assert_eq!(out.lines().count(), 1, "{env:?}: stderr: {out}");
        assert!(!out.contains("hidden-pw"), "{env:?}: stderr: {out}");
    }
    // An empty `ATASKER_NODE=` is no node: the program runs its `main` (the test harness;
    // as a node it would exit 2 on the empty URL).
    let mut plain = spawn_self_as(&[("ATASKER_NODE", "")], "zero_setup_node_never_runs_main");
    let status = wait_exit(&mut plain, SOON).expect("the program did not end");
    assert!(status.success(), "{status}");
}

/// An entry whose reply key is not a stream (bad or foreign input) is acknowledged and costs
/// no slot: the one-process node then serves a normal task, and stops on SIGTERM.
#[test]
fn a_reply_key_that_is_not_a_stream_costs_no_slot() {
    let redis = RedisServer::start();
    let mut nodes = Nodes(vec![node(&redis.url(), 1, 3.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    assert_eq!(
        double(on(sup, Priority::Normal, None), 1).wait_timeout(FIRST),
        Some(Ok(2))
    );
    let fp = node_fingerprint(&redis);
    let queue = format!("atasker:q:{fp}:normal");
    assert_eq!(redis.cmd(&["SET", "not-a-stream", "x"]), "OK");
    // Rejected (no name), and a real one: both answers go to the string key.
    xadd(&redis, &queue, &[("t", b"1"), ("r", b"not-a-stream")]);
    let args = {
        // `double(5)`'s argument tuple, as a producer would encode it: one varint.
        vec![5u8]
    };
    xadd(
        &redis,
        &queue,
        &[
            ("t", b"2"),
            ("n", b"cluster_input::double"),
            ("r", b"not-a-stream"),
            ("a", &args),
        ],
    );
    for i in 0..3 {
        assert_eq!(
            double(on(sup, Priority::Normal, None), i).wait_timeout(SOON),
            Some(Ok(i * 2)),
            "the node lost its slot"
        );
    }
    eventually(SOON, "both entries acknowledged", || {
        xlen(&redis, &queue) == "0"
    });
    sigterm(&nodes.0[0]);
    let status = wait_exit(&mut nodes.0[0], SOON).expect("the node did not stop");
    assert!(status.success(), "{status}");
}

/// A dead node that held an entry with a bad reply key: the reclaim still moves everything
/// it held (the bad entry's answer has nobody to go to), and the good task finishes on the
/// other node.
#[test]
fn a_bad_reply_key_does_not_stop_the_reclaim_of_a_dead_node() {
    let redis = RedisServer::start();
    let url = redis.url();
    let sup = producer(&url, Duration::from_secs(2));
    let log = log_path("bad-reclaim");
    let mut nodes = Nodes(vec![node(&url, 2, 2.0, &[])]);
    assert_eq!(
        double(on(sup, Priority::Normal, None), 1).wait_timeout(FIRST),
        Some(Ok(2))
    );
    let fp = node_fingerprint(&redis);
    let queue = format!("atasker:q:{fp}:normal");
    assert_eq!(redis.cmd(&["SET", "not-a-stream", "x"]), "OK");
    // `slow(log, 60000)` with its answer going nowhere, and a good one: both held by node 1.
    let mut args = Vec::new();
    let path = log.to_string_lossy().into_owned();
    args.push(u8::try_from(path.len()).unwrap());
    args.extend_from_slice(path.as_bytes());
    args.extend_from_slice(&[0xfb, 0x60, 0xea]); // 60000 as a bincode varint (u16 marker)
    xadd(
        &redis,
        &queue,
        &[
            ("t", b"7"),
            ("n", b"cluster_input::slow"),
            ("r", b"not-a-stream"),
            ("a", &args),
        ],
    );
    let good = slow(on(sup, Priority::Normal, None), path.clone(), 1000);
    eventually(SOON, "both started on node 1", || {
        read(&log).matches("start").count() == 2
    });
    kill9(&mut nodes.0[0]);
    nodes.0.push(node(&url, 2, 2.0, &[]));
    let mut good = good;
    assert_eq!(
        good.wait_timeout(FIRST),
        Some(Ok(1000)),
        "the good task was not moved"
    );
    eventually(SOON, "the dead node's consumer is gone", || {
        nodes_name_of_dead(&redis).is_empty()
    });
}

/// The consumer names of nodes without a heartbeat, joined (empty when none).
fn nodes_name_of_dead(redis: &RedisServer) -> String {
    let Reply::Array(keys) = redis.call(&["KEYS", "atasker:hb:*"]) else {
        return String::new();
    };
    let alive: Vec<String> = keys
        .iter()
        .map(|k| k.to_string().trim_start_matches("atasker:hb:").to_owned())
        .collect();
    let queues = redis.cmd(&["KEYS", "atasker:q:*:normal"]);
    let queue = queues.trim_matches(['[', ']']).to_owned();
    let consumers = redis.cmd(&["XINFO", "CONSUMERS", queue.as_str(), "nodes"]);
    // A consumer listed in the group without a heartbeat: the dead one.
    consumers
        .split([',', '[', ']', ' '])
        .filter(|w| w.contains(':') && !alive.iter().any(|a| a == w))
        .collect::<Vec<_>>()
        .join(",")
}

/// A delivery whose answer a frozen connection lost: the live node finds the entry it holds
/// but never saw, and runs it (nothing waits for a reclaim that only silent nodes get).
#[test]
fn a_delivery_lost_with_a_frozen_connection_still_runs() {
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port());
    // Node timeout 9 s: a read's deadline is 3 s + its 1 s block, well under the freeze.
    let mut nodes = Nodes(vec![node(&proxy.url(), 1, 9.0, &[])]);
    let sup = producer(&redis.url(), Duration::from_secs(9));
    assert_eq!(
        double(on(sup, Priority::Normal, None), 1).wait_timeout(FIRST),
        Some(Ok(2))
    );
    proxy.set_mode(Mode::Freeze);
    std::thread::sleep(Duration::from_millis(300));
    let mut t = double(on(sup, Priority::Normal, None), 21);
    std::thread::sleep(Duration::from_secs(6));
    proxy.set_mode(Mode::Pass);
    assert_eq!(t.wait_timeout(Duration::from_secs(40)), Some(Ok(42)));
    let _ = &mut nodes;
}

/// A node told to stop while Redis is gone still stops (it cannot answer anyone, and nothing
/// it held is lost: Redis keeps it for a reclaim).
#[test]
fn a_node_stops_even_when_redis_is_gone() {
    let mut redis = RedisServer::start();
    let mut nodes = Nodes(vec![node(&redis.url(), 1, 3.0, &[])]);
    node_fingerprint(&redis); // serving: its heartbeat is there
    redis.kill();
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    sigterm(&nodes.0[0]);
    let status = wait_exit(&mut nodes.0[0], SOON).expect("the node hung in its stop");
    assert!(status.success(), "{status}");
    assert!(asked.elapsed() < SOON);
}

/// A Redis that may evict keys (queued tasks, heartbeats) gets a warning when the producer
/// connects (bullmq#2215: evicted jobs vanished).
#[test]
fn an_evicting_redis_is_warned_about() {
    capture();
    let redis = RedisServer::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let sup = producer(&redis.url(), Duration::from_secs(3));
    let t = double(on(sup, Priority::Normal, None), 1);
    eventually(SOON, "the eviction warning", || {
        captured()
            .lines()
            .any(|l| l.starts_with("WARN") && l.contains("maxmemory-policy is allkeys-lru"))
    });
    assert!(t.cancel());
}

//! What production does to a cluster (API.md §10), against real `redis-server`s this test
//! starts, real zero set-up nodes (this binary re-executed with `ATASKER_NODE`) and real
//! faults:
//!
//! - a failover that moves a name: the old primary becomes a replica (`READONLY`), the name
//!   (a proxy the test switches) points at the new one, and work goes on;
//! - a password that is missing or wrong, a permission that is missing: said at once, by
//!   name, credentials never shown; a zero set-up node exits 2 with one line;
//! - payloads: over `cluster_max_payload` an argument fails at submission and a result on the
//!   node (`TaskError::Codec`); an answer or an argument larger than Redis will send (its
//!   `client-output-buffer-limit`) fails its task alone (`TaskError::Cluster`), and later
//!   answers still come;
//! - nothing left behind: short-lived producers (processes that submit and exit) and stopped
//!   ones delete their reply streams; a live one keeps a TTL of 10 node timeouts;
//! - a node whose stderr is a closed pipe still stops gracefully with exit 0 on SIGTERM;
//! - what an operator reads: a node's first start on an empty Redis does not warn that data
//!   was lost, and a lost Redis and its return are each said once.

#[macro_use]
mod cluster_common;

use atasker::{ClusterError, Priority, Supervisor, Task, TaskError};
use cluster_common::*;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

remote_task! {
    /// Returns `n + 1`.
    fn inc(n: u64) -> u64 {
        n + 1
    }
}

remote_task! {
    /// Returns `len` bytes.
    fn blob(len: usize) -> Vec<u8> {
        vec![7; len]
    }
}

remote_task! {
    /// Takes a payload and returns its length.
    fn size_of(payload: Vec<u8>) -> usize {
        payload.len()
    }
}

/// A node process killed when the test ends, even by a panic (a leftover node would hold
/// the harness's output pipe open).
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        kill9(&mut self.0);
    }
}

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

/// A zero set-up node of `redis` (node timeout 3 s), to be given more settings.
fn node_command(redis: &RedisServer) -> std::process::Command {
    let mut cmd = self_command("zero_setup_node_never_runs_main");
    cmd.env("ATASKER_NODE", redis.url())
        .env("ATASKER_NODE_TIMEOUT", "3");
    cmd
}

/// Sends SIGTERM to `node` and checks that it stops gracefully: exit 0 within `SOON`.
fn stops_with_0(node: &mut std::process::Child) {
    sigterm(node);
    assert!(wait_exit(node, SOON).is_some_and(|s| s.success()));
}

/// A producer on `url` (each test has its own).
fn producer_on(url: &str) -> &'static Supervisor {
    producer(url, Duration::from_secs(3))
}

/// Waits for `t` (at most `SOON`): its result.
fn result<T: Send + 'static>(mut t: Task<T>) -> Result<T, TaskError> {
    t.wait_timeout(SOON * 3)
        .unwrap_or_else(|| panic!("no result within {:?}", SOON * 3))
}

/// The node's heartbeat keys in `redis`.
fn heartbeats(redis: &RedisServer) -> usize {
    redis.keys("atasker:hb:*").len()
}

// ---- Kind 2: a Redis error that means "wrong server" ----------------------------------------

#[test]
fn a_failover_that_moves_the_name_is_followed() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    b.cmd(&["REPLICAOF", "127.0.0.1", &a.port().to_string()]);
    let name = Proxy::start(a.port());
    let sup = producer_on(&name.url());
    let mut node = Reaped(node(&name.url(), 1, 3.0, &[]));
    assert_eq!(result(inc(on(sup, Priority::Normal, None), 1)), Ok(2));
    eventually(SOON, "the replica has caught up", || {
        b.cmd(&["INFO", "replication"])
            .contains("master_link_status:up")
    });
    // The failover: b becomes the primary, a its replica, and the name moves to b. Open
    // connections still reach a, which now answers writes with READONLY.
    b.cmd(&["REPLICAOF", "NO", "ONE"]);
    a.cmd(&["REPLICAOF", "127.0.0.1", &b.port().to_string()]);
    name.set_target(b.port());
    eventually(SOON, "a is a replica", || {
        a.cmd(&["INFO", "replication"]).contains("role:slave")
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|i| inc(on(sup, Priority::Normal, None), i))
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(result(t), Ok(i as u64 + 1), "task {i} after the failover");
    }
    assert!(started.elapsed() < SOON * 3);
    stops_with_0(&mut node);
}

// ---- Kind 3: a configuration error is said at once ------------------------------------------

const SECRET: &str = "s3cret-pw-91";

#[test]
fn a_missing_or_wrong_password_fails_submissions_at_once_by_name() {
    let redis = RedisServer::start_with(&["--requirepass", SECRET]);
    let port = redis.port();
    for (url, kind) in [
        (
            format!("redis://127.0.0.1:{port}/0"),
            "authentication required",
        ),
        (
            format!("redis://:wrong-pw-17@127.0.0.1:{port}/0"),
            "authentication failed",
        ),
    ] {
        let sup = producer_on(&url);
        let started = Instant::now();
        let got = result(inc(on(sup, Priority::Normal, None), 1));
        let Err(TaskError::Cluster(text)) = got else {
            panic!("{url}: {got:?}");
        };
        assert!(text.contains(kind), "{text}");
        assert!(
            !text.contains(SECRET) && !text.contains("wrong-pw-17"),
            "{text}"
        );
        assert!(started.elapsed() < SOON, "said at once, not after retries");
        // A node in this process is refused at once, by name.
        let e = sup.serve_cluster().unwrap_err();
        assert!(
            matches!(&e, ClusterError::Refused(t) if t.contains(kind)),
            "{e:?}"
        );
    }
    // With the password all works.
    let url = format!("redis://:{SECRET}@127.0.0.1:{port}/0");
    let sup = producer_on(&url);
    let mut node = Reaped(node(&url, 1, 3.0, &[]));
    assert_eq!(result(inc(on(sup, Priority::Normal, None), 41)), Ok(42));
    stops_with_0(&mut node);
}

#[test]
fn a_zero_setup_node_without_the_password_exits_2_with_one_line() {
    let redis = RedisServer::start_with(&["--requirepass", SECRET]);
    let mut cmd = node_command(&redis);
    cmd.stderr(Stdio::piped());
    let mut child = Reaped(spawn(&mut cmd));
    let status = wait_exit(&mut child, SOON).expect("the node exits");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("atasker node"), "{err}");
    assert!(lines[0].contains("authentication required"), "{err}");
    assert!(!err.contains("serving"), "{err}");
    assert_eq!(redis.keys("atasker:hb:*"), Vec::<String>::new());
}

#[test]
fn an_acl_user_without_a_permission_is_told_by_name() {
    let redis = RedisServer::start();
    // A user who may do everything but XADD.
    redis.cmd(&[
        "ACL",
        "SETUSER",
        "worker",
        "on",
        ">pw-of-worker",
        "~*",
        "&*",
        "+@all",
        "-xadd",
    ]);
    let url = format!("redis://worker:pw-of-worker@127.0.0.1:{}/0", redis.port());
    let sup = producer_on(&url);
    let got = result(inc(on(sup, Priority::Normal, None), 1));
    let Err(TaskError::Cluster(text)) = got else {
        panic!("{got:?}");
    };
    assert!(text.contains("permission denied"), "{text}");
    assert!(!text.contains("pw-of-worker"), "{text}");
}

/// What a cluster needs of Redis, as an ACL rule (README, "Deploying Redis", shows it):
/// its keys only, no channels, the stream, hash, sorted-set and script commands it calls.
const LEAST_PRIVILEGE: &str = "on >pw-least ~atasker:* resetchannels -@all +ping +info \
    +time +get +set +del +exists +pexpire +pttl +xadd +xread +xreadgroup +xack \
    +xdel +xrange +xtrim +xgroup|create +xgroup|delconsumer +xinfo|consumers +xpending \
    +zadd +zrem +zrange +zrangebyscore +zscore +hset +hget +hdel +hkeys +hexists \
    +eval +evalsha +script|load";

#[test]
fn a_node_and_a_producer_work_as_an_acl_user_with_only_what_the_cluster_needs() {
    let redis = RedisServer::start();
    let mut rule = vec!["ACL", "SETUSER", "atasker"];
    rule.extend(LEAST_PRIVILEGE.split_whitespace());
    assert_eq!(redis.cmd(&rule), "OK");
    let url = format!("redis://atasker:pw-least@127.0.0.1:{}/0", redis.port());
    let sup = producer_on(&url);
    let mut node = Reaped(node(&url, 1, 3.0, &[]));
    assert_eq!(result(inc(on(sup, Priority::Normal, None), 41)), Ok(42));
    // A delayed task and a fleet-wide limit go through scripts of their own.
    let opts = atasker::__private::TaskOptions {
        delay: Some(Duration::from_millis(300)),
        limit: std::num::NonZeroU32::new(1),
        ..on(sup, Priority::Normal, None)
    };
    assert_eq!(result(inc(opts, 1)), Ok(2));
    // A reclaim round (every third of the node timeout) and a graceful stop, too.
    std::thread::sleep(Duration::from_millis(1500));
    stops_with_0(&mut node);
    // Nothing was refused on the way (each refusal is an entry of the server's ACL log).
    assert_eq!(redis.cmd(&["ACL", "LOG"]), "[]");
}

#[test]
fn a_limit_whose_permit_redis_refuses_fails_the_task_by_name() {
    let redis = RedisServer::start();
    // The least privilege but `HEXISTS`, which the permits of a fleet-wide limit need.
    let mut rule = vec!["ACL", "SETUSER", "atasker"];
    rule.extend(
        LEAST_PRIVILEGE
            .split_whitespace()
            .filter(|&r| r != "+hexists"),
    );
    assert_eq!(redis.cmd(&rule), "OK");
    let url = format!("redis://atasker:pw-least@127.0.0.1:{}/0", redis.port());
    let sup = producer_on(&url);
    let mut node = Reaped(node(&url, 1, 3.0, &[]));
    let opts = atasker::__private::TaskOptions {
        limit: std::num::NonZeroU32::new(1),
        ..on(sup, Priority::Normal, None)
    };
    let started = Instant::now();
    let got = result(inc(opts, 1));
    let Err(TaskError::Cluster(text)) = got else {
        panic!("{got:?}");
    };
    assert!(
        text.contains("permit") && text.contains("permission denied"),
        "{text}"
    );
    assert!(started.elapsed() < SOON, "said at once");
    stops_with_0(&mut node);
}

// ---- Kind 4: payloads -------------------------------------------------------------------------

#[test]
fn payloads_over_the_limit_fail_with_their_size_and_the_limit() {
    let redis = RedisServer::start();
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("small-payloads")
            .process_pool(1)
            .cluster(redis.url())
            .node_timeout(Duration::from_secs(3))
            .cluster_max_payload(4096)
            .build()
            .unwrap(),
    ));
    let mut node = Reaped(node(
        &redis.url(),
        1,
        3.0,
        &[("ATASKER_NODE_MAX_PAYLOAD", "4096")],
    ));
    let got = result(size_of(on(sup, Priority::Normal, None), vec![1; 10_000]));
    let Err(TaskError::Codec(text)) = got else {
        panic!("{got:?}");
    };
    assert!(
        text.contains("4096") && text.contains("arguments"),
        "{text}"
    );
    let got = result(blob(on(sup, Priority::Normal, None), 10_000));
    let Err(TaskError::Codec(text)) = got else {
        panic!("{got:?}");
    };
    assert!(text.contains("4096") && text.contains("result"), "{text}");
    assert_eq!(
        result(size_of(on(sup, Priority::Normal, None), vec![1; 100])),
        Ok(100)
    );
    stops_with_0(&mut node);
}

#[test]
fn what_redis_will_not_send_fails_that_task_alone() {
    let redis = RedisServer::start_with(&["--client-output-buffer-limit", "normal 4mb 2mb 60"]);
    let sup = producer_on(&redis.url());
    let mut node = Reaped(node(&redis.url(), 2, 3.0, &[]));
    assert_eq!(result(inc(on(sup, Priority::Normal, None), 1)), Ok(2));
    // An 8 MiB answer: the node ran the task, Redis will not send the answer.
    let big = blob(on(sup, Priority::Normal, None), 8 << 20);
    let after: Vec<_> = (0..5)
        .map(|i| inc(on(sup, Priority::Normal, None), i))
        .collect();
    let got = result(big);
    let Err(TaskError::Cluster(text)) = got else {
        panic!("{:?}", got.map(|v| v.len()));
    };
    assert!(text.contains("client-output-buffer-limit"), "{text}");
    for (i, t) in after.into_iter().enumerate() {
        assert_eq!(result(t), Ok(i as u64 + 1));
    }
    // An 8 MiB argument: Redis will not send it to the node.
    let got = result(size_of(on(sup, Priority::Normal, None), vec![3; 8 << 20]));
    let Err(TaskError::Cluster(text)) = got else {
        panic!("{got:?}");
    };
    assert!(text.contains("client-output-buffer-limit"), "{text}");
    assert_eq!(result(inc(on(sup, Priority::Normal, None), 9)), Ok(10));
    stops_with_0(&mut node);
}

// ---- Kind 5: leftovers --------------------------------------------------------------------------

/// The environment variable that makes `helper_short_lived_producer` submit (its value: the
/// URL).
const SHORT_LIVED: &str = "ATASKER_TEST_SHORT_LIVED_PRODUCER";

/// Run as a separate process by the test below: submits one task, waits for it, and exits
/// without stopping its supervisor (as a CLI does).
#[test]
fn helper_short_lived_producer() {
    let Ok(url) = std::env::var(SHORT_LIVED) else {
        return;
    };
    let sup = producer_on(&url);
    assert_eq!(result(inc(on(sup, Priority::Normal, None), 1)), Ok(2));
}

#[test]
fn producers_leave_no_reply_streams_behind() {
    let redis = RedisServer::start();
    // The node's own timeout is shorter: the TTL an answer renews is the producer's.
    let mut node = Reaped(node(&redis.url(), 1, 0.5, &[]));
    for _ in 0..5 {
        let mut p = Reaped(spawn_self_as(
            &[(SHORT_LIVED, &redis.url())],
            "helper_short_lived_producer",
        ));
        let status = wait_exit(&mut p, SOON * 2).expect("the producer exits");
        assert!(status.success());
    }
    let streams = || redis.keys("atasker:r:*");
    assert_eq!(streams(), Vec::<String>::new(), "reply streams left behind");
    // A live producer's stream has a TTL of 10 node timeouts (30 s here); a stop deletes it.
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("live-producer")
            .cluster(redis.url())
            .node_timeout(Duration::from_secs(3))
            .build()
            .unwrap(),
    ));
    assert_eq!(result(inc(on(sup, Priority::Normal, None), 1)), Ok(2));
    let key = streams().pop().expect("the live producer's reply stream");
    let ttl: i64 = redis.cmd(&["PTTL", &key]).trim().parse().unwrap();
    assert!(ttl > 5_000 && ttl <= 30_000, "{ttl}");
    sup.stop();
    assert_eq!(
        streams(),
        Vec::<String>::new(),
        "a stopped producer's stream"
    );
    stops_with_0(&mut node);
}

// ---- Kind 8: SIGPIPE ----------------------------------------------------------------------------

#[test]
fn a_node_whose_stderr_is_closed_still_stops_gracefully() {
    let redis = RedisServer::start();
    let mut cmd = node_command(&redis);
    cmd.env("ATASKER_NODE_LOG", "debug").stderr(Stdio::piped());
    let mut child = Reaped(spawn(&mut cmd));
    // The log collector goes away.
    drop(child.stderr.take());
    eventually(SOON, "the node's heartbeat", || heartbeats(&redis) == 1);
    sigterm(&child);
    let status = wait_exit(&mut child, SOON).expect("the node exits");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

// ---- Kind 11: what an operator reads ------------------------------------------------------------

#[test]
fn a_node_says_a_lost_redis_and_its_return_once_and_no_false_alarm() {
    let mut redis = RedisServer::start();
    let log = redis.dir().join("node.log");
    let mut cmd = node_command(&redis);
    cmd.stderr(std::fs::File::create(&log).unwrap());
    let mut child = Reaped(spawn(&mut cmd));
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually(SOON, "serving", || read().contains("serving"));
    std::thread::sleep(Duration::from_secs(2));
    assert!(!read().contains("gone from Redis"), "{}", read());
    redis.kill();
    eventually(SOON, "the loss said", || read().contains("lost Redis"));
    std::thread::sleep(Duration::from_secs(2));
    redis.restart();
    eventually(SOON * 2, "the return said", || {
        read().contains("in Redis again")
    });
    let text = read();
    assert_eq!(text.matches("lost Redis").count(), 1, "{text}");
    stops_with_0(&mut child);
}

#[test]
fn a_node_started_with_its_std_fds_closed_gives_them_to_dev_null() {
    use std::os::unix::process::CommandExt;
    let redis = RedisServer::start();
    let mut cmd = node_command(&redis);
    // SAFETY: close(2) of the standard fds in the child before exec; nothing else runs.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..3 {
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = Reaped(spawn(&mut cmd));
    eventually(SOON, "the node's heartbeat", || heartbeats(&redis) == 1);
    // None of the node's own files or sockets took a standard fd (its log lines would go
    // there): each is /dev/null.
    for fd in 0..3 {
        let target = std::fs::read_link(format!("/proc/{}/fd/{fd}", child.id())).unwrap();
        assert_eq!(target, std::path::Path::new("/dev/null"), "fd {fd}");
    }
    sigterm(&child);
    let status = wait_exit(&mut child, SOON).expect("the node exits");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

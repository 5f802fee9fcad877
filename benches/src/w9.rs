//! W9, remote static tasks over Redis: `#[background_task(static, remote)] fn echo(x: u64) ->
//! u64` run by cluster nodes: (i) 2,000 sequential round trips to one node →
//! `roundtrip_p50`, `roundtrip_p99` µs; (ii) 20,000 tasks submitted at once to two nodes, timed
//! until every result has arrived → `throughput` tasks/s.
//!
//! The workload starts its own `redis-server` (≥ 7.0, found on `PATH`) on a unix socket in a
//! fresh temp directory (`--port 0 --save '' --appendonly no`) and kills it at the end. Without
//! one, W9 reports an error that says how to install it; the other workloads still run (and
//! the binary exits with status 1, see [`verdict`]).
//!
//! atasker: the global supervisor, built here with `.cluster(url)` and a namespace of this run
//! (no earlier workload touches the global supervisor in this process: W6 uses it only in its
//! children), so the macro needs no `supervisor = …`. The nodes are zero set-up nodes: this
//! binary re-executed with `ATASKER_NODE=<url>`, `ATASKER_NODE_PROCESSES=1` and
//! `ATASKER_NODE_NAMESPACE=<ns>`; they serve before `main` and must exit 0 on SIGTERM. One node
//! for (i); a second one joins for (ii), so that two worker processes serve it, as two echo
//! processes serve the baseline's.
//!
//! Baseline `redis_streams`: the same echo by hand over Redis Streams. The client `XADD`s `x`
//! to a request stream; echo processes (this binary with `ATASKER_BENCH_CHILD=w9-echo`, see
//! [`echo_child`]) take entries with `XREADGROUP … BLOCK` in one consumer group, `XADD` each
//! answer to a reply stream and `XACK` the batch (one pipeline); the client reads the answers
//! with `XREAD … BLOCK`. (i) one echo process, one request in flight; (ii) two echo processes,
//! the client pipelining its `XADD`s in batches from one thread while another reads answers.
//!
//! A task with no answer (or a wrong one), a node that never serves or does not exit 0 on
//! SIGTERM is a W9 failure: reported on stderr with what Redis and the nodes show, and the
//! binary exits with status 1.

use crate::harness::{Collector, Config, Subject};
use crate::util::{percentile, rate, us};
use atasker::{BuildError, Supervisor, Task};
use redis::streams::{StreamId, StreamReadReply};
use redis::Commands as _;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The name of the baseline subject.
const BASELINE: &str = "baseline:redis_streams";

/// Worker processes per node (`ATASKER_NODE_PROCESSES`): one, like one echo process.
const NODE_PROCESSES: usize = 1;

/// What W9 says when `redis-server` is missing.
const INSTALL: &str = "redis-server not found on PATH: W9 starts its own Redis (≥ 7.0); \
                       on Debian/Ubuntu: apt-get install -y redis-server";

/// The environment variable that gives a W9 echo process its Redis URL.
const REDIS_ENV: &str = "ATASKER_BENCH_REDIS";

/// The environment variable that gives a W9 echo process its key prefix.
const KEY_ENV: &str = "ATASKER_BENCH_W9_KEY";

/// The baseline's consumer group.
const GROUP: &str = "echo";

/// Entries an echo process takes per `XREADGROUP`.
const ECHO_BATCH: usize = 128;

/// `XADD`s per pipeline in the baseline's burst.
const SEND_BATCH: usize = 1_000;

/// Answers the baseline client reads per `XREAD`.
const READ_BATCH: usize = 1_000;

/// How long the baseline client's `XREAD` blocks before it gives up on an answer.
const READ_BLOCK: Duration = Duration::from_secs(10);

/// Read and write timeout of the bench's own Redis connections (longer than any `BLOCK`).
const CALL_LIMIT: Duration = Duration::from_secs(15);

/// How long one round trip may take before W9 calls it lost.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

/// How long a burst may take before W9 calls it stuck.
const BURST_LIMIT: Duration = Duration::from_secs(120);

/// How long a redis-server, a node or an echo process may take to be ready.
const READY_LIMIT: Duration = Duration::from_secs(20);

/// How long a node may take to exit after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// The failures of this run, each in one line (the evidence went to stderr).
static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records a failure and prints it (with its evidence) on stderr.
fn fail(msg: &str) {
    eprintln!("atasker-bench: W9: {msg}");
    let first = msg.lines().next().unwrap_or_default().to_owned();
    FAILURES.lock().unwrap().push(first);
}

/// `Err` if W9 failed in this run (not run at all is fine): no `redis-server`, a task without
/// an answer, a node that misbehaved.
pub(crate) fn verdict() -> Result<(), String> {
    let failures = FAILURES.lock().unwrap();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("W9 failed: {}", failures.join("; ")))
    }
}

/// The workload's function, on a node.
#[atasker::background_task(static, remote)]
fn echo(x: u64) -> u64 {
    x
}

/// Runs W9's repetitions, atasker and the Redis Streams echo in turn, on one `redis-server`.
pub(crate) fn run(cfg: &Config, out: &mut Collector) {
    if let Err(e) = run_all(cfg, out) {
        fail(&e);
    }
}

/// [`run`], with the first failure as `Err`.
fn run_all(cfg: &Config, out: &mut Collector) -> Result<(), String> {
    let trips = cfg.size(2_000);
    let burst = cfg.size(20_000);
    let server = RedisServer::start()?;
    let ns = format!("w9-{}", std::process::id());
    // Declared after the server: dropped (stopped) before it is killed.
    let _sup = if cfg.wants(Subject::Atasker) {
        Some(StopOnDrop(build_supervisor(&server.url, &ns)?))
    } else {
        None
    };
    let mut ctx = Ctx {
        con: connect(&server.url).map_err(|e| format!("cannot connect to redis-server: {e}"))?,
        url: server.url.clone(),
        dir: server.dir.clone(),
        ns,
        helpers: 0,
    };
    for rep in 0..cfg.reps {
        for s in cfg.order(rep) {
            match s {
                Subject::Atasker => {
                    let (mut v, d) = atasker_rep(&mut ctx, trips, burst)?;
                    v.sort_unstable();
                    out.add("atasker", "roundtrip_p50", us(percentile(&v, 50.0)), "us");
                    out.add("atasker", "roundtrip_p99", us(percentile(&v, 99.0)), "us");
                    out.add("atasker", "throughput", rate(burst, d), "tasks/s");
                }
                Subject::Baseline => {
                    let mut v = roundtrips_baseline(&mut ctx, trips, &format!("e{rep}rt"))?;
                    v.sort_unstable();
                    out.add(BASELINE, "roundtrip_p50", us(percentile(&v, 50.0)), "us");
                    out.add(BASELINE, "roundtrip_p99", us(percentile(&v, 99.0)), "us");
                    let d = throughput_baseline(&mut ctx, burst, &format!("e{rep}tp"))?;
                    out.add(BASELINE, "throughput", rate(burst, d), "tasks/s");
                }
            }
        }
    }
    Ok(())
}

/// What the phases of one W9 run share.
struct Ctx {
    /// A connection of the bench's own (set-up, checks, evidence).
    con: redis::Connection,
    /// `redis+unix:///…/redis.sock`.
    url: String,
    /// The server's directory, where the helpers' logs go too.
    dir: PathBuf,
    /// The cluster namespace of this run.
    ns: String,
    /// Helpers started so far (names their logs).
    helpers: usize,
}

/// Builds the global supervisor with the cluster of this run.
fn build_supervisor(url: &str, ns: &str) -> Result<&'static Supervisor, String> {
    Supervisor::builder()
        .name("w9")
        .cluster(url)
        .cluster_namespace(ns)
        .build_global()
        .map_err(|e| match e {
            BuildError::GlobalExists => "the global supervisor was built before W9 ran (by an \
                                         earlier workload?); W9 builds it with its cluster"
                .to_owned(),
            e => format!("cannot build the supervisor: {e}"),
        })
}

/// Stops the supervisor when W9 ends, before its Redis goes away (within 5 s, so that a task
/// stuck by a bug cannot hang the benchmark).
struct StopOnDrop(&'static Supervisor);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop_timeout(Duration::from_secs(5));
    }
}

// ---------------------------------------------------------------------------------------
// The atasker side.

/// One repetition: a node, the round trips; a second node, the throughput (after a burst a
/// tenth its size); both nodes stopped with SIGTERM.
fn atasker_rep(
    ctx: &mut Ctx,
    trips: usize,
    burst: usize,
) -> Result<(Vec<Duration>, Duration), String> {
    let mut a = spawn_node(ctx)?;
    wait_node(ctx, &mut a)?;
    let v = roundtrips_atasker(trips).map_err(|e| evidence(ctx, &e, &mut [&mut a]))?;
    let mut b = spawn_node(ctx)?;
    wait_node(ctx, &mut b)?;
    throughput_atasker(burst / 10).map_err(|e| evidence(ctx, &e, &mut [&mut a, &mut b]))?;
    let d = throughput_atasker(burst).map_err(|e| evidence(ctx, &e, &mut [&mut a, &mut b]))?;
    // A node that does not exit 0 is a failure, but the figures were measured: keep them.
    for node in [a, b] {
        if let Err(e) = node.terminate() {
            fail(&e);
        }
    }
    Ok((v, d))
}

/// One call of `echo(x)`, waited for at most [`ANSWER_LIMIT`].
fn call_atasker(x: u64) -> Result<(), String> {
    let mut task = echo(x);
    match task.wait_timeout(ANSWER_LIMIT) {
        Some(Ok(y)) if y == x => Ok(()),
        Some(Ok(y)) => Err(format!("echo({x}) returned {y}")),
        Some(Err(e)) => Err(format!("echo({x}) failed: {e}")),
        None => {
            task.cancel();
            Err(format!("echo({x}) had no answer within {ANSWER_LIMIT:?}"))
        }
    }
}

/// `n` sequential calls after `n / 10` unmeasured ones (at least 10); each round trip.
fn roundtrips_atasker(n: usize) -> Result<Vec<Duration>, String> {
    for i in 0..(n / 10).max(10) as u64 {
        call_atasker(i)?;
    }
    let mut v = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let t0 = Instant::now();
        call_atasker(i)?;
        v.push(t0.elapsed());
    }
    Ok(v)
}

/// `n` calls submitted at once, then each waited (all within [`BURST_LIMIT`]); the time until
/// the last answer.
fn throughput_atasker(n: usize) -> Result<Duration, String> {
    let t0 = Instant::now();
    let deadline = t0 + BURST_LIMIT;
    let mut tasks: Vec<Task<u64>> = (0..n as u64).map(echo).collect();
    let mut sum = 0u64;
    for k in 0..n {
        let left = deadline.saturating_duration_since(Instant::now());
        match tasks[k].wait_timeout(left) {
            Some(Ok(y)) => sum += y,
            Some(Err(e)) => {
                cancel_all(&tasks);
                return Err(format!("echo({k}) of a burst of {n} failed: {e}"));
            }
            None => {
                let done = k + tasks[k..].iter().filter(|t| t.is_finished()).count();
                cancel_all(&tasks);
                return Err(format!(
                    "a burst of {n} tasks: only {done} answered within {BURST_LIMIT:?}"
                ));
            }
        }
    }
    let d = t0.elapsed();
    let want = (n as u64) * (n as u64).saturating_sub(1) / 2;
    if sum != want {
        return Err(format!(
            "a burst of {n} tasks: the answers add up to {sum}, not {want}"
        ));
    }
    Ok(d)
}

/// Cancels every task of a burst that failed.
fn cancel_all(tasks: &[Task<u64>]) {
    for t in tasks {
        let _ = t.cancel();
    }
}

/// Starts a zero set-up node: this binary with `ATASKER_NODE`, its output in a log file.
fn spawn_node(ctx: &mut Ctx) -> Result<Helper, String> {
    ctx.helpers += 1;
    let log = ctx.dir.join(format!("node-{}.log", ctx.helpers));
    let mut cmd = Command::new(this_exe()?);
    cmd.env("ATASKER_NODE", &ctx.url)
        .env("ATASKER_NODE_PROCESSES", NODE_PROCESSES.to_string())
        .env("ATASKER_NODE_NAMESPACE", &ctx.ns);
    Helper::spawn(
        cmd,
        format!("node {}", ctx.helpers),
        Some(log),
        libc::SIGTERM,
    )
}

/// Waits until `node` has set its heartbeat (`<ns>:hb:<host>:<pid>:<random>`): it serves.
fn wait_node(ctx: &mut Ctx, node: &mut Helper) -> Result<(), String> {
    let mine = format!(":{}:", node.child.id());
    let pattern = format!("{}:hb:*", ctx.ns);
    wait_ready(ctx, node, |con| {
        let keys: Vec<String> = con.keys(&pattern)?;
        Ok(keys.iter().any(|k| k.contains(&mine)))
    })
}

/// What Redis and the nodes show, after `what` went wrong on the atasker side.
fn evidence(ctx: &mut Ctx, what: &str, nodes: &mut [&mut Helper]) -> String {
    use std::fmt::Write as _;
    let mut s = format!("{what}\n  evidence:\n");
    let stats = Supervisor::global().stats();
    let _ = writeln!(
        s,
        "    producer stats (remote): {}",
        serde_json::to_string(&stats.remote).unwrap_or_default()
    );
    match redis_state(&mut ctx.con, &ctx.ns) {
        Ok(lines) => {
            for l in lines {
                let _ = writeln!(s, "    {l}");
            }
        }
        Err(e) => {
            let _ = writeln!(s, "    (cannot read Redis: {e})");
        }
    }
    for node in nodes.iter_mut() {
        s += &node.describe();
    }
    s
}

/// Every key of namespace `ns`: its type, a stream's length and its groups' state.
fn redis_state(con: &mut redis::Connection, ns: &str) -> redis::RedisResult<Vec<String>> {
    let mut keys: Vec<String> = con.keys(format!("{ns}:*"))?;
    keys.sort();
    let mut lines = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(con)?;
        if kind != "stream" {
            let ttl: i64 = con.pttl(&key)?;
            lines.push(format!("{key}: {kind}, ttl {ttl} ms"));
            continue;
        }
        let len: usize = con.xlen(&key)?;
        let groups: Vec<Vec<redis::Value>> =
            redis::cmd("XINFO").arg("GROUPS").arg(&key).query(con)?;
        let groups: Vec<String> = groups.iter().map(|g| pairs(g)).collect();
        lines.push(format!(
            "{key}: stream of {len}; groups [{}]",
            groups.join("; ")
        ));
    }
    Ok(lines)
}

/// A flat `[name, value, …]` reply as `name=value …`.
fn pairs(v: &[redis::Value]) -> String {
    v.chunks(2)
        .map(|p| match p {
            [k, v] => format!("{}={}", show(k), show(v)),
            [k] => show(k),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A reply value as text.
fn show(v: &redis::Value) -> String {
    match v {
        redis::Value::Nil => "nil".into(),
        redis::Value::Int(n) => n.to_string(),
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Array(a) => {
            format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", "))
        }
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The baseline.

/// The request and reply streams under `key`.
fn streams(key: &str) -> (String, String) {
    (format!("{key}:req"), format!("{key}:rep"))
}

/// The echo process: takes requests with `XREADGROUP … BLOCK` (at most [`ECHO_BATCH`] at a
/// time), `XADD`s each `x` to the reply stream and `XACK`s them, in one pipeline; runs until
/// killed. Its Redis URL and key prefix come from [`REDIS_ENV`] and [`KEY_ENV`].
pub(crate) fn echo_child() -> ExitCode {
    match serve_echo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atasker-bench w9-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// [`echo_child`]'s loop.
fn serve_echo() -> Result<(), String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let url = var(REDIS_ENV)?;
    let (req, rep) = streams(&var(KEY_ENV)?);
    let mut con = connect(&url).map_err(|e| format!("cannot connect: {e}"))?;
    let me = echo_name(std::process::id());
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(&me)
        .query::<()>(&mut con)
        .map_err(|e| format!("CLIENT SETNAME: {e}"))?;
    loop {
        let read: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&me)
            .arg("COUNT")
            .arg(ECHO_BATCH)
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg(&req)
            .arg(">")
            .query(&mut con)
            .map_err(|e| format!("XREADGROUP: {e}"))?;
        let entries: Vec<StreamId> = read
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default();
        if entries.is_empty() {
            continue;
        }
        let mut p = redis::pipe();
        for e in &entries {
            let x: Vec<u8> = e.get("x").ok_or("a request without `x`")?;
            p.cmd("XADD").arg(&rep).arg("*").arg("x").arg(x).ignore();
        }
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        p.cmd("XACK").arg(&req).arg(GROUP).arg(ids).ignore();
        p.query::<()>(&mut con)
            .map_err(|e| format!("XADD/XACK: {e}"))?;
    }
}

/// Starts an echo process on the streams under `key`.
fn spawn_echo(ctx: &mut Ctx, key: &str) -> Result<Helper, String> {
    ctx.helpers += 1;
    let mut cmd = Command::new(this_exe()?);
    cmd.env(crate::CHILD_ENV, "w9-echo")
        .env(REDIS_ENV, &ctx.url)
        .env(KEY_ENV, key);
    Helper::spawn(
        cmd,
        format!("echo process {}", ctx.helpers),
        None,
        libc::SIGKILL,
    )
}

/// Waits until `echo` blocks in its first `XREADGROUP` (its connection, named
/// `echo-<pid>`, shows `cmd=xreadgroup` in `CLIENT LIST`; before Redis 7.2 a consumer that has
/// read nothing is not in `XINFO CONSUMERS`).
fn wait_echo(ctx: &mut Ctx, echo: &mut Helper) -> Result<(), String> {
    let me = format!(" name={} ", echo_name(echo.child.id()));
    wait_ready(ctx, echo, |con| {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(con)?;
        Ok(list
            .lines()
            .any(|l| l.contains(&me) && l.contains(" cmd=xreadgroup ")))
    })
}

/// The name of echo process `pid`: its consumer and its connection's.
fn echo_name(pid: u32) -> String {
    format!("echo-{pid}")
}

/// Makes the streams under `key` (the group reads from the start) and starts `procs` echo
/// processes on them, each one ready.
fn start_echos(ctx: &mut Ctx, key: &str, procs: usize) -> Result<Vec<Helper>, String> {
    let (req, rep) = streams(key);
    let _: () = ctx
        .con
        .del(&[&req, &rep])
        .map_err(|e| format!("DEL: {e}"))?;
    let _: () = ctx
        .con
        .xgroup_create_mkstream(&req, GROUP, "0")
        .map_err(|e| format!("XGROUP CREATE: {e}"))?;
    let mut echos = Vec::with_capacity(procs);
    for _ in 0..procs {
        let mut e = spawn_echo(ctx, key)?;
        wait_echo(ctx, &mut e)?;
        echos.push(e);
    }
    Ok(echos)
}

/// The baseline client's reader: the reply stream and the last id it has read.
struct Replies {
    /// A connection of its own.
    con: redis::Connection,
    /// The reply stream.
    stream: String,
    /// The id of the last reply read.
    last: String,
}

impl Replies {
    /// Reads the next answers (at most `count`, blocking up to [`READ_BLOCK`]) and adds each
    /// `x` to `sum`; how many arrived (0 on timeout).
    fn read(&mut self, count: usize, sum: &mut u64) -> Result<usize, String> {
        let read: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(READ_BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(&self.last)
            .query(&mut self.con)
            .map_err(|e| format!("XREAD: {e}"))?;
        let entries: Vec<StreamId> = read
            .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
            .unwrap_or_default();
        let n = entries.len();
        for e in entries {
            *sum += e.get::<u64>("x").ok_or("an answer without `x`")?;
            self.last = e.id;
        }
        Ok(n)
    }
}

/// `n` sequential echoes through one echo process, after `n / 10` unmeasured ones (at least
/// 10); each round trip (`XADD`, then `XREAD BLOCK` for the answer).
fn roundtrips_baseline(ctx: &mut Ctx, n: usize, key: &str) -> Result<Vec<Duration>, String> {
    let echos = start_echos(ctx, key, 1)?;
    let (req, rep) = streams(key);
    let mut replies = Replies {
        con: connect(&ctx.url).map_err(|e| e.to_string())?,
        stream: rep,
        last: "0-0".into(),
    };
    let mut one = |con: &mut redis::Connection, x: u64| -> Result<(), String> {
        let _: String = con
            .xadd(&req, "*", &[("x", x)])
            .map_err(|e| format!("XADD: {e}"))?;
        let mut y = 0;
        match replies.read(1, &mut y)? {
            1 if y == x => Ok(()),
            1 => Err(format!("the echo of {x} was {y}")),
            _ => Err(format!("no echo of {x} within {READ_BLOCK:?}")),
        }
    };
    for i in 0..(n / 10).max(10) as u64 {
        one(&mut ctx.con, i)?;
    }
    let mut v = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let t0 = Instant::now();
        one(&mut ctx.con, i)?;
        v.push(t0.elapsed());
    }
    drop(echos);
    let _: () = ctx
        .con
        .del(&[&req, &replies.stream])
        .map_err(|e| e.to_string())?;
    Ok(v)
}

/// `n` echoes submitted at once to two echo processes, after a burst of `n / 10`; the time
/// until the last answer.
fn throughput_baseline(ctx: &mut Ctx, n: usize, key: &str) -> Result<Duration, String> {
    let echos = start_echos(ctx, key, 2)?;
    let (req, rep) = streams(key);
    let mut replies = Replies {
        con: connect(&ctx.url).map_err(|e| e.to_string())?,
        stream: rep,
        last: "0-0".into(),
    };
    burst_baseline(&mut ctx.con, &req, &mut replies, n / 10)?;
    let d = burst_baseline(&mut ctx.con, &req, &mut replies, n)?;
    drop(echos);
    let _: () = ctx
        .con
        .del(&[&req, &replies.stream])
        .map_err(|e| e.to_string())?;
    Ok(d)
}

/// One burst: a thread pipelines `n` `XADD`s in batches of [`SEND_BATCH`] on `send` while
/// this one reads answers until all `n` have arrived; the time taken.
fn burst_baseline(
    send: &mut redis::Connection,
    req: &str,
    replies: &mut Replies,
    n: usize,
) -> Result<Duration, String> {
    let t0 = Instant::now();
    let deadline = t0 + BURST_LIMIT;
    let (got, sum) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> Result<(), String> {
            let ids: Vec<u64> = (0..n as u64).collect();
            for batch in ids.chunks(SEND_BATCH) {
                let mut p = redis::pipe();
                for &x in batch {
                    p.cmd("XADD").arg(req).arg("*").arg("x").arg(x).ignore();
                }
                p.query::<()>(send).map_err(|e| format!("XADD: {e}"))?;
            }
            Ok(())
        });
        let mut got = 0;
        let mut sum = 0u64;
        while got < n && Instant::now() < deadline {
            match replies.read(READ_BATCH, &mut sum) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) => return Err(e),
            }
        }
        writer
            .join()
            .map_err(|_| "the writer thread panicked".to_owned())??;
        Ok((got, sum))
    })?;
    let d = t0.elapsed();
    if got < n {
        return Err(format!(
            "a baseline burst of {n}: only {got} answers arrived"
        ));
    }
    let want = (n as u64) * (n as u64).saturating_sub(1) / 2;
    if sum != want {
        return Err(format!(
            "a baseline burst of {n}: the answers add up to {sum}, not {want}"
        ));
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------
// Processes: the redis-server and the helpers.

/// A connection to `url` whose calls time out after [`CALL_LIMIT`].
fn connect(url: &str) -> redis::RedisResult<redis::Connection> {
    let con = redis::Client::open(url)?.get_connection_with_timeout(CALL_LIMIT)?;
    con.set_read_timeout(Some(CALL_LIMIT))?;
    con.set_write_timeout(Some(CALL_LIMIT))?;
    Ok(con)
}

/// This binary's path (nodes and echo processes run it again).
fn this_exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))
}

/// Makes the child get `signal` when this process dies (should it die without cleaning up).
fn die_with_parent(cmd: &mut Command, signal: libc::c_int) {
    // SAFETY: the closure runs in the child between fork and exec; it calls only prctl(2),
    // which is async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Polls `ready` on the bench's connection every 10 ms until it holds; fails if `helper`
/// exits first or after [`READY_LIMIT`].
fn wait_ready(
    ctx: &mut Ctx,
    helper: &mut Helper,
    mut ready: impl FnMut(&mut redis::Connection) -> redis::RedisResult<bool>,
) -> Result<(), String> {
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        if ready(&mut ctx.con).unwrap_or(false) {
            return Ok(());
        }
        if !helper.running() || Instant::now() >= deadline {
            let state = helper.describe();
            return Err(format!(
                "{} did not become ready within {READY_LIMIT:?}\n{state}",
                helper.what
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A node or an echo process: killed (SIGKILL) when dropped if it still runs.
struct Helper {
    /// The process.
    child: Child,
    /// What it is, for messages.
    what: String,
    /// Its stdout and stderr, if they go to a file.
    log: Option<PathBuf>,
}

impl Helper {
    /// Starts `cmd` (stdin closed; stdout and stderr to `log`, or stderr inherited and stdout
    /// dropped), which gets `death_signal` should this process die.
    fn spawn(
        mut cmd: Command,
        what: String,
        log: Option<PathBuf>,
        death_signal: libc::c_int,
    ) -> Result<Helper, String> {
        cmd.stdin(Stdio::null());
        match &log {
            Some(path) => {
                let f = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let g = f.try_clone().map_err(|e| e.to_string())?;
                cmd.stdout(f).stderr(g);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
            }
        }
        die_with_parent(&mut cmd, death_signal);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        Ok(Helper { child, what, log })
    }

    /// Whether it still runs.
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its state and the end of its log, for failure messages.
    fn describe(&mut self) -> String {
        let state = if self.running() { "running" } else { "exited" };
        let mut s = format!("    {} (pid {}): {state}\n", self.what, self.child.id());
        if let Some(log) = &self.log {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            s += &format!(
                "    its log ({} lines, the last {}):\n",
                lines.len(),
                tail.len()
            );
            for l in tail {
                s += &format!("      | {l}\n");
            }
        }
        s
    }

    /// Sends SIGTERM and waits (at most [`STOP_LIMIT`]) for exit status 0.
    fn terminate(mut self) -> Result<(), String> {
        // SAFETY: kill(2) on our own child, which is not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    let state = self.describe();
                    return Err(format!(
                        "{} exited with {status} after SIGTERM (expected 0)\n{state}",
                        self.what
                    ));
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) | Err(_) => {
                    let state = self.describe();
                    return Err(format!(
                        "{} did not exit within {STOP_LIMIT:?} of SIGTERM (killed)\n{state}",
                        self.what
                    ));
                }
            }
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The workload's own `redis-server`: a unix socket in a fresh directory, no persistence.
/// Dropping it kills the server and removes the directory.
struct RedisServer {
    /// The process.
    child: Child,
    /// Its directory (socket, log; the helpers' logs).
    dir: PathBuf,
    /// `redis+unix:///…/redis.sock`.
    url: String,
}

impl RedisServer {
    /// Starts `redis-server` from `PATH` and waits until it answers; checks it is 7.0 or newer.
    fn start() -> Result<RedisServer, String> {
        let exe = find_on_path("redis-server").ok_or(INSTALL)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("atasker-bench-w9-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sock = dir.join("redis.sock");
        // sun_path holds 108 bytes with the terminating NUL.
        if sock.as_os_str().len() >= 100 {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "unix socket path too long ({}): set TMPDIR to a shorter directory",
                sock.display()
            ));
        }
        let log = File::create(dir.join("redis.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&exe);
        cmd.args(["--port", "0", "--unixsocket"])
            .arg(&sock)
            .args(["--unixsocketperm", "700"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        die_with_parent(&mut cmd, libc::SIGKILL);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!("cannot start {}: {e}", exe.display()));
            }
        };
        let mut server = RedisServer {
            child,
            dir,
            url: format!("redis+unix://{}", sock.display()),
        };
        let mut con = server.wait_ready()?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query(&mut con)
            .map_err(|e| format!("INFO: {e}"))?;
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("?")
            .trim();
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major < 7 {
            return Err(format!(
                "{} is Redis {version}; W9 needs Redis ≥ 7.0 (streams with consumer groups)",
                exe.display()
            ));
        }
        eprintln!("  [W9] redis-server {version} on {}", server.url);
        Ok(server)
    }

    /// Waits (at most [`READY_LIMIT`]) until the server answers `PING`; a connection to it.
    fn wait_ready(&mut self) -> Result<redis::Connection, String> {
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "redis-server exited ({status}) before answering; its log:\n{}",
                    self.log()
                ));
            }
            if let Ok(mut con) = connect(&self.url) {
                if redis::cmd("PING").query::<String>(&mut con).is_ok() {
                    return Ok(con);
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "redis-server did not answer within {READY_LIMIT:?}; its log:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The executable `name` in a directory of `PATH`, if any.
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

//! The cluster test harness itself works: a real Redis that keeps its data across a SIGKILL,
//! a proxy that passes, delays, freezes and resets, and re-running this binary as a child.

mod cluster_common;

use cluster_common::*;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

const CHILD: &str = "ATASKER_TEST_CLUSTER_HARNESS_CHILD";

#[test]
fn redis_keeps_data_across_kill_and_restart() {
    let mut redis = RedisServer::start();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/0", redis.port()));
    assert_eq!(
        redis.unix_url(),
        format!("redis+unix://{}", redis.socket_path().display())
    );
    assert_eq!(redis.cmd(&["SET", "k", "v"]), "OK");
    assert_eq!(redis.cmd(&["GET", "k"]), "v");
    assert_eq!(redis.cmd(&["GET", "missing"]), "(nil)");
    assert_eq!(redis.cmd(&["RPUSH", "l", "a", "b"]), "2");
    assert_eq!(redis.cmd(&["LRANGE", "l", "0", "-1"]), "[a, b]");
    assert!(redis.cmd(&["NOSUCHCOMMAND"]).starts_with("(error) ERR"));
    let mut unix = Conn::unix(&redis.socket_path()).unwrap();
    assert_eq!(
        unix.call(&["GET", "k"]).unwrap(),
        Reply::Bulk(b"v".to_vec())
    );

    let port = redis.port();
    redis.kill();
    assert!(redis.pid().is_none());
    assert!(Conn::tcp(port).is_err(), "killed server still accepts");

    redis.restart();
    assert_eq!(redis.port(), port);
    assert_eq!(redis.cmd(&["GET", "k"]), "v", "AOF not reloaded");
    assert_eq!(redis.cmd(&["LRANGE", "l", "0", "-1"]), "[a, b]");

    let dir = redis.dir().to_path_buf();
    drop(redis);
    assert!(!dir.exists(), "drop left {}", dir.display());
    assert!(Conn::tcp(port).is_err(), "dropped server still accepts");
}

#[test]
fn redis_takes_extra_args() {
    let redis =
        RedisServer::start_with(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    assert_eq!(
        redis.cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        "[maxmemory-policy, noeviction]"
    );
    assert_eq!(
        redis.cmd(&["CONFIG", "GET", "maxmemory"]),
        "[maxmemory, 2097152]"
    );
}

#[test]
fn two_servers_are_independent() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    assert_eq!(a.cmd(&["SET", "k", "a"]), "OK");
    assert_eq!(b.cmd(&["GET", "k"]), "(nil)");
}

#[test]
fn proxy_passes_freezes_and_resets() {
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port());
    assert_eq!(proxy.url(), format!("redis://127.0.0.1:{}/0", proxy.port()));
    let pong = Reply::Status("PONG".into());

    let mut open = Conn::tcp(proxy.port()).unwrap();
    assert_eq!(open.call(&["PING"]).unwrap(), pong);

    proxy.set_mode(Mode::Freeze);
    // A new connection is accepted but nothing comes back...
    let mut frozen = Conn::tcp(proxy.port()).unwrap();
    frozen.set_timeout(Some(Duration::from_secs(1))).unwrap();
    frozen.send(&["SET", "frozen", "1"]).unwrap();
    let err = frozen.read_reply().unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    // ...nor through an open one, and nothing reached the server.
    open.set_timeout(Some(Duration::from_secs(1))).unwrap();
    open.send(&["PING"]).unwrap();
    assert!(open.read_reply().is_err());
    assert_eq!(redis.cmd(&["GET", "frozen"]), "(nil)");

    proxy.set_mode(Mode::Pass);
    let mut fresh = Conn::tcp(proxy.port()).unwrap();
    assert_eq!(fresh.call(&["PING"]).unwrap(), pong);
    // What the freeze held goes through once it thaws.
    frozen.set_timeout(Some(SOON)).unwrap();
    assert_eq!(frozen.read_reply().unwrap(), Reply::Status("OK".into()));
    assert_eq!(redis.cmd(&["GET", "frozen"]), "1");
    open.set_timeout(Some(SOON)).unwrap();
    assert_eq!(open.read_reply().unwrap(), pong);

    proxy.reset_all();
    let broken = fresh.call(&["PING"]);
    assert!(broken.is_err(), "connection survived reset_all: {broken:?}");
    // And the proxy keeps passing.
    let mut after = Conn::tcp(proxy.port()).unwrap();
    assert_eq!(after.call(&["PING"]).unwrap(), pong);
}

#[test]
fn proxy_delays_each_direction() {
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port());
    let mut conn = Conn::tcp(proxy.port()).unwrap();
    proxy.set_mode(Mode::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    assert_eq!(conn.call(&["PING"]).unwrap(), Reply::Status("PONG".into()));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(550),
        "round trip took {took:?}"
    );
}

#[test]
fn proxy_refuses_when_server_is_down() {
    let mut redis = RedisServer::start();
    let proxy = Proxy::start(redis.port());
    redis.kill();
    let mut conn = Conn::tcp(proxy.port()).unwrap();
    assert!(conn.call(&["PING"]).is_err());
    redis.restart();
    let mut conn = Conn::tcp(proxy.port()).unwrap();
    assert_eq!(conn.call(&["PING"]).unwrap(), Reply::Status("PONG".into()));
}

/// Runs as a child only (see the tests below); a no-op in a normal run.
#[test]
fn child_main() {
    match std::env::var(CHILD).as_deref() {
        Ok("missing") => {
            std::panic::set_hook(Box::new(|_| {}));
            let panic = std::panic::catch_unwind(RedisServer::start).unwrap_err();
            let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            std::process::exit(if msg == REDIS_MISSING { 42 } else { 1 });
        }
        Ok("sleep") => std::thread::sleep(Duration::from_secs(60)),
        _ => {}
    }
}

#[test]
fn missing_redis_server_fails_with_install_hint() {
    let mut child = spawn_self_as(
        &[(CHILD, "missing"), ("PATH", "/nonexistent")],
        "child_main",
    );
    let status = wait_exit(&mut child, SOON).expect("child did not exit");
    assert_eq!(status.code(), Some(42), "{status}");
}

#[test]
fn child_gets_signals_in_its_own_group() {
    let mut child = spawn_self_as(&[(CHILD, "sleep")], "child_main");
    // SAFETY: getpgid(2) on our own child.
    let pgid = unsafe { libc::getpgid(child.id() as libc::pid_t) };
    assert_eq!(pgid, child.id() as libc::pid_t);
    assert!(wait_exit(&mut child, Duration::from_millis(200)).is_none());
    sigterm(&child);
    let status = wait_exit(&mut child, SOON).expect("SIGTERM ignored");
    assert_eq!(status.signal(), Some(libc::SIGTERM));

    let mut child = spawn_self_as(&[(CHILD, "sleep")], "child_main");
    kill9(&mut child);
    let status = wait_exit(&mut child, SOON).expect("kill9 did not reap");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

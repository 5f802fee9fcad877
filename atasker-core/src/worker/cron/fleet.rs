//! A `fleet` worker's ticks: with a cluster, a tick runs on the node that takes it in Redis
//! (`Remote::lease`: the tick's lease and the fleet's high-water mark, in one script), so
//! that each tick runs at most once in the fleet whatever the hosts' clocks say.

use crate::worker::Core;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Whether this node runs `tick` of a `fleet` worker: always without a cluster; with one, if
/// it took the tick — its lease was free and no tick at or after it has run in the fleet.
/// The lease's TTL: twice the period (up to the `next` tick), at least a minute, at most a
/// day. A tick whose lease cannot be asked for is skipped with an error event.
pub(super) async fn take(core: &Core, tick: DateTime<Utc>, next: Option<DateTime<Utc>>) -> bool {
    let Some(remote) = core.sup.inner.remote() else {
        return true;
    };
    let period = next
        .and_then(|n| (n - tick).to_std().ok())
        .unwrap_or(Duration::from_secs(60));
    let ttl = (period * 2).clamp(Duration::from_secs(60), Duration::from_secs(86_400));
    match remote
        .lease(core.name(), tick.timestamp_millis(), ttl)
        .await
    {
        Ok(taken) => {
            if !taken {
                tracing::debug!(worker = core.name(), %tick, "atasker: another node runs this tick, or ran a later one");
            }
            taken
        }
        Err(e) => {
            tracing::error!(worker = core.name(), %tick, error = %e, "atasker: cannot take a fleet worker's lease; the tick is skipped");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::remote::{Remote, Settings, DEFAULT_NODE_TIMEOUT};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A `redis-server` of this test's own, on a unix socket (killed when dropped).
    struct Server(Child, PathBuf);

    impl Server {
        fn start() -> Server {
            let dir = std::env::temp_dir().join(format!("atasker-fleet-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let sock = dir.join("r.sock");
            let child = Command::new("redis-server")
                .args(["--port", "0", "--save", "", "--appendonly", "no"])
                .arg("--unixsocket")
                .arg(&sock)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server not found on PATH: this test starts its own Redis (≥ 7.0)");
            let server = Server(child, dir);
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::os::unix::net::UnixStream::connect(&sock).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(10));
            }
            server
        }

        fn url(&self) -> String {
            format!("redis+unix://{}", self.1.join("r.sock").display())
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_dir_all(&self.1);
        }
    }

    /// The script's rule: a tick runs if its lease is free and it is later than the last
    /// tick the fleet fired (the mark, per worker); a lease gone (expired) does not make a
    /// tick at or before the mark run again.
    #[test]
    fn no_tick_at_or_before_the_last_one_fired_runs_again() {
        let server = Server::start();
        let settings = Settings::new(&server.url(), "t", DEFAULT_NODE_TIMEOUT, 3).unwrap();
        let remote = Remote::new(settings);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let take = |worker: &str, tick: i64| {
            rt.block_on(remote.lease(worker, tick, Duration::from_secs(60)))
                .unwrap()
        };
        assert!(take("w", 2_000), "the first tick");
        assert!(!take("w", 2_000), "the same tick again (its lease is held)");
        assert!(
            !take("w", 1_000),
            "an earlier tick (a clock behind), never leased"
        );
        assert!(take("w", 3_000), "the next tick");
        assert!(take("v", 1_000), "another worker has a mark of its own");
        // The leases expire (deleted here): the mark alone still refuses the ticks fired.
        let mut c = redis::Client::open(server.url())
            .unwrap()
            .get_connection()
            .unwrap();
        let gone: i64 = redis::cmd("DEL")
            .arg(&["t:lease:w:2000", "t:lease:w:3000"])
            .query(&mut c)
            .unwrap();
        assert_eq!(gone, 2, "the leases' keys");
        assert!(
            !take("w", 3_000) && !take("w", 2_000),
            "ticks already fired"
        );
        let mark: i64 = redis::cmd("GET")
            .arg("t:lease:w:last")
            .query(&mut c)
            .unwrap();
        assert_eq!(mark, 3_000, "the mark is the last tick fired");
        let ttl: i64 = redis::cmd("PTTL")
            .arg("t:lease:w:last")
            .query(&mut c)
            .unwrap();
        assert!(ttl > 86_400_000, "the mark outlives any lease: {ttl} ms");
        assert!(take("w", 4_000), "a later tick");
    }
}

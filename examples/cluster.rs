//! Remote tasks on a cluster: this program starts a Redis of its own (or uses the URL given
//! as its argument), two nodes of itself (zero set-up: `ATASKER_NODE=…` in their
//! environment makes them nodes before `main`), fans a CPU-heavy `static, remote` task out
//! over them, prints which node ran what, and stops the nodes with SIGTERM.
//!
//! `cargo run --release --example cluster` (needs `redis-server` ≥ 7.0 on PATH), or
//! `cargo run --release --example cluster -- redis://127.0.0.1:6379/0`

use atasker::prelude::*;
use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Counts the primes in `from..to`, the slow way, on whichever node takes it; returns the
/// node's pid (the parent of the worker process that ran it) beside the count.
#[background_task(static, remote)]
fn count_primes(from: u64, to: u64) -> (u32, u64) {
    let n = (from..to)
        .filter(|&n| n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64;
    (std::os::unix::process::parent_id(), n)
}

const CHUNK: u64 = 200_000;
const CHUNKS: u64 = 16;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _redis) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            let r = OwnRedis::start()?;
            (r.url(), Some(r))
        }
    };
    // A namespace of this run's own: several runs may share one Redis.
    let namespace = format!("example-{}", std::process::id());
    let mut nodes: Vec<Child> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe()?)
                .env("ATASKER_NODE", &url)
                .env("ATASKER_NODE_NAMESPACE", &namespace)
                .env("ATASKER_NODE_PROCESSES", "1")
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let names: BTreeMap<u32, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id(), i + 1))
        .collect();

    Supervisor::builder()
        .cluster(url.as_str())
        .cluster_namespace(namespace.as_str())
        .build_global()?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..CHUNKS)
        .map(|i| count_primes(i * CHUNK, (i + 1) * CHUNK))
        .collect();
    let mut total = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        let (node_pid, n) = t.wait()?;
        let node = names
            .get(&node_pid)
            .map_or("?".to_string(), |n| n.to_string());
        println!("chunk {i:2}: {n:5} primes, on node {node} (pid {node_pid})");
        total += n;
    }
    println!(
        "{total} primes below {} in {:.2?} on 2 nodes",
        CHUNK * CHUNKS,
        started.elapsed()
    );
    println!("stats: {:?}", Supervisor::global().stats().remote.normal);

    // SIGTERM: a node finishes what it runs, then exits 0.
    for node in &nodes {
        Command::new("kill")
            .args(["-TERM", &node.id().to_string()])
            .status()?;
    }
    for node in &mut nodes {
        let status = node.wait()?;
        println!("node pid {} exited: {status}", node.id());
    }
    Ok(())
}

/// A `redis-server` of this run, on a unix socket in a temporary directory.
struct OwnRedis {
    child: Child,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    fn start() -> Result<OwnRedis, Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("atasker-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(dir.join("redis.sock"))
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start redis-server ({e}): install it (Debian: apt-get install -y \
                     redis-server) or pass a URL: cargo run --example cluster -- redis://host:6379/0"
                )
            })?;
        let r = OwnRedis { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !r.dir.join("redis.sock").exists() {
            if Instant::now() > deadline {
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(r)
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.dir.join("redis.sock").display())
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

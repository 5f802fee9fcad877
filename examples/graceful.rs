//! A graceful shutdown on Ctrl-C from async code: the queue worker serves every line still
//! waiting in it, the static tasks (in worker processes, which a Ctrl-C in the terminal does
//! not reach) finish, and `stopped().await` waits without blocking the runtime.
//!
//! ```sh
//! cargo run --example graceful      # press Ctrl-C, or wait 2 s
//! ```

use atasker::prelude::*;
use std::time::Duration;

/// Appends a line to the "log" (stands for a file or a database).
#[background_worker(queue)]
fn store(line: String) {
    std::thread::sleep(Duration::from_millis(100));
    println!("stored: {line}");
}

/// CPU work in a worker process.
#[background_task(static)]
fn checksum(n: u64) -> u64 {
    std::thread::sleep(Duration::from_secs(3));
    (1..=n).fold(0u64, |a, x| a.wrapping_mul(31).wrapping_add(x))
}

#[tokio::main]
async fn main() {
    store.start();
    for i in 0..40 {
        store.put(format!("reading {i}"));
    }
    let sums: Vec<Task<u64>> = (1..=4).map(|n| checksum(n * 1000)).collect();

    // Ctrl-C in a terminal, SIGTERM from a service manager (systemd, Docker, Kubernetes).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("Ctrl-C: shutting down"),
        _ = term.recv() => println!("SIGTERM: shutting down"),
        _ = tokio::time::sleep(Duration::from_secs(2)) => println!("no signal within 2 s: shutting down anyway"),
    }
    println!("{} lines still waiting in the queue", store.queued());

    // `stop()` blocks (it drains): run it off the runtime, and await its end here.
    let sup = Supervisor::global();
    tokio::task::spawn_blocking(move || sup.stop());
    sup.stopped().await;

    println!(
        "stopped: {} lines waiting, {} stored",
        store.queued(),
        store.stats().runs
    );
    for t in sums {
        println!("checksum: {:?}", t.await);
    }
}

//! atasker in one page: a function on the thread pool, one as a coroutine, priorities, and
//! a worker. Run it with `cargo run --example quickstart`.

use atasker::prelude::*;
use std::time::{Duration, Instant};

/// A blocking function: runs on the supervisor's thread pool.
#[background_task]
fn checksum(data: Vec<u8>) -> u32 {
    std::thread::sleep(Duration::from_millis(50));
    data.iter().map(|&b| u32::from(b)).sum()
}

/// An `async fn`: runs as a coroutine on the supervisor's tokio runtime.
#[background_task(priority = Priority::High)]
async fn fetch(name: String) -> String {
    tokio::time::sleep(Duration::from_millis(30)).await;
    format!("reply from {name}")
}

/// A `static` function: runs in a worker process (arguments and result cross as bincode).
#[background_task(static)]
fn fib(n: u64) -> (u64, u32) {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    (a, std::process::id())
}

/// A worker: the Python original's "I run every second!", here every 200 ms.
#[background_worker(interval = 0.2)]
fn tick() {
    println!("  I run every 200 ms!");
}

/// A worker with state: the Python "custom worker class".
struct Reporter {
    sent: u64,
}

#[background_worker(interval = 0.25, name = "reporter")]
impl Reporter {
    fn run(&mut self) {
        self.sent += 1;
        println!("  reporter: report #{} sent", self.sent);
    }
}

fn main() -> Result<(), TaskError> {
    let start = Instant::now();

    // Tasks start at once; the handles are waited for later.
    let sums: Vec<Task<u32>> = (0..4).map(|i| checksum(vec![i; 1000])).collect();
    let reply = fetch("plant".into());
    println!("started 5 tasks in {:?}", start.elapsed());

    for (i, sum) in atasker::wait_completed(sums, None)?.into_iter().enumerate() {
        println!("checksum #{i} = {sum}");
    }
    println!("{}", reply.wait()?);
    let (f, pid) = fib(90).wait()?;
    println!(
        "fib(90) = {f}, computed by process {pid} (this one is {})",
        std::process::id()
    );

    // Priorities: on a pool of one thread, queued tasks start highest priority first.
    let sup: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("demo")
            .thread_pool(1)
            .reserve_normal(0)
            .reserve_high(0)
            .build()
            .expect("valid settings"),
    ));
    let busy = sup
        .task()
        .spawn(|| std::thread::sleep(Duration::from_millis(100)));
    let order: Vec<Task<&str>> = [
        (Priority::Low, "low"),
        (Priority::Normal, "normal"),
        (Priority::High, "high"),
    ]
    .into_iter()
    .map(|(p, name)| {
        sup.task().priority(p).spawn(move || {
            println!("  {name} runs");
            name
        })
    })
    .collect();
    println!("queued low, normal, high behind a busy thread; they run:");
    busy.wait()?;
    atasker::wait_completed(order, None)?;

    // Workers: `tick` is a static handle made by the macro; `Reporter` keeps its state.
    println!("workers for one second:");
    tick.start();
    let reporter: Worker = Reporter { sent: 0 }.into_worker();
    reporter.start();
    std::thread::sleep(Duration::from_millis(1000));
    tick.stop();
    reporter.stop();
    println!(
        "tick ran {} times, reporter {}",
        tick.stats().runs,
        reporter.stats().runs
    );

    Supervisor::global().stop();
    println!("done in {:?}", start.elapsed());
    Ok(())
}

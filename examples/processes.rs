//! Process tasks: a CPU-heavy `static` function fanned out over the process pool (the Python
//! original's `background_task(func, tt=TT_MP)`), and a crashing child shown and survived.
//!
//! `cargo run --example processes`

use atasker::prelude::*;
use std::sync::LazyLock;
use std::time::Instant;

/// A supervisor with a single worker process, to show one child being replaced.
static ONE: LazyLock<Supervisor> = LazyLock::new(|| {
    Supervisor::builder()
        .name("one")
        .process_pool(1)
        .build()
        .expect("valid settings")
});

/// Counts the primes below `n`, the slow way, in a worker process.
#[background_task(static)]
fn count_primes(from: u64, to: u64) -> u64 {
    (from..to)
        .filter(|&n| n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// Reports which process served it.
#[background_task(static, supervisor = &ONE)]
fn whoami() -> u32 {
    std::process::id()
}

/// Dies the hard way: the parent gets `TaskError::ProcessExited`.
#[background_task(static, supervisor = &ONE)]
fn crash() {
    std::process::abort();
}

fn main() -> Result<(), TaskError> {
    println!("parent pid {}", std::process::id());
    let start = Instant::now();
    let chunks: Vec<Task<u64>> = (0..8)
        .map(|i| count_primes(i * 250_000, (i + 1) * 250_000))
        .collect();
    let total: u64 = atasker::wait_completed(chunks, None)?.into_iter().sum();
    println!(
        "{total} primes below 2,000,000, counted in {:?} by the process pool",
        start.elapsed()
    );

    let before = whoami().wait()?;
    println!("the one-process pool's child is {before}");
    match crash().wait() {
        Err(TaskError::ProcessExited { code, signal }) => {
            println!("the child died (code {code:?}, signal {signal:?}); the parent goes on")
        }
        other => println!("unexpected: {other:?}"),
    }
    let after = whoami().wait()?;
    println!("a fresh child ({after}) took over");
    assert_ne!(before, after);
    ONE.stop();
    Supervisor::global().stop();
    Ok(())
}

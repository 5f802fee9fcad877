use atasker::prelude::*;

// Arguments and results cross to another process: they must implement
// `serde::Serialize` and `serde::Deserialize`. Here `Serialize` is missing.
#[derive(serde::Deserialize)]
struct Job {
    n: u64,
}

#[background_task(static)]
fn crunch(job: Job) -> u64 {
    job.n * 2
}

fn main() {}

use atasker::prelude::*;

// A static queue worker's item crosses to another process: it must implement
// `serde::Serialize` and `serde::Deserialize`. Here `Deserialize` is missing.
#[derive(serde::Serialize)]
struct Job {
    n: u64,
}

#[background_worker(queue, static)]
fn handle(job: Job) {
    let _ = job.n;
}

fn main() {}

use atasker::prelude::*;

// Each type that cannot cross to another process is one error that names it.
struct Job {
    n: u64,
}

struct Report {
    n: u64,
}

#[background_task(static)]
fn crunch(factor: u64, job: Job) -> u64 {
    job.n * factor
}

#[background_task(static)]
fn report(n: u64) -> Report {
    Report { n }
}

fn main() {
    let _ = crunch(2, Job { n: 1 });
    let _ = report(1);
}

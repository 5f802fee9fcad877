use atasker::prelude::*;

// Replaced by a working process pool in a later issue.
#[background_task(static)]
fn crunch(n: u64) -> u64 {
    n * 2
}

fn main() {}

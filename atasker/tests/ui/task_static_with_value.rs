use atasker::prelude::*;

#[background_task(static = true)]
fn crunch(n: u64) -> u64 {
    n * 2
}

fn main() {}

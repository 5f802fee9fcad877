use atasker::prelude::*;

#[background_task(static)]
async fn crunch(n: u64) -> u64 {
    n * 2
}

fn main() {}

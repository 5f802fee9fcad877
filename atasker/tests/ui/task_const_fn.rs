use atasker::prelude::*;

#[background_task]
const fn double(n: u64) -> u64 {
    n * 2
}

fn main() {}

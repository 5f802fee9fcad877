use atasker::prelude::*;

#[background_task]
extern "C" fn double(n: u64) -> u64 {
    n * 2
}

fn main() {}

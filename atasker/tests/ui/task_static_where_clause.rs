use atasker::prelude::*;

#[background_task(static)]
fn crunch(n: u64) -> u64
where
    u64: Copy,
{
    n * 2
}

fn main() {}

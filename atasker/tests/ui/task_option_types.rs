use atasker::prelude::*;

// Options of the wrong type: rustc's errors point at the user's expressions.
#[background_task(priority = LEVEL, timeout = 1u8 + 2, supervisor = "global")]
fn resize(path: String) -> u64 {
    path.len() as u64
}

const LEVEL: u8 = 1;

fn main() {}

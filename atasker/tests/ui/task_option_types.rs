use atasker::prelude::*;

// Options of the wrong type: rustc's errors point at the user's expressions.
#[background_task(priority = 1, timeout = 1u8 + 2, supervisor = "global")]
fn resize(path: String) -> u64 {
    path.len() as u64
}

fn main() {}

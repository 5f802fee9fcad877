use atasker::prelude::*;

#[background_task(timeout = -1)]
fn resize(path: String) -> u64 {
    path.len() as u64
}

fn main() {}

use atasker::prelude::*;

#[background_task(timeout = "5")]
fn resize(path: String) -> u64 {
    path.len() as u64
}

fn main() {}

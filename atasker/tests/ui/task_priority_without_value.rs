use atasker::prelude::*;

#[background_task(priority)]
fn resize(path: String) -> u64 {
    path.len() as u64
}

fn main() {}

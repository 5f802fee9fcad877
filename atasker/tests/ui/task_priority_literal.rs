use atasker::prelude::*;

#[background_task(priority = 7)]
fn resize(path: String) -> u64 {
    path.len() as u64
}

#[background_worker(interval = 1, priority = "high")]
fn tick() {}

fn main() {}

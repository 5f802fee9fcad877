use atasker::prelude::*;

#[background_task(priority = Priority::Low, priority = Priority::High)]
fn resize(path: String) -> u64 {
    path.len() as u64
}

fn main() {}

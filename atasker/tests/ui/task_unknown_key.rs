use atasker::prelude::*;

#[background_task(prio = Priority::High)]
fn resize(path: String) -> u64 {
    path.len() as u64
}

fn main() {}

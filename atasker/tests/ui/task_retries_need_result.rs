use atasker::prelude::*;

// A task with `retries` must return a `Result`: an `Err` is what is run again.
#[background_task(retries = 3)]
fn resize(path: String) -> u64 {
    path.len() as u64
}

#[background_task(retries = 2)]
async fn ping() {}

fn main() {}

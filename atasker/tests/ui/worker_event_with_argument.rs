use atasker::prelude::*;

#[background_worker(event)]
fn flush(force: bool) {
    let _ = force;
}

#[background_worker(interval = 1)]
async fn tick(n: u64) {
    let _ = n;
}

fn main() {}

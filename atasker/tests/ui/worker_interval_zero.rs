use atasker::prelude::*;

// A zero interval or delay would be a busy loop.
#[background_worker(interval = 0)]
fn tick() {}

#[background_worker(delay = 0.0)]
async fn tock() {}

// With `delay_before`, there is a pause.
#[background_worker(interval = 0, delay_before = 1)]
fn paced() {}

fn main() {
    paced.start();
}

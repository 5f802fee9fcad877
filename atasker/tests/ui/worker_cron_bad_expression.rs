use atasker::prelude::*;

#[background_worker(cron = "0 61 * * * *")]
fn rollup() {}

fn main() {
    // The handle is still there, so this line gets no second error.
    rollup.start();
}

use atasker::prelude::*;

// There is no February 30th: this schedule would never run.
#[background_worker(cron = "0 0 0 30 2 *")]
fn rollup() {}

fn main() {
    // The handle is still there, so this line gets no second error.
    rollup.start();
}

use atasker::prelude::*;

// A worker's runs cannot be remote yet: the error is at `remote` and says that
// `remote` is for `#[background_task(static, remote)]`. The code that uses the
// worker still sees its handle: no second error.
#[background_worker(interval = 60, static, remote)]
fn sweep() {}

fn main() {
    sweep.start();
}

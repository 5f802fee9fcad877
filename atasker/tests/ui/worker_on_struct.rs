use atasker::prelude::*;

#[background_worker(interval = 1)]
struct Reporter {
    sent: u64,
}

#[background_worker]
enum State {
    Idle,
}

fn main() {}

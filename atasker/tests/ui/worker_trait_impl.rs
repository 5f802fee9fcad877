use atasker::prelude::*;

struct Reporter;

#[background_worker(interval = 1)]
impl Default for Reporter {
    fn default() -> Self {
        Reporter
    }
}

fn main() {}

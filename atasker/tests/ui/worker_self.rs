use atasker::prelude::*;

struct Reporter;

impl Reporter {
    #[background_worker(interval = 1)]
    fn report(&self) {}
}

fn main() {}

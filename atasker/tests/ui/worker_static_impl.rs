use atasker::prelude::*;

struct Totals {
    total: u64,
}

// The state of an `impl`-block worker lives in this process.
#[background_worker(queue, static)]
impl Totals {
    fn run(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {}

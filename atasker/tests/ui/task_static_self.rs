use atasker::prelude::*;

struct Counter(u64);

impl Counter {
    #[background_task(static)]
    fn next(self) -> u64 {
        self.0 + 1
    }
}

fn main() {}

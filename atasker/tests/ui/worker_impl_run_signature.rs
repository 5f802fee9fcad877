use atasker::prelude::*;

struct Reporter {
    sent: u64,
}

#[background_worker(interval = 1)]
impl Reporter {
    fn run(&self) -> u64 {
        self.sent
    }
}

struct Totals {
    total: u64,
}

#[background_worker(queue)]
impl Totals {
    fn run(&mut self) {
        self.total += 1;
    }
}

struct Generic<T>(T);

#[background_worker]
impl<T: Send + 'static> Generic<T> {
    fn run(&mut self) {}
}

fn main() {}

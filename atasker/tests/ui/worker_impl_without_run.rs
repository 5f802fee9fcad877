use atasker::prelude::*;

struct Reporter {
    sent: u64,
}

#[background_worker(interval = 1)]
impl Reporter {
    fn report(&mut self) {
        self.sent += 1;
    }
}

fn main() {}

use atasker::prelude::*;

struct Sweeper {
    swept: u64,
}

#[background_worker(cron = "0 * * * * *", fleet)]
impl Sweeper {
    fn run(&mut self) {
        self.swept += 1;
    }
}

fn main() {
    let worker: Worker = Sweeper { swept: 0 }.into_worker();
    worker.start();
}

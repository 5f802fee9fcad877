use atasker::prelude::*;

// After a mistake in the attribute, the code that uses the worker still sees
// the handle the macro makes: the only errors are the macro's.
#[background_worker(interval = 1, colour = "red")]
fn tick() {}

#[background_worker(queue, capacity = 0)]
fn store(line: String) {
    let _ = line;
}

struct Reporter {
    sent: u64,
}

#[background_worker(interval = 1, static)]
impl Reporter {
    fn run(&mut self) {
        self.sent += 1;
    }
}

fn main() {
    tick.start();
    store.put("a line".to_owned());
    let worker: Worker = Reporter { sent: 0 }.into_worker();
    worker.start();
    println!("{}", tick.is_active() && store.queued() == 0);
}

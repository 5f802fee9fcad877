use atasker::prelude::*;

// rustc's errors about the body point at the body.
#[background_worker(interval = 1)]
fn tick() -> bool {
    5
}

struct Reporter {
    sent: u64,
}

#[background_worker(interval = 1)]
impl Reporter {
    async fn run(&mut self) {
        self.sent += "one";
    }
}

fn main() {}

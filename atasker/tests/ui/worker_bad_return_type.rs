use atasker::prelude::*;

// The executor's return type must be a `WorkerOutput`.
#[background_worker(interval = 1)]
fn tick() -> u64 {
    5
}

#[background_worker(queue)]
async fn mailer(mail: String) -> String {
    mail
}

struct Reporter;

#[background_worker(event)]
impl Reporter {
    fn run(&mut self) -> Option<()> {
        None
    }
}

fn main() {}

use atasker::prelude::*;

#[background_worker(queue)]
fn mailer(to: String, body: String) {
    let _ = (to, body);
}

fn main() {}

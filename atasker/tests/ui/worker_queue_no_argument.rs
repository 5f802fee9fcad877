use atasker::prelude::*;

// A queue worker's fn takes the item as its only argument.
#[background_worker(queue)]
fn mailer() {}

fn main() {}

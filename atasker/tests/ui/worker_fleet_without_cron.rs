use atasker::prelude::*;

#[background_worker(interval = 60, fleet)]
fn sweep() {}

fn main() {}

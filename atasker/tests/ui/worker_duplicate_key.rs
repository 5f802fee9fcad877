use atasker::prelude::*;

#[background_worker(interval = 1, interval = 2)]
fn tick() {}

fn main() {}

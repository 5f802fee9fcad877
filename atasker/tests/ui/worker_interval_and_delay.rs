use atasker::prelude::*;

#[background_worker(interval = 1, delay = 2)]
fn tick() {}

fn main() {}

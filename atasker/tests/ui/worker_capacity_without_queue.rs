use atasker::prelude::*;

#[background_worker(interval = 1, capacity = 10)]
fn tick() {}

fn main() {}

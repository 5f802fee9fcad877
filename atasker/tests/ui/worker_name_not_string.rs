use atasker::prelude::*;

#[background_worker(interval = 1, name = 5)]
fn tick() {}

fn main() {}

use atasker::prelude::*;

#[background_worker(period = 1)]
fn tick() {}

fn main() {}

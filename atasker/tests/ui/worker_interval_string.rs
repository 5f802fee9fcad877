use atasker::prelude::*;

#[background_worker(interval = "abc")]
fn tick() {}

fn main() {}

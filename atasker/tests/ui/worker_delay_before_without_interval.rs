use atasker::prelude::*;

#[background_worker(delay_before = 1)]
fn spin() {}

fn main() {}

use atasker::prelude::*;

#[background_worker(interval = -1)]
fn tick() {}

#[background_worker(delay = -0.5)]
fn tock() {}

fn main() {}

use atasker::prelude::*;

#[background_worker(interval = 1, tz = "Europe/Berlin")]
fn tick() {}

fn main() {}

use atasker::prelude::*;

// Replaced by a working process pool in a later issue.
#[background_worker(static, interval = 1)]
fn crunch() {}

fn main() {}

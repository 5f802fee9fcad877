use atasker::prelude::*;

// A fn is a worker or a task, not both: whichever macro runs first reports it.
#[background_worker(interval = 1)]
#[background_task]
fn tick() {}

#[background_task]
#[atasker::background_worker(queue)]
fn tock() {}

fn main() {}

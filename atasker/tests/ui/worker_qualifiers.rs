use atasker::prelude::*;

#[background_worker]
const fn spin() {}

#[background_worker]
unsafe fn danger() {}

#[background_worker]
extern "C" fn foreign() {}

fn main() {}

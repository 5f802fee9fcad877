use atasker::prelude::*;

#[background_task]
struct Resize {
    path: String,
}

fn main() {}

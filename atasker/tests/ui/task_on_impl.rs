use atasker::prelude::*;

struct Image;

#[background_task]
impl Image {
    fn resize(&self) {}
}

fn main() {}

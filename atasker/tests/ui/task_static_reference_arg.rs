use atasker::prelude::*;

#[background_task(static)]
fn count(text: &str) -> usize {
    text.len()
}

fn main() {}

use atasker::prelude::*;

#[background_task(static)]
fn words(n: usize) -> Vec<&'static str> {
    vec!["word"; n]
}

fn main() {}

use atasker::prelude::*;

#[background_task(static)]
fn first<T: Clone>(items: Vec<T>) -> Option<T> {
    items.first().cloned()
}

fn main() {}

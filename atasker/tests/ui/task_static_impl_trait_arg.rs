use atasker::prelude::*;

#[background_task(static)]
fn show(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}

use atasker::prelude::*;
use std::borrow::Cow;

// A task's arguments move to another thread: they must be owned (or `'static`).
#[background_task]
fn count(text: &str) -> usize {
    text.len()
}

#[background_task]
async fn append(buffer: &mut Vec<u8>, byte: u8) {
    buffer.push(byte);
}

#[background_task]
fn shout(text: Cow<'_, str>) -> String {
    text.to_uppercase()
}

// `'static` data is fine.
#[background_task]
fn greet(name: &'static str) -> String {
    format!("hello {name}")
}

fn main() {
    let _ = greet("world");
}

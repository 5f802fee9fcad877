use atasker::prelude::*;

fn report(message: &str) {
    let _ = message;
}

// Options of the wrong type: rustc's errors point at the user's expressions.
#[background_worker(interval = 1u8, priority = LEVEL, supervisor = "global", on_error = report)]
fn tick() {}

#[background_worker(queue, capacity = -CAPACITY)]
fn mailer(mail: String) {
    let _ = mail;
}

const CAPACITY: i32 = 5;

const LEVEL: u8 = 1;

fn main() {}

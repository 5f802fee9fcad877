use atasker::prelude::*;

#[background_worker(queue, interval = 1)]
fn mailer(mail: String) {
    let _ = mail;
}

#[background_worker(event, delay = 1)]
fn flush() {}

#[background_worker(queue, event)]
fn both(item: u8) {
    let _ = item;
}

fn main() {}

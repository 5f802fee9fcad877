use atasker::prelude::*;

#[background_worker(queue, capacity = 0)]
fn mailer(mail: String) {
    let _ = mail;
}

#[background_worker(queue, capacity = 2.5)]
fn sender(mail: String) {
    let _ = mail;
}

fn main() {}

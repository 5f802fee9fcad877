use atasker::prelude::*;

#[background_worker(queue)]
fn mailer<T: Send + 'static>(item: T) {
    let _ = item;
}

#[background_worker(queue)]
fn sender(item: impl Send + 'static) {
    let _ = item;
}

fn main() {}

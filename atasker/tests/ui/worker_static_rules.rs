use atasker::prelude::*;

#[background_worker(static, queue)]
async fn crunch(text: &'static str) {
    let _ = text;
}

fn main() {}

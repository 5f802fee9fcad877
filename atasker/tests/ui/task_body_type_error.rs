use atasker::prelude::*;

// rustc's errors about the body point at the body.
#[background_task]
fn resize(path: String) -> u64 {
    path
}

#[background_task]
async fn fetch(url: String) -> String {
    url.len()
}

fn main() {}

use atasker::prelude::*;

// `retries` needs a value; `limit` is at least 1; `backoff` needs `retries`.
#[background_task(retries)]
fn a() -> Result<(), String> {
    Ok(())
}

#[background_task(limit = 0)]
fn b() {}

#[background_task(backoff = 1)]
fn c() -> Result<(), String> {
    Ok(())
}

#[background_task(retries = "3", backoff = "1s")]
fn d() -> Result<(), String> {
    Ok(())
}

fn main() {}

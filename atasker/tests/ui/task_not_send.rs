use atasker::prelude::*;
use std::rc::Rc;

// A task's result must be `Send`.
#[background_task]
fn share(n: u64) -> Rc<u64> {
    Rc::new(n)
}

// A coroutine must be `Send`.
#[background_task]
async fn hold(n: u64) -> u64 {
    let rc = Rc::new(n);
    std::future::ready(()).await;
    *rc
}

fn main() {}

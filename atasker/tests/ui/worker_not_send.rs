use atasker::prelude::*;
use std::rc::Rc;

// A queue item must be `Send` too; the error (at the fn's name) is not
// tested here because it names the queue's internal types.

// A coroutine must be `Send`.
#[background_worker(interval = 1)]
async fn hold() {
    let rc = Rc::new(1);
    std::future::ready(()).await;
    let _ = rc;
}

struct Holder {
    rc: Rc<u64>,
}

#[background_worker(interval = 1)]
impl Holder {
    fn run(&mut self) {
        let _ = &self.rc;
    }
}

fn main() {}

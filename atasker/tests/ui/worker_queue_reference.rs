use atasker::prelude::*;

// A queue worker's items wait in the queue and move to another thread: they
// must be owned (or `'static`).
#[background_worker(queue)]
fn store(line: &str) {
    let _ = line;
}

#[background_worker(queue)]
async fn append(bytes: &mut [u8]) {
    let _ = bytes;
}

struct Log {
    lines: Vec<String>,
}

#[background_worker(queue)]
impl Log {
    fn run(&mut self, line: &str) {
        self.lines.push(line.to_owned());
    }
}

// `'static` items are fine.
#[background_worker(queue)]
fn label(name: &'static str) {
    let _ = name;
}

fn main() {
    label.put("ok");
    // The handle is still there for the code that uses it.
    store.put("a line");
}

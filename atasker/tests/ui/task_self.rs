use atasker::prelude::*;

struct Image {
    path: String,
}

impl Image {
    #[background_task]
    fn resize(&self) -> u64 {
        self.path.len() as u64
    }
}

fn main() {}

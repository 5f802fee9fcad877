use atasker::prelude::*;

// Every problem is reported at once, each at its own tokens.
#[background_task(static, timeout = "soon", colour = "red")]
async fn parse<'a>(text: &'a str, sep: impl Into<char>) -> Vec<&'a str> {
    text.split(sep.into()).collect()
}

fn main() {}

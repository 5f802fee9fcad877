use atasker::prelude::*;
use std::borrow::Cow;

// `'static` data is owned enough; any other lifetime is borrowed.
#[background_task(static)]
fn shout(text: Cow<'_, str>, tail: Cow<'static, str>) -> String {
    format!("{text}{tail}")
}

fn main() {}

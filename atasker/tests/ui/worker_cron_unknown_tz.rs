use atasker::prelude::*;

#[background_worker(cron = "0 30 2 * * *", tz = "Europe/Berlinn")]
fn nightly() {}

fn main() {
    nightly.start();
}

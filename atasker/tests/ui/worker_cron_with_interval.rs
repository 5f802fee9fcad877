use atasker::prelude::*;

#[background_worker(cron = "0 */5 * * * *", interval = 1)]
fn rollup() {}

#[background_worker(queue, cron = "@hourly")]
fn mailer(mail: String) {
    let _ = mail;
}

#[background_worker(cron = "@hourly", event)]
fn flush() {}

#[background_worker(cron = "@hourly", delay_before = 1)]
fn late() {}

fn main() {}

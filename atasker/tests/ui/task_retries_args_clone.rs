use atasker::prelude::*;

struct Device;

// Each run of a task with `retries` gets its own copy of the arguments.
#[background_task(retries = 3)]
fn talk(device: Device) -> Result<(), String> {
    let _ = device;
    Ok(())
}

fn main() {}

use atasker::prelude::*;

// `supervisor` needs a `&'static Supervisor`; a worker cannot use the locals
// around it.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sup = Supervisor::builder().name("plant").build_global()?;

    #[background_worker(interval = 1, supervisor = sup)]
    fn tick() {}

    tick.start();
    Ok(())
}

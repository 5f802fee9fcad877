use atasker::prelude::*;

// `supervisor` needs a `&'static Supervisor`; a task cannot use the locals
// around it.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sup = Supervisor::builder().build()?;

    #[background_task(supervisor = &sup)]
    fn resize(path: String) -> u64 {
        path.len() as u64
    }

    let size = resize("a.png".into()).wait()?;
    println!("{size}");
    Ok(())
}

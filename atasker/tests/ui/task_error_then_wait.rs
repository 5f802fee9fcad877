use atasker::prelude::*;

// After a mistake in the attribute, the code that calls the task still sees
// the function the macro makes (`-> Task<u64>`): the only error is the
// macro's, not `no method named `wait` found for type `u64``.
#[background_task(prio = Priority::High)]
fn resize(path: String) -> u64 {
    path.len() as u64
}

#[background_task(static)]
async fn fetch(url: String) -> String {
    url
}

fn main() -> Result<(), TaskError> {
    let size: u64 = resize("a.png".into()).wait()?;
    let mut task: Task<String> = fetch("https://example.com".into());
    let _ = task.wait_timeout(std::time::Duration::from_secs(1));
    println!("{size}");
    Ok(())
}

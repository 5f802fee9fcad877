use atasker::prelude::*;

// `remote` needs `static`: the error is at `remote` and says what to write.
// The code that calls the task still sees `-> Task<Vec<u8>>`: no second error.
#[background_task(priority = Priority::High, remote)]
fn render(scene: String) -> Vec<u8> {
    scene.into_bytes()
}

fn main() -> Result<(), TaskError> {
    let png: Vec<u8> = render("teapot".into()).wait()?;
    println!("{}", png.len());
    Ok(())
}

//! Smoke test: the benchmark runs every workload at a tenth of its size and exits 0, and W8
//! finds no priority inversion. W9 needs `redis-server` on `PATH` (without it the run exits 1).
//! No speed is asserted here.

use std::process::Command;

#[test]
fn quick_run_prints_every_workload_and_no_inversion() {
    let out = Command::new(env!("CARGO_BIN_EXE_atasker-bench"))
        .arg("--quick")
        .output()
        .expect("the benchmark runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for w in ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("atasker ") && l.contains(&format!(" {w} "))),
            "no atasker figure for {w}:\n{stdout}"
        );
    }
    assert!(stdout.contains("atasker W8 inversions 0 count"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("ratio W1 throughput ")),
        "{stdout}"
    );
}

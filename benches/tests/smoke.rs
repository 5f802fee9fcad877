//! Smoke test: the benchmark runs every workload at a tenth of its size and exits 0, and W8
//! finds no priority inversion. W9 needs `redis-server` on `PATH` (without it the run exits 1).
//! `--plot` writes an SVG; `--instructions` counts W3 under valgrind (skipped without
//! valgrind). No speed is asserted here.

use std::process::{Command, Output};

/// Runs the benchmark with `args`; its output, after checking it exited 0.
fn bench(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_atasker-bench"))
        .args(args)
        .output()
        .expect("the benchmark runs");
    assert!(
        out.status.success(),
        "exit {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn quick_run_prints_every_workload_and_no_inversion() {
    let out = bench(&["--quick"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for w in ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("atasker ") && l.contains(&format!(" {w} "))),
            "no atasker figure for {w}:\n{stdout}"
        );
    }
    assert!(stdout.contains("atasker W8 inversions 0 count"), "{stdout}");
    for ratio in ["ratio W1 throughput ", "ratio W1:rayon_spawn throughput "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(ratio)),
            "no `{ratio}…`:\n{stdout}"
        );
    }
}

#[test]
fn plot_writes_an_svg_of_the_ratios() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("smoke-w1.svg");
    let _ = std::fs::remove_file(&path);
    bench(&[
        "--quick",
        "--only",
        "W1",
        "--plot",
        path.to_str().expect("a UTF-8 path"),
    ]);
    let svg = std::fs::read_to_string(&path).expect("the SVG was written");
    assert!(svg.starts_with("<svg"), "{svg}");
    for text in [
        "W1 throughput",
        "W1 roundtrip_p99",
        "spawn_blocking",
        "rayon_spawn",
    ] {
        assert!(svg.contains(text), "no {text} in the SVG:\n{svg}");
    }
}

#[test]
fn instructions_are_counted_under_valgrind() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("skipped: no valgrind on PATH (apt-get install -y valgrind)");
        return;
    }
    // About 5 s: W3 at a tenth and a hundredth of its size, each side under callgrind.
    let out = bench(&["--quick", "--only", "W3", "--reps", "1", "--instructions"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "instructions atasker W3 ",
        "instructions baseline:tokio_spawn W3 ",
        "ratio W3 instructions ",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(line)),
            "no `{line}…`:\n{stdout}"
        );
    }
}

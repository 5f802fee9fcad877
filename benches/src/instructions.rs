//! `--instructions`: instructions per task under callgrind, a figure that the machine's noise
//! does not move.
//!
//! Each counted subject is measured alone by this binary re-run under `valgrind
//! --tool=callgrind --callgrind-out-file=/dev/null` with `--only Wn --subject S --reps 1`,
//! twice: at the run's scale and at a tenth of it. The figure is marginal, (instructions of
//! the larger run − of the smaller) ÷ (units of the larger − of the smaller), so that what
//! does not grow with the size (start-up, runtimes, threads, children) cancels out. Only the
//! main process is counted (valgrind's default `--trace-children=no`): W2's worker processes
//! and echo children run natively.

use crate::harness::{Config, Figure, Side};
use crate::{w1, w2, w3, w5};
use std::path::Path;
use std::process::{Command, Stdio};

/// One counted workload.
struct Counted {
    /// Its id.
    workload: &'static str,
    /// The subjects measured, each alone.
    subjects: &'static [&'static str],
    /// The unit of the figure.
    unit: &'static str,
    /// Units (tasks, calls, items) each subject runs in one repetition at a given scale.
    units: fn(&Config) -> usize,
}

/// The workloads counted, in order.
const COUNTED: [Counted; 4] = [
    Counted {
        workload: "W1",
        subjects: &["atasker", w1::BASELINE, w1::RAYON],
        unit: "instr/task",
        units: w1::units,
    },
    Counted {
        workload: "W2",
        subjects: &["atasker", w2::BASELINE],
        unit: "instr/call",
        units: w2::units,
    },
    Counted {
        workload: "W3",
        subjects: &["atasker", w3::BASELINE],
        unit: "instr/task",
        units: w3::units,
    },
    Counted {
        workload: "W5",
        subjects: &["atasker", w5::ASYNC, w5::BASELINE],
        unit: "instr/item",
        units: w5::units,
    },
];

/// Fails unless `valgrind` can be run.
pub(crate) fn check_valgrind() -> Result<(), String> {
    match Command::new("valgrind").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err("--instructions needs valgrind on PATH \
                  (Debian/Ubuntu: apt-get install -y valgrind)"
            .to_owned()),
    }
}

/// Counts every subject of the counted workloads (those `only` leaves) at `scale` (1, or 10
/// with `--quick`): one figure per subject with metric `instructions`, and one message per
/// subject that could not be counted.
pub(crate) fn run(scale: usize, only: Option<&str>) -> (Vec<Figure>, Vec<String>) {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let mut figures = Vec::new();
    let mut errors = Vec::new();
    for c in COUNTED
        .iter()
        .filter(|c| only.is_none_or(|o| o == c.workload))
    {
        let at = |scale| Config {
            scale,
            reps: 1,
            side: Side::Both,
            subject: None,
        };
        let units = (c.units)(&at(scale)) - (c.units)(&at(scale * 10));
        for &subject in c.subjects {
            let counted = refs(&exe, c.workload, subject, scale)
                .and_then(|big| Ok((big, refs(&exe, c.workload, subject, scale * 10)?)));
            match counted {
                Ok((big, small)) => {
                    let value = big.saturating_sub(small) as f64 / units as f64;
                    eprintln!(
                        "  [{}] {subject} instructions {} {}",
                        c.workload,
                        crate::harness::number(value),
                        c.unit
                    );
                    figures.push(Figure {
                        subject: subject.to_owned(),
                        workload: c.workload,
                        metric: "instructions",
                        value,
                        unit: c.unit,
                        reps: vec![value],
                    });
                }
                Err(e) => errors.push(format!("{} {subject}: {e}", c.workload)),
            }
        }
    }
    (figures, errors)
}

/// The instructions of one run of `subject` of `workload` at `scale` under callgrind.
fn refs(exe: &Path, workload: &str, subject: &str, scale: usize) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["--only", workload, "--subject", subject, "--reps", "1"])
        .args(["--scale", &scale.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot start valgrind: {e}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    // callgrind's summary: `==1234== I   refs:      464,499,668`.
    let count = log.lines().find_map(|l| {
        let n = l.split_once("I   refs:")?.1.trim().replace(',', "");
        n.parse().ok()
    });
    match count {
        Some(n) if out.status.success() => Ok(n),
        _ => {
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            Err(format!(
                "the run at scale {scale} under valgrind failed ({}); its last lines:\n{tail}",
                out.status
            ))
        }
    }
}

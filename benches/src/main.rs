//! The atasker benchmark: every workload of `benches/README.md` on atasker and on its plain baseline,
//! in one process run.
//!
//! ```text
//! cargo run --release -p atasker-bench [-- --quick] [--only W1] [--json PATH] [--plot FILE.svg]
//!                                         [--instructions]
//! ```
//!
//! Every workload runs [`REPS`] times (atasker and baseline alternate which goes first) and
//! each figure is the median of the repetitions, printed as
//! `<subject> <workload> <metric> <value> <unit>`; then the ratios (`ratio W1 throughput 1.12`:
//! atasker ÷ baseline, or baseline ÷ atasker for throughputs, so below 1 is always better;
//! the median of the per-repetition ratios, see [`harness::ratios`]; a workload's second
//! baseline gets `ratio W1:rayon_spawn …`). `--instructions` adds instructions per task
//! counted under callgrind (see [`instructions`]), `--plot` draws the ratios (see [`plot`]).
//! Exits with status 1 if W8 finds a priority inversion, W9 fails (no `redis-server`, a
//! remote task without an answer, a node that misbehaves; the CI smoke test runs `--quick`),
//! an instruction count fails or an output file cannot be written; 2 on bad arguments.
//!
//! The binary is also its own helper process: with the environment variable [`CHILD_ENV`] set
//! it acts as the W6 footprint child, the W2 echo child or the W9 Redis Streams echo process
//! instead (see [`child_main`]). W9's cluster nodes are this binary too, started with
//! `ATASKER_NODE`: atasker makes them nodes before `main` runs.
// Printing the figures is this binary's whole job.
#![allow(clippy::print_stdout)]

mod harness;
mod instructions;
mod plot;
mod util;
mod w1;
mod w2;
mod w3;
mod w4;
mod w5;
mod w6;
mod w7;
mod w8;
mod w9;

use harness::{Collector, Config, Figure, Side};
use std::path::PathBuf;
use std::process::ExitCode;

/// Repetitions per workload; the median is reported.
const REPS: usize = 3;

/// When set, the binary is a helper child; the value says which (see [`child_main`]).
const CHILD_ENV: &str = "ATASKER_BENCH_CHILD";

/// One workload: its id and the function that runs all its repetitions.
type Workload = (&'static str, fn(&Config, &mut Collector));

/// Every workload, in the order they run.
const WORKLOADS: [Workload; 9] = [
    ("W1", w1::run),
    ("W2", w2::run),
    ("W3", w3::run),
    ("W4", w4::run),
    ("W5", w5::run),
    ("W6", w6::run),
    ("W7", w7::run),
    ("W8", w8::run),
    ("W9", w9::run),
];

/// The command line, parsed by hand.
struct Args {
    /// `--quick` (10) or `--scale N`: every size is divided by this.
    scale: usize,
    /// `--only Wn`: run one workload.
    only: Option<String>,
    /// `--json PATH`: also write the figures as JSON.
    json: Option<PathBuf>,
    /// `--plot PATH`: also draw the ratios as SVG.
    plot: Option<PathBuf>,
    /// `--instructions`: also count instructions per task under callgrind.
    instructions: bool,
    /// `--side atasker|baseline|both`: measure one side only (for profiling).
    side: Side,
    /// `--subject NAME`: measure that one subject only (for profiling).
    subject: Option<String>,
    /// `--reps N`: repetitions (default [`REPS`]).
    reps: usize,
}

/// The usage text.
const USAGE: &str = "\
usage: atasker-bench [--quick | --scale N] [--only W1..W9] [--json PATH] [--plot FILE.svg]
                     [--instructions] [--side atasker|baseline|both | --subject NAME]
                     [--reps N]

  --quick          every workload at a tenth of its size (a smoke test; --scale 10)
  --scale N        every size divided by N
  --only Wn        run one workload
  --json PATH      also write every figure and ratio as JSON
  --plot FILE.svg  also draw the ratios (and instruction counts) as an SVG picture
  --instructions   also count instructions per task of W1, W2, W3 and W5 under
                   valgrind's callgrind (needs valgrind; takes minutes)
  --side S         measure only atasker or only the baselines (for profiling)
  --subject NAME   measure only that subject, e.g. baseline:rayon_spawn, atasker:async
  --reps N         repetitions per workload (default 3; the median is reported)

Exit status: 0; 1 if W8 finds a priority inversion, W9 fails (it needs redis-server), an
instruction count fails or a file cannot be written; 2 on bad arguments.";

/// Parses `std::env::args`; `Err` carries the message for stderr.
fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        scale: 1,
        only: None,
        json: None,
        plot: None,
        instructions: false,
        side: Side::Both,
        subject: None,
        reps: REPS,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => args.scale = 10,
            "--scale" => {
                args.scale = value("--scale")?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--scale needs a positive number")?;
            }
            "--plot" => args.plot = Some(PathBuf::from(value("--plot")?)),
            "--instructions" => args.instructions = true,
            "--subject" => args.subject = Some(value("--subject")?),
            "--only" => {
                let w = value("--only")?.to_ascii_uppercase();
                if !WORKLOADS.iter().any(|(id, _)| *id == w) {
                    return Err(format!("unknown workload {w}; expected W1..W9"));
                }
                args.only = Some(w);
            }
            "--json" => args.json = Some(PathBuf::from(value("--json")?)),
            "--side" => {
                args.side = match value("--side")?.as_str() {
                    "atasker" => Side::Atasker,
                    "baseline" => Side::Baseline,
                    "both" => Side::Both,
                    s => return Err(format!("unknown side {s}")),
                }
            }
            "--reps" => {
                args.reps = value("--reps")?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--reps needs a positive number")?;
            }
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    // One subject is measured on its side.
    if let Some(name) = &args.subject {
        args.side = if name == "atasker" || name.starts_with("atasker:") {
            Side::Atasker
        } else if name.starts_with("baseline:") {
            Side::Baseline
        } else {
            return Err(format!(
                "unknown subject {name}; expected atasker, atasker:<variant> or baseline:<name>"
            ));
        };
    }
    Ok(args)
}

/// The helper-child entry points, chosen by the value of [`CHILD_ENV`].
fn child_main(kind: &str) -> ExitCode {
    match kind {
        "w2-echo" => w2::echo_child(),
        "w9-echo" => w9::echo_child(),
        k if k.starts_with("w6-") => w6::child(&k[3..]),
        _ => {
            eprintln!("atasker-bench: unknown child kind {kind}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    if let Ok(kind) = std::env::var(CHILD_ENV) {
        return child_main(&kind);
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            if msg.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("atasker-bench: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.instructions {
        if let Err(msg) = instructions::check_valgrind() {
            eprintln!("atasker-bench: {msg}");
            return ExitCode::FAILURE;
        }
    }
    let cfg = Config {
        scale: args.scale,
        reps: args.reps,
        side: args.side,
        subject: args.subject,
    };
    let mut figures: Vec<Figure> = Vec::new();
    for (id, run) in WORKLOADS {
        if args.only.as_deref().is_some_and(|o| o != id) {
            continue;
        }
        let mut out = Collector::new(id);
        run(&cfg, &mut out);
        for f in out.finish() {
            println!("{f}");
            figures.push(f);
        }
    }
    let mut failures = Vec::new();
    if args.instructions {
        let (counts, errors) = instructions::run(cfg.scale, args.only.as_deref());
        for f in &counts {
            println!(
                "instructions {} {} {} {}",
                f.subject,
                f.workload,
                harness::number(f.value),
                f.unit
            );
        }
        figures.extend(counts);
        failures.extend(
            errors
                .into_iter()
                .map(|e| format!("instruction count of {e}")),
        );
    }
    let ratios = harness::ratios(&figures);
    for r in &ratios {
        println!("{r}");
    }
    if let Some(path) = &args.json {
        if let Err(e) = harness::write_json(path, &figures, &ratios) {
            failures.push(format!("cannot write {}: {e}", path.display()));
        }
    }
    if let Some(path) = &args.plot {
        if let Err(e) = plot::write_svg(path, &figures, &ratios) {
            failures.push(format!("cannot draw {}: {e}", path.display()));
        }
    }
    failures.extend(
        [w8::verdict(&figures), w9::verdict()]
            .into_iter()
            .filter_map(Result::err),
    );
    for msg in &failures {
        eprintln!("atasker-bench: {msg}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

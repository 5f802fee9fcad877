//! Repetitions, medians, ratios and the output formats.

use serde::Serialize;
use std::fmt;
use std::path::Path;

/// Which side(s) of a workload to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// atasker and its baseline (the benchmark proper).
    Both,
    /// atasker only (for profiling).
    Atasker,
    /// The baseline only (for profiling).
    Baseline,
}

/// How a workload is run.
#[derive(Debug)]
pub(crate) struct Config {
    /// Every size is divided by this: 1 for a full run, 10 for `--quick`.
    pub(crate) scale: usize,
    /// Repetitions per workload.
    pub(crate) reps: usize,
    /// Which side(s) to measure.
    pub(crate) side: Side,
    /// `--subject NAME`: of that side, measure only the subject `NAME` (in a workload with
    /// several, such as W1's two baselines).
    pub(crate) subject: Option<String>,
}

impl Config {
    /// `n` divided by the scale (at least 1): a tenth of it with `--quick`.
    pub(crate) fn size(&self, n: usize) -> usize {
        (n / self.scale).max(1)
    }

    /// `full`, or `quick` in a scaled-down run (for durations that do not scale by ten).
    pub(crate) fn pick<T>(&self, full: T, quick: T) -> T {
        if self.scale > 1 {
            quick
        } else {
            full
        }
    }

    /// Whether the subject `name` is measured: always, unless `--subject` names another.
    /// Only workloads with several subjects on one side need to ask; the side itself is
    /// chosen by [`Config::order`].
    pub(crate) fn measures(&self, name: &str) -> bool {
        self.subject.as_deref().is_none_or(|s| s == name)
    }

    /// The sides to measure in repetition `rep`, in order: atasker and the baseline take
    /// turns going first, so that warm caches or a noisy neighbour do not favour one.
    pub(crate) fn order(&self, rep: usize) -> Vec<Subject> {
        let mut v = match self.side {
            Side::Both => vec![Subject::Atasker, Subject::Baseline],
            Side::Atasker => vec![Subject::Atasker],
            Side::Baseline => vec![Subject::Baseline],
        };
        if rep % 2 == 1 {
            v.reverse();
        }
        v
    }

    /// Whether `s` is measured at all.
    pub(crate) fn wants(&self, s: Subject) -> bool {
        matches!(
            (self.side, s),
            (Side::Both, _)
                | (Side::Atasker, Subject::Atasker)
                | (Side::Baseline, Subject::Baseline)
        )
    }
}

/// One side of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    /// The library under test.
    Atasker,
    /// The plain baseline named for the workload.
    Baseline,
}

/// How the repetitions of one figure are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Agg {
    /// The median (every measurement).
    Median,
    /// The worst (largest) value: for must-be-zero checks such as W8's inversions.
    Max,
}

/// One figure as printed and written to JSON.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Figure {
    /// `atasker`, `atasker:<variant>` or `baseline:<name>`.
    pub(crate) subject: String,
    /// `W1`…`W9`.
    pub(crate) workload: &'static str,
    /// `throughput`, `roundtrip_p50`, …
    pub(crate) metric: &'static str,
    /// The value (the median over the repetitions).
    pub(crate) value: f64,
    /// `tasks/s`, `us`, `ms`, `MiB`, `s`, `count`, …
    pub(crate) unit: &'static str,
    /// The value of each repetition, in order (for paired ratios; not printed).
    #[serde(skip)]
    pub(crate) reps: Vec<f64>,
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            self.subject,
            self.workload,
            self.metric,
            number(self.value),
            self.unit
        )
    }
}

/// One ratio: atasker ÷ baseline (baseline ÷ atasker for throughputs); below 1 is better.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Ratio {
    /// `W1`…`W9`.
    pub(crate) workload: &'static str,
    /// The baseline's subject, `baseline:<name>`.
    pub(crate) baseline: String,
    /// The metric both figures share.
    pub(crate) metric: &'static str,
    /// The ratio.
    pub(crate) ratio: f64,
    /// Not the workload's first baseline for this metric: printed `W1:<name>`.
    #[serde(skip)]
    pub(crate) qualified: bool,
}

impl Ratio {
    /// `W1` against the workload's first baseline, `W1:<name>` against any further one.
    pub(crate) fn label(&self) -> String {
        match (self.qualified, self.baseline.strip_prefix("baseline:")) {
            (true, Some(name)) => format!("{}:{name}", self.workload),
            _ => self.workload.to_owned(),
        }
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ratio {} {} {:.2}",
            self.label(),
            self.metric,
            self.ratio
        )
    }
}

/// A value with about four significant digits and no exponent.
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else {
        // Four significant digits below 1.
        let digits = 3 - a.log10().floor() as i32;
        format!("{v:.*}", digits.clamp(3, 9) as usize)
    }
}

/// One figure's values across the repetitions.
struct Row {
    /// As in [`Figure::subject`].
    subject: String,
    /// As in [`Figure::metric`].
    metric: &'static str,
    /// As in [`Figure::unit`].
    unit: &'static str,
    /// How the values combine.
    agg: Agg,
    /// One value per repetition.
    values: Vec<f64>,
}

/// Gathers one workload's measurements over its repetitions.
pub(crate) struct Collector {
    /// The workload id.
    workload: &'static str,
    /// Figures in first-seen order.
    rows: Vec<Row>,
}

impl Collector {
    /// An empty collector for `workload`.
    pub(crate) fn new(workload: &'static str) -> Self {
        Collector {
            workload,
            rows: Vec::new(),
        }
    }

    /// Records one repetition's value of a figure (combined by the median).
    pub(crate) fn add(
        &mut self,
        subject: &str,
        metric: &'static str,
        value: f64,
        unit: &'static str,
    ) {
        self.add_agg(subject, metric, value, unit, Agg::Median);
    }

    /// Records one repetition's value of a figure, combined by `agg`.
    pub(crate) fn add_agg(
        &mut self,
        subject: &str,
        metric: &'static str,
        value: f64,
        unit: &'static str,
        agg: Agg,
    ) {
        eprintln!(
            "  [{}] {subject} {metric} {} {unit}",
            self.workload,
            number(value)
        );
        match self
            .rows
            .iter_mut()
            .find(|r| r.subject == subject && r.metric == metric)
        {
            Some(r) => r.values.push(value),
            None => self.rows.push(Row {
                subject: subject.to_owned(),
                metric,
                unit,
                agg,
                values: vec![value],
            }),
        }
    }

    /// The combined figures.
    pub(crate) fn finish(self) -> Vec<Figure> {
        let workload = self.workload;
        self.rows
            .into_iter()
            .map(|r| Figure {
                value: match r.agg {
                    Agg::Median => crate::util::median(&mut r.values.clone()),
                    Agg::Max => r.values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                },
                subject: r.subject,
                workload,
                metric: r.metric,
                unit: r.unit,
                reps: r.values,
            })
            .collect()
    }
}

/// Whether larger is better for figures in `unit` (throughputs).
fn is_rate(unit: &str) -> bool {
    unit.ends_with("/s")
}

/// The ratio block: for each figure of subject `atasker`, one ratio per `baseline:*` figure of
/// the same workload and metric, in the order the baselines were first reported (counts
/// excluded: they are checks, not costs). The first is printed `ratio W1 …`, any further one
/// `ratio W1:<name> …`.
///
/// Each ratio is the median of the per-repetition ratios: in every repetition the two sides
/// run back to back, so a noisy neighbour slows both and cancels out of their ratio, while a
/// ratio of the two medians could pair a quiet repetition of one side with a noisy one of
/// the other. (Without paired repetitions, e.g. `--side`, it falls back to the medians.)
pub(crate) fn ratios(figures: &[Figure]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for a in figures.iter().filter(|f| f.subject == "atasker") {
        if a.unit == "count" {
            continue;
        }
        let baselines = figures.iter().filter(|b| {
            b.subject.starts_with("baseline:") && b.workload == a.workload && b.metric == a.metric
        });
        for (i, b) in baselines.enumerate() {
            out.push(Ratio {
                workload: a.workload,
                baseline: b.subject.clone(),
                metric: a.metric,
                ratio: paired_ratio(a, b),
                qualified: i > 0,
            });
        }
    }
    out
}

/// atasker `a` ÷ baseline `b` (the inverse for rates): the median of the per-repetition
/// ratios, or the ratio of the medians when the repetitions do not pair up.
fn paired_ratio(a: &Figure, b: &Figure) -> f64 {
    let rate = is_rate(a.unit);
    let ratio_of = |x: f64, y: f64| if rate { y / x } else { x / y };
    if a.reps.len() == b.reps.len() && !a.reps.is_empty() {
        let mut per_rep: Vec<f64> = a
            .reps
            .iter()
            .zip(&b.reps)
            .map(|(&x, &y)| ratio_of(x, y))
            .collect();
        crate::util::median(&mut per_rep)
    } else {
        ratio_of(a.value, b.value)
    }
}

/// The JSON document of `--json`.
#[derive(Serialize)]
struct Report<'a> {
    /// Every figure.
    figures: &'a [Figure],
    /// Every ratio.
    ratios: &'a [Ratio],
}

/// Writes `{"figures": […], "ratios": […]}` to `path`.
pub(crate) fn write_json(path: &Path, figures: &[Figure], ratios: &[Ratio]) -> std::io::Result<()> {
    let text =
        serde_json::to_string_pretty(&Report { figures, ratios }).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

//! `--plot FILE.svg`: the run's ratios as a picture.
//!
//! The upper chart has one group of horizontal bars per workload metric (`W1 throughput`,
//! `W1 instructions`, …) and one bar per baseline, drawn from the 1.0 line ("as good as the
//! baseline") on a logarithmic axis, so that 0.5 and 2 are as far from it: a bar to the left
//! means atasker did better. When `--instructions` ran, a lower chart shows the instructions
//! per task (call, item) of every subject. Colours follow the subject in both.

use crate::harness::{number, Figure, Ratio};
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::error::Error;
use std::path::Path;

/// Width of the picture in pixels.
const WIDTH: u32 = 1100;

/// Pixels per bar.
const ROW: u32 = 24;

/// Pixels around a chart: title, axis labels, margins.
const FRAME: u32 = 130;

/// Pixels right of a chart, for its legend.
const LEGEND: u32 = 240;

/// Bar colours (Tableau 10); atasker's is the first.
const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(89, 161, 79),
    RGBColor(225, 87, 89),
    RGBColor(176, 122, 161),
    RGBColor(118, 183, 178),
    RGBColor(237, 201, 72),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];

/// A fallible drawing step.
type Drawn = Result<(), Box<dyn Error>>;

/// One bar: its group's label, the subject it stands for, its value.
struct Bar {
    /// `W1 throughput`; bars with the same group are drawn together.
    group: String,
    /// The subject whose colour and legend entry the bar takes.
    subject: String,
    /// The length of the bar.
    value: f64,
}

/// Writes the picture of `figures` and `ratios` to `path` as SVG.
pub(crate) fn write_svg(path: &Path, figures: &[Figure], ratios: &[Ratio]) -> Result<(), String> {
    draw(path, figures, ratios).map_err(|e| e.to_string())
}

/// [`write_svg`], with plotters' errors.
fn draw(path: &Path, figures: &[Figure], ratios: &[Ratio]) -> Drawn {
    let ratio_bars: Vec<Bar> = ratios
        .iter()
        .map(|r| Bar {
            group: format!("{} {}", r.workload, r.metric),
            subject: r.baseline.clone(),
            value: r.ratio,
        })
        .collect();
    let count_bars: Vec<Bar> = figures
        .iter()
        .filter(|f| f.metric == "instructions")
        .map(|f| Bar {
            group: format!("{} ({})", f.workload, f.unit),
            subject: f.subject.clone(),
            value: f.value,
        })
        .collect();
    // Every subject in order of appearance, atasker first: the index picks the colour.
    let mut subjects = vec!["atasker".to_owned()];
    for b in ratio_bars.iter().chain(&count_bars) {
        if !subjects.contains(&b.subject) {
            subjects.push(b.subject.clone());
        }
    }
    let upper = height(&ratio_bars);
    let lower = if count_bars.is_empty() {
        0
    } else {
        height(&count_bars)
    };
    let root = SVGBackend::new(path, (WIDTH, upper + lower)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(upper);
    ratio_chart(&top, &ratio_bars, &subjects)?;
    if !count_bars.is_empty() {
        count_chart(&bottom, &count_bars, &subjects)?;
    }
    root.present()?;
    Ok(())
}

/// Vertical units per bar (the y axis counts in whole units).
const UNIT: i32 = 10;

/// Half a bar's thickness, in [`UNIT`]s (the rest of a row is space).
const HALF_BAR: i32 = UNIT * 2 / 5;

/// The height of a chart of `bars`: a row per bar, half a row between groups.
fn height(bars: &[Bar]) -> u32 {
    let (_, span) = layout(bars);
    FRAME + span.unsigned_abs() * ROW / UNIT.unsigned_abs()
}

/// Each bar's middle, from the top (groups top-down, half a bar apart), and the total span,
/// in [`UNIT`]s per bar.
fn layout(bars: &[Bar]) -> (Vec<i32>, i32) {
    let mut ys = Vec::with_capacity(bars.len());
    let mut y = 0;
    for (i, b) in bars.iter().enumerate() {
        if i > 0 && bars[i - 1].group != b.group {
            y += UNIT / 2;
        }
        ys.push(y + UNIT / 2);
        y += UNIT;
    }
    (ys, y.max(UNIT))
}

/// The groups' labels, each at the middle of its bars (in chart coordinates: upward).
fn group_ticks(bars: &[Bar], ys: &[i32], span: i32) -> Vec<(i32, String)> {
    let mut ticks: Vec<(i32, i32, String)> = Vec::new();
    for (b, &y) in bars.iter().zip(ys) {
        match ticks.last_mut() {
            Some((_, last, g)) if *g == b.group => *last = y,
            _ => ticks.push((y, y, b.group.clone())),
        }
    }
    ticks
        .into_iter()
        .map(|(first, last, g)| (span - (first + last) / 2, g))
        .collect()
}

/// The colour of `subject` (its index in `subjects`).
fn colour(subject: &str, subjects: &[String]) -> RGBColor {
    let i = subjects.iter().position(|s| s == subject).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// What a chart says besides its bars.
struct Panel {
    /// The caption.
    title: &'static str,
    /// The x axis's description.
    x_desc: &'static str,
    /// Where the bars start.
    base: f64,
    /// A bar's value as printed beside it.
    label: fn(f64) -> String,
    /// A subject's legend entry.
    legend: fn(&str) -> String,
}

/// The drawing area of one chart.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws `bars` as horizontal bars from `panel.base` on an x axis built by `x`, one legend
/// entry per subject, each bar labelled with its value.
fn bars_chart<X>(area: &Area<'_>, panel: &Panel, x: X, bars: &[Bar], subjects: &[String]) -> Drawn
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let (ys, span) = layout(bars);
    let ticks = group_ticks(bars, &ys, span);
    let keys: Vec<i32> = ticks.iter().map(|(y, _)| *y).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 20))
        .margin(12)
        .margin_right(LEGEND)
        .x_label_area_size(40)
        .y_label_area_size(190)
        .build_cartesian_2d(x, (0..span).with_key_points(keys))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| format!("{v}"))
        .x_desc(panel.x_desc)
        .axis_desc_style(("sans-serif", 15))
        .label_style(("sans-serif", 14))
        .y_label_formatter(&|y| {
            ticks
                .iter()
                .find(|(t, _)| t == y)
                .map(|(_, g)| g.clone())
                .unwrap_or_default()
        })
        .draw()?;
    let text = TextStyle::from(("sans-serif", 12).into_font());
    let base = panel.base;
    for subject in subjects {
        let mine: Vec<(f64, i32)> = bars
            .iter()
            .zip(&ys)
            .filter(|(b, _)| &b.subject == subject)
            .map(|(b, y)| (b.value, span - y))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let c = colour(subject, subjects);
        chart.draw_series(mine.iter().map(|&(v, y)| {
            Rectangle::new([(base, y - HALF_BAR), (v, y + HALF_BAR)], c.filled())
        }))?;
        chart.draw_series(mine.iter().map(|&(v, y)| {
            // The value just past the bar's end, on the side it grows to.
            let (dx, h) = if v >= base {
                (4, HPos::Left)
            } else {
                (-4, HPos::Right)
            };
            EmptyElement::at((v, y))
                + Text::new(
                    (panel.label)(v),
                    (dx, 0),
                    text.clone().pos(Pos::new(h, VPos::Center)),
                )
        }))?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(base, 0), (base, span)],
        BLACK.stroke_width(1),
    )))?;
    // The legend right of the bars, never over them: a swatch and a name per subject
    // present, in pixels of the whole area.
    let x = (area.dim_in_pixel().0 - LEGEND + 24) as i32;
    let shown = subjects
        .iter()
        .filter(|s| bars.iter().any(|b| &b.subject == *s));
    let style = TextStyle::from(("sans-serif", 13).into_font());
    let style = style.pos(Pos::new(HPos::Left, VPos::Center));
    for (i, subject) in shown.enumerate() {
        let y = 50 + 22 * i as i32;
        let c = colour(subject, subjects);
        area.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()))?;
        area.draw(&Text::new(
            (panel.legend)(subject),
            (x + 20, y),
            style.clone(),
        ))?;
    }
    Ok(())
}

/// The ratios, log scale around 1.
fn ratio_chart(area: &Area<'_>, bars: &[Bar], subjects: &[String]) -> Drawn {
    let lo = bars.iter().map(|b| b.value).fold(1.0, f64::min) / 1.6;
    let hi = bars.iter().map(|b| b.value).fold(1.0, f64::max) * 1.6;
    let within = |ks: &[f64]| -> Vec<f64> {
        ks.iter()
            .copied()
            .filter(|k| (lo..=hi).contains(k))
            .collect()
    };
    // 1-2-5 steps, or finer ones when those leave fewer than four ticks.
    let mut keys = within(&[
        0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
    ]);
    if keys.len() < 4 {
        keys = within(&[0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0]);
    }
    let title = if bars.is_empty() {
        "atasker against its baselines: no ratio in this run"
    } else {
        "atasker against its baselines"
    };
    let panel = Panel {
        title,
        x_desc: "ratio, log scale: atasker ÷ baseline (rates: baseline ÷ atasker); \
                 below 1 = atasker better",
        base: 1.0,
        label: |v| format!("{v:.2}"),
        legend: |b| format!("atasker ÷ {}", b.trim_start_matches("baseline:")),
    };
    bars_chart(
        area,
        &panel,
        (lo..hi).log_scale().with_key_points(keys),
        bars,
        subjects,
    )
}

/// The instructions per task (call, item) of every subject, linear from 0.
fn count_chart(area: &Area<'_>, bars: &[Bar], subjects: &[String]) -> Drawn {
    let hi = bars.iter().map(|b| b.value).fold(1.0, f64::max) * 1.25;
    let panel = Panel {
        title: "instructions per task under callgrind (main process; fewer is better)",
        x_desc: "instructions per task, call or item",
        base: 0.0,
        label: number,
        legend: str::to_owned,
    };
    bars_chart(area, &panel, 0.0..hi, bars, subjects)
}

//! The pictures of `score`, drawn as the run's other pictures are (plotters, atomic PNGs):
//!
//! - `scores.png`: histograms of the normal and the anomalous samples' scores (or of all,
//!   without labels) over the same bins, counts on a log scale, and the threshold;
//! - `roc.png`: the ROC curve, its AUROC in the legend, beside chance's diagonal;
//! - `worst.png`: the highest-scoring samples above their reconstructions (rows: both as
//!   lines in one panel), each headed by its class and score.

use std::path::Path;

use plotters::prelude::*;

use crate::data::{Layout, Shape};
use crate::error::{Error, Result};
use crate::native::plots::{
    draw_error, drawing_failed, fit_text, line_legend, line_legend_width, panel, picture, sample,
    Cells, Line, Source, COLOURS, FONT,
};
use crate::ops::ScoreKind;

/// Bins of the histograms.
const BINS: usize = 60;
/// The normal samples' colour and the anomalies'.
const NORMAL: RGBColor = COLOURS[0];
const ANOMALOUS: RGBColor = COLOURS[3];

/// Counts of `scores` in `BINS` equal bins over [lo, hi].
fn counts(scores: impl Iterator<Item = f32>, lo: f64, hi: f64) -> Vec<usize> {
    let mut bins = vec![0usize; BINS];
    let width = (hi - lo) / BINS as f64;
    for s in scores.map(f64::from).filter(|s| s.is_finite()) {
        let k = (((s - lo) / width).floor().max(0.0) as usize).min(BINS - 1);
        bins[k] += 1;
    }
    bins
}

/// `scores.png`: the scores' histograms, normal and anomalous apart where `anomalous`
/// says which is which, on a log scale of counts, with the threshold as a line.
pub fn histogram(
    path: &Path,
    scores: &[f32],
    anomalous: Option<&[bool]>,
    threshold: f64,
    kind: ScoreKind,
) -> Result<()> {
    let finite: Vec<f64> = scores
        .iter()
        .map(|&s| s as f64)
        .filter(|s| s.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(Error::Other(format!(
            "{}: no finite scores to draw",
            path.display()
        )));
    }
    let lo = finite
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(threshold);
    let hi = finite
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
        .max(threshold);
    let pad = ((hi - lo) * 0.02).max(1e-9 * hi.abs().max(1.0));
    let (lo, hi) = (lo - pad, hi + pad);
    let series: Vec<(&str, RGBColor, Vec<usize>)> = match anomalous {
        Some(a) => {
            let pick = |want: bool| {
                scores
                    .iter()
                    .zip(a)
                    .filter(move |(_, &x)| x == want)
                    .map(|(&s, _)| s)
            };
            vec![
                ("normal", NORMAL, counts(pick(false), lo, hi)),
                ("anomalous", ANOMALOUS, counts(pick(true), lo, hi)),
            ]
        }
        None => vec![(
            "all samples",
            NORMAL,
            counts(scores.iter().copied(), lo, hi),
        )],
    };
    // Counts drawn as log10 on a linear axis, labelled with the counts; a bar stands from
    // below 1 so that a count of one shows.
    let top = series
        .iter()
        .flat_map(|(_, _, c)| c.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let floor = -0.3;
    picture(path, (900, 560), |area| {
        let e = |e| draw_error(path, e);
        let caption = format!("Scores: {}", kind.describe());
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(lo..hi, floor..(top.log10() + 0.3))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("score (higher: more anomalous)")
            .y_desc("samples (log scale)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(240, 240, 240))
            .y_label_formatter(&|v| match *v >= 0.0 {
                true => format!("{:.0}", 10f64.powf(*v)),
                false => String::new(),
            })
            .draw()
            .map_err(e)?;
        let width = (hi - lo) / BINS as f64;
        for (name, colour, bins) in &series {
            let bars = bins
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(k, &c)| {
                    let x0 = lo + k as f64 * width;
                    Rectangle::new(
                        [(x0, floor), (x0 + width, (c as f64).log10())],
                        colour.mix(0.55).filled(),
                    )
                });
            let colour = *colour;
            chart
                .draw_series(bars)
                .map_err(e)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 16, y + 5)], colour.mix(0.55).filled())
                });
        }
        let line = [(threshold, floor), (threshold, top.log10() + 0.3)];
        chart
            .draw_series(LineSeries::new(line, BLACK.stroke_width(2)))
            .map_err(e)?
            .label(format!("threshold {threshold:.4}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(e)
    })
}

/// `roc.png`: the true-positive rate against the false-positive rate as the threshold
/// falls, with the AUROC in the legend and chance's diagonal.
pub fn roc(path: &Path, points: &[(f64, f64)], auroc: f64) -> Result<()> {
    if points.len() < 2 {
        return Err(Error::Other(format!(
            "{}: no curve to draw",
            path.display()
        )));
    }
    picture(path, (640, 600), |area| {
        let e = |e| draw_error(path, e);
        let mut chart = ChartBuilder::on(area)
            .caption("ROC curve", (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("false-positive rate (normal samples flagged)")
            .y_desc("true-positive rate (anomalies flagged)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(e)?;
        let grey = RGBColor(160, 160, 160);
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                grey.stroke_width(1),
            ))
            .map_err(e)?
            .label("chance (AUROC 0.5)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey.stroke_width(1)));
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                NORMAL.stroke_width(3),
            ))
            .map_err(e)?
            .label(format!("AUROC {auroc:.4}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], NORMAL.stroke_width(3)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(e)
    })
}

/// What `worst.png` shows: the highest-scoring samples, highest first.
pub struct Worst<'a> {
    pub shape: Shape,
    pub classes: &'a [String],
    pub inputs: &'a [f32],
    pub rebuilt: &'a [f32],
    pub labels: Option<&'a [u32]>,
    pub scores: &'a [f32],
    pub threshold: f64,
    pub kind: ScoreKind,
}

/// Samples a row of `worst.png` holds.
const ACROSS: usize = 10;
/// Room above each sample for its class and score.
const HEAD: usize = 34;
const LABEL_WIDTH: usize = 130;

/// `worst.png`: the highest-scoring samples in rows of ten, each headed by its class and
/// score; images above their reconstructions, rows as both lines in one panel.
pub fn worst(path: &Path, w: &Worst) -> Result<()> {
    let elements = w.shape.elements().max(1);
    let count = w.scores.len().min(w.inputs.len() / elements);
    if count == 0 {
        return Err(Error::Other(format!(
            "{}: no samples to draw",
            path.display()
        )));
    }
    let groups = count.div_ceil(ACROSS);
    let images = w.shape.layout == Layout::Images;
    // Images take two cells down (input, reconstruction); rows one panel.
    let per = if images { 2 } else { 1 };
    let drawn = w.inputs.iter().chain(w.rebuilt).copied();
    let cells = Cells::new(
        w.shape,
        (ACROSS, groups * per),
        (LABEL_WIDTH + 20, 90 + groups * HEAD),
        drawn,
    );
    let (step_x, step_y) = cells.step();
    let left = LABEL_WIDTH + cells.ticks_width();
    let group_h = HEAD + per * step_y + 10;
    let title_h = 64;
    let width = (left + ACROSS * step_x + 12).max(640);
    let height = title_h + groups * group_h + 8;
    picture(path, (width, height), |area| {
        let e = |e| draw_error(path, e);
        let title = format!(
            "The {count} highest scores ({}), each above its reconstruction",
            w.kind.name()
        );
        area.draw(&Text::new(title, (10, 10), (FONT, 20).into_font()))
            .map_err(e)?;
        let subtitle = format!(
            "threshold {:.4}: scores above it are flagged (red)",
            w.threshold
        );
        let grey = (FONT, 14).into_font().color(&RGBColor(90, 90, 90));
        area.draw(&Text::new(subtitle, (10, 36), grey)).map_err(e)?;
        if !images {
            let entries = [
                (Source::Input.name(), Source::Input.colour()),
                (Source::Rebuilt.name(), Source::Rebuilt.colour()),
            ];
            let names: Vec<&str> = entries.iter().map(|(n, _)| *n).collect();
            let x = width.saturating_sub(line_legend_width(&names) + 10) as i32;
            line_legend(area, (x, 12), &entries)?;
        }
        for g in 0..groups {
            let top = title_h + g * group_h;
            if images {
                for (r, name) in ["input", "reconstruction"].iter().enumerate() {
                    let y = (top + HEAD + r * step_y + cells.size.1 / 2) as i32 - 8;
                    let style = (FONT, 15).into_font().color(&BLACK);
                    area.draw(&Text::new(*name, (8, y), style))
                        .map_err(drawing_failed)?;
                }
            } else {
                cells.draw_ticks(area, (left as i32, (top + HEAD) as i32))?;
            }
            for c in 0..ACROSS {
                let i = g * ACROSS + c;
                if i >= count {
                    break;
                }
                let x = (left + c * step_x) as i32;
                let score = w.scores[i];
                let class = w
                    .labels
                    .and_then(|l| l.get(i))
                    .map(|&l| crate::pictures::class_name(w.classes, l))
                    .unwrap_or_default();
                let flagged = crate::anomaly::flagged(score, w.threshold);
                let colour = if flagged { ANOMALOUS } else { BLACK };
                let most = step_x.saturating_sub(2);
                let style = (FONT, 13).into_font().color(&colour);
                area.draw(&Text::new(
                    fit_text(&class, 13.0, most),
                    (x, top as i32),
                    style.clone(),
                ))
                .map_err(drawing_failed)?;
                area.draw(&Text::new(
                    fit_text(&format!("{score:.4}"), 13.0, most),
                    (x, top as i32 + 15),
                    style,
                ))
                .map_err(drawing_failed)?;
                let input = sample(w.inputs, i, elements)
                    .ok_or_else(|| draw_error(path, "a sample is missing"))?;
                let rebuilt = sample(w.rebuilt, i, elements)
                    .ok_or_else(|| draw_error(path, "a reconstruction is missing"))?;
                let y = (top + HEAD) as i32;
                match images {
                    true => {
                        cells.draw(area, input, (x, y))?;
                        cells.draw(area, rebuilt, (x, y + step_y as i32))?;
                    }
                    false => {
                        let lines = [
                            Line {
                                values: input,
                                style: Source::Input.colour().stroke_width(1),
                            },
                            Line {
                                values: rebuilt,
                                style: Source::Rebuilt.colour().stroke_width(1),
                            },
                        ];
                        panel(area, (x, y), cells.size, cells.y, &lines)?;
                    }
                }
            }
        }
        Ok(())
    })
}

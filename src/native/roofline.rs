//! Pictures of kernel speed: the roofline (each kernel at its arithmetic intensity and
//! achieved GFLOP/s, under the card's two measured ceilings, log-log), and ours beside
//! PyTorch's time per op. Drawn with plotters into a bitmap, text through ab_glyph with
//! the DejaVu font the `dejavu` crate bundles (no system fonts needed), encoded as PNG
//! and written atomically.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plots::FONT;
use crate::bench::ladder::LadderRow;
use crate::error::{Error, Result};
use crate::peaks::Peaks;

/// One kernel on the roofline.
#[derive(Clone, Debug)]
pub struct Point {
    pub label: String,
    /// FLOP per byte.
    pub intensity: f64,
    pub gflops: f64,
}

/// One op of a comparison: our time and the peer's, in milliseconds.
#[derive(Clone, Debug)]
pub struct Pair {
    pub label: String,
    pub ours_ms: f64,
    pub peer_ms: f64,
}

const INK: RGBColor = RGBColor(40, 40, 40);
const OURS: RGBColor = RGBColor(31, 119, 180);
const PEER: RGBColor = RGBColor(255, 127, 14);
const CEILING: RGBColor = RGBColor(200, 40, 40);

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("drawing {}: {e}", path.display()))
}

/// Renders `draw` into a white picture of this size and writes it atomically, as a PNG or
/// a JPEG by its extension (`plots::picture`, which every picture goes through).
fn save_picture(
    path: &Path,
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    super::plots::picture(path, (width as usize, height as usize), draw)
}

/// Powers of ten around `lo..hi`, so that log axes start and end on a decade; `None`
/// unless both ends are positive and finite, as a log axis (and the loop that marks its
/// decades) needs.
fn decades(lo: f64, hi: f64) -> Option<(f64, f64)> {
    let ends = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    let fine = |v: f64| v.is_finite() && v > 0.0;
    (fine(ends.0) && fine(ends.1) && ends.0 < ends.1).then_some(ends)
}

/// `decades`, or an error naming the picture.
fn log_axis(path: &Path, what: &str, lo: f64, hi: f64) -> Result<(f64, f64)> {
    decades(lo, hi).ok_or_else(|| {
        plot_error(
            path,
            format!("{what} from {lo:e} to {hi:e} cannot be drawn on a log axis"),
        )
    })
}

/// "1e3" → "1000", "1e-2" → "0.01": tick labels for log axes.
fn tick(v: f64) -> String {
    if (1e-3..1e6).contains(&v.abs()) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// Draws the roofline: the memory ceiling (bandwidth × intensity) up to the ridge, the
/// FMA ceiling beyond it, and every point numbered, with a key of the numbers beside the
/// chart. Points without arithmetic (a copy) have no place on log axes; the key lists
/// them apart.
pub fn draw_roofline(path: &Path, title: &str, peaks: &Peaks, points: &[Point]) -> Result<()> {
    peaks
        .check()
        .map_err(|why| plot_error(path, format!("the roofline needs the card's peaks: {why}")))?;
    let drawable: Vec<(usize, &Point)> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| has_place(p))
        .collect();
    let key_lines = points.len() + 4;
    let height = (140 + 17 * key_lines as u32).max(720);
    let size = (1640, height);
    let ridge = peaks.ridge();
    let (x_lo, x_hi) = log_axis(
        path,
        "intensities",
        drawable
            .iter()
            .map(|(_, p)| p.intensity)
            .fold(ridge, f64::min)
            / 2.0,
        drawable
            .iter()
            .map(|(_, p)| p.intensity)
            .fold(ridge, f64::max)
            * 2.0,
    )?;
    let (y_lo, y_hi) = log_axis(
        path,
        "rates",
        drawable
            .iter()
            .map(|(_, p)| p.gflops)
            .fold(peaks.attainable(x_lo), f64::min)
            / 2.0,
        peaks.fma_gflops * 2.0,
    )?;
    save_picture(path, size, |root| {
        let e = |e| plot_error(path, e);
        let body = root
            .titled(title, (FONT, 20).into_font().color(&INK))
            .map_err(e)?;
        let (chart_area, key_area) = body.split_horizontally(1000);
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (FLOP / byte of minimum traffic)")
            .y_desc("GFLOP/s")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT, 14).into_font().color(&INK))
            .axis_desc_style((FONT, 16).into_font().color(&INK))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        let memory = [(x_lo, peaks.attainable(x_lo)), (ridge, peaks.fma_gflops)];
        let compute = [(ridge, peaks.fma_gflops), (x_hi, peaks.fma_gflops)];
        let legend = |color: RGBColor| {
            move |(x, y): (i32, i32)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
        };
        chart
            .draw_series(LineSeries::new(memory, CEILING.stroke_width(3)))
            .map_err(e)?
            .label(format!(
                "memory: {:.2} GB/s × intensity (best of copy and read-reduce)",
                peaks.bandwidth_gbps()
            ))
            .legend(legend(CEILING));
        chart
            .draw_series(LineSeries::new(compute, PEER.stroke_width(3)))
            .map_err(e)?
            .label(format!(
                "fp32 FMA peak: {:.2} GFLOP/s (ridge at {ridge:.2} FLOP/byte)",
                peaks.fma_gflops
            ))
            .legend(legend(PEER));
        chart
            .draw_series(
                drawable
                    .iter()
                    .map(|(_, p)| Circle::new((p.intensity, p.gflops), 5, OURS.filled())),
            )
            .map_err(e)?
            .label("a kernel, numbered as in the key")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, OURS.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 14).into_font().color(&INK))
            .background_style(WHITE.mix(0.9))
            .border_style(INK)
            .draw()
            .map_err(e)?;
        // Points that land within a few pixels of each other share one label, "3,9,15",
        // rather than printing their numbers over each other.
        let mut labels: Vec<((i32, i32), Vec<usize>)> = Vec::new();
        for (i, p) in &drawable {
            let at = chart.backend_coord(&(p.intensity, p.gflops));
            let near = |(x, y): (i32, i32)| (x - at.0).abs() < 12 && (y - at.1).abs() < 12;
            match labels.iter_mut().find(|(pos, _)| near(*pos)) {
                Some((_, members)) => members.push(*i),
                None => labels.push((at, vec![*i])),
            }
        }
        let number = (FONT, 13).into_font().color(&INK);
        for ((x, y), members) in labels {
            let text: Vec<String> = members.iter().map(|i| i.to_string()).collect();
            // backend_coord is in the bitmap's pixels, as the root area counts them.
            root.draw_text(&text.join(","), &number, (x + 7, y - 16))
                .map_err(e)?;
        }

        let key = key_area.margin(30, 10, 10, 10);
        let style = (FONT, 13).into_font().color(&INK);
        let bold = (FONT, 15).into_font().style(FontStyle::Bold).color(&INK);
        key.draw_text(
            "key: # kernel, and its share of the roofline",
            &bold,
            (0, 0),
        )
        .map_err(e)?;
        let mut y = 26;
        for (i, p) in points.iter().enumerate() {
            let placed = if has_place(p) {
                let share = p.gflops / peaks.attainable(p.intensity) * 100.0;
                format!("{share:.1}% of roof")
            } else {
                "not drawn: no arithmetic".to_string()
            };
            let line = format!("{i:>3}  {}  ({placed})", p.label);
            key.draw_text(&line, &style, (0, y)).map_err(e)?;
            y += 17;
        }
        Ok(())
    })
}

/// Whether a point has a place on the roofline's log axes: arithmetic, and a finite rate.
fn has_place(p: &Point) -> bool {
    let fine = |v: f64| v.is_finite() && v > 0.0;
    fine(p.intensity) && fine(p.gflops)
}

/// Draws ours and the peer's milliseconds per op as pairs of horizontal bars on a log
/// axis, each pair labelled with the op and the ratio ours / peer.
pub fn draw_comparison(path: &Path, title: &str, peer: &str, pairs: &[Pair]) -> Result<()> {
    if pairs.is_empty() {
        return Err(Error::Other(format!(
            "{}: no op is in both files, so there is nothing to draw",
            path.display()
        )));
    }
    let n = pairs.len();
    let height = (120 + 36 * n as u32).max(300);
    let label_width = 420;
    let all_ms = pairs.iter().flat_map(|p| [p.ours_ms, p.peer_ms]);
    let positive: Vec<f64> = all_ms.filter(|v| *v > 0.0 && v.is_finite()).collect();
    let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = positive.iter().copied().fold(0.0, f64::max);
    let (x_lo, x_hi) = log_axis(path, "times", lo / 1.5, hi * 4.0)?;
    save_picture(path, (1400, height), |root| {
        let e = |e| plot_error(path, e);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20).into_font().color(&INK))
            .margin(20)
            .margin_left(label_width)
            .x_label_area_size(45)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), 0.0..n as f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("milliseconds per call (log scale)")
            .x_label_formatter(&|v| tick(*v))
            .label_style((FONT, 14).into_font().color(&INK))
            .axis_desc_style((FONT, 16).into_font().color(&INK))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        // The first op at the top.
        let top = |i: usize| (n - i) as f64;
        let bar = |from: f64, to: f64, ms: f64, color: RGBColor| {
            Rectangle::new([(x_lo, from), (ms.max(x_lo), to)], color.filled())
        };
        chart
            .draw_series(pairs.iter().enumerate().flat_map(|(i, p)| {
                let y = top(i);
                [
                    bar(y - 0.15, y - 0.48, p.ours_ms, OURS),
                    bar(y - 0.52, y - 0.85, p.peer_ms, PEER),
                ]
            }))
            .map_err(e)?
            .label("ours")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], OURS.filled()));
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
            .map_err(e)?
            .label(peer)
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], PEER.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 15).into_font().color(&INK))
            .background_style(WHITE.mix(0.9))
            .border_style(INK)
            .draw()
            .map_err(e)?;
        let name = (FONT, 13)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let ratio = (FONT, 13).into_font().color(&INK);
        for (i, p) in pairs.iter().enumerate() {
            let y = top(i) - 0.5;
            let (px, py) = chart.backend_coord(&(x_lo, y));
            root.draw_text(&p.label, &name, (px - 8, py)).map_err(e)?;
            let longer = p.ours_ms.max(p.peer_ms);
            let (rx, ry) = chart.backend_coord(&(longer, y));
            let text = format!("×{:.2}", p.ours_ms / p.peer_ms);
            root.draw_text(&text, &ratio, (rx + 6, ry - 6)).map_err(e)?;
        }
        Ok(())
    })
}

/// Draws a ladder's rungs as bars of GFLOP/s, in teaching order, under the card's fp32
/// FMA peak as a line; a rung the adapter cannot run is named with no bar. Where the
/// fastest rung reaches less than a tenth of the peak (a CPU adapter), the axis fits the
/// bars and the peak is named above them instead, so that the bars stay readable.
pub fn draw_ladder(path: &Path, title: &str, rows: &[LadderRow], peaks: &Peaks) -> Result<()> {
    peaks.check().map_err(|why| {
        plot_error(
            path,
            format!("the ladder's peak line needs the card's peaks: {why}"),
        )
    })?;
    let n = rows.len().max(1);
    let best = rows.iter().filter_map(|r| r.gflops).fold(0.0, f64::max);
    let peak = peaks.fma_gflops;
    let peak_on_axis = best >= 0.1 * peak || best <= 0.0;
    let top = if peak_on_axis {
        best.max(peak) * 1.12
    } else {
        best * 1.25
    };
    save_picture(path, (1200, 640), |root| {
        let e = |e| plot_error(path, e);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20).into_font().color(&INK))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..n as f64, 0.0..top)
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("GFLOP/s")
            .label_style((FONT, 14).into_font().color(&INK))
            .axis_desc_style((FONT, 16).into_font().color(&INK))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(e)?;
        let bars = rows.iter().enumerate().filter_map(|(i, r)| {
            let g = r.gflops?;
            Some(Rectangle::new(
                [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, g)],
                OURS.filled(),
            ))
        });
        chart.draw_series(bars).map_err(e)?;
        let small = (FONT, 14).into_font().color(&CEILING);
        let peak_text = format!("fp32 FMA peak {peak:.1} GFLOP/s");
        if peak_on_axis {
            let line = [(0.0, peak), (n as f64, peak)];
            chart
                .draw_series(LineSeries::new(line, CEILING.stroke_width(2)))
                .map_err(e)?;
            let (px, py) = chart.backend_coord(&(0.0, peak));
            root.draw_text(&peak_text, &small, (px + 6, py - 18))
                .map_err(e)?;
        } else {
            let text = format!(
                "{peak_text}: off this axis, {:.0}× the fastest rung",
                peak / best
            );
            let (px, py) = chart.backend_coord(&(0.0, top));
            root.draw_text(&text, &small, (px + 6, py + 4)).map_err(e)?;
        }
        let under = (FONT, 14)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        let over = (FONT, 13)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, r) in rows.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw_text(&format!("{} {}", r.step, r.rung), &under, (x, y + 8))
                .map_err(e)?;
            let (text, height) = match r.gflops {
                Some(g) => (format!("{g:.2} ({:.1}% of peak)", 100.0 * g / peak), g),
                None => ("not on this adapter".to_string(), 0.0),
            };
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, height));
            root.draw_text(&text, &over, (x, y - 4)).map_err(e)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_start_and_end_on_decades() {
        assert_eq!(decades(0.3, 450.0), Some((0.1, 1000.0)));
        // Ends a log axis cannot have, which made drawing loop for ever.
        assert_eq!(decades(0.0, 450.0), None);
        assert_eq!(decades(0.3, 1e308 * 2.0), None);
        assert_eq!(decades(f64::NAN, 1.0), None);
        assert_eq!(tick(1000.0), "1000");
        assert_eq!(tick(0.01), "0.01");
        assert_eq!(tick(1e7), "1e7");
    }

    #[test]
    fn impossible_peaks_are_an_error_not_a_picture_that_never_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roofline.png");
        let points = [Point {
            label: "matmul".into(),
            intensity: 10.0,
            gflops: 5.0,
        }];
        let mut peaks = Peaks {
            adapter: "test".into(),
            fma_gflops: 100.0,
            copy_gbps: 10.0,
            read_gbps: 10.0,
            timing: "timestamp".into(),
            measured: "2026-01-01T00:00:00Z".into(),
        };
        draw_roofline(&path, "ok", &peaks, &points).unwrap();
        for fma in [0.0, 1e308, -18.8] {
            peaks.fma_gflops = fma;
            let e = draw_roofline(&path, "bad", &peaks, &points)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("fma_gflops") && e.contains("roofline.png"),
                "{e}"
            );
        }
    }
}

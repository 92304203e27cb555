//! The pictures of a run, drawn with plotters into a buffer and written as PNG files,
//! atomically, after every epoch:
//!
//! - `loss.png`: the training loss at each logging interval and the test MSE per epoch,
//!   and a VAE's two test terms (reconstruction and KL, per image), on a log scale, for
//!   one run or several (`plot`);
//! - `reconstructions.png`: three test digits of each class, in rows labelled input,
//!   (noisy input,) reconstruction, at three times their size;
//! - `latent.png`: every test image's code, projected to 2-D (the code itself when it is
//!   2-D, its two principal components otherwise), a colour per digit, with a legend;
//! - `interpolation.png`: the decoder's images along straight lines between the codes of
//!   pairs of test digits;
//! - a VAE's `samples.png`, digits decoded from z ~ N(0, I), and, where its latent is
//!   2-D, `manifold.png`, digits decoded over a grid of the Gaussian's quantiles.
//!
//! Text is drawn with DejaVu Sans, bundled in the binary, so no system fonts are needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::error::{Error, Result};
use crate::pictures::{examples, project_2d, PER_CLASS, STEPS};
use crate::train::{EpochMetrics, Snapshot};

/// One colour per digit (matplotlib's tab10), and per run in `loss.png`.
pub const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const FONT: &str = "sans-serif";
/// Digits are drawn at this many times their size.
const SCALE: usize = 3;
const CELL: usize = IMAGE_SIDE * SCALE + 4;

fn fonts() -> Result<()> {
    static REGISTER: Once = Once::new();
    let mut result = Ok(());
    REGISTER.call_once(|| {
        result = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .and_then(|_| {
                plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
            })
            .map_err(|_| Error::Other("the bundled font could not be read".into()));
    });
    result
}

fn draw_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}: drawing failed ({e})", path.display()))
}

/// Draws into a white RGB picture of `width`×`height` with `draw`, and writes it as a
/// PNG at `path`, atomically.
fn picture(
    path: &Path,
    (width, height): (usize, usize),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    fonts()?;
    let mut rgb = vec![255u8; width * height * 3];
    {
        let backend =
            BitMapBackend::with_buffer_and_format(&mut rgb, (width as u32, height as u32))
                .map_err(|e| draw_error(path, e))?;
        let area = backend.into_drawing_area();
        draw(&area)?;
        area.present().map_err(|e| draw_error(path, e))?;
    }
    let png_error = |e: png::EncodingError| Error::Other(format!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&rgb).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    crate::native::files::write_atomically(path, &bytes)
}

/// One run's curves for `loss.png`.
pub struct Curves<'a> {
    pub label: String,
    pub epochs: &'a [EpochMetrics],
}

/// `loss.png`: each run's training loss (thin, at every logging interval, or per epoch)
/// and test MSE (thick, with a marker per epoch), on a log scale.
pub fn loss(path: &Path, runs: &[Curves], train_loss_name: &str) -> Result<()> {
    let mut points: Vec<f64> = Vec::new();
    for run in runs {
        for m in run.epochs {
            points.extend([m.train_loss, m.test_mse]);
            points.extend(m.test_recon.into_iter().chain(m.test_kl));
            points.extend(m.interval_loss.iter().map(|p| p[1]));
        }
    }
    points.retain(|v| v.is_finite() && *v > 0.0);
    if points.is_empty() {
        return Err(Error::Other(format!(
            "{}: no finite losses to draw",
            path.display()
        )));
    }
    // Drawn as log10 of the loss on a linear axis, labelled with the loss itself: ticks
    // then fall evenly even when the curve spans less than a decade.
    let lo = points.iter().cloned().fold(f64::INFINITY, f64::min).log10();
    let hi = points
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max)
        .log10();
    let pad = ((hi - lo) * 0.08).max(0.02);
    let last = runs
        .iter()
        .flat_map(|r| r.epochs.iter().map(|m| m.epoch))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    // A VAE's losses (nats per image) and its test MSE (per pixel) lie decades apart:
    // the legend goes between them, off the curves.
    let vae = runs
        .iter()
        .any(|r| r.epochs.iter().any(|m| m.test_kl.is_some()));
    let legend_at = match vae {
        true => SeriesLabelPosition::MiddleRight,
        false => SeriesLabelPosition::UpperRight,
    };
    picture(path, (900, 560), |area| {
        let e = |e| draw_error(path, e);
        let mut chart = ChartBuilder::on(area)
            .caption("Loss per epoch", (FONT, 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..last, (lo - pad)..(hi + pad))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss (log scale)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .light_line_style(RGBColor(240, 240, 240))
            .y_label_formatter(&|v| format_loss(10f64.powf(*v)))
            .draw()
            .map_err(e)?;
        for (i, run) in runs.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let train: Vec<(f64, f64)> = run
                .epochs
                .iter()
                .flat_map(|m| match m.interval_loss.is_empty() {
                    true => vec![(m.epoch as f64, m.train_loss)],
                    false => m.interval_loss.iter().map(|p| (p[0], p[1])).collect(),
                })
                .filter(|p| p.1.is_finite() && p.1 > 0.0)
                .map(|(x, y)| (x, y.log10()))
                .collect();
            let prefix = match runs.len() {
                1 => String::new(),
                _ => format!("{}: ", run.label),
            };
            chart
                .draw_series(LineSeries::new(train, colour.stroke_width(1)))
                .map_err(e)?
                .label(format!("{prefix}train {train_loss_name}"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(1))
                });
            // Each epoch's test figure on the log axis, where it has one worth plotting.
            let term = |f: fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
                run.epochs
                    .iter()
                    .filter_map(|m| f(m).map(|v| (m.epoch as f64, v)))
                    .filter(|p| p.1.is_finite() && p.1 > 0.0)
                    .map(|(x, y)| (x, y.log10()))
                    .collect()
            };
            let test = term(|m| Some(m.test_mse));
            chart
                .draw_series(LineSeries::new(test.clone(), colour.stroke_width(3)))
                .map_err(e)?
                .label(format!("{prefix}test mse"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(3))
                });
            chart
                .draw_series(test.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                .map_err(e)?;
            // A VAE's test terms, per image: reconstruction (squares), KL (triangles).
            let recon = term(|m| m.test_recon);
            if !recon.is_empty() {
                chart
                    .draw_series(LineSeries::new(recon.clone(), colour.stroke_width(2)))
                    .map_err(e)?
                    .label(format!("{prefix}test reconstruction (BCE summed)"))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], colour.filled())
                    });
                chart
                    .draw_series(recon.iter().map(|&(x, y)| {
                        EmptyElement::at((x, y))
                            + Rectangle::new([(-4, -4), (4, 4)], colour.filled())
                    }))
                    .map_err(e)?;
            }
            let kl = term(|m| m.test_kl);
            if !kl.is_empty() {
                chart
                    .draw_series(LineSeries::new(kl.clone(), colour.stroke_width(2)))
                    .map_err(e)?
                    .label(format!("{prefix}test KL"))
                    .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, colour.filled()));
                chart
                    .draw_series(
                        kl.iter()
                            .map(|&p| TriangleMarker::new(p, 6, colour.filled())),
                    )
                    .map_err(e)?;
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 15))
            .position(legend_at)
            .draw()
            .map_err(e)
    })
}

/// Three significant digits, without an exponent for the usual range of losses.
fn format_loss(v: f64) -> String {
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{v:.digits$}")
}

/// Copies a 28×28 image (values in [0, 1]) into the picture at (x, y), SCALE times larger.
fn blit(area: &DrawingArea<BitMapBackend, Shift>, image: &[f32], x: i32, y: i32) -> Result<()> {
    for (j, &v) in image.iter().enumerate().take(IMAGE_PIXELS) {
        // MNIST is white on black; drawn as is.
        let level = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let colour = RGBColor(level, level, level);
        let (px, py) = (
            (j % IMAGE_SIDE * SCALE) as i32,
            (j / IMAGE_SIDE * SCALE) as i32,
        );
        let corner = (x + px, y + py);
        let opposite = (corner.0 + SCALE as i32, corner.1 + SCALE as i32);
        area.draw(&Rectangle::new([corner, opposite], colour.filled()))
            .map_err(|e| Error::Other(format!("drawing failed ({e})")))?;
    }
    Ok(())
}

/// `reconstructions.png`: for each of `PER_CLASS` examples of every digit, the input,
/// the corrupted input the model saw (with noise), and the reconstruction.
pub fn reconstructions(path: &Path, shot: &Snapshot) -> Result<()> {
    let available = shot.rebuilt.len() / IMAGE_PIXELS;
    let picked = examples(&shot.labels, available);
    if picked.is_empty() {
        return Err(Error::Other(format!(
            "{}: no images to draw",
            path.display()
        )));
    }
    let mut rows: Vec<(&str, &[f32])> = vec![("input", &shot.clean)];
    if let Some(noisy) = &shot.noisy {
        rows.push(("noisy input", noisy));
    }
    rows.push(("reconstruction", &shot.rebuilt));
    let label_w = 150;
    let cols = picked.len().div_ceil(PER_CLASS).min(10);
    let group_h = rows.len() * CELL + 14;
    let title_h = 40;
    let width = label_w + cols * CELL + 8;
    let height = title_h + PER_CLASS * group_h;
    picture(path, (width, height), |area| {
        let e = |e| draw_error(path, e);
        let title = "Test digits and the model's reconstructions";
        area.draw(&Text::new(title, (10, 10), (FONT, 20).into_font()))
            .map_err(e)?;
        for k in 0..PER_CLASS {
            for (r, (name, source)) in rows.iter().enumerate() {
                let y = (title_h + k * group_h + r * CELL) as i32;
                let style = (FONT, 15).into_font().color(&BLACK);
                area.draw(&Text::new(*name, (8, y + CELL as i32 / 2 - 8), style))
                    .map_err(e)?;
                for class in 0..cols {
                    // The k-th example of this class, if the batch had one.
                    let Some(&i) = picked
                        .iter()
                        .filter(|&&i| shot.labels.get(i) == Some(&(class as u32)))
                        .nth(k)
                    else {
                        continue;
                    };
                    let image = source
                        .get(i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS)
                        .ok_or_else(|| draw_error(path, "an image is missing"))?;
                    blit(area, image, (label_w + class * CELL) as i32, y)?;
                }
            }
        }
        Ok(())
    })
}

/// `latent.png`: the test set's codes in 2-D, a colour per digit.
pub fn latent(path: &Path, shot: &Snapshot, what: &str) -> Result<()> {
    let points = project_2d(&shot.codes, shot.code_len);
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(Error::Other(format!(
            "{}: no codes to draw",
            path.display()
        )));
    }
    let range = |f: fn(&(f64, f64)) -> f64| {
        let lo = finite.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = finite.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (lo - pad)..(hi + pad)
    };
    let (xr, yr) = (range(|p| p.0), range(|p| p.1));
    let (xd, yd) = match shot.code_len {
        1 => ("code", "(one-number code)"),
        2 => ("code[0]", "code[1]"),
        _ => ("first principal component", "second principal component"),
    };
    picture(path, (820, 720), |area| {
        let e = |e| draw_error(path, e);
        let caption = format!("Test codes ({what}), {} images", points.len());
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(xr, yr)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(xd)
            .y_desc(yd)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(e)?;
        for digit in 0..10u32 {
            let colour = COLOURS[digit as usize];
            let mine = points
                .iter()
                .zip(&shot.labels)
                .filter(move |(p, &l)| l == digit && p.0.is_finite() && p.1.is_finite())
                .map(|(p, _)| *p);
            chart
                .draw_series(mine.map(move |p| Circle::new(p, 2, colour.mix(0.6).filled())))
                .map_err(e)?
                .label(digit.to_string())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
        }
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

/// `interpolation.png`: one row per pair, from one digit's code to the other's.
pub fn interpolation(path: &Path, labels: &[(u32, u32)], images: &[f32]) -> Result<()> {
    if labels.is_empty() || images.len() < labels.len() * STEPS * IMAGE_PIXELS {
        return Err(Error::Other(format!(
            "{}: no images to draw",
            path.display()
        )));
    }
    let label_w = 80;
    let title_h = 40;
    let width = label_w + STEPS * CELL + 8;
    let height = title_h + labels.len() * CELL + 8;
    picture(path, (width, height), |area| {
        let e = |e| draw_error(path, e);
        let title = "Decoded along straight lines between two test digits' codes";
        area.draw(&Text::new(title, (10, 10), (FONT, 18).into_font()))
            .map_err(e)?;
        for (r, &(a, b)) in labels.iter().enumerate() {
            let y = (title_h + r * CELL) as i32;
            let style = (FONT, 18).into_font().color(&BLACK);
            area.draw(&Text::new(
                format!("{a} → {b}"),
                (10, y + CELL as i32 / 2 - 9),
                style,
            ))
            .map_err(e)?;
            for s in 0..STEPS {
                let i = r * STEPS + s;
                let image = &images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS];
                blit(area, image, (label_w + s * CELL) as i32, y)?;
            }
        }
        Ok(())
    })
}

/// A square grid of decoded digits, `side` a side, under a title: a VAE's `samples.png`
/// and `manifold.png`.
pub fn digit_grid(path: &Path, title: &str, images: &[f32], side: usize) -> Result<()> {
    if side == 0 || images.len() < side * side * IMAGE_PIXELS {
        return Err(Error::Other(format!(
            "{}: no images to draw",
            path.display()
        )));
    }
    let title_h = 40;
    let width = (side * CELL + 8).max(420);
    let height = title_h + side * CELL + 8;
    picture(path, (width, height), |area| {
        let e = |e| draw_error(path, e);
        area.draw(&Text::new(title, (10, 10), (FONT, 18).into_font()))
            .map_err(e)?;
        for i in 0..side * side {
            let image = &images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS];
            let (x, y) = (4 + (i % side) * CELL, title_h + (i / side) * CELL);
            blit(area, image, x as i32, y as i32)?;
        }
        Ok(())
    })
}

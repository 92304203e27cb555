//! The pictures of a run, drawn with plotters into a buffer and written as PNG files,
//! atomically, after every epoch:
//!
//! - `loss.png`: the training loss at each logging interval and the test MSE per epoch,
//!   and a VAE's two test terms (reconstruction and KL, per image), on a log scale, for
//!   one run or several (`plot`);
//! - `reconstructions.png`: three test samples of each of the first ten classes (the
//!   first thirty of unlabelled data), each as input, (noisy input,) reconstruction;
//! - `latent.png`: every test sample's code, projected to 2-D (the code itself when it is
//!   2-D, its two principal components otherwise), a colour per class, with a legend;
//! - `interpolation.png`: the decoder's samples along straight lines between the codes of
//!   pairs of test samples;
//! - a VAE's `samples.png`, samples decoded from z ~ N(0, I), and, where its latent is
//!   2-D, `manifold.png`, samples decoded over a grid of the Gaussian's quantiles.
//!
//! Samples follow the data's `Shape`. Images are drawn at their own size times a whole
//! number, near 84 pixels a side (MNIST's 28×28 at 3×), in colour where they have three
//! channels; a picture that would outgrow 2000 pixels draws them smaller, by nearest
//! neighbour. Rows of numbers are drawn as lines in small panels that share one y axis.
//! Labels are the data's class names (`Data::classes`).
//!
//! Text is drawn with DejaVu Sans, bundled in the binary, so no system fonts are needed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::data::{Layout, Shape};
use crate::error::{Error, Result};
use crate::pictures::{class_name, example_columns, examples, project_2d, Column, STEPS};
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
pub(super) const FONT: &str = "sans-serif";

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

pub(super) fn draw_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}: drawing failed ({e})", path.display()))
}

/// What a drawing helper returns when plotters fails; `picture` names the file.
pub(super) fn drawing_failed(e: impl std::fmt::Display) -> Error {
    Error::Other(format!("drawing failed ({e})"))
}

pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws into a white RGB picture of `width`×`height` with `draw`, and writes it as a
/// PNG at `path`, atomically.
pub(super) fn picture(
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
    let bytes = match picture_format(path)? {
        Format::Png => png_bytes(path, &rgb, width, height)?,
        Format::Jpeg => jpeg_bytes(path, &rgb, width, height)?,
    };
    crate::native::files::write_atomically(path, &bytes)
}

/// The formats a picture is written in, by its file's extension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Png,
    Jpeg,
}

/// The format `path` names by its extension (`.png`, or `.jpg`/`.jpeg`), or an error
/// saying which are written: never PNG bytes under another format's name.
pub fn picture_format(path: &Path) -> Result<Format> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("png") => Ok(Format::Png),
        Some("jpg" | "jpeg") => Ok(Format::Jpeg),
        other => Err(Error::Other(format!(
            "{}: {} is not a picture format written here: name a .png (or .jpg) file",
            path.display(),
            other.map_or("no extension".to_string(), |e| format!(".{e}")),
        ))),
    }
}

fn png_bytes(path: &Path, rgb: &[u8], width: usize, height: usize) -> Result<Vec<u8>> {
    let png_error = |e: png::EncodingError| Error::Other(format!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(rgb).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(bytes)
}

/// A JPEG at quality 90: sharp enough for lines and text.
fn jpeg_bytes(path: &Path, rgb: &[u8], width: usize, height: usize) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .write_image(
            rgb,
            width as u32,
            height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    Ok(bytes)
}

/// What of each run's losses a log axis cannot show (0 and below), one line per run that
/// has any, naming the run: they are left out of `loss`'s picture, and said so.
pub fn undrawable(runs: &[Curves]) -> Vec<String> {
    let mut lines = Vec::new();
    for run in runs {
        let mut values: Vec<(String, f64)> = Vec::new();
        for m in run.epochs {
            let e = m.epoch;
            values.push((format!("train_loss of epoch {e}"), m.train_loss));
            values.push((format!("test_mse of epoch {e}"), m.test_mse));
            values.extend(
                m.test_recon
                    .map(|v| (format!("test_recon of epoch {e}"), v)),
            );
            values.extend(m.test_kl.map(|v| (format!("test_kl of epoch {e}"), v)));
            let points = m.interval_loss.iter();
            values.extend(points.map(|p| (format!("an interval loss of epoch {e}"), p[1])));
        }
        let zero = values.iter().filter(|(_, v)| *v == 0.0).count();
        let negative: Vec<&(String, f64)> = values.iter().filter(|(_, v)| *v < 0.0).collect();
        if zero + negative.len() == values.len() {
            lines.push(format!(
                "{}: every loss is 0 or below, which a log axis cannot show: left out of the picture",
                run.label
            ));
            continue;
        }
        if let Some((what, v)) = negative.first() {
            lines.push(format!(
                "{}: {} negative loss{} left out (the first: {what}, {v}), as no loss is below 0",
                run.label,
                negative.len(),
                if negative.len() == 1 { "" } else { "es" },
            ));
        }
        if zero > 0 {
            lines.push(format!(
                "{}: {zero} loss{} of 0 left out of the log axis",
                run.label,
                if zero == 1 { "" } else { "es" },
            ));
        }
    }
    lines
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
    // The epochs, and any logged point beyond them (a foreign file may place them
    // anywhere finite).
    let xs = || {
        runs.iter().flat_map(|r| r.epochs.iter()).flat_map(|m| {
            std::iter::once(m.epoch as f64).chain(m.interval_loss.iter().map(|p| p[0]))
        })
    };
    let first = xs().filter(|x| x.is_finite()).fold(0.0, f64::min);
    let last = xs().filter(|x| x.is_finite()).fold(1.0, f64::max);
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
            .build_cartesian_2d(first..last, (lo - pad)..(hi + pad))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss (log scale)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .light_line_style(RGBColor(240, 240, 240))
            .y_label_formatter(&|v| format_power(*v))
            .x_label_formatter(&|x| match x.abs() < 1e6 {
                true => format!("{x}"),
                false => format!("{x:.1e}"),
            })
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

/// The loss 10^`v`, from its log: `format_loss`, or, where 10^v is beyond f64 or
/// nearly so, mantissa and exponent from the log itself.
fn format_power(v: f64) -> String {
    match v.abs() < 300.0 {
        true => format_loss(10f64.powf(v)),
        false => format!("{:.2}e{}", 10f64.powf(v - v.floor()), v.floor()),
    }
}

/// Three significant digits, without an exponent for the usual range of losses.
fn format_loss(v: f64) -> String {
    if !(1e-6..1e6).contains(&v.abs()) {
        return format!("{v:.2e}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{v:.digits$}")
}

/// A label's class name cut to `most` pixels wide at `size` points, with "…" where cut.
pub(super) fn fit_text(text: &str, size: f64, most: usize) -> String {
    if text_width(text, size) <= most {
        return text.to_string();
    }
    // A character is at least a quarter of the size wide: no more than that many can fit.
    let fits = (most as f64 / (size / 4.0)).ceil() as usize;
    let mut kept: String = text.chars().take(fits).collect();
    while kept.pop().is_some() {
        let cut = format!("{kept}…");
        if text_width(&cut, size) <= most {
            return cut;
        }
    }
    String::new()
}

/// How wide `text` is drawn at `size` points, in pixels (an estimate if the font fails).
pub(super) fn text_width(text: &str, size: f64) -> usize {
    let measured = fonts()
        .ok()
        .and_then(|()| (FONT, size).into_font().box_size(text).ok());
    match measured {
        Some((width, _)) => width as usize,
        None => (text.chars().count() as f64 * size * 0.6).ceil() as usize,
    }
}

/// Whether the samples are MNIST's kind: one-channel images of the ten digits, named by
/// themselves. Their pictures call them digits, and need no class names: the digit shows.
fn are_digits(shape: Shape, classes: &[String]) -> bool {
    shape.layout == Layout::Images
        && shape.channels == 1
        && classes.len() == 10
        && classes.iter().enumerate().all(|(i, c)| *c == i.to_string())
}

/// What the pictures' titles call the samples.
fn noun(shape: Shape, classes: &[String]) -> &'static str {
    match shape.layout {
        _ if are_digits(shape, classes) => "digits",
        Layout::Images => "images",
        Layout::Rows => "samples",
    }
}

/// Sample `i` of `values` (`elements` numbers each), if they hold it.
pub(super) fn sample(values: &[f32], i: usize, elements: usize) -> Option<&[f32]> {
    let start = i.checked_mul(elements)?;
    values.get(start..start.checked_add(elements)?)
}

/// The y range every line panel of a picture shares, so that panels compare: every finite
/// value drawn, and a little room above and below.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct YRange {
    lo: f64,
    hi: f64,
}

impl YRange {
    fn of(values: impl IntoIterator<Item = f32>) -> YRange {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v as f64);
            hi = hi.max(v as f64);
        }
        if lo > hi {
            return YRange { lo: 0.0, hi: 1.0 };
        }
        // A flat line still gets a range to sit in the middle of.
        let pad = ((hi - lo) * 0.06)
            .max(1e-3 * lo.abs().max(hi.abs()))
            .max(1e-6);
        YRange {
            lo: lo - pad,
            hi: hi + pad,
        }
    }

    /// Round values inside the range, each with its label, for a panel `height` pixels
    /// high: the widest step of 1, 2 or 5 times a power of 10 that gives three, or the one
    /// before it where three or more would fall closer than `TICK_SPACING` pixels.
    fn ticks(&self, height: i32) -> Vec<(f64, String)> {
        let span = self.hi - self.lo;
        if !span.is_finite() || span <= 0.0 {
            return Vec::new();
        }
        let power = 10f64.powf(span.log10().floor());
        let within = |step: f64| {
            (
                (self.lo / step).ceil() as i64,
                (self.hi / step).floor() as i64,
            )
        };
        let most = (height / TICK_SPACING).max(1) as i64;
        let steps = [10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1].map(|m| m * power);
        let three = steps
            .iter()
            .position(|&s| {
                let (first, last) = within(s);
                last - first >= 2
            })
            .unwrap_or(steps.len() - 1);
        let (first, last) = within(steps[three]);
        let crowded = last - first >= most;
        let step = match crowded && three > 0 {
            true => steps[three - 1],
            false => steps[three],
        };
        let decimals = (-step.log10().floor()).clamp(0.0, 12.0) as usize;
        let (first, last) = within(step);
        (first..=last)
            .take(12)
            .map(|k| {
                let v = k as f64 * step;
                let label = match k {
                    0 => "0".to_string(),
                    _ => format!("{v:.decimals$}"),
                };
                (v, label)
            })
            .collect()
    }

    /// The pixel row of `v` in a panel whose inside spans `top..top + height`.
    fn pixel(&self, v: f64, top: i32, height: i32) -> i32 {
        let t = (self.hi - v) / (self.hi - self.lo);
        top + (t * (height - 1) as f64).round() as i32
    }
}

/// A line of a row's panel: its values and how it is drawn.
pub(super) struct Line<'a> {
    pub(super) values: &'a [f32],
    pub(super) style: ShapeStyle,
}

/// What `reconstructions.png` shows of each example.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Source {
    Input,
    /// The corrupted input a denoising model saw.
    Noisy,
    Rebuilt,
}

impl Source {
    pub(super) fn name(self) -> &'static str {
        match self {
            Source::Input => "input",
            Source::Noisy => "noisy input",
            Source::Rebuilt => "reconstruction",
        }
    }

    /// Its line's colour in a row's panel: the noisy input light, under the others.
    pub(super) fn colour(self) -> RGBColor {
        match self {
            Source::Input => COLOURS[0],
            Source::Noisy => RGBColor(175, 175, 175),
            Source::Rebuilt => COLOURS[1],
        }
    }
}

/// A decoded row's line (interpolation, samples, manifold).
const DECODED_LINE: RGBColor = COLOURS[0];

/// A sample's longer side is drawn about this many pixels: MNIST's 28 at 3×.
const SAMPLE_SIDE: usize = 84;
/// Pictures of samples stay within this many pixels a side: big samples are shrunk.
const MOST_PICTURE_SIDE: usize = 2000;
/// Between two cells.
const GAP: usize = 4;
/// A row's panel is this wide where the picture has room: enough to follow a few
/// hundred numbers.
const PANEL_WIDTH: usize = 170;
const PANEL_NARROWEST: usize = 60;
/// The y axis' values of a panel are at least this many pixels apart where they can be.
const TICK_SPACING: i32 = 16;
/// Room left of a row of panels for the y axis' values.
const TICKS_WIDTH: usize = 48;

/// How a picture draws its samples: their shape, each cell's size (the sample drawn, the
/// gap not included) and, for rows, the y range all its panels share.
pub(super) struct Cells {
    shape: Shape,
    pub(super) size: (usize, usize),
    pub(super) y: YRange,
}

impl Cells {
    /// Cells for a picture of `across`×`down` samples beside `room` pixels (across, down)
    /// of titles and labels: images at a whole multiple of their size near `SAMPLE_SIDE`
    /// (sharp, square pixels; MNIST's 28 at 3×), rows as panels; smaller where the picture
    /// would outgrow `MOST_PICTURE_SIDE`. `drawn` is every value the panels show.
    pub(super) fn new(
        shape: Shape,
        (across, down): (usize, usize),
        room: (usize, usize),
        drawn: impl IntoIterator<Item = f32>,
    ) -> Cells {
        let most = |room: usize, count: usize| {
            (MOST_PICTURE_SIDE.saturating_sub(room) / count.max(1))
                .saturating_sub(GAP)
                .max(1)
        };
        let most = (most(room.0, across), most(room.1, down));
        let (size, y) = match shape.layout {
            Layout::Images => (image_size(shape, most), YRange { lo: 0.0, hi: 1.0 }),
            Layout::Rows => (panel_size(most), YRange::of(drawn)),
        };
        Cells { shape, size, y }
    }

    /// From one cell to the next, across and down.
    pub(super) fn step(&self) -> (usize, usize) {
        (self.size.0 + GAP, self.size.1 + GAP)
    }

    /// Room left of the cells for the y axis' values: rows only.
    pub(super) fn ticks_width(&self) -> usize {
        match self.shape.layout {
            Layout::Images => 0,
            Layout::Rows => TICKS_WIDTH,
        }
    }

    /// Draws one decoded sample at `at`: an image, or a row's line in a panel.
    pub(super) fn draw(&self, area: &Area, values: &[f32], at: (i32, i32)) -> Result<()> {
        match self.shape.layout {
            Layout::Images => blit(area, self.shape, values, at, self.size),
            Layout::Rows => {
                let line = Line {
                    values,
                    style: DECODED_LINE.stroke_width(1),
                };
                panel(area, at, self.size, self.y, &[line])
            }
        }
    }

    /// The y axis' values, right-aligned left of a row of panels whose first is at `at`.
    pub(super) fn draw_ticks(&self, area: &Area, at: (i32, i32)) -> Result<()> {
        if self.shape.layout == Layout::Images {
            return Ok(());
        }
        let inside = self.size.1 as i32 - 2;
        for (v, label) in self.y.ticks(inside) {
            let y = self.y.pixel(v, at.1 + 1, inside);
            let style = (FONT, 12)
                .into_font()
                .color(&RGBColor(90, 90, 90))
                .pos(Pos::new(HPos::Right, VPos::Center));
            area.draw(&Text::new(label, (at.0 - 5, y), style))
                .map_err(drawing_failed)?;
        }
        Ok(())
    }
}

/// An image's drawn size within `most` (width, height): a whole multiple of its size
/// near `SAMPLE_SIDE` where that fits, else the largest whole multiple that does, else
/// shrunk (nearest neighbour) to fit.
fn image_size(shape: Shape, most: (usize, usize)) -> (usize, usize) {
    let (width, height) = (shape.width.max(1), shape.height.max(1));
    let longer = width.max(height);
    let zoom = ((SAMPLE_SIDE + longer / 2) / longer).max(1) as f64;
    let fit = (most.0 as f64 / width as f64).min(most.1 as f64 / height as f64);
    let scale = match fit {
        _ if zoom <= fit => zoom,
        _ if fit >= 1.0 => fit.floor(),
        _ => fit,
    };
    let side = |n: usize| ((n as f64 * scale).floor() as usize).max(1);
    (side(width), side(height))
}

/// A row's panel within `most` (width, height): `PANEL_WIDTH` wide where there is room,
/// never narrower than `PANEL_NARROWEST`, and 0.6 as high as wide.
fn panel_size(most: (usize, usize)) -> (usize, usize) {
    let width = most.0.clamp(PANEL_NARROWEST, PANEL_WIDTH);
    let height = (width * 3 / 5).min(most.1).max(PANEL_NARROWEST / 2);
    (width, height)
}

/// One pixel of a planar C×H×W image (values in [0, 1]) as RGB: the first three channels
/// where there are three or more, the first as grey otherwise (MNIST is white on black,
/// drawn as is).
fn rgb_at(image: &[f32], plane: usize, j: usize, channels: usize) -> [u8; 3] {
    let level = |c: usize| {
        image
            .get(c * plane + j)
            .map_or(0, |&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
    };
    match channels >= 3 {
        true => [level(0), level(1), level(2)],
        false => [level(0); 3],
    }
}

/// Copies an image of `shape` into the picture at `at`, drawn `size` (width, height)
/// pixels by nearest neighbour: a whole multiple repeats each pixel, a smaller size skips.
fn blit(
    area: &Area,
    shape: Shape,
    image: &[f32],
    at: (i32, i32),
    size: (usize, usize),
) -> Result<()> {
    let (width, height) = (shape.width.max(1), shape.height.max(1));
    let plane = width * height;
    let mut rgb = Vec::with_capacity(size.0 * size.1 * 3);
    for dy in 0..size.1 {
        let sy = dy * height / size.1;
        for dx in 0..size.0 {
            let sx = dx * width / size.0;
            rgb.extend(rgb_at(image, plane, sy * width + sx, shape.channels));
        }
    }
    let element = BitMapElement::with_owned_buffer(at, (size.0 as u32, size.1 as u32), rgb)
        .ok_or_else(|| Error::Other("drawing failed (an image's buffer)".into()))?;
    area.draw(&element).map_err(drawing_failed)
}

/// A row's panel at `at`, `size` (width, height) pixels: a frame, light lines at the y
/// axis' round values (darker at 0), and `lines`, each its values left to right (broken
/// where one is not finite).
pub(super) fn panel(
    area: &Area,
    at: (i32, i32),
    size: (usize, usize),
    y: YRange,
    lines: &[Line],
) -> Result<()> {
    let (x0, y0) = at;
    let (width, height) = (size.0 as i32, size.1 as i32);
    // Inside the frame's one-pixel border.
    let (left, top, inner_w, inner_h) = (x0 + 1, y0 + 1, width - 2, height - 2);
    for (v, _) in y.ticks(inner_h) {
        let py = y.pixel(v, top, inner_h);
        let colour = match v == 0.0 {
            true => RGBColor(200, 200, 200),
            false => RGBColor(236, 236, 236),
        };
        area.draw(&PathElement::new(
            [(left, py), (left + inner_w - 1, py)],
            colour,
        ))
        .map_err(drawing_failed)?;
    }
    let corner = (x0 + width - 1, y0 + height - 1);
    area.draw(&Rectangle::new([at, corner], RGBColor(170, 170, 170)))
        .map_err(drawing_failed)?;
    for line in lines {
        let n = line.values.len();
        let x_of = |i: usize| match n {
            1 => left + inner_w / 2,
            _ => left + (i as f64 * (inner_w - 1) as f64 / (n - 1) as f64).round() as i32,
        };
        let mut run: Vec<(i32, i32)> = Vec::new();
        for (i, &v) in line.values.iter().enumerate() {
            if v.is_finite() {
                run.push((x_of(i), y.pixel(v as f64, top, inner_h)));
                continue;
            }
            draw_run(area, &mut run, line.style)?;
        }
        draw_run(area, &mut run, line.style)?;
    }
    Ok(())
}

/// Draws a run of a line's points (a single point as a dot) and empties it.
fn draw_run(area: &Area, run: &mut Vec<(i32, i32)>, style: ShapeStyle) -> Result<()> {
    match run.len() {
        0 => {}
        1 => area
            .draw(&Circle::new(run[0], 1, style.filled()))
            .map_err(drawing_failed)?,
        _ => area
            .draw(&PathElement::new(std::mem::take(run), style))
            .map_err(drawing_failed)?,
    }
    run.clear();
    Ok(())
}

/// Draws a legend of line swatches and their names, left to right from `at`.
pub(super) fn line_legend(area: &Area, at: (i32, i32), entries: &[(&str, RGBColor)]) -> Result<()> {
    let mut x = at.0;
    for &(name, colour) in entries {
        let y = at.1 + 9;
        area.draw(&PathElement::new(
            [(x, y), (x + 24, y)],
            colour.stroke_width(2),
        ))
        .map_err(drawing_failed)?;
        let style = (FONT, 15).into_font().color(&BLACK);
        area.draw(&Text::new(name, (x + 30, at.1), style))
            .map_err(drawing_failed)?;
        x += 30 + text_width(name, 15.0) as i32 + 22;
    }
    Ok(())
}

/// How wide `line_legend` draws `names`.
pub(super) fn line_legend_width(names: &[&str]) -> usize {
    names.iter().map(|n| 30 + text_width(n, 15.0) + 22).sum()
}

/// `reconstructions.png`: `PER_CLASS` examples of each of the first classes (or, for
/// unlabelled data, the first samples), each as the input, the corrupted input the model
/// saw (with noise) and the reconstruction. Images are drawn in rows labelled input,
/// (noisy input,) reconstruction; rows of numbers as one panel each, the lines in the
/// legend's colours. Columns are headed by their class's name, except digits', which
/// show it.
pub fn reconstructions(
    path: &Path,
    shot: &Snapshot,
    shape: Shape,
    classes: &[String],
) -> Result<()> {
    let elements = shape.elements().max(1);
    let available = shot.rebuilt.len() / elements;
    let picked = examples(&shot.labels, available, classes.len());
    let columns = example_columns(&picked, &shot.labels, classes.len());
    if columns.is_empty() {
        return Err(Error::Other(format!(
            "{}: no samples to draw",
            path.display()
        )));
    }
    let mut sources: Vec<(Source, &[f32])> = vec![(Source::Input, &shot.clean)];
    if let Some(noisy) = &shot.noisy {
        sources.push((Source::Noisy, noisy));
    }
    sources.push((Source::Rebuilt, &shot.rebuilt));
    let layout = ReconstructionLayout::new(shape, classes, &columns, &sources, &picked);
    let title = format!(
        "Test {} and the model's reconstructions",
        noun(shape, classes)
    );
    let (width, height) = layout.size(&title);
    picture(path, (width, height), |area| {
        let e = |e| draw_error(path, e);
        area.draw(&Text::new(title.as_str(), (10, 10), (FONT, 20).into_font()))
            .map_err(e)?;
        layout.draw_legend(area, width)?;
        layout.draw_headers(area, &columns, classes)?;
        for (c, column) in columns.iter().enumerate() {
            for (k, &i) in column.samples.iter().enumerate() {
                let found: Vec<(Source, &[f32])> = sources
                    .iter()
                    .map(|&(source, values)| {
                        let values = sample(values, i, elements)
                            .ok_or_else(|| draw_error(path, "a sample is missing"))?;
                        Ok((source, values))
                    })
                    .collect::<Result<_>>()?;
                layout.draw_sample(area, c, k, &found)?;
            }
        }
        for k in 0..layout.groups {
            layout.draw_row_names(area, k)?;
        }
        Ok(())
    })
}

/// Where `reconstructions.png` puts things: a column per class (or per tenth sample), a
/// group of cells per example down it; images get a row of cells for each of input,
/// (noisy input,) reconstruction, rows of numbers one panel for all three.
struct ReconstructionLayout {
    cells: Cells,
    sources: Vec<Source>,
    /// Names of the columns' classes shown above them.
    headed: bool,
    label_w: usize,
    title_h: usize,
    header_h: usize,
    groups: usize,
    /// Cells down a group: one per source for images, one for rows.
    per_group: usize,
    columns: usize,
}

/// Between two groups of `reconstructions.png`.
const GROUP_GAP: usize = 14;

impl ReconstructionLayout {
    fn new(
        shape: Shape,
        classes: &[String],
        columns: &[Column],
        sources: &[(Source, &[f32])],
        picked: &[usize],
    ) -> ReconstructionLayout {
        let groups = columns.iter().map(|c| c.samples.len()).max().unwrap_or(0);
        let headed = columns.iter().any(|c| c.class.is_some()) && !are_digits(shape, classes);
        let (label_w, per_group) = match shape.layout {
            Layout::Images => (150, sources.len()),
            Layout::Rows => (TICKS_WIDTH, 1),
        };
        let (title_h, header_h) = (40, if headed { 24 } else { 0 });
        let elements = shape.elements().max(1);
        let drawn = picked.iter().flat_map(|&i| {
            sources
                .iter()
                .filter_map(move |(_, values)| sample(values, i, elements))
                .flatten()
                .copied()
        });
        let cells = Cells::new(
            shape,
            (columns.len(), groups * per_group),
            (label_w + 8, title_h + header_h + groups * GROUP_GAP),
            drawn,
        );
        ReconstructionLayout {
            cells,
            sources: sources.iter().map(|s| s.0).collect(),
            headed,
            label_w,
            title_h,
            header_h,
            groups,
            per_group,
            columns: columns.len(),
        }
    }

    fn size(&self, title: &str) -> (usize, usize) {
        let (step_w, _) = self.cells.step();
        let mut width = self.label_w + self.columns * step_w + 8;
        width = width.max(text_width(title, 20.0) + 20);
        if self.cells.shape.layout == Layout::Rows {
            let legend = line_legend_width(&self.legend_names());
            width = width.max(text_width(title, 20.0) + 40 + legend);
        }
        let height = self.title_h + self.header_h + self.groups * self.group_h();
        (width, height)
    }

    fn group_h(&self) -> usize {
        self.per_group * self.cells.step().1 + GROUP_GAP
    }

    /// The top left of column `c`'s cell `r` of group `k`.
    fn at(&self, c: usize, k: usize, r: usize) -> (i32, i32) {
        let (step_w, step_h) = self.cells.step();
        let y = self.title_h + self.header_h + k * self.group_h() + r * step_h;
        ((self.label_w + c * step_w) as i32, y as i32)
    }

    fn legend_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|s| s.name()).collect()
    }

    /// For rows, which line is which, once, at the right of the title's line.
    fn draw_legend(&self, area: &Area, width: usize) -> Result<()> {
        if self.cells.shape.layout == Layout::Images {
            return Ok(());
        }
        let entries: Vec<(&str, RGBColor)> = self
            .sources
            .iter()
            .map(|s| (s.name(), s.colour()))
            .collect();
        let x = width.saturating_sub(line_legend_width(&self.legend_names()) + 4);
        line_legend(area, (x as i32, 12), &entries)
    }

    /// The columns' class names, above the first group, cut to a column's width.
    fn draw_headers(&self, area: &Area, columns: &[Column], classes: &[String]) -> Result<()> {
        if !self.headed {
            return Ok(());
        }
        let (step_w, _) = self.cells.step();
        for (c, column) in columns.iter().enumerate() {
            let Some(class) = column.class else { continue };
            let name = fit_text(&class_name(classes, class), 14.0, step_w.saturating_sub(2));
            let (x, _) = self.at(c, 0, 0);
            let centre = x + self.cells.size.0 as i32 / 2;
            let style = (FONT, 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top));
            area.draw(&Text::new(name, (centre, self.title_h as i32), style))
                .map_err(drawing_failed)?;
        }
        Ok(())
    }

    /// Column `c`'s example `k`: its sources' values, in `sources`' order.
    fn draw_sample(
        &self,
        area: &Area,
        c: usize,
        k: usize,
        found: &[(Source, &[f32])],
    ) -> Result<()> {
        match self.cells.shape.layout {
            Layout::Images => {
                for (r, &(_, values)) in found.iter().enumerate() {
                    blit(
                        area,
                        self.cells.shape,
                        values,
                        self.at(c, k, r),
                        self.cells.size,
                    )?;
                }
                Ok(())
            }
            Layout::Rows => {
                // The noisy input first, under the lines it hides least.
                let noisy_first = |s: &Source| *s != Source::Noisy;
                let mut lines: Vec<(Source, Line)> = found
                    .iter()
                    .map(|&(source, values)| {
                        let style = source.colour().stroke_width(1);
                        (source, Line { values, style })
                    })
                    .collect();
                lines.sort_by_key(|(source, _)| noisy_first(source));
                let lines: Vec<Line> = lines.into_iter().map(|(_, line)| line).collect();
                panel(
                    area,
                    self.at(c, k, 0),
                    self.cells.size,
                    self.cells.y,
                    &lines,
                )
            }
        }
    }

    /// Group `k`'s row names (images) or y axis' values (rows).
    fn draw_row_names(&self, area: &Area, k: usize) -> Result<()> {
        let (_, step_h) = self.cells.step();
        match self.cells.shape.layout {
            Layout::Images => {
                for (r, source) in self.sources.iter().enumerate() {
                    let (_, y) = self.at(0, k, r);
                    let style = (FONT, 15).into_font().color(&BLACK);
                    let name = source.name();
                    area.draw(&Text::new(name, (8, y + step_h as i32 / 2 - 8), style))
                        .map_err(drawing_failed)?;
                }
                Ok(())
            }
            Layout::Rows => self.cells.draw_ticks(area, self.at(0, k, 0)),
        }
    }
}
/// Series of `latent.png` the legend names; more are drawn, and said by "…".
const LEGEND_CLASSES: usize = 10;
/// A class's name in the legend is cut to this many pixels.
const LEGEND_NAME_WIDTH: usize = 220;

/// One class's points in `latent.png`.
#[derive(Debug, PartialEq)]
struct Series {
    name: String,
    /// Its colour: `COLOURS[colour % COLOURS.len()]`.
    colour: usize,
    points: Vec<(f64, f64)>,
}

/// The points of `latent.png` by series: each class's (every class named in `classes`,
/// then any other label met), named; unlabelled data is one series, "test samples".
fn latent_series(points: &[(f64, f64)], labels: &[u32], classes: &[String]) -> Vec<Series> {
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    if classes.is_empty() {
        let all = points.iter().filter(finite).copied().collect();
        return vec![Series {
            name: "test samples".into(),
            colour: 0,
            points: all,
        }];
    }
    let mut by_label: BTreeMap<u32, Vec<(f64, f64)>> = (0..classes.len())
        .map(|c| (c.min(u32::MAX as usize) as u32, Vec::new()))
        .collect();
    for (p, &label) in points.iter().zip(labels) {
        if finite(&p) {
            by_label.entry(label).or_default().push(*p);
        }
    }
    by_label
        .into_iter()
        .map(|(label, mine)| Series {
            name: class_name(classes, label),
            colour: label as usize,
            points: mine,
        })
        .collect()
}

/// `latent.png`: the test set's codes in 2-D, a colour per class (cycling after ten),
/// the legend naming the first ten classes (and "…" for more).
pub fn latent(
    path: &Path,
    shot: &Snapshot,
    what: &str,
    shape: Shape,
    classes: &[String],
) -> Result<()> {
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
    let series = latent_series(&points, &shot.labels, classes);
    let counted = match shape.layout {
        Layout::Images => "images",
        Layout::Rows => "samples",
    };
    picture(path, (820, 720), |area| {
        let e = |e| draw_error(path, e);
        let caption = format!("Test codes ({what}), {} {counted}", points.len());
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
        for (k, one) in series.iter().enumerate() {
            let colour = COLOURS[one.colour % COLOURS.len()];
            let drawn = chart
                .draw_series(
                    one.points
                        .iter()
                        .map(move |&p| Circle::new(p, 2, colour.mix(0.6).filled())),
                )
                .map_err(e)?;
            match k {
                _ if k < LEGEND_CLASSES => {
                    drawn
                        .label(fit_text(&one.name, 15.0, LEGEND_NAME_WIDTH))
                        .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
                }
                // One more entry says that there are more classes than the legend shows.
                LEGEND_CLASSES => {
                    drawn.label("…").legend(|(x, y)| EmptyElement::at((x, y)));
                }
                _ => {}
            }
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

/// A pair's name in `interpolation.png` is cut to this many pixels.
const MOST_NAME_WIDTH: usize = 320;

/// `interpolation.png`: one row per pair, named by `names` (`pictures::pair_names`),
/// from one sample's code to the other's: `STEPS` decoded samples of `shape` each, as
/// images or as line panels.
pub fn interpolation(
    path: &Path,
    shape: Shape,
    classes: &[String],
    names: &[String],
    decoded: &[f32],
) -> Result<()> {
    let elements = shape.elements().max(1);
    if names.is_empty() || decoded.len() < names.len() * STEPS * elements {
        return Err(Error::Other(format!(
            "{}: no samples to draw",
            path.display()
        )));
    }
    let names: Vec<String> = names
        .iter()
        .map(|n| fit_text(n, 18.0, MOST_NAME_WIDTH))
        .collect();
    let widest = names.iter().map(|n| text_width(n, 18.0)).max().unwrap_or(0);
    let name_w = (widest + 26).max(80);
    let title_h = 40;
    let shown = &decoded[..names.len() * STEPS * elements];
    let cells = Cells::new(
        shape,
        (STEPS, names.len()),
        (name_w + TICKS_WIDTH + 8, title_h + 8),
        shown.iter().copied(),
    );
    let (step_w, step_h) = cells.step();
    let left = name_w + cells.ticks_width();
    let title = format!(
        "Decoded along straight lines between two test {}' codes",
        noun(shape, classes)
    );
    let width = (left + STEPS * step_w + 8).max(text_width(&title, 18.0) + 20);
    let height = title_h + names.len() * step_h + 8;
    picture(path, (width, height), |area| {
        let e = |e| draw_error(path, e);
        area.draw(&Text::new(title.as_str(), (10, 10), (FONT, 18).into_font()))
            .map_err(e)?;
        for (r, name) in names.iter().enumerate() {
            let y = (title_h + r * step_h) as i32;
            let style = (FONT, 18).into_font().color(&BLACK);
            area.draw(&Text::new(
                name.as_str(),
                (10, y + step_h as i32 / 2 - 9),
                style,
            ))
            .map_err(e)?;
            cells.draw_ticks(area, (left as i32, y))?;
            for s in 0..STEPS {
                let values = sample(shown, r * STEPS + s, elements)
                    .ok_or_else(|| draw_error(path, "a sample is missing"))?;
                cells.draw(area, values, ((left + s * step_w) as i32, y))?;
            }
        }
        Ok(())
    })
}

/// A square grid of decoded samples of `shape`, `side` a side, under a title: a VAE's
/// `samples.png` and `manifold.png`.
pub fn sample_grid(
    path: &Path,
    title: &str,
    shape: Shape,
    decoded: &[f32],
    side: usize,
) -> Result<()> {
    let elements = shape.elements().max(1);
    if side == 0 || decoded.len() < side * side * elements {
        return Err(Error::Other(format!(
            "{}: no samples to draw",
            path.display()
        )));
    }
    let title_h = 40;
    let shown = &decoded[..side * side * elements];
    let cells = Cells::new(
        shape,
        (side, side),
        (TICKS_WIDTH + 8, title_h + 8),
        shown.iter().copied(),
    );
    let (step_w, step_h) = cells.step();
    let left = 4 + cells.ticks_width();
    let width = (left + side * step_w + 4)
        .max(420)
        .max(text_width(title, 18.0) + 20);
    let height = title_h + side * step_h + 8;
    picture(path, (width, height), |area| {
        let e = |e| draw_error(path, e);
        area.draw(&Text::new(title, (10, 10), (FONT, 18).into_font()))
            .map_err(e)?;
        for i in 0..side * side {
            let values = sample(shown, i, elements)
                .ok_or_else(|| draw_error(path, "a sample is missing"))?;
            let (x, y) = (left + (i % side) * step_w, title_h + (i / side) * step_h);
            if i % side == 0 {
                cells.draw_ticks(area, (left as i32, y as i32))?;
            }
            cells.draw(area, values, (x as i32, y as i32))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_drawn_at_a_whole_multiple_near_84_pixels_and_shrink_to_fit() {
        let room = (2000, 2000);
        assert_eq!(image_size(Shape::MNIST, room), (84, 84), "MNIST at 3×");
        assert_eq!(image_size(Shape::images(3, 32, 20), room), (60, 96));
        assert_eq!(image_size(Shape::images(1, 8, 8), room), (88, 88));
        assert_eq!(image_size(Shape::images(3, 64, 64), room), (64, 64));
        // Too big for the room: the largest whole multiple that fits, else smaller.
        assert_eq!(image_size(Shape::images(1, 8, 8), (50, 50)), (48, 48));
        assert_eq!(
            image_size(Shape::images(3, 256, 512), (180, 400)),
            (180, 90)
        );
        assert_eq!(
            image_size(Shape::images(1, 1, 100_000), (180, 400)),
            (180, 1)
        );
        // The ten columns of reconstructions.png stay within 2000 pixels.
        let cells = Cells::new(Shape::images(3, 256, 256), (10, 9), (158, 82), []);
        assert!(150 + 10 * cells.step().0 + 8 <= MOST_PICTURE_SIDE);
    }

    #[test]
    fn rows_get_panels_that_fit() {
        assert_eq!(panel_size((2000, 2000)), (170, 102));
        assert_eq!(panel_size((120, 2000)), (120, 72));
        assert_eq!(panel_size((10, 10)), (60, 30), "never too small to read");
    }

    #[test]
    fn a_panel_s_y_range_holds_every_value_and_ticks_round_numbers() {
        let y = YRange::of([-1.6, 2.4, f32::NAN, 0.3]);
        assert!(y.lo < -1.6 && y.hi > 2.4 && y.hi < 2.8);
        let labels: Vec<String> = y.ticks(100).into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["-1", "0", "1", "2"]);
        let unit = YRange::of([0.0, 1.0]);
        let labels: Vec<String> = unit.ticks(100).into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0", "0.5", "1.0"]);
        let narrow = YRange::of([0.18, 0.82]);
        assert_eq!(narrow.ticks(100).len(), 4, "0.2, 0.4, 0.6, 0.8");
        // A short panel gets fewer: 0.3, …, 0.7 would be 5 in 73 pixels.
        let short = YRange::of([0.3, 0.7]);
        assert_eq!(short.ticks(100).len(), 5);
        assert_eq!(short.ticks(73).len(), 2, "0.4, 0.6");
        // Nothing finite, or one value: a range all the same.
        assert_eq!(YRange::of([f32::NAN]), YRange { lo: 0.0, hi: 1.0 });
        let flat = YRange::of([3.0, 3.0]);
        assert!(flat.lo < 3.0 && flat.hi > 3.0);
        assert!(!flat.ticks(100).is_empty());
        // The top of the range is the panel's first row, the bottom its last.
        assert_eq!(unit.pixel(unit.hi, 10, 50), 10);
        assert_eq!(unit.pixel(unit.lo, 10, 50), 59);
    }

    #[test]
    fn only_mnist_s_kind_are_digits() {
        let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
        assert!(are_digits(Shape::MNIST, &digits));
        assert_eq!(noun(Shape::MNIST, &digits), "digits");
        assert_eq!(noun(Shape::images(3, 28, 28), &digits), "images");
        assert_eq!(noun(Shape::MNIST, &[]), "images");
        assert_eq!(noun(Shape::rows(140), &digits), "samples");
    }

    #[test]
    fn long_names_are_cut_to_fit() {
        let cut = fit_text("tractor-trailer", 14.0, 60);
        assert!(cut.ends_with('…') && text_width(&cut, 14.0) <= 60, "{cut}");
        assert_eq!(fit_text("cat", 14.0, 60), "cat");
    }

    #[test]
    fn the_latent_picture_has_a_series_per_class_or_one_for_unlabelled_data() {
        let points = [(0.0, 0.0), (1.0, 1.0), (f64::NAN, 2.0), (3.0, 3.0)];
        let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let series = latent_series(&points, &[0, 2, 2, 5], &classes);
        let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["a", "b", "c", "5"],
            "a label without a name by its number"
        );
        assert_eq!(
            series[2].points,
            [(1.0, 1.0)],
            "points not finite are left out"
        );
        assert_eq!(series[3].colour, 5);
        let one = latent_series(&points, &[0; 4], &[]);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name, "test samples");
        assert_eq!(one[0].points.len(), 3);
    }
}

//! A PNG of test images above their reconstructions, to see what the model learnt.

use std::path::Path;

use crate::data::IMAGE_SIDE;
use crate::error::{Error, Result};

const GAP: usize = 2;

/// Writes a grayscale PNG: the images in the top row, their reconstructions below, each
/// 28×28 with a 2-pixel gap, written atomically.
pub fn save_comparison(path: &Path, images: &[f32], rebuilt: &[f32]) -> Result<()> {
    let count = images.len() / (IMAGE_SIDE * IMAGE_SIDE);
    if count == 0 || rebuilt.len() != images.len() {
        return Err(Error::Other("no images to draw".into()));
    }
    let width = count * (IMAGE_SIDE + GAP) + GAP;
    let height = 2 * (IMAGE_SIDE + GAP) + GAP;
    let mut pixels = vec![255u8; width * height];
    for (row, source) in [images, rebuilt].into_iter().enumerate() {
        for (i, image) in source.chunks_exact(IMAGE_SIDE * IMAGE_SIDE).enumerate() {
            let (x0, y0) = (GAP + i * (IMAGE_SIDE + GAP), GAP + row * (IMAGE_SIDE + GAP));
            for (j, &v) in image.iter().enumerate() {
                // MNIST is white on black; drawn as is.
                let level = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                pixels[(y0 + j / IMAGE_SIDE) * width + x0 + j % IMAGE_SIDE] = level;
            }
        }
    }
    let png_error = |e: png::EncodingError| Error::Other(format!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    crate::files::write_atomically(path, &bytes)
}

//! One image from its bytes: recognised by its magic bytes, its size checked from its
//! header before anything is decoded, decoded (PNG and JPEG, by the `image` crate) to 8
//! bits without alpha, given the channels and size the data flags ask for, and laid out
//! planar, C×H×W. The same for every image source: files in a folder or the page's
//! picks, and the byte images of IDX and NPY arrays (`conform_bytes`).

use std::io::Cursor;
use std::path::Path;

use image::codecs::jpeg::JpegDecoder;
use image::codecs::png::PngDecoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageFormat, Limits, Luma, Rgb};

use crate::data::prepare::MAX_SAMPLE_VALUES;
use crate::data::{data_error, Colour, Prepare, Shape};
use crate::error::Result;

/// The most bytes one image may take decoded, before its conversion to the sample: 1 GiB.
/// Beyond it a file is refused from its header, whatever --image-size it would shrink to.
pub const MAX_DECODED_BYTES: u64 = 1 << 30;

/// What a file is, from its first bytes (16 are enough) and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    /// An image this reader does not decode, or a file with an image's name that is no
    /// image it knows: an error once it is read, never a silent omission. Says what it is.
    Unsupported(String),
    /// Not an image at all: left out of an image folder, with a note.
    NotImage,
}

impl ImageKind {
    /// Whether it counts as an image file of a folder (so decoded, or refused).
    pub fn is_image(&self) -> bool {
        !matches!(self, ImageKind::NotImage)
    }
}

/// File name endings that say "image": a file so named is never left out silently, even
/// when its bytes are not an image's.
const IMAGE_EXTENSIONS: [&str; 23] = [
    "png", "jpg", "jpeg", "jpe", "jfif", "gif", "bmp", "tif", "tiff", "webp", "avif", "heic",
    "heif", "ico", "qoi", "pbm", "pgm", "ppm", "pnm", "tga", "exr", "hdr", "dds",
];

/// What the file named `name` is, from `head`, its first bytes. Formats with a long
/// signature are recognised whatever their name; those whose signature is two or three
/// bytes that plain text may start with (BMP's "BM", PNM's "P1"…) only by their name.
pub fn sniff(name: &str, head: &[u8]) -> ImageKind {
    let named_image = name
        .rsplit_once('.')
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    match image::guess_format(head) {
        Ok(ImageFormat::Png) => ImageKind::Png,
        Ok(ImageFormat::Jpeg) => ImageKind::Jpeg,
        Ok(
            format @ (ImageFormat::Gif
            | ImageFormat::Tiff
            | ImageFormat::WebP
            | ImageFormat::Avif
            | ImageFormat::Qoi
            | ImageFormat::OpenExr
            | ImageFormat::Hdr
            | ImageFormat::Farbfeld
            | ImageFormat::Dds),
        ) => ImageKind::Unsupported(format!("a {} image", format_name(format))),
        Ok(format) if named_image => {
            ImageKind::Unsupported(format!("a {} image", format_name(format)))
        }
        _ if named_image => ImageKind::Unsupported(
            "named as an image, but its first bytes are no PNG's or JPEG's signature (a corrupt file, or another format)"
                .into(),
        ),
        _ => ImageKind::NotImage,
    }
}

fn format_name(format: ImageFormat) -> String {
    format
        .extensions_str()
        .first()
        .map_or_else(|| format!("{format:?}"), |e| e.to_ascii_uppercase())
}

/// One image as a sample: C×H×W bytes, planar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub pixels: Vec<u8>,
}

impl Picture {
    pub fn shape(&self) -> Shape {
        Shape::images(self.channels, self.height, self.width)
    }
}

/// PIL's `convert("L")` of one RGB pixel, exactly: ITU-R 601-2 luma in 16-bit fixed point,
/// rounded. The weights sum to 65536, so white stays 255.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// The channels an image of `native` channels becomes under `prepare`.
fn channels_out(native: usize, prepare: &Prepare) -> usize {
    match prepare.colour {
        Some(Colour::Grey) => 1,
        Some(Colour::Rgb) => 3,
        None => native,
    }
}

/// Refuses, from a header's numbers alone, an image whose decoding or whose sample would
/// be too large: `bytes_per_pixel` as decoded, `native` channels as a sample.
fn check_size(
    path: &Path,
    (height, width): (usize, usize),
    bytes_per_pixel: usize,
    native: usize,
    prepare: &Prepare,
) -> Result<()> {
    let decoded = (height as u64)
        .saturating_mul(width as u64)
        .saturating_mul(bytes_per_pixel as u64);
    if decoded > MAX_DECODED_BYTES {
        return Err(data_error(
            path,
            format!(
                "is {height}×{width} pixels (H×W): more than 1 GiB decoded, too large to read, whatever --image-size; make it smaller first"
            ),
        ));
    }
    let (h, w) = prepare.image_size.unwrap_or((height, width));
    let c = channels_out(native, prepare);
    let values = Shape::images(c, h, w).elements();
    if values > MAX_SAMPLE_VALUES {
        return Err(data_error(
            path,
            format!(
                "a sample of {c}×{h}×{w} values is more than 2^28 (1 GiB as f32): give a smaller --image-size"
            ),
        ));
    }
    Ok(())
}

/// A PNG's size and channels from its IHDR, read from fixed offsets before any decoder
/// runs; `None` when the header is not there (the decoder then says what is wrong).
fn png_header(bytes: &[u8]) -> Option<((usize, usize), usize, usize)> {
    let ihdr = bytes.get(8..26)?;
    if &ihdr[4..8] != b"IHDR" {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes([ihdr[at], ihdr[at + 1], ihdr[at + 2], ihdr[at + 3]]);
    let (width, height) = (be(8) as usize, be(12) as usize);
    let (depth, colour) = (ihdr[16] as usize, ihdr[17]);
    // Grey (0) and grey+alpha (4) are one channel; RGB (2), palette (3, expanded to RGB
    // by the decoder) and RGBA (6) are three. As decoded: up to 4 channels, 2 bytes deep.
    let channels = match colour {
        0 | 4 => 1,
        _ => 3,
    };
    let bytes_per_pixel = 4 * depth.div_ceil(8).max(1);
    Some(((height, width), bytes_per_pixel, channels))
}

/// Decodes the image file `path` (whose bytes are `bytes`) into a sample as `prepare`
/// asks: its own channels (1 for grey and grey+alpha, 3 for RGB and RGBA; alpha dropped)
/// or those of --grey/--rgb, at its own size or resized to --image-size.
pub fn decode(path: &Path, bytes: &[u8], prepare: &Prepare) -> Result<Picture> {
    let kind = sniff(&path.to_string_lossy(), bytes.get(..16).unwrap_or(bytes));
    let image = match kind {
        ImageKind::Png => {
            if let Some((size, bytes_per_pixel, native)) = png_header(bytes) {
                check_size(path, size, bytes_per_pixel, native, prepare)?;
            }
            let decoder = PngDecoder::with_limits(Cursor::new(bytes), limits())
                .map_err(|e| undecodable(path, "PNG", e))?;
            decode_with(path, decoder, "PNG", prepare)?
        }
        ImageKind::Jpeg => {
            let mut decoder =
                JpegDecoder::new(Cursor::new(bytes)).map_err(|e| undecodable(path, "JPEG", e))?;
            decoder
                .set_limits(limits())
                .map_err(|e| undecodable(path, "JPEG", e))?;
            decode_with(path, decoder, "JPEG", prepare)?
        }
        ImageKind::Unsupported(what) => {
            return Err(data_error(
                path,
                format!("is {what}: only PNG and JPEG images are read; convert it, or move it out of the folder"),
            ))
        }
        ImageKind::NotImage => {
            return Err(data_error(
                path,
                "is not a PNG or JPEG image (its first bytes are neither's signature)",
            ))
        }
    };
    let (height, width) = (image.height() as usize, image.width() as usize);
    let (channels, pixels) = eight_bit(image);
    conform(path, pixels, channels, (height, width), prepare)
}

/// The decoders' own allocation limit, a little above this reader's (which is checked
/// first, with a better message).
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(2 * MAX_DECODED_BYTES);
    limits
}

fn undecodable(path: &Path, format: &str, e: image::ImageError) -> crate::error::Error {
    data_error(
        path,
        format!("cannot be decoded as {format} ({e}): a corrupt or truncated file"),
    )
}

fn decode_with(
    path: &Path,
    decoder: impl ImageDecoder,
    format: &str,
    prepare: &Prepare,
) -> Result<DynamicImage> {
    let (width, height) = decoder.dimensions();
    let native = match decoder.color_type().has_color() {
        true => 3,
        false => 1,
    };
    let bytes_per_pixel = decoder.color_type().bytes_per_pixel() as usize;
    check_size(
        path,
        (height as usize, width as usize),
        bytes_per_pixel,
        native,
        prepare,
    )?;
    DynamicImage::from_decoder(decoder).map_err(|e| undecodable(path, format, e))
}

/// An image's pixels as 8-bit grey or RGB, interleaved, alpha dropped without
/// compositing: 8-bit images byte for byte, deeper ones by the `image` crate. Returns
/// the channels and the pixels.
fn eight_bit(image: DynamicImage) -> (usize, Vec<u8>) {
    let drop_alpha = |raw: Vec<u8>, from: usize, to: usize| -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len() / from * to);
        for pixel in raw.chunks_exact(from) {
            out.extend_from_slice(&pixel[..to]);
        }
        out
    };
    match image {
        DynamicImage::ImageLuma8(b) => (1, b.into_raw()),
        DynamicImage::ImageLumaA8(b) => (1, drop_alpha(b.into_raw(), 2, 1)),
        DynamicImage::ImageRgb8(b) => (3, b.into_raw()),
        DynamicImage::ImageRgba8(b) => (3, drop_alpha(b.into_raw(), 4, 3)),
        other if !other.color().has_color() => (1, other.to_luma8().into_raw()),
        other => (3, other.to_rgb8().into_raw()),
    }
}

/// Interleaved pixels of `channels` (1 or 3) made into the sample `prepare` asks for:
/// channels converted (--grey by `luma`, --rgb by repeating), then resized (bilinear)
/// where --image-size differs from the size they have; returned planar.
fn conform(
    path: &Path,
    pixels: Vec<u8>,
    channels: usize,
    (height, width): (usize, usize),
    prepare: &Prepare,
) -> Result<Picture> {
    let out = channels_out(channels, prepare);
    let pixels = match (channels, out) {
        (3, 1) => pixels
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        (1, 3) => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        _ => pixels,
    };
    let (pixels, (height, width)) = match prepare.image_size {
        Some(size) if size != (height, width) => {
            (resize(path, pixels, out, (height, width), size)?, size)
        }
        _ => (pixels, (height, width)),
    };
    Ok(Picture {
        channels: out,
        height,
        width,
        pixels: planar(&pixels, out),
    })
}

/// Bilinear resizing (`FilterType::Triangle`) of interleaved pixels.
fn resize(
    path: &Path,
    pixels: Vec<u8>,
    channels: usize,
    (height, width): (usize, usize),
    (to_height, to_width): (usize, usize),
) -> Result<Vec<u8>> {
    let side = |v: usize| {
        u32::try_from(v).map_err(|_| data_error(path, format!("a side of {v} pixels is too long")))
    };
    let (w, h, tw, th) = (
        side(width)?,
        side(height)?,
        side(to_width)?,
        side(to_height)?,
    );
    let wrong = || {
        data_error(
            path,
            "the pixels do not fill the image's size (an internal error)",
        )
    };
    Ok(match channels {
        1 => {
            let buffer = ImageBuffer::<Luma<u8>, _>::from_raw(w, h, pixels).ok_or_else(wrong)?;
            image::imageops::resize(&buffer, tw, th, FilterType::Triangle).into_raw()
        }
        _ => {
            let buffer = ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, pixels).ok_or_else(wrong)?;
            image::imageops::resize(&buffer, tw, th, FilterType::Triangle).into_raw()
        }
    })
}

/// Interleaved (H×W×C) pixels to planar (C×H×W).
pub fn planar(interleaved: &[u8], channels: usize) -> Vec<u8> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let plane = interleaved.len() / channels;
    let mut out = vec![0u8; interleaved.len()];
    for (i, pixel) in interleaved.chunks_exact(channels).enumerate() {
        for (c, &v) in pixel.iter().enumerate() {
            out[c * plane + i] = v;
        }
    }
    out
}

/// Planar (C×H×W) pixels to interleaved (H×W×C).
pub fn interleaved(planar: &[u8], channels: usize) -> Vec<u8> {
    if channels <= 1 {
        return planar.to_vec();
    }
    let plane = planar.len() / channels;
    let mut out = vec![0u8; planar.len()];
    for c in 0..channels {
        for (i, &v) in planar[c * plane..(c + 1) * plane].iter().enumerate() {
            out[i * channels + c] = v;
        }
    }
    out
}

/// Byte images of `shape` from an array (IDX, NPY), one sample after another, planar,
/// given the channels and size `prepare` asks for, as image files are; samples already
/// as asked are kept as they are. `path` names the array in errors.
pub fn conform_bytes(
    path: &Path,
    values: Vec<u8>,
    shape: Shape,
    prepare: &Prepare,
) -> Result<(Vec<u8>, Shape)> {
    let (height, width) = prepare.image_size.unwrap_or((shape.height, shape.width));
    let target = Shape::images(channels_out(shape.channels, prepare), height, width);
    if target == shape {
        return Ok((values, shape));
    }
    check_size(
        path,
        (shape.height, shape.width),
        shape.channels,
        shape.channels,
        prepare,
    )?;
    let elements = shape.elements().max(1);
    let count = values.len() / elements;
    // The flags, not the file, size this: reserved fallibly, so that an --image-size too
    // large for memory is an error rather than an abort.
    let mut out = Vec::new();
    count
        .checked_mul(target.elements())
        .and_then(|total| out.try_reserve_exact(total).ok())
        .ok_or_else(|| {
            data_error(
                path,
                format!(
                    "{count} samples of {} do not fit in memory: give a smaller --image-size",
                    target.describe()
                ),
            )
        })?;
    for sample in values.chunks_exact(elements) {
        let picture = conform(
            path,
            interleaved(sample, shape.channels),
            shape.channels,
            (shape.height, shape.width),
            prepare,
        )?;
        out.extend_from_slice(&picture.pixels);
    }
    Ok((out, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageEncoder;

    fn png(width: u32, height: u32, colour: image::ExtendedColorType, pixels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(pixels, width, height, colour)
            .unwrap();
        out
    }

    /// A 2×3 (H×W) RGB image whose pixels are numbered.
    fn rgb_2x3() -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..18).map(|i| i * 10).collect();
        (png(3, 2, image::ExtendedColorType::Rgb8, &pixels), pixels)
    }

    #[test]
    fn luma_matches_pils_rule_by_hand() {
        assert_eq!(luma(0, 0, 0), 0);
        assert_eq!(luma(255, 255, 255), 255);
        // (255·19595 + 32768) >> 16 = 5_029_493 >> 16 = 76.
        assert_eq!(luma(255, 0, 0), 76);
        // 255·38470 + 32768 = 9_842_618 → 150.
        assert_eq!(luma(0, 255, 0), 150);
        // 255·7471 + 32768 = 1_937_873 → 29.
        assert_eq!(luma(0, 0, 255), 29);
        // 10·19595 + 20·38470 + 30·7471 + 32768 = 1_192_848 → 18.
        assert_eq!(luma(10, 20, 30), 18);
    }

    #[test]
    fn an_rgb_png_decodes_planar() {
        let (bytes, pixels) = rgb_2x3();
        let p = decode(Path::new("a.png"), &bytes, &Prepare::default()).unwrap();
        assert_eq!((p.channels, p.height, p.width), (3, 2, 3));
        let pixels_ref = &pixels;
        let want: Vec<u8> = (0..3)
            .flat_map(|c| (0..6).map(move |i| pixels_ref[i * 3 + c]))
            .collect();
        assert_eq!(p.pixels, want);
        assert_eq!(interleaved(&p.pixels, 3), pixels);
    }

    #[test]
    fn grey_and_rgb_flags_convert_channels() {
        let (bytes, pixels) = rgb_2x3();
        let grey = Prepare {
            colour: Some(Colour::Grey),
            ..Prepare::default()
        };
        let p = decode(Path::new("a.png"), &bytes, &grey).unwrap();
        let want: Vec<u8> = pixels.chunks(3).map(|p| luma(p[0], p[1], p[2])).collect();
        assert_eq!((p.channels, p.pixels), (1, want));

        let grey_png = png(2, 1, image::ExtendedColorType::La8, &[7, 255, 9, 0]);
        let rgb = Prepare {
            colour: Some(Colour::Rgb),
            ..Prepare::default()
        };
        let p = decode(Path::new("g.png"), &grey_png, &rgb).unwrap();
        assert_eq!((p.channels, p.pixels), (3, vec![7, 9, 7, 9, 7, 9]));
        let p = decode(Path::new("g.png"), &grey_png, &Prepare::default()).unwrap();
        assert_eq!((p.channels, p.pixels), (1, vec![7, 9]), "alpha dropped");
    }

    #[test]
    fn image_size_resizes_only_images_of_another_size() {
        let (bytes, _) = rgb_2x3();
        let to = |size| Prepare {
            image_size: Some(size),
            ..Prepare::default()
        };
        let p = decode(Path::new("a.png"), &bytes, &to((4, 5))).unwrap();
        assert_eq!((p.height, p.width, p.pixels.len()), (4, 5, 60));
        let same = decode(Path::new("a.png"), &bytes, &to((2, 3))).unwrap();
        assert_eq!(
            same,
            decode(Path::new("a.png"), &bytes, &Prepare::default()).unwrap()
        );
    }

    #[test]
    fn a_jpeg_decodes_with_its_own_channels() {
        let pixels = vec![128u8; 8 * 8 * 3];
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95)
            .write_image(&pixels, 8, 8, image::ExtendedColorType::Rgb8)
            .unwrap();
        let p = decode(Path::new("a.jpg"), &bytes, &Prepare::default()).unwrap();
        assert_eq!((p.channels, p.height, p.width), (3, 8, 8));
        assert!(
            p.pixels.iter().all(|&v| v.abs_diff(128) <= 2),
            "{:?}",
            &p.pixels[..8]
        );
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() / 3);
        let e = decode(Path::new("a.jpg"), &cut, &Prepare::default());
        assert!(
            e.is_err() || e.is_ok_and(|p| p.pixels.len() == 192),
            "a truncated JPEG is refused or padded, never a panic"
        );
    }

    #[test]
    fn sixteen_bit_grey_becomes_eight() {
        let pixels: Vec<u8> = [0u16, 65535, 257 * 100]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let bytes = png(3, 1, image::ExtendedColorType::L16, &pixels);
        let p = decode(Path::new("d.png"), &bytes, &Prepare::default()).unwrap();
        assert_eq!(p.pixels, vec![0, 255, 100]);
    }

    #[test]
    fn files_are_told_apart_by_their_bytes() {
        let (bytes, _) = rgb_2x3();
        assert_eq!(sniff("x.dat", &bytes), ImageKind::Png);
        assert_eq!(sniff("x", &[0xff, 0xd8, 0xff, 0xe0]), ImageKind::Jpeg);
        assert!(
            matches!(sniff("x.png", b"GIF89a...."), ImageKind::Unsupported(w) if w.contains("GIF"))
        );
        assert!(
            matches!(sniff("x.bmp", b"BM........"), ImageKind::Unsupported(w) if w.contains("BMP"))
        );
        assert_eq!(sniff("notes.txt", b"BMI,age\n"), ImageKind::NotImage);
        assert!(sniff("x.PNG", b"hello").is_image());
        assert_eq!(sniff("labels.csv", b"a,b\n1,2\n"), ImageKind::NotImage);
    }

    #[test]
    fn bad_files_are_errors_naming_them() {
        let (bytes, _) = rgb_2x3();
        let err = |b: &[u8]| {
            decode(Path::new("dir/bad.png"), b, &Prepare::default())
                .unwrap_err()
                .to_string()
        };
        for bad in [
            &bytes[..bytes.len() - 20],
            &bytes[..30],
            b"GIF89a\x01\x00\x01\x00",
            b"",
        ] {
            let e = err(bad);
            assert!(e.contains("dir/bad.png"), "{e}");
        }
        let mut corrupt = bytes.clone();
        corrupt[40] ^= 0xff;
        assert!(err(&corrupt).contains("cannot be decoded"));
    }

    #[test]
    fn planar_and_interleaved_are_inverses() {
        let v: Vec<u8> = (0..24).collect();
        assert_eq!(interleaved(&planar(&v, 3), 3), v);
        assert_eq!(planar(&v, 1), v);
    }

    #[test]
    fn byte_arrays_conform_as_files_do() {
        let (bytes, pixels) = rgb_2x3();
        let grey = Prepare {
            colour: Some(Colour::Grey),
            image_size: Some((4, 4)),
            ..Prepare::default()
        };
        let from_file = decode(Path::new("a.png"), &bytes, &grey).unwrap();
        let planar_pixels = planar(&pixels, 3);
        let two = [planar_pixels.clone(), planar_pixels].concat();
        let (out, shape) =
            conform_bytes(Path::new("a.idx"), two, Shape::images(3, 2, 3), &grey).unwrap();
        assert_eq!(shape, Shape::images(1, 4, 4));
        assert_eq!(out, [from_file.pixels.clone(), from_file.pixels].concat());
    }
}

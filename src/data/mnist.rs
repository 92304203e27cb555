//! MNIST's files checked from their bytes: gunzipped (one member or several), then the
//! IDX header (magic number, count, image size), the exact length and the labels, with
//! errors that name the file. Reading the files is the shell's (`native::data` on disk,
//! the page's fetch in a browser); what they hold is checked here, the same for both.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::{data_error, Data, Dataset, Shape, Split, IMAGE_SIDE};
use crate::error::Result;

/// MNIST's four files, gzipped beside each other: (name without `.gz`, magic, count).
pub const FILES: [(&str, u32, usize); 4] = [
    ("train-images-idx3-ubyte", IMAGES_MAGIC, TRAIN_COUNT),
    ("train-labels-idx1-ubyte", LABELS_MAGIC, TRAIN_COUNT),
    ("t10k-images-idx3-ubyte", IMAGES_MAGIC, TEST_COUNT),
    ("t10k-labels-idx1-ubyte", LABELS_MAGIC, TEST_COUNT),
];
const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;
/// The training images MNIST has: the most `--limit` keeps, and a batch can hold.
pub const TRAIN_COUNT: usize = 60_000;
pub const TEST_COUNT: usize = 10_000;

/// The largest decompressed IDX file this loader reads (the training images, 47 MB).
/// Reading stops one byte past the size a file's name promises, so a gzip bomb or a
/// wrong file never makes an allocation larger than MNIST itself.
fn expected_len(magic: u32, count: usize) -> usize {
    match magic {
        IMAGES_MAGIC => 16 + count * IMAGE_SIDE * IMAGE_SIDE,
        _ => 8 + count,
    }
}

/// Gunzips every member of the stream (a file of several gzip members is valid gzip, as
/// `gzip -t` agrees), reading at most `max` bytes plus one.
fn gunzip(path: &Path, gz: impl Read, max: usize) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| data_error(path, format!("not a valid gzip file ({e})")))?;
    Ok(bytes)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads one gzipped IDX file: `count` items under `magic` (labels or 28×28 images),
/// header and exact length checked, and labels checked to be digits. `path` only names
/// the file in errors. Every input gives the decompressed file or an error, never a
/// panic; this is what the property tests in tests/loaders.rs hammer.
pub fn decode_idx(path: &Path, gz: impl Read, magic: u32, count: usize) -> Result<Vec<u8>> {
    let expected = expected_len(magic, count);
    let bytes = gunzip(path, gz, expected)?;
    let header = if magic == IMAGES_MAGIC { 16 } else { 8 };
    if bytes.len() < header {
        return Err(data_error(
            path,
            format!("only {} bytes: too short for an IDX header", bytes.len()),
        ));
    }
    let found = be_u32(&bytes, 0);
    if found != magic {
        return Err(data_error(
            path,
            format!("magic number {found}, expected {magic}"),
        ));
    }
    let n = be_u32(&bytes, 4) as usize;
    if n != count {
        return Err(data_error(
            path,
            format!("holds {n} items, expected {count}"),
        ));
    }
    if magic == IMAGES_MAGIC {
        let (rows, cols) = (be_u32(&bytes, 8), be_u32(&bytes, 12));
        if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
            return Err(data_error(
                path,
                format!("images are {rows}×{cols}, expected 28×28"),
            ));
        }
    }
    if bytes.len() != expected {
        let found = match bytes.len() > expected {
            true => format!("more than {expected}"),
            false => bytes.len().to_string(),
        };
        return Err(data_error(
            path,
            format!("{found} bytes after gunzip, expected {expected}"),
        ));
    }
    if magic == LABELS_MAGIC {
        if let Some((i, &label)) = bytes[header..].iter().enumerate().find(|(_, &l)| l > 9) {
            return Err(data_error(
                path,
                format!("label {i} is {label}, not a digit 0-9: a corrupt MNIST file"),
            ));
        }
    }
    Ok(bytes)
}

/// The magic numbers of the two kinds of IDX file MNIST has.
pub const IDX_IMAGES: u32 = IMAGES_MAGIC;
pub const IDX_LABELS: u32 = LABELS_MAGIC;

/// MNIST from the bytes of its four gzipped files, in `FILES` order, each checked as
/// `decode_idx` checks it, with the training set cut to `limit` images: how the browser's
/// page loads the files it fetched. (The terminal reads them from disk through the
/// `mnist` crate, after the same checks.)
pub fn mnist_from_gz(files: [&[u8]; 4], limit: Option<usize>) -> Result<Data> {
    let mut decoded = Vec::with_capacity(4);
    for ((name, magic, count), gz) in FILES.into_iter().zip(files) {
        let path = PathBuf::from(format!("{name}.gz"));
        let bytes = decode_idx(&path, gz, magic, count)?;
        let header = if magic == IMAGES_MAGIC { 16 } else { 8 };
        decoded.push(bytes[header..].to_vec());
    }
    let mut it = decoded.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let (train_images, train_labels) = (next(), next());
    let (test_images, test_labels) = (next(), next());
    let mut data = mnist_data(
        Dataset::of_bytes(train_images, train_labels),
        Dataset::of_bytes(test_images, test_labels),
        "MNIST's IDX files".into(),
    );
    data.apply_limit(limit)?;
    Ok(data)
}

/// MNIST (or a set in its format and size, as Fashion-MNIST and KMNIST) from its two
/// splits: 1×28×28 bytes, classes named by their digits.
pub fn mnist_data(train: Dataset, test: Dataset, source: String) -> Data {
    Data {
        train,
        test,
        shape: Shape::MNIST,
        classes: (0..10).map(|d| d.to_string()).collect(),
        source,
        split: Split::Given,
        scaling: None,
        notes: Vec::new(),
        trained_classes: None,
    }
}

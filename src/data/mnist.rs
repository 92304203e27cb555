//! MNIST's files checked from their bytes: gunzipped (one member or several), then the
//! IDX header (magic number, count, image size), the exact length and the labels, with
//! errors that name the file. Reading the files is the shell's (`native::data` on disk,
//! the page's fetch in a browser); what they hold is checked here, the same for both.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::IMAGE_SIDE;
use crate::error::{Error, Result};

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

/// Images as bytes (count × 28 × 28, row-major) with their labels.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Keeps the first `n` images (all of them if there are fewer): what `--limit` and the
    /// page's "training images" do to the training set.
    pub fn keep_first(&mut self, n: usize) {
        let n = n.min(self.len());
        self.images.truncate(n * IMAGE_SIDE * IMAGE_SIDE);
        self.labels.truncate(n);
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[derive(Clone)]
pub struct Mnist {
    pub train: Dataset,
    pub test: Dataset,
}

pub fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

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

/// What is wrong with a limit that keeps no image or more than there are, if anything.
pub fn limit_problem(limit: Option<usize>) -> Option<String> {
    match limit {
        Some(n) if n == 0 || n > TRAIN_COUNT => {
            Some(format!("{n}: must be between 1 and {TRAIN_COUNT}"))
        }
        _ => None,
    }
}

/// Refuses a `--limit` that keeps no image or more than there are.
pub fn check_limit(limit: Option<usize>) -> Result<()> {
    match limit_problem(limit) {
        Some(why) => Err(Error::flag("--limit", why)),
        None => Ok(()),
    }
}

/// MNIST from the bytes of its four gzipped files, in `FILES` order, each checked as
/// `decode_idx` checks it, with the training set cut to `limit` images: how the browser's
/// page loads the files it fetched. (The terminal reads them from disk through the
/// `mnist` crate, after the same checks.)
pub fn mnist_from_gz(files: [&[u8]; 4], limit: Option<usize>) -> Result<Mnist> {
    check_limit(limit)?;
    let mut decoded = Vec::with_capacity(4);
    for ((name, magic, count), gz) in FILES.into_iter().zip(files) {
        let path = PathBuf::from(format!("{name}.gz"));
        let bytes = decode_idx(&path, gz, magic, count)?;
        let header = if magic == IMAGES_MAGIC { 16 } else { 8 };
        decoded.push(bytes[header..].to_vec());
    }
    let mut it = decoded.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let mut train = Dataset {
        images: next(),
        labels: next(),
    };
    if let Some(n) = limit {
        train.keep_first(n);
    }
    let test = Dataset {
        images: next(),
        labels: next(),
    };
    Ok(Mnist { train, test })
}

//! Loading MNIST from `data/mnist/*.gz`.
//!
//! The `mnist` crate parses the IDX files, but it panics on anything unexpected and reads
//! only uncompressed files. So each file is first gunzipped here and checked (existence,
//! gzip integrity, magic number, counts, image size, exact length) with errors that name
//! the file; only then are the verified bytes handed to the crate, via a temporary folder.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::data::IMAGE_SIDE;
use crate::error::{Error, Result};

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;
/// The training images MNIST has: the most `--limit` keeps, and a batch can hold.
pub const TRAIN_COUNT: usize = 60_000;
const TEST_COUNT: usize = 10_000;

/// Images as bytes (count × 28 × 28, row-major) with their labels.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

pub struct Mnist {
    pub train: Dataset,
    pub test: Dataset,
}

/// `data/mnist` if it exists from here, else the copy bundled with the source tree.
pub fn default_data_dir() -> PathBuf {
    let local = PathBuf::from("data/mnist");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
    }
}

fn data_error(path: &Path, message: impl Into<String>) -> Error {
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

/// Opens a data file, refusing at once anything that is not a regular file (a FIFO
/// would otherwise block forever).
fn open(path: &Path) -> Result<std::fs::File> {
    crate::files::open_regular(path).map_err(|e| {
        data_error(
            path,
            format!(
                "cannot open ({e}); the bundled MNIST lives in data/mnist, or pass --data-dir DIR"
            ),
        )
    })
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

/// Checks an IDX file and returns it decompressed.
fn read_idx(path: &Path, magic: u32, count: usize) -> Result<Vec<u8>> {
    decode_idx(path, open(path)?, magic, count)
}

/// The magic numbers of the two kinds of IDX file MNIST has.
pub const IDX_IMAGES: u32 = IMAGES_MAGIC;
pub const IDX_LABELS: u32 = LABELS_MAGIC;

/// Refuses a `--limit` that keeps no image or more than there are.
pub fn check_limit(limit: Option<usize>) -> Result<()> {
    match limit {
        Some(n) if n == 0 || n > TRAIN_COUNT => Err(Error::flag(
            "--limit",
            format!("{n}: must be between 1 and {TRAIN_COUNT}"),
        )),
        _ => Ok(()),
    }
}

/// Loads and checks all four files; `limit` keeps the first N training images.
pub fn load_mnist(dir: &Path, limit: Option<usize>) -> Result<Mnist> {
    check_limit(limit)?;
    if !dir.is_dir() {
        return Err(data_error(dir, "no such folder (--data-dir)"));
    }
    let files = [
        (TRAIN_IMAGES, IMAGES_MAGIC, TRAIN_COUNT),
        (TRAIN_LABELS, LABELS_MAGIC, TRAIN_COUNT),
        (TEST_IMAGES, IMAGES_MAGIC, TEST_COUNT),
        (TEST_LABELS, LABELS_MAGIC, TEST_COUNT),
    ];
    let staging = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    for (name, magic, count) in files {
        let gz = dir.join(format!("{name}.gz"));
        let bytes = read_idx(&gz, magic, count)?;
        let out = staging.path().join(name);
        std::fs::write(&out, bytes).map_err(|e| Error::io(out, e))?;
    }
    let base = staging
        .path()
        .to_str()
        .ok_or_else(|| Error::Other("the temporary folder's path is not UTF-8".into()))?;
    let parsed = mnist::MnistBuilder::new()
        .base_path(base)
        .training_images_filename(TRAIN_IMAGES)
        .training_labels_filename(TRAIN_LABELS)
        .test_images_filename(TEST_IMAGES)
        .test_labels_filename(TEST_LABELS)
        .training_set_length(TRAIN_COUNT as u32)
        .validation_set_length(0)
        .test_set_length(TEST_COUNT as u32)
        .finalize();
    let mut train = Dataset {
        images: parsed.trn_img,
        labels: parsed.trn_lbl,
    };
    if let Some(n) = limit {
        train.images.truncate(n * IMAGE_SIDE * IMAGE_SIDE);
        train.labels.truncate(n);
    }
    let test = Dataset {
        images: parsed.tst_img,
        labels: parsed.tst_lbl,
    };
    Ok(Mnist { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_gz(path: &Path, bytes: &[u8]) {
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(path).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
    }

    fn labels_file(count: u32) -> Vec<u8> {
        let mut b = LABELS_MAGIC.to_be_bytes().to_vec();
        b.extend(count.to_be_bytes());
        b.extend(std::iter::repeat_n(3u8, count as usize));
        b
    }

    #[test]
    fn bad_files_are_errors_that_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.gz");
        let err = |p: &Path| read_idx(p, LABELS_MAGIC, 10).unwrap_err().to_string();

        assert!(err(&path).contains("cannot open"));
        std::fs::write(&path, b"plain text").unwrap();
        assert!(err(&path).contains("not a valid gzip"));
        write_gz(&path, &[0, 0]);
        assert!(err(&path).contains("too short"));
        let mut wrong_magic = labels_file(10);
        wrong_magic[2] = 9;
        write_gz(&path, &wrong_magic);
        assert!(err(&path).contains("magic number"));
        write_gz(&path, &labels_file(9));
        assert!(err(&path).contains("holds 9 items"));
        let mut truncated = labels_file(10);
        truncated.pop();
        write_gz(&path, &truncated);
        assert!(err(&path).contains("bytes after gunzip"));
        write_gz(&path, &labels_file(10));
        assert_eq!(read_idx(&path, LABELS_MAGIC, 10).unwrap().len(), 18);
    }

    #[test]
    fn several_gzip_members_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.gz"), dir.path().join("b.gz"));
        let labels = labels_file(10);
        write_gz(&a, &labels[..9]);
        write_gz(&b, &labels[9..]);
        let path = dir.path().join("labels.gz");
        let mut joined = std::fs::read(&a).unwrap();
        joined.extend(std::fs::read(&b).unwrap());
        std::fs::write(&path, joined).unwrap();
        assert_eq!(read_idx(&path, LABELS_MAGIC, 10).unwrap(), labels);
    }

    #[test]
    fn labels_that_are_not_digits_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.gz");
        let mut labels = labels_file(10);
        labels[8 + 4] = 10;
        write_gz(&path, &labels);
        let e = read_idx(&path, LABELS_MAGIC, 10).unwrap_err().to_string();
        assert!(e.contains("label 4 is 10"), "{e}");
    }

    #[test]
    fn wrong_image_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.gz");
        let mut b = IMAGES_MAGIC.to_be_bytes().to_vec();
        for v in [1u32, 27, 28] {
            b.extend(v.to_be_bytes());
        }
        b.extend([0u8; 27 * 28]);
        write_gz(&path, &b);
        let e = read_idx(&path, IMAGES_MAGIC, 1).unwrap_err().to_string();
        assert!(e.contains("27×28"), "{e}");
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let e = load_mnist(Path::new("/no/such/mnist"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no such folder"), "{e}");
    }
}

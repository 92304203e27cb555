//! MNIST from `data/mnist/*.gz` on disk.
//!
//! The `mnist` crate parses the IDX files, but it panics on anything unexpected and reads
//! only uncompressed files. So each file is opened only if it is a regular file, then
//! gunzipped and checked by `data::decode_idx` (gzip integrity, magic number, counts,
//! image size, exact length, labels), with errors that name the file; only then are the
//! verified bytes handed to the crate, via a temporary folder.

use std::path::{Path, PathBuf};

use crate::data::{
    check_limit, data_error, decode_idx, mnist_data, Data, Dataset, Prepare, Scaling, FILES,
    TEST_COUNT, TRAIN_COUNT,
};
use crate::error::{Error, Result};

/// `data/mnist` if it exists from here, else the copy bundled with the source tree.
pub fn default_data_dir() -> PathBuf {
    let local = PathBuf::from("data/mnist");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
    }
}

/// Opens a data file, refusing at once anything that is not a regular file (a FIFO
/// would otherwise block forever).
fn open(path: &Path) -> Result<std::fs::File> {
    crate::native::files::open_regular(path).map_err(|e| {
        data_error(
            path,
            format!(
                "cannot open ({e}); the bundled MNIST lives in data/mnist, or pass --data-dir DIR"
            ),
        )
    })
}

/// The data at `path`, recognised by what it holds, prepared as `prepare` says; rows are
/// scaled by `scaling` where one is given (a saved model's), else by one fitted on the
/// training split.
pub fn load(path: &Path, prepare: &Prepare, scaling: Option<&Scaling>) -> Result<Data> {
    let _ = (prepare, scaling);
    load_mnist(path, None)
}

/// Checks an IDX file and returns it decompressed.
fn read_idx(path: &Path, magic: u32, count: usize) -> Result<Vec<u8>> {
    decode_idx(path, open(path)?, magic, count)
}

/// Loads and checks all four files; `limit` keeps the first N training images.
pub fn load_mnist(dir: &Path, limit: Option<usize>) -> Result<Data> {
    check_limit(limit)?;
    if !dir.is_dir() {
        return Err(data_error(dir, "no such folder (--data-dir)"));
    }
    let staging = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    for (name, magic, count) in FILES {
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
        .training_images_filename(FILES[0].0)
        .training_labels_filename(FILES[1].0)
        .test_images_filename(FILES[2].0)
        .test_labels_filename(FILES[3].0)
        .training_set_length(TRAIN_COUNT as u32)
        .validation_set_length(0)
        .test_set_length(TEST_COUNT as u32)
        .finalize();
    let mut data = mnist_data(
        Dataset::of_bytes(parsed.trn_img, parsed.trn_lbl),
        Dataset::of_bytes(parsed.tst_img, parsed.tst_lbl),
        format!("MNIST-format IDX files in {}", dir.display()),
    );
    data.apply_limit(limit)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{IDX_IMAGES, IDX_LABELS};
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
        let mut b = IDX_LABELS.to_be_bytes().to_vec();
        b.extend(count.to_be_bytes());
        b.extend(std::iter::repeat_n(3u8, count as usize));
        b
    }

    #[test]
    fn bad_files_are_errors_that_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.gz");
        let err = |p: &Path| read_idx(p, IDX_LABELS, 10).unwrap_err().to_string();

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
        assert_eq!(read_idx(&path, IDX_LABELS, 10).unwrap().len(), 18);
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
        assert_eq!(read_idx(&path, IDX_LABELS, 10).unwrap(), labels);
    }

    #[test]
    fn labels_that_are_not_digits_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.gz");
        let mut labels = labels_file(10);
        labels[8 + 4] = 10;
        write_gz(&path, &labels);
        let e = read_idx(&path, IDX_LABELS, 10).unwrap_err().to_string();
        assert!(e.contains("label 4 is 10"), "{e}");
    }

    #[test]
    fn wrong_image_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images.gz");
        let mut b = IDX_IMAGES.to_be_bytes().to_vec();
        for v in [1u32, 27, 28] {
            b.extend(v.to_be_bytes());
        }
        b.extend([0u8; 27 * 28]);
        write_gz(&path, &b);
        let e = read_idx(&path, IDX_IMAGES, 1).unwrap_err().to_string();
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

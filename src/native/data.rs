//! The data behind `--data PATH` on disk: the folder walked (regular files only), files
//! read and image files decoded on every core (rayon), then handed to the core's readers
//! (`data::idx`, `data::images`, `data::folder`, `data::table`), which check them from
//! their bytes exactly as the browser's page does. And MNIST from `data/mnist/*.gz`:
//!
//! The `mnist` crate parses the IDX files, but it panics on anything unexpected and reads
//! only uncompressed files. So each file is opened only if it is a regular file, then
//! gunzipped and checked by `data::decode_idx` (gzip integrity, magic number, counts,
//! image size, exact length, labels), with errors that name the file; only then are the
//! verified bytes handed to the crate, via a temporary folder.

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::data::folder;
use crate::data::idx::{self, IdxHeader};
use crate::data::images::{self, ImageKind, Picture};
use crate::data::prepare::{check_flags, finish, SourceKind};
use crate::data::table;
use crate::data::{
    check_limit, data_error, decode_idx, mnist_data, Colour, Data, Dataset, Prepare, Scaling,
    Shape, Values, FILES, TEST_COUNT, TRAIN_COUNT,
};
use crate::error::{Error, Result};
use crate::native::files::read_regular;

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

/// The data at `path`, recognised by what it holds (docs/data-rules.md): a folder of
/// IDX files or of PNG/JPEG images, an NPY file or a CSV file; prepared as `prepare`
/// says, rows scaled by `scaling` where one is given (a saved model's), else by one
/// fitted on the training split.
pub fn load(path: &Path, prepare: &Prepare, scaling: Option<&Scaling>) -> Result<Data> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or folder".to_string(),
            _ => format!("cannot be read ({e})"),
        };
        data_error(
            path,
            format!("{what}; --data (or --data-dir) takes a folder of images or IDX files, a CSV file or an NPY file"),
        )
    })?;
    if meta.is_dir() {
        return load_folder(path, prepare, scaling);
    }
    let bytes = read_file(path)?;
    let loaded = match table::is_npy(&bytes) {
        true => table::read_npy(path, &bytes, prepare)?,
        false => {
            refuse_lone_sample_file(path, &bytes)?;
            table::read_csv(path, &bytes, prepare)?
        }
    };
    finish(loaded, prepare, scaling, path)
}

/// A single image or IDX file is no dataset of its own here, but its folder may be:
/// says so, rather than failing to read it as CSV.
fn refuse_lone_sample_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.to_string_lossy();
    let what = match images::sniff(&name, bytes.get(..16).unwrap_or(bytes)) {
        ImageKind::NotImage if is_idx_bytes(bytes) => "an IDX file",
        ImageKind::NotImage => return Ok(()),
        _ => "an image file",
    };
    Err(data_error(
        path,
        format!(
            "is {what}: --data takes the folder that holds such files, a CSV file or an NPY file"
        ),
    ))
}

fn is_idx_bytes(bytes: &[u8]) -> bool {
    match idx::is_gzip(bytes) {
        true => {
            let mut head = Vec::new();
            let _ = flate2::read::MultiGzDecoder::new(bytes)
                .take(16)
                .read_to_end(&mut head);
            idx::sniff(&head).is_some()
        }
        false => idx::sniff(bytes).is_some(),
    }
}

/// The bytes of a regular file, or an error naming it.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    read_regular(path).map_err(|e| data_error(path, format!("cannot be read ({e})")))
}

/// Opens a file of the user's data if it is a regular one.
fn open_data(path: &Path) -> Result<std::fs::File> {
    crate::native::files::open_regular(path)
        .map_err(|e| data_error(path, format!("cannot be read ({e})")))
}

/// Up to `n` of a regular file's first bytes.
fn read_head(path: &Path, n: usize) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    open_data(path)?
        .take(n as u64)
        .read_to_end(&mut head)
        .map_err(|e| data_error(path, format!("cannot be read ({e})")))?;
    Ok(head)
}

/// A file found in a folder: its path relative to the folder ('/'-separated, as the
/// folder rules take it) and on disk.
struct Found {
    rel: String,
    path: PathBuf,
}

/// Every regular file under `dir`, by relative path; hidden files and folders are
/// skipped, and what is neither a file nor a folder (a FIFO, a link to a folder, which
/// could loop) is left out with a note.
fn walk(dir: &Path) -> Result<(Vec<Found>, Vec<String>)> {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|e| data_error(&folder, format!("cannot be listed ({e})")))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| data_error(&folder, format!("cannot be listed ({e})")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let rel = format!("{prefix}{name}");
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| data_error(&path, format!("cannot be read ({e})")))?;
            // Links are followed to files only: a link to a folder could make a loop.
            let is_file = kind.is_file()
                || (kind.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_file()));
            if kind.is_dir() {
                pending.push((path, format!("{rel}/")));
            } else if is_file {
                found.push(Found { rel, path });
            } else {
                skipped.push(rel);
            }
        }
    }
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    skipped.sort();
    let notes = match skipped.len() {
        0 => Vec::new(),
        n => vec![format!(
            "left out {n} entr{} that are neither files nor folders (links to folders are not followed): {}",
            if n == 1 { "y" } else { "ies" },
            skipped.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        )],
    };
    Ok((found, notes))
}

/// The IDX header of a file, gunzipped where it is gzipped; `None` for anything else
/// (including a gzip file that does not open).
fn idx_header(path: &Path) -> Result<Option<IdxHeader>> {
    let head = read_head(path, 2)?;
    if !idx::is_gzip(&head) {
        return Ok(idx::sniff(&read_head(path, idx::HEADER_MAX)?));
    }
    let mut head = Vec::new();
    let gz = flate2::read::MultiGzDecoder::new(open_data(path)?);
    if gz
        .take(idx::HEADER_MAX as u64)
        .read_to_end(&mut head)
        .is_err()
    {
        return Ok(None);
    }
    Ok(idx::sniff(&head))
}

/// What one file of a folder turned out to be, from one read of it.
enum Scanned {
    /// Neither an image nor an IDX file.
    Other,
    /// A file directly in the folder that starts as an IDX file or a gzip file does.
    MaybeIdx,
    /// An image file (or one named as an image), decoded or refused.
    Image(Result<Picture>),
}

/// Reads a folder's file once: its first bytes say what it is, and an image is read on
/// and decoded as `prepare` asks, on whichever core scans it. (Decoding every image
/// before the folder's plan is known costs nothing but for images the plan leaves out,
/// and saves opening every file twice.)
fn scan(found: &Found, prepare: &Prepare) -> Result<Scanned> {
    let mut file = open_data(&found.path)?;
    let unreadable = |e: std::io::Error| data_error(&found.path, format!("cannot be read ({e})"));
    let mut bytes = Vec::new();
    (&mut file)
        .take(16)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    let top_level = !found.rel.contains('/');
    if top_level && (idx::is_gzip(&bytes) || idx::sniff(&bytes).is_some()) {
        return Ok(Scanned::MaybeIdx);
    }
    if !images::sniff(&found.rel, &bytes).is_image() {
        return Ok(Scanned::Other);
    }
    file.read_to_end(&mut bytes).map_err(unreadable)?;
    Ok(Scanned::Image(images::decode(&found.path, &bytes, prepare)))
}

/// A folder: of IDX files (its own files), else of images (anywhere beneath it).
fn load_folder(dir: &Path, prepare: &Prepare, scaling: Option<&Scaling>) -> Result<Data> {
    let (files, mut notes) = walk(dir)?;
    // The flags that no folder takes (IDX or images alike), refused before any
    // decoding; those about the split wait for the folder's plan.
    check_flags(
        SourceKind::ImageFiles,
        false,
        prepare,
        &format!("the folder {}", dir.display()),
    )?;
    if let Some(data) = mnist_layout(dir, &files, prepare)? {
        return Ok(data);
    }
    check_room_to_resize(dir, files.len(), prepare)?;
    let scanned = files
        .par_iter()
        .map(|f| scan(f, prepare))
        .collect::<Result<Vec<Scanned>>>()?;
    let mut idx_files = Vec::new();
    for (f, s) in files.iter().zip(&scanned) {
        if let Scanned::MaybeIdx = s {
            if let Some(header) = idx_header(&f.path)? {
                idx_files.push((f.rel.clone(), header));
            }
        }
    }
    if !idx_files.is_empty() {
        return load_idx_folder(dir, &files, idx_files, notes, prepare, scaling);
    }
    let is_image: Vec<bool> = scanned
        .iter()
        .map(|s| matches!(s, Scanned::Image(_)))
        .collect();
    if !is_image.contains(&true) {
        let tables: Vec<&str> = files
            .iter()
            .map(|f| f.rel.as_str())
            .filter(|r| r.ends_with(".csv") || r.ends_with(".npy"))
            .collect();
        let why = match tables.first() {
            Some(t) => format!(
                "holds no images or IDX files; a CSV or NPY file is given by its own path (--data {})",
                dir.join(t).display()
            ),
            None => "holds no images, IDX files, CSV or NPY files: --data takes a folder of PNG/JPEG images (in class folders, or train/ and test/) or of IDX files, a CSV file or an NPY file".into(),
        };
        return Err(data_error(dir, why));
    }
    let entries: Vec<(String, bool)> = files.iter().map(|f| f.rel.clone()).zip(is_image).collect();
    let plan = folder::plan(dir, &entries)?;
    let source = format!("PNG/JPEG images in {}: {}", dir.display(), plan.describe());
    check_flags(
        SourceKind::ImageFiles,
        plan.test.is_some(),
        prepare,
        &source,
    )?;
    let mut decoded: Vec<Option<Result<Picture>>> = scanned
        .into_iter()
        .map(|s| match s {
            Scanned::Image(picture) => Some(picture),
            _ => None,
        })
        .collect();
    // In the plan's order, so that the first error is the first sample's.
    let pictures = plan
        .members()
        .map(|m| {
            decoded[m.file].take().unwrap_or_else(|| {
                Err(data_error(
                    &files[m.file].path,
                    "is read twice (an internal error)",
                ))
            })
        })
        .collect::<Result<Vec<Picture>>>()?;
    let mut loaded = folder::assemble(dir, &plan, pictures, |i| files[i].path.clone(), source)?;
    notes.append(&mut loaded.notes);
    loaded.notes = notes;
    finish(loaded, prepare, scaling, dir)
}

/// Refuses an --image-size whose samples could not all be held, before decoding any:
/// `files` images (at most: some files may be no images) of three channels (one with
/// --grey) against the memory available.
fn check_room_to_resize(dir: &Path, files: usize, prepare: &Prepare) -> Result<()> {
    let Some((height, width)) = prepare.image_size else {
        return Ok(());
    };
    let channels = match prepare.colour {
        Some(Colour::Grey) => 1,
        _ => 3,
    };
    let needed =
        (files as u64).saturating_mul(Shape::images(channels, height, width).elements() as u64);
    match crate::native::files::available_memory() {
        Some(free) if needed > free => Err(Error::flag(
            "--image-size",
            format!(
                "{height}x{width}: up to {files} images of {channels}×{height}×{width} bytes in {} would take {} MiB, more than the {} MiB of memory free",
                dir.display(),
                needed >> 20,
                free >> 20
            ),
        )),
        _ => Ok(()),
    }
}

/// A folder in MNIST's layout, read as it always was (`load_mnist`): where it holds one
/// of MNIST's four file names, and its IDX files are exactly those four at MNIST's sizes
/// (the fast path, through the `mnist` crate), or where one of the four is missing or
/// is no IDX file (`load_mnist` then names it: missing, a FIFO, not gzip…). `None` for
/// any other folder, including the four names at other sizes, which are read as any IDX
/// folder is.
fn mnist_layout(dir: &Path, files: &[Found], prepare: &Prepare) -> Result<Option<Data>> {
    let names: Vec<String> = FILES
        .iter()
        .map(|(name, ..)| format!("{name}.gz"))
        .collect();
    // `symlink_metadata`: a FIFO or a dangling link in a file's place counts as there.
    if !names
        .iter()
        .any(|n| std::fs::symlink_metadata(dir.join(n)).is_ok())
    {
        return Ok(None);
    }
    let mut idx_files = Vec::new();
    for f in files.iter().filter(|f| !f.rel.contains('/')) {
        if let Some(header) = idx_header(&f.path)? {
            idx_files.push((f.rel.clone(), header));
        }
    }
    let all_four = names.iter().all(|n| idx_files.iter().any(|(f, _)| f == n));
    if all_four && !is_standard_mnist(&idx_files) {
        return Ok(None);
    }
    check_room_to_resize(dir, TRAIN_COUNT + TEST_COUNT, prepare)?;
    let mut data = load_mnist(dir, None)?;
    check_flags(SourceKind::ByteImages, true, prepare, &data.source)?;
    let stored = data.shape;
    for set in [&mut data.train, &mut data.test] {
        if let Values::Bytes(bytes) = &mut set.values {
            let (conformed, shape) =
                images::conform_bytes(dir, std::mem::take(bytes), stored, prepare)?;
            *bytes = conformed;
            data.shape = shape;
        }
    }
    data.keep_training_classes(prepare)?;
    Ok(Some(data))
}

/// Whether a folder's IDX files are MNIST's four, by name and dimensions.
fn is_standard_mnist(idx_files: &[(String, IdxHeader)]) -> bool {
    let want = [
        (FILES[0].0, vec![TRAIN_COUNT, 28, 28]),
        (FILES[1].0, vec![TRAIN_COUNT]),
        (FILES[2].0, vec![TEST_COUNT, 28, 28]),
        (FILES[3].0, vec![TEST_COUNT]),
    ];
    idx_files.len() == want.len()
        && want.iter().all(|(name, dims)| {
            idx_files.iter().any(|(n, h)| {
                *n == format!("{name}.gz")
                    && h.element_type == idx::UNSIGNED_BYTE
                    && h.dims == *dims
            })
        })
}

fn load_idx_folder(
    dir: &Path,
    files: &[Found],
    idx_files: Vec<(String, IdxHeader)>,
    mut notes: Vec<String>,
    prepare: &Prepare,
    scaling: Option<&Scaling>,
) -> Result<Data> {
    let others: Vec<&str> = files
        .iter()
        .map(|f| f.rel.as_str())
        .filter(|r| !idx_files.iter().any(|(n, _)| n == r))
        .collect();
    if !others.is_empty() {
        let more = match others.len() > 3 {
            true => format!(", … {} more", others.len() - 3),
            false => String::new(),
        };
        notes.push(format!(
            "left out {} files that are not IDX files: {}{more}",
            others.len(),
            others
                .iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let plan = idx::plan(dir, &idx_files)?;
    let read = |i: usize| {
        let path = dir.join(&idx_files[i].0);
        idx::read_idx(&path, std::io::BufReader::new(open_data(&path)?))
    };
    let mut loaded = idx::assemble(dir, &idx_files, &plan, read, prepare)?;
    notes.append(&mut loaded.notes);
    loaded.notes = notes;
    finish(loaded, prepare, scaling, dir)
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

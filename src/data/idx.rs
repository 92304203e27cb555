//! IDX files of any dimensions (unsigned bytes), optionally gzipped, checked from their
//! bytes: header, dimensions and exact length, with errors naming the file. A folder of
//! them becomes samples by the rules of docs/data-rules.md: which file is which split,
//! images or labels, by its name and its dimensions.

use std::io::Read;
use std::path::Path;

use crate::data::images::{conform_bytes, planar};
use crate::data::prepare::{check_flags, Loaded, Samples, SourceKind, MAX_SAMPLE_VALUES};
use crate::data::{data_error, Dataset, Prepare, Shape, Values};
use crate::error::Result;

/// The one element type read: unsigned bytes.
pub const UNSIGNED_BYTE: u8 = 0x08;

/// IDX's element types, for recognising a file and naming what is refused.
const TYPES: [(u8, &str); 6] = [
    (0x08, "unsigned byte"),
    (0x09, "signed byte"),
    (0x0B, "16-bit integer"),
    (0x0C, "32-bit integer"),
    (0x0D, "32-bit float"),
    (0x0E, "64-bit float"),
];

/// The largest IDX this reader takes, after gunzip: 4 GiB, more than one device buffer
/// holds. Reading stops one byte past what the header promises (and never past this),
/// so a gzip bomb or a lying header allocates no more than a real file of that size.
pub const MAX_IDX_BYTES: u64 = 1 << 32;

/// Bytes enough for any IDX header: the magic and up to 255 dimensions.
pub const HEADER_MAX: usize = 4 + 4 * 255;

/// Whether a file's first bytes are gzip's magic.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// An IDX header as a file's first bytes (gunzipped) show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxHeader {
    pub element_type: u8,
    /// The number of dimensions the magic declares.
    pub rank: usize,
    /// As many of the dimensions as the bytes seen hold (all of them, from a whole header).
    pub dims: Vec<usize>,
}

/// The header of an IDX file from its first bytes (gunzipped): `Some` when they begin
/// like one (two zero bytes, a known element type, at least one dimension).
pub fn sniff(head: &[u8]) -> Option<IdxHeader> {
    let [0, 0, element_type, rank] = *head.get(..4)? else {
        return None;
    };
    if rank == 0 || !TYPES.iter().any(|&(t, _)| t == element_type) {
        return None;
    }
    let dims = head[4..]
        .chunks_exact(4)
        .take(rank as usize)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    Some(IdxHeader {
        element_type,
        rank: rank as usize,
        dims,
    })
}

fn type_name(element_type: u8) -> String {
    match TYPES.iter().find(|&&(t, _)| t == element_type) {
        Some((_, name)) => format!("0x{element_type:02X} ({name})"),
        None => format!("0x{element_type:02X}"),
    }
}

fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

/// One IDX file's dimensions and elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads one IDX file (gzipped or not, told by its first bytes) from `reader`: magic,
/// element type (unsigned bytes only), dimensions and exact length checked. `path`
/// only names the file in errors. Never panics, and never allocates more than the bytes
/// that actually arrive, up to the header's promise plus one.
pub fn read_idx(path: &Path, mut reader: impl Read) -> Result<Idx> {
    let mut first = [0u8; 2];
    let got = read_up_to(&mut reader, &mut first).map_err(|e| data_error(path, e.to_string()))?;
    let whole = std::io::Cursor::new(first[..got].to_vec()).chain(reader);
    match is_gzip(&first[..got]) {
        true => read_plain(path, flate2::read::MultiGzDecoder::new(whole), true),
        false => read_plain(path, whole, false),
    }
}

/// `read_idx` from bytes in memory.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Idx> {
    read_idx(path, bytes)
}

/// Fills as much of `buf` as the reader gives, returning how much.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_plain(path: &Path, mut reader: impl Read, gzipped: bool) -> Result<Idx> {
    let io = |e: std::io::Error| match gzipped {
        true => data_error(path, format!("not a valid gzip file ({e})")),
        false => data_error(path, format!("cannot be read ({e})")),
    };
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic).map_err(io)?;
    if got < 4 {
        return Err(data_error(
            path,
            format!("only {got} bytes: too short for an IDX header"),
        ));
    }
    let [0, 0, element_type, rank] = magic else {
        return Err(data_error(
            path,
            "does not start as an IDX file does (two zero bytes, a type, a dimension count)",
        ));
    };
    if element_type != UNSIGNED_BYTE {
        return Err(data_error(
            path,
            format!(
                "holds elements of type {}: only unsigned bytes (0x08) are read",
                type_name(element_type)
            ),
        ));
    }
    if rank == 0 {
        return Err(data_error(path, "declares no dimensions"));
    }
    let mut header = vec![0u8; 4 * rank as usize];
    let got = read_up_to(&mut reader, &mut header).map_err(io)?;
    if got < header.len() {
        return Err(data_error(
            path,
            format!(
                "its header ends after {got} of the {} bytes of its {rank} dimensions",
                header.len()
            ),
        ));
    }
    let dims: Vec<usize> = header
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let promised = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            data_error(
                path,
                format!(
                    "dimensions {} promise more than 4 GiB: too large to read",
                    dims_text(&dims)
                ),
            )
        })?;
    // No capacity from the header: the vector grows with the bytes that arrive.
    let mut data = Vec::new();
    reader
        .take(promised + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as u64 != promised {
        let found = match data.len() as u64 > promised {
            true => format!("more than {promised}"),
            false => data.len().to_string(),
        };
        return Err(data_error(
            path,
            format!(
                "its dimensions {} call for {promised} bytes after the header, but it holds {found}",
                dims_text(&dims)
            ),
        ));
    }
    Ok(Idx { dims, data })
}

/// Which split a file's name says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SplitName {
    Train,
    Test,
    Neither,
}

fn split_of(name: &str) -> SplitName {
    if name.contains("train") {
        SplitName::Train
    } else if name.contains("t10k") || name.contains("test") {
        SplitName::Test
    } else {
        SplitName::Neither
    }
}

/// One split's files, as indices into the folder's IDX files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub images: usize,
    pub labels: Option<usize>,
}

/// Which IDX files of a folder are read as what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxPlan {
    /// The training split's files, or those of all samples when `test` is `None` (the
    /// split is then made by --test-fraction).
    pub train: Part,
    pub test: Option<Part>,
    /// Files left out, in words.
    pub notes: Vec<String>,
}

/// Decides, from names and headers alone (`files`: each IDX file's name in `folder` and
/// its header), which file holds which split's images and labels.
pub fn plan(folder: &Path, files: &[(String, IdxHeader)]) -> Result<IdxPlan> {
    let mut images: Vec<(SplitName, usize)> = Vec::new();
    let mut labels: Vec<(SplitName, usize)> = Vec::new();
    for (i, (name, header)) in files.iter().enumerate() {
        let path = folder.join(name);
        if header.element_type != UNSIGNED_BYTE {
            return Err(data_error(
                &path,
                format!(
                    "holds elements of type {}: only unsigned bytes (0x08) are read",
                    type_name(header.element_type)
                ),
            ));
        }
        match header.rank {
            1 => labels.push((split_of(name), i)),
            3 | 4 => images.push((split_of(name), i)),
            rank => {
                return Err(data_error(
                    &path,
                    format!(
                        "has {rank} dimensions: an IDX file here holds images (N, H, W) or (N, H, W, C), or labels (N)"
                    ),
                ))
            }
        }
    }
    let name = |i: usize| files[i].0.as_str();
    // At most one file of each role per split.
    let one = |of: &[(SplitName, usize)], split: SplitName, what: &str| -> Result<Option<usize>> {
        let mut found = of.iter().filter(|(s, _)| *s == split).map(|&(_, i)| i);
        let first = found.next();
        if let (Some(a), Some(b)) = (first, found.next()) {
            return Err(data_error(
                &folder.join(name(b)),
                format!(
                    "is a second {what} file of its split, beside {}: keep one per split",
                    name(a)
                ),
            ));
        }
        Ok(first)
    };
    let mut notes = Vec::new();
    let train_images = one(&images, SplitName::Train, "images")?;
    let test_images = one(&images, SplitName::Test, "images")?;
    let loose_images: Vec<usize> = images
        .iter()
        .filter(|(s, _)| *s == SplitName::Neither)
        .map(|&(_, i)| i)
        .collect();
    let train_labels = one(&labels, SplitName::Train, "labels")?;
    let test_labels = one(&labels, SplitName::Test, "labels")?;
    let loose_labels = one(&labels, SplitName::Neither, "labels")?;

    let mut leave_out = |i: Option<usize>, why: &str| {
        if let Some(i) = i {
            notes.push(format!("left out {}: {why}", name(i)));
        }
    };
    let (train, test) = match (train_images, test_images, loose_images.as_slice()) {
        (None, None, []) => {
            return Err(data_error(
                folder,
                "holds IDX labels but no IDX images file (N, H, W) or (N, H, W, C)",
            ))
        }
        (Some(tr), Some(te), []) => {
            leave_out(
                loose_labels,
                "a labels file of neither split (its name has neither train nor test/t10k)",
            );
            (
                Part {
                    images: tr,
                    labels: train_labels,
                },
                Some(Part {
                    images: te,
                    labels: test_labels,
                }),
            )
        }
        (Some(only), None, []) | (None, Some(only), []) | (None, None, &[only]) => {
            let (own, others) = match split_of(name(only)) {
                SplitName::Train => (train_labels, [test_labels, loose_labels]),
                SplitName::Test => (test_labels, [train_labels, loose_labels]),
                SplitName::Neither => (loose_labels, [train_labels, test_labels]),
            };
            // A single labels file goes with the single images file, whatever its name.
            let others: Vec<usize> = others.into_iter().flatten().collect();
            let labels = match (own, others.as_slice()) {
                (Some(l), _) => {
                    for &o in &others {
                        leave_out(Some(o), "a labels file of a split that has no images file");
                    }
                    Some(l)
                }
                (None, [l]) => Some(*l),
                (None, []) => None,
                (None, [a, b, ..]) => {
                    return Err(data_error(
                        folder,
                        format!(
                            "holds one images file ({}) and several labels files ({}, {}): which go with it is unclear; keep one",
                            name(only),
                            name(*a),
                            name(*b)
                        ),
                    ))
                }
            };
            (
                Part {
                    images: only,
                    labels,
                },
                None,
            )
        }
        (_, _, [loose, ..]) => {
            let other = [train_images, test_images]
                .into_iter()
                .flatten()
                .chain(loose_images.iter().copied().filter(|i| i != loose))
                .next()
                .map_or_else(String::new, |o| format!(" beside {}", name(o)));
            return Err(data_error(
                &folder.join(name(*loose)),
                format!(
                    "is an images file of neither split{other}: name the training file with \"train\" and the test file with \"test\" or \"t10k\""
                ),
            ));
        }
    };
    Ok(IdxPlan { train, test, notes })
}

/// The samples of a folder's IDX files as `plan` assigns them; `read(i)` reads file `i`
/// (of `files`, named by `folder.join(name)` in errors). Byte images are made planar,
/// then given the channels and size `prepare` asks for.
pub fn assemble(
    folder: &Path,
    files: &[(String, IdxHeader)],
    plan: &IdxPlan,
    mut read: impl FnMut(usize) -> Result<Idx>,
    prepare: &Prepare,
) -> Result<Loaded> {
    let names: Vec<&str> = [Some(plan.train), plan.test]
        .into_iter()
        .flatten()
        .flat_map(|p| [Some(p.images), p.labels])
        .flatten()
        .map(|i| files[i].0.as_str())
        .collect();
    let source = format!("IDX files in {} ({})", folder.display(), names.join(", "));
    check_flags(
        SourceKind::ByteImages,
        plan.test.is_some(),
        prepare,
        &source,
    )?;
    let mut part = |p: Part| -> Result<(Dataset, Shape, u32)> {
        let images_path = folder.join(&files[p.images].0);
        let images = read(p.images)?;
        let (count, shape) = image_shape(&images_path, &images.dims)?;
        let values = match shape.channels {
            1 => images.data,
            c => images
                .data
                .chunks_exact(shape.elements().max(1))
                .flat_map(|sample| planar(sample, c))
                .collect(),
        };
        let (labels, top) = match p.labels {
            None => (None, 0),
            Some(l) => {
                let labels_path = folder.join(&files[l].0);
                let labels = read(l)?;
                if labels.dims.len() != 1 {
                    return Err(data_error(
                        &labels_path,
                        format!("has dimensions {}: labels are (N)", dims_text(&labels.dims)),
                    ));
                }
                if labels.dims[0] != count {
                    return Err(data_error(
                        &labels_path,
                        format!(
                            "holds {} labels, but {} holds {count} images: a labels file must have one label per image",
                            labels.dims[0],
                            images_path.display()
                        ),
                    ));
                }
                let top = labels.data.iter().max().map_or(0, |&m| m as u32);
                (Some(labels.data.into_iter().map(u32::from).collect()), top)
            }
        };
        Ok((
            Dataset::new(Values::Bytes(values), labels, count),
            shape,
            top,
        ))
    };
    let (train, shape, train_top) = part(plan.train)?;
    let test = match plan.test {
        Some(p) => {
            let (test, test_shape, top) = part(p)?;
            if test_shape != shape {
                return Err(data_error(
                    &folder.join(&files[p.images].0),
                    format!(
                        "holds images of {}, but {} holds images of {}: both splits need one shape",
                        test_shape.describe(),
                        files[plan.train.images].0,
                        shape.describe()
                    ),
                ));
            }
            if test.labels.is_some() != train.labels.is_some() {
                return Err(data_error(
                    folder,
                    "has a labels file for one split but not for the other: give both, or neither",
                ));
            }
            Some((test, top))
        }
        None => None,
    };
    let top = test.as_ref().map_or(train_top, |(_, t)| train_top.max(*t));
    let classes = match train.labels.is_some() {
        true => (0..=top).map(|c| c.to_string()).collect(),
        false => Vec::new(),
    };
    let conform = |set: Dataset, path: &Path| -> Result<(Dataset, Shape)> {
        let Values::Bytes(bytes) = set.values else {
            return Ok((set, shape));
        };
        let (bytes, new_shape) = conform_bytes(path, bytes, shape, prepare)?;
        Ok((
            Dataset::new(Values::Bytes(bytes), set.labels, set.count),
            new_shape,
        ))
    };
    let (train, new_shape) = conform(train, &folder.join(&files[plan.train.images].0))?;
    let samples = match (test, plan.test) {
        (Some((test, _)), Some(p)) => {
            let (test, _) = conform(test, &folder.join(&files[p.images].0))?;
            Samples::Given { train, test }
        }
        _ => Samples::Whole(train),
    };
    Ok(Loaded {
        kind: SourceKind::ByteImages,
        shape: new_shape,
        classes,
        samples,
        source,
        notes: plan.notes.clone(),
    })
}

/// The count and sample shape of an images IDX: (N, H, W) grey, or (N, H, W, C) with C 1
/// or 3.
fn image_shape(path: &Path, dims: &[usize]) -> Result<(usize, Shape)> {
    let (count, shape) = match *dims {
        [n, h, w] => (n, Shape::images(1, h, w)),
        [n, h, w, c @ (1 | 3)] => (n, Shape::images(c, h, w)),
        [_, _, _, c] => {
            return Err(data_error(
                path,
                format!("holds images of {c} channels (its last dimension): only 1 (grey) or 3 (RGB) are read"),
            ))
        }
        _ => {
            return Err(data_error(
                path,
                format!("has dimensions {}: images are (N, H, W) or (N, H, W, C)", dims_text(dims)),
            ))
        }
    };
    if count == 0 || shape.elements() == 0 {
        return Err(data_error(
            path,
            format!("has dimensions {}: it holds no image", dims_text(dims)),
        ));
    }
    if shape.elements() > MAX_SAMPLE_VALUES {
        return Err(data_error(
            path,
            format!(
                "images of {} are more than 2^28 values each (1 GiB as f32)",
                shape.describe()
            ),
        ));
    }
    Ok((count, shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// An IDX file of unsigned bytes.
    pub(crate) fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
        for d in dims {
            b.extend(d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_any_dimensions_plain_or_gzipped() {
        let data: Vec<u8> = (0..24).collect();
        let plain = idx_bytes(&[2, 2, 2, 3], &data);
        for bytes in [plain.clone(), gz(&plain)] {
            let idx = decode(Path::new("x"), &bytes).unwrap();
            assert_eq!(idx.dims, vec![2, 2, 2, 3]);
            assert_eq!(idx.data, data);
        }
        assert_eq!(
            sniff(&plain),
            Some(IdxHeader {
                element_type: 8,
                rank: 4,
                dims: vec![2, 2, 2, 3]
            })
        );
        assert_eq!(sniff(b"\0\0\x01\0"), None, "ICO's magic is no IDX");
    }

    #[test]
    fn wrong_lengths_and_types_are_named() {
        let e = |b: &[u8]| decode(Path::new("dir/f.idx"), b).unwrap_err().to_string();
        let short = idx_bytes(&[2, 3], &[0; 5]);
        let msg = e(&short);
        assert!(
            msg.contains("dir/f.idx")
                && msg.contains("2×3")
                && msg.contains("6")
                && msg.contains("5"),
            "{msg}"
        );
        assert!(e(&idx_bytes(&[2, 3], &[0; 7])).contains("more than 6"));
        let mut float = idx_bytes(&[1], &[0; 4]);
        float[2] = 0x0D;
        assert!(e(&float).contains("0x0D (32-bit float)"));
        assert!(e(&[0, 0]).contains("too short"));
        assert!(e(&[0, 0, 8, 3, 0, 0]).contains("header ends"));
        let huge = idx_bytes(&[65535, 65535, 65535], &[]);
        assert!(e(&huge).contains("more than 4 GiB"));
        assert!(e(&gz(&huge)).contains("more than 4 GiB"));
        let mut bad_gz = gz(&short);
        let n = bad_gz.len();
        bad_gz[n - 6] ^= 0xff;
        assert!(e(&bad_gz).contains("dir/f.idx"));
    }

    fn header(rank: usize, dims: &[usize]) -> IdxHeader {
        IdxHeader {
            element_type: UNSIGNED_BYTE,
            rank,
            dims: dims.to_vec(),
        }
    }

    #[test]
    fn names_say_the_split() {
        let files = vec![
            ("t10k-images".to_string(), header(3, &[1, 2, 2])),
            ("t10k-labels".to_string(), header(1, &[1])),
            ("train-images".to_string(), header(3, &[2, 2, 2])),
            ("train-labels".to_string(), header(1, &[2])),
        ];
        let p = plan(Path::new("d"), &files).unwrap();
        assert_eq!(
            p.train,
            Part {
                images: 2,
                labels: Some(3)
            }
        );
        assert_eq!(
            p.test,
            Some(Part {
                images: 0,
                labels: Some(1)
            })
        );

        let single = vec![("images".to_string(), header(4, &[]))];
        let p = plan(Path::new("d"), &single).unwrap();
        assert_eq!(
            (p.train, p.test),
            (
                Part {
                    images: 0,
                    labels: None
                },
                None
            )
        );

        let two = vec![
            ("a-images".to_string(), header(3, &[])),
            ("train-images".to_string(), header(3, &[])),
        ];
        let e = plan(Path::new("d"), &two).unwrap_err().to_string();
        assert!(e.contains("a-images") && e.contains("neither split"), "{e}");
    }

    #[test]
    fn a_folder_assembles_planar_labelled_samples() {
        // Two 1×2 RGB images, channels last in the file.
        let images = idx_bytes(&[2, 1, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let labels = idx_bytes(&[2], &[0, 2]);
        let files = vec![
            ("images".to_string(), sniff(&images).unwrap()),
            ("labels".to_string(), sniff(&labels).unwrap()),
        ];
        let p = plan(Path::new("d"), &files).unwrap();
        let bytes = [images, labels];
        let loaded = assemble(
            Path::new("d"),
            &files,
            &p,
            |i| decode(Path::new("x"), &bytes[i]),
            &Prepare::default(),
        )
        .unwrap();
        assert_eq!(loaded.shape, Shape::images(3, 1, 2));
        assert_eq!(loaded.classes, vec!["0", "1", "2"]);
        let Samples::Whole(all) = loaded.samples else {
            panic!("no split given")
        };
        assert_eq!(
            all.values,
            Values::Bytes(vec![1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12])
        );
        assert_eq!(all.labels, Some(vec![0, 2]));

        let short_labels = idx_bytes(&[1], &[0]);
        let bytes = [bytes[0].clone(), short_labels];
        let e = assemble(
            Path::new("d"),
            &files,
            &p,
            |i| decode(Path::new("x"), &bytes[i]),
            &Prepare::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("d/labels") && e.contains("d/images") && e.contains("1 labels"),
            "{e}"
        );
    }
}

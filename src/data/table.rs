//! Tables of numbers from their bytes: CSV text (through the `csv` crate) and NPY arrays
//! (a small reader of its own, every number of the header checked), with errors naming
//! the file, and the row and column or the index where one applies. An NPY of 3 or 4
//! dimensions is images, not rows; it is read here too, as the one NPY reader.

use std::path::Path;

use crate::data::images::{conform_bytes, planar};
use crate::data::prepare::{check_flags, Loaded, Samples, SourceKind, MAX_SAMPLE_VALUES};
use crate::data::{data_error, Dataset, Prepare, Shape, Values};
use crate::error::{Error, Result};

/// NPY's magic string.
pub const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Whether a file's first bytes are NPY's magic.
pub fn is_npy(head: &[u8]) -> bool {
    head.starts_with(NPY_MAGIC)
}

/// Whether a cell parses as a number, as the header rule and the label sort ask.
fn number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok()
}

/// The rows of a CSV file `path` whose bytes are `bytes`: a header if its first row has
/// a cell (other than the label column's) that is no number, a label column if
/// --label-column names one, every other column a feature (an f64 rounded to f32).
pub fn read_csv(path: &Path, bytes: &[u8], prepare: &Prepare) -> Result<Loaded> {
    let source = format!("CSV rows in {}", path.display());
    check_flags(SourceKind::CsvRows, false, prepare, &source)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        data_error(
            path,
            format!(
                "is neither an NPY file nor CSV text (not UTF-8 at byte {}); --data takes a folder of images or IDX files, a CSV or an NPY file",
                e.valid_up_to()
            ),
        )
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records().enumerate();
    let record_error = |row: usize, e: csv::Error| {
        data_error(path, format!("row {row}: cannot be read as CSV ({e})"))
    };
    let Some((_, first)) = records.next() else {
        return Err(data_error(path, "is empty: a CSV needs rows of numbers"));
    };
    let first = first.map_err(|e| record_error(1, e))?;
    let columns = first.len();
    let layout = Columns::of(path, &first, prepare.label_column.as_deref())?;
    let features = columns - usize::from(layout.label.is_some());
    if features == 0 {
        return Err(data_error(
            path,
            "has no column of features besides its label column",
        ));
    }
    let mut values: Vec<f32> = Vec::new();
    let mut label_cells: Vec<String> = Vec::new();
    let data_rows = (!layout.header)
        .then_some((0, Ok(first)))
        .into_iter()
        .chain(records);
    let mut lines = LineCounter::default();
    for (index, record) in data_rows {
        let row = index + 1;
        let record = record.map_err(|e| record_error(row, e))?;
        let at = |line: Option<u64>| match line {
            Some(l) if l != row as u64 => format!("row {row} (line {l})"),
            _ => format!("row {row}"),
        };
        let line = record
            .position()
            .map(|p| lines.line_at(text, p.byte() as usize));
        if record.len() != columns {
            return Err(data_error(
                path,
                format!(
                    "{} has {} cells, but the first row has {columns}: every row needs the same number",
                    at(line),
                    record.len()
                ),
            ));
        }
        for (j, cell) in record.iter().enumerate() {
            if Some(j) == layout.label {
                if cell.is_empty() {
                    return Err(data_error(
                        path,
                        format!("{}, {}: the label is empty", at(line), layout.describe(j)),
                    ));
                }
                label_cells.push(cell.to_string());
                continue;
            }
            let bad = |why: &str| {
                data_error(path, format!("{}, {}: {why}", at(line), layout.describe(j)))
            };
            let value = match number(cell) {
                Some(v) if v.is_nan() => return Err(bad("NaN is not a number to train on")),
                Some(v) if v.is_infinite() => return Err(bad(&format!("{cell:?} is infinite"))),
                Some(v) => v as f32,
                None if cell.is_empty() => return Err(bad("the cell is empty")),
                None => {
                    let hint = match layout.label {
                        None => " (a column of labels? name it with --label-column)",
                        Some(_) => "",
                    };
                    return Err(bad(&format!("{cell:?} is not a number{hint}")));
                }
            };
            if value.is_infinite() {
                return Err(bad(&format!("{cell:?} is beyond f32's range")));
            }
            values.push(value);
        }
    }
    let count = values.len() / features;
    if count == 0 {
        return Err(data_error(path, "has a header but no rows of numbers"));
    }
    let (classes, labels) = match layout.label {
        Some(_) => {
            let (classes, labels) = classes_of(&label_cells);
            (classes, Some(labels))
        }
        None => (Vec::new(), None),
    };
    let source = match layout.label {
        Some(j) => format!("{source}, labels from {}", layout.describe(j)),
        None => source,
    };
    Ok(Loaded {
        kind: SourceKind::CsvRows,
        shape: Shape::rows(features),
        classes,
        samples: Samples::Whole(Dataset::new(Values::Floats(values), labels, count)),
        source,
        notes: Vec::new(),
    })
}

/// The line a record starts on. The `csv` crate's own count starts a record at the
/// blank lines before it (which it skips), so lines are counted here from the record's
/// byte offset, past those blank lines; records come in order, so the text is scanned
/// once in all.
#[derive(Default)]
struct LineCounter {
    scanned: usize,
    newlines: u64,
}

impl LineCounter {
    fn line_at(&mut self, text: &str, byte: usize) -> u64 {
        let bytes = text.as_bytes();
        let mut start = byte.min(bytes.len());
        while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start >= self.scanned {
            self.newlines += bytes[self.scanned..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.scanned = start;
        }
        self.newlines + 1
    }
}

/// A CSV's columns: whether its first row is a header, their names, and the label's.
struct Columns {
    header: bool,
    names: Vec<String>,
    label: Option<usize>,
}

impl Columns {
    fn of(path: &Path, first: &csv::StringRecord, label_column: Option<&str>) -> Result<Columns> {
        let cells: Vec<&str> = first.iter().collect();
        let by_name = label_column.and_then(|n| cells.iter().position(|c| *c == n));
        let by_index = label_column
            .and_then(|n| n.trim().parse::<usize>().ok())
            .filter(|&i| i < cells.len());
        // A header: a cell other than the label column's that is no number.
        let header_without = |label: Option<usize>| {
            cells
                .iter()
                .enumerate()
                .any(|(j, c)| Some(j) != label && number(c).is_none())
        };
        // NAME as an index over a first row of data; else as a header's name; else as
        // an index under a header.
        let (header, label) = match (by_index, by_name) {
            (Some(i), _) if !header_without(Some(i)) => (false, Some(i)),
            (_, Some(p)) if header_without(Some(p)) => (true, Some(p)),
            (Some(i), _) => (true, Some(i)),
            (None, _) => (header_without(None), None),
        };
        if let (Some(name), None) = (label_column, label) {
            let names = match header {
                true => {
                    let shown: Vec<String> =
                        cells.iter().take(8).map(|c| format!("{c:?}")).collect();
                    let more = if cells.len() > 8 { ", …" } else { "" };
                    format!("its header names {}{more}", shown.join(", "))
                }
                false => "it has no header".into(),
            };
            return Err(Error::flag(
                "--label-column",
                format!(
                    "{name:?}: {} has no such column ({names}), and it is no column index below {}",
                    path.display(),
                    cells.len()
                ),
            ));
        }
        let names = match header {
            true => cells.iter().map(|c| c.to_string()).collect(),
            false => (0..cells.len()).map(|j| j.to_string()).collect(),
        };
        Ok(Columns {
            header,
            names,
            label,
        })
    }

    /// `column 3 ("x3")`: the 0-based index --label-column takes, and the header's name.
    fn describe(&self, j: usize) -> String {
        match self.header {
            true => format!("column {j} ({:?})", self.names[j]),
            false => format!("column {j}"),
        }
    }
}

/// The classes of a label column: its distinct values, sorted as numbers if every one is
/// one, else by their bytes; and each row's class index.
fn classes_of(cells: &[String]) -> (Vec<String>, Vec<u32>) {
    let mut classes: Vec<String> = cells.to_vec();
    classes.sort();
    classes.dedup();
    let numbers: Option<Vec<f64>> = classes.iter().map(|c| number(c)).collect();
    if let Some(numbers) = numbers {
        let mut keyed: Vec<(f64, String)> = numbers.into_iter().zip(classes).collect();
        // Ties ("1" and "1.0") keep their byte order.
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        classes = keyed.into_iter().map(|(_, c)| c).collect();
    }
    let index: std::collections::HashMap<&str, u32> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let labels = cells
        .iter()
        .map(|c| index.get(c.as_str()).copied().unwrap_or(0))
        .collect();
    (classes, labels)
}

/// An NPY array's element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dtype {
    U8,
    F32,
    F64,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

/// An NPY file's header, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NpyHeader {
    dtype: Dtype,
    shape: Vec<usize>,
    /// Where the elements start.
    data_at: usize,
}

/// Reads and checks an NPY header: version 1.0, 2.0 or 3.0, a dict of `descr`,
/// `fortran_order` and `shape`, C order, a dtype this reader takes, and a length that
/// is exactly the shape's.
fn npy_header(path: &Path, bytes: &[u8]) -> Result<NpyHeader> {
    let bad = |why: String| data_error(path, why);
    if !is_npy(bytes) || bytes.len() < 10 {
        return Err(bad("is too short for an NPY header".into()));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len, at): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => match bytes.get(8..12) {
            Some(b) => (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12),
            None => return Err(bad("is too short for an NPY header".into())),
        },
        _ => {
            return Err(bad(format!(
                "is NPY version {major}.{minor}: only 1.0, 2.0 and 3.0 are read"
            )))
        }
    };
    let end = at
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            bad(format!(
                "its header claims {len} bytes, more than the file holds"
            ))
        })?;
    let text =
        std::str::from_utf8(&bytes[at..end]).map_err(|_| bad("its header is not text".into()))?;
    let dict = parse_header_dict(text)
        .map_err(|why| bad(format!("its header {text:?} cannot be read: {why}")))?;
    let field = |key: &str| {
        dict.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| bad(format!("its header has no {key:?}")))
    };
    let dtype = match field("descr")? {
        PyValue::Str(d) => match d.as_str() {
            "|u1" | "<u1" | ">u1" | "=u1" | "u1" => Dtype::U8,
            "<f4" => Dtype::F32,
            "<f8" => Dtype::F64,
            ">f4" | ">f8" => {
                return Err(bad(format!(
                    "holds big-endian numbers ({d:?}): save it little-endian (arr.astype('<f4'))"
                )))
            }
            _ => {
                return Err(bad(format!(
                    "holds numbers of dtype {d:?}: only '|u1' (bytes), '<f4' and '<f8' are read (arr.astype(np.float32))"
                )))
            }
        },
        _ => return Err(bad("has a structured dtype: only plain arrays of numbers are read".into())),
    };
    match field("fortran_order")? {
        PyValue::Bool(false) => {}
        PyValue::Bool(true) => {
            return Err(bad(
                "is in Fortran order (fortran_order: True): save it in C order (np.ascontiguousarray(arr))".into(),
            ))
        }
        _ => return Err(bad("its header's fortran_order is not True or False".into())),
    }
    let shape = match field("shape")? {
        PyValue::Tuple(dims) => dims.clone(),
        _ => return Err(bad("its header's shape is not a tuple".into())),
    };
    let shape_text = tuple_text(&shape);
    let promised = shape
        .iter()
        .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("its shape {shape_text} is too large to hold")))?;
    let held = bytes.len() - end;
    if promised != held {
        return Err(bad(format!(
            "its shape {shape_text} of {}-byte numbers calls for {promised} bytes of data, but it holds {held}",
            dtype.size()
        )));
    }
    Ok(NpyHeader {
        dtype,
        shape,
        data_at: end,
    })
}

/// The values an NPY header's dict holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
    /// Anything else (a list of fields: a structured dtype).
    Other,
}

/// Parses the Python dict literal of an NPY header: string keys; values strings, True,
/// False, tuples of integers (others are kept as `Other`).
fn parse_header_dict(text: &str) -> std::result::Result<Vec<(String, PyValue)>, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
    };
    p.expect(b'{')?;
    let mut out = Vec::new();
    loop {
        p.skip_space();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_space();
        p.expect(b':')?;
        p.skip_space();
        let value = p.value()?;
        out.push((key, value));
        p.skip_space();
        if !p.eat(b',') {
            p.skip_space();
            p.expect(b'}')?;
            break;
        }
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.at) == Some(&c);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        self.skip_space();
        match self.eat(c) {
            true => Ok(()),
            false => Err(format!("expected {:?} at byte {}", c as char, self.at)),
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        let quote = match self.s.get(self.at) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.at)),
        };
        let start = self.at + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or("an unterminated string")?;
        self.at = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn value(&mut self) -> std::result::Result<PyValue, String> {
        let rest = &self.s[self.at..];
        if rest.starts_with(b"True") {
            self.at += 4;
            return Ok(PyValue::Bool(true));
        }
        if rest.starts_with(b"False") {
            self.at += 5;
            return Ok(PyValue::Bool(false));
        }
        match rest.first() {
            Some(b'\'' | b'"') => self.string().map(PyValue::Str),
            Some(b'(') => {
                self.at += 1;
                let mut dims = Vec::new();
                loop {
                    self.skip_space();
                    if self.eat(b')') {
                        return Ok(PyValue::Tuple(dims));
                    }
                    let digits = self.s[self.at..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    let number = std::str::from_utf8(&self.s[self.at..self.at + digits])
                        .ok()
                        .and_then(|d| d.parse::<usize>().ok())
                        .ok_or_else(|| format!("expected a dimension at byte {}", self.at))?;
                    self.at += digits;
                    // Python writes `(3L, 4L)` in old headers.
                    self.eat(b'L');
                    dims.push(number);
                    self.skip_space();
                    if !self.eat(b',') {
                        self.expect(b')')?;
                        return Ok(PyValue::Tuple(dims));
                    }
                }
            }
            Some(b'[') => {
                // A structured dtype's list of fields: skipped to its closing bracket.
                let mut depth = 0usize;
                while let Some(&c) = self.s.get(self.at) {
                    self.at += 1;
                    match c {
                        b'[' => depth += 1,
                        b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return Ok(PyValue::Other);
                            }
                        }
                        _ => {}
                    }
                }
                Err("an unterminated list".into())
            }
            _ => Err(format!("an unexpected value at byte {}", self.at)),
        }
    }
}

/// A shape as Python writes it: `(4,)`, `(3, 2)`.
fn tuple_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    }
}

/// `[3, 0, 7]`: a flat position as an index of `shape`.
fn index_text(mut flat: usize, shape: &[usize]) -> String {
    let mut index = vec![0; shape.len()];
    for (k, &d) in shape.iter().enumerate().rev() {
        let d = d.max(1);
        index[k] = flat % d;
        flat /= d;
    }
    format!(
        "[{}]",
        index
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Where a 4-D array's channels are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channels {
    Last,
    First,
}

/// The samples of an NPY file `path` whose bytes are `bytes`: 2-D (N, D) rows; 3-D
/// (N, H, W) grey images; 4-D (N, H, W, C) or else (N, C, H, W) images of C = 1 or 3.
/// Unlabelled.
pub fn read_npy(path: &Path, bytes: &[u8], prepare: &Prepare) -> Result<Loaded> {
    let header = npy_header(path, bytes)?;
    let data = &bytes[header.data_at..];
    let shape_text = tuple_text(&header.shape);
    let (count, shape, channels) = match *header.shape.as_slice() {
        [n, d] => (n, Shape::rows(d), Channels::Last),
        [n, h, w] => (n, Shape::images(1, h, w), Channels::Last),
        [n, h, w, c @ (1 | 3)] => (n, Shape::images(c, h, w), Channels::Last),
        [n, c @ (1 | 3), h, w] => (n, Shape::images(c, h, w), Channels::First),
        _ => {
            return Err(data_error(
                path,
                format!(
                    "has shape {shape_text}: rows are (N, D); images (N, H, W), (N, H, W, C) or (N, C, H, W) with C 1 or 3"
                ),
            ))
        }
    };
    if count == 0 || shape.elements() == 0 {
        return Err(data_error(
            path,
            format!("has shape {shape_text}: it holds no samples"),
        ));
    }
    if shape.elements() > MAX_SAMPLE_VALUES {
        return Err(data_error(
            path,
            format!("has shape {shape_text}: samples of more than 2^28 values (1 GiB as f32)"),
        ));
    }
    let kind = match (shape.layout, header.dtype) {
        (crate::data::Layout::Rows, _) => SourceKind::NpyRows,
        (_, Dtype::U8) => SourceKind::ByteImages,
        _ => SourceKind::FloatImages,
    };
    let what = match kind {
        SourceKind::NpyRows => format!("rows of {} numbers", shape.width),
        _ => match channels {
            Channels::Last => "images, channels last".to_string(),
            Channels::First => "images, channels first".to_string(),
        },
    };
    let source = format!("NPY array {shape_text} in {} ({what})", path.display());
    check_flags(kind, false, prepare, &source)?;
    let to_planar = |v: Vec<u8>| -> Vec<u8> {
        match (channels, shape.channels) {
            (Channels::Last, c) if c > 1 => v
                .chunks_exact(shape.elements())
                .flat_map(|s| planar(s, c))
                .collect(),
            _ => v,
        }
    };
    let values = match (kind, header.dtype) {
        (SourceKind::ByteImages, _) => {
            let (bytes, new_shape) = conform_bytes(path, to_planar(data.to_vec()), shape, prepare)?;
            return Ok(loaded(kind, new_shape, Values::Bytes(bytes), count, source));
        }
        (_, Dtype::U8) => data.iter().map(|&b| b as f32).collect(),
        (_, Dtype::F32) => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect::<Vec<f32>>(),
        (_, Dtype::F64) => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .enumerate()
            .map(|(i, v)| match v.is_finite() && !(v as f32).is_finite() {
                true => Err(data_error(
                    path,
                    format!(
                        "the value at index {} ({v}) is beyond f32's range",
                        index_text(i, &header.shape)
                    ),
                )),
                false => Ok(v as f32),
            })
            .collect::<Result<Vec<f32>>>()?,
    };
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        let what = if values[i].is_nan() {
            "NaN"
        } else {
            "infinite"
        };
        return Err(data_error(
            path,
            format!(
                "the value at index {} is {what}",
                index_text(i, &header.shape)
            ),
        ));
    }
    if kind == SourceKind::FloatImages {
        if let Some(i) = values.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(data_error(
                path,
                format!(
                    "the value at index {} is {}: float images must lie in [0, 1] (or save them as bytes, '|u1')",
                    index_text(i, &header.shape),
                    values[i]
                ),
            ));
        }
        let values = match (channels, shape.channels) {
            (Channels::Last, c) if c > 1 => values
                .chunks_exact(shape.elements())
                .flat_map(|s| planar_floats(s, c))
                .collect(),
            _ => values,
        };
        return Ok(loaded(kind, shape, Values::Floats(values), count, source));
    }
    Ok(loaded(kind, shape, Values::Floats(values), count, source))
}

fn loaded(kind: SourceKind, shape: Shape, values: Values, count: usize, source: String) -> Loaded {
    Loaded {
        kind,
        shape,
        classes: Vec::new(),
        samples: Samples::Whole(Dataset::new(values, None, count)),
        source,
        notes: Vec::new(),
    }
}

/// `images::planar` for floats.
fn planar_floats(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let plane = interleaved.len() / channels.max(1);
    let mut out = vec![0.0; interleaved.len()];
    for (i, pixel) in interleaved.chunks_exact(channels).enumerate() {
        for (c, &v) in pixel.iter().enumerate() {
            out[c * plane + i] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str, label: Option<&str>) -> Result<Loaded> {
        let prepare = Prepare {
            label_column: label.map(str::to_string),
            ..Prepare::default()
        };
        read_csv(Path::new("t.csv"), text.as_bytes(), &prepare)
    }

    fn whole(loaded: &Loaded) -> &Dataset {
        match &loaded.samples {
            Samples::Whole(d) => d,
            Samples::Given { .. } => panic!("a table has no split of its own"),
        }
    }

    /// NPY bytes, version 1.0, with the header padded as numpy pads it.
    pub(crate) fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        let tuple = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        let fortran = if fortran { "True" } else { "False" };
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = NPY_MAGIC.to_vec();
        out.extend([1, 0]);
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn a_csv_with_a_header_and_a_label_column() {
        let t = "a, b ,kind\n1,2,cat\n3,4.5,dog\n5,6,cat\n";
        let loaded = csv(t, Some("kind")).unwrap();
        assert_eq!(loaded.shape, Shape::rows(2));
        assert_eq!(loaded.classes, vec!["cat", "dog"]);
        let d = whole(&loaded);
        assert_eq!(d.values, Values::Floats(vec![1.0, 2.0, 3.0, 4.5, 5.0, 6.0]));
        assert_eq!(d.labels, Some(vec![0, 1, 0]));
        // By index, and numeric labels sorted as numbers.
        let loaded = csv("10,1\n9,2\n10,3\n", Some("0")).unwrap();
        assert_eq!(loaded.classes, vec!["9", "10"]);
        assert_eq!(whole(&loaded).labels, Some(vec![1, 0, 1]));
        assert_eq!(whole(&loaded).values, Values::Floats(vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn without_a_header_every_row_is_data() {
        let loaded = csv("1,2\n3,4\n", None).unwrap();
        assert_eq!(whole(&loaded).count, 2);
        assert!(loaded.classes.is_empty());
        // A first row whose only non-number is the label's is data too.
        let loaded = csv("1,cat\n2,dog\n", Some("1")).unwrap();
        assert_eq!(whole(&loaded).count, 2);
    }

    #[test]
    fn blank_lines_are_skipped_and_rows_name_their_line() {
        let loaded = csv("a,b\n1,2\n\n3,4\n", None).unwrap();
        assert_eq!(whole(&loaded).count, 2);
        let e = csv("a,b\n1,2\n\n3,x\n", None).unwrap_err().to_string();
        assert!(e.contains("row 3 (line 4)"), "{e}");
    }

    #[test]
    fn cells_parse_as_f64_then_round_to_f32() {
        let loaded = csv("x\n0.1\n16777217\n", None).unwrap();
        assert_eq!(
            whole(&loaded).values,
            Values::Floats(vec![0.1f64 as f32, 16777216.0])
        );
    }

    #[test]
    fn bad_cells_name_the_row_and_column() {
        let e = |t: &str| csv(t, None).unwrap_err().to_string();
        let msg = e("a,b\n1,2\n3,x\n");
        assert!(
            msg.contains("t.csv")
                && msg.contains("row 3")
                && msg.contains("column 1 (\"b\")")
                && msg.contains("\"x\""),
            "{msg}"
        );
        assert!(e("a,b\n1,NaN\n").contains("NaN"));
        assert!(e("a,b\n1,inf\n").contains("infinite"));
        assert!(e("a,b\n1,1e39\n").contains("f32"));
        assert!(e("a,b\n1,\n").contains("empty"));
        assert!(e("a,b\n1,2\n3\n").contains("row 3 has 1 cells"));
        assert!(e("a,b\n").contains("no rows"));
        assert!(e("").contains("empty"));
        let msg = csv("a,b\n1,2\n", Some("c")).unwrap_err().to_string();
        assert!(
            msg.contains("--label-column") && msg.contains("t.csv"),
            "{msg}"
        );
        let msg = read_csv(Path::new("t.csv"), b"\xff\xfe\x00", &Prepare::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("neither an NPY file nor CSV"), "{msg}");
    }

    #[test]
    fn npy_rows_and_images() {
        let floats: Vec<u8> = [0.5f32, 1.0, 2.0, 3.0, 4.0, 5.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let loaded = read_npy(
            Path::new("r.npy"),
            &npy("<f4", false, &[3, 2], &floats),
            &Prepare::default(),
        )
        .unwrap();
        assert_eq!(
            (loaded.kind, loaded.shape),
            (SourceKind::NpyRows, Shape::rows(2))
        );
        assert_eq!(
            whole(&loaded).values,
            Values::Floats(vec![0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
        );

        let doubles: Vec<u8> = [0.25f64, 1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let loaded = read_npy(
            Path::new("d.npy"),
            &npy("<f8", false, &[1, 2], &doubles),
            &Prepare::default(),
        )
        .unwrap();
        assert_eq!(whole(&loaded).values, Values::Floats(vec![0.25, 1.0]));

        // Two 1×2 RGB images, channels last: planar in memory.
        let bytes: Vec<u8> = (1..=12).collect();
        let loaded = read_npy(
            Path::new("i.npy"),
            &npy("|u1", false, &[2, 1, 2, 3], &bytes),
            &Prepare::default(),
        )
        .unwrap();
        assert_eq!(loaded.shape, Shape::images(3, 1, 2));
        assert_eq!(
            whole(&loaded).values,
            Values::Bytes(vec![1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12])
        );
        // Channels first: as they are.
        let loaded = read_npy(
            Path::new("i.npy"),
            &npy("|u1", false, &[2, 3, 1, 2], &bytes),
            &Prepare::default(),
        )
        .unwrap();
        assert_eq!(whole(&loaded).values, Values::Bytes(bytes.clone()));
        // Float images in [0, 1] stay floats.
        let loaded = read_npy(
            Path::new("f.npy"),
            &npy(
                "<f4",
                false,
                &[1, 2, 3],
                &floats[..24].iter().map(|_| 0).collect::<Vec<u8>>(),
            ),
            &Prepare::default(),
        )
        .unwrap();
        assert_eq!(loaded.kind, SourceKind::FloatImages);
    }

    #[test]
    fn bad_npys_are_named() {
        let e = |b: &[u8]| {
            read_npy(Path::new("x.npy"), b, &Prepare::default())
                .unwrap_err()
                .to_string()
        };
        let four = [0u8; 4];
        assert!(e(&npy("<f4", true, &[1, 1], &four)).contains("Fortran order"));
        assert!(e(&npy(">f4", false, &[1, 1], &four)).contains("big-endian"));
        assert!(
            e(&npy("<i4", false, &[1, 1], &four)).contains("'<i4'")
                || e(&npy("<i4", false, &[1, 1], &four)).contains("\"<i4\"")
        );
        let msg = e(&npy("<f4", false, &[2, 1], &four));
        assert!(
            msg.contains("(2, 1)") && msg.contains("8 bytes") && msg.contains("holds 4"),
            "{msg}"
        );
        assert!(e(&npy("<f4", false, &[4], &[0; 16])).contains("(4,)"));
        let nan: Vec<u8> = [1.0f32, f32::NAN]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert!(e(&npy("<f4", false, &[1, 2], &nan)).contains("index [0, 1] is NaN"));
        let over: Vec<u8> = [0.5f32, 1.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let msg = e(&npy("<f4", false, &[1, 1, 2], &over));
        assert!(msg.contains("[0, 0, 1]") && msg.contains("1.5"), "{msg}");
        let huge = npy("|u1", false, &[usize::MAX, 2], &[]);
        assert!(e(&huge).contains("too large"));
        assert!(e(NPY_MAGIC).contains("too short"));
        let mut v9 = npy("|u1", false, &[1, 1], &[0]);
        v9[6] = 9;
        assert!(e(&v9).contains("version 9"));
    }

    #[test]
    fn header_dicts_parse_loosely_as_numpy_writes_them() {
        let d = parse_header_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }")
            .unwrap();
        assert_eq!(d[2], ("shape".into(), PyValue::Tuple(vec![3, 4])));
        let d = parse_header_dict("{\"shape\":(),\"descr\":[('a','<f4')]}").unwrap();
        assert_eq!(
            d,
            vec![
                ("shape".into(), PyValue::Tuple(vec![])),
                ("descr".into(), PyValue::Other)
            ]
        );
        assert!(parse_header_dict("{'descr'").is_err());
        assert!(parse_header_dict("").is_err());
    }
}

//! `data`: what `--data` finds in a source, read as training would read it: the summary
//! line, each class's count in both splits, what was left out, and, with `--export DIR`,
//! the prepared samples as NPY files (what the model sees: pixels over 255, rows after
//! their scaling), so that another program (scripts/torch_train.py's tests, NumPy) can be
//! held to exactly the same samples.

use std::path::Path;

use crate::data::{Data, Dataset};
use crate::error::{Error, Result};
use crate::native::files::write_atomically;

/// The summary, then a line per class with its training and test counts.
pub fn render(data: &Data) -> String {
    let mut out = format!("{}\n", data.describe());
    let counts = |d: &Dataset, class: u32| -> usize {
        d.labels
            .as_ref()
            .map_or(0, |l| l.iter().filter(|&&c| c == class).count())
    };
    if data.is_labelled() {
        let width = data
            .classes
            .iter()
            .map(|c| c.len())
            .max()
            .unwrap_or(5)
            .max(5);
        out += &format!("  {:<width$}  {:>8}  {:>8}\n", "class", "train", "test");
        for (i, name) in data.classes.iter().enumerate() {
            let (train, test) = (counts(&data.train, i as u32), counts(&data.test, i as u32));
            out += &format!("  {name:<width$}  {train:>8}  {test:>8}\n");
        }
    }
    if let Some(s) = &data.scaling {
        out += &format!(
            "  scaling fitted on the training split: {} ({} features)\n",
            s.kind.name(),
            s.offset.len()
        );
    }
    for note in &data.notes {
        out += &format!("note: {note}\n");
    }
    out
}

/// NPY version 1.0 bytes of a C-order array: the header (a Python dict literal, padded
/// with spaces to a multiple of 64 bytes and ended by a newline), then the values.
fn npy(descr: &str, shape: &[usize], values: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + newline, to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header += &" ".repeat(unpadded.next_multiple_of(64) - unpadded);
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(values);
    out
}

/// Writes `DIR/{train,test}_x.npy` (float32, one row per sample, C×H×W flattened),
/// `{train,test}_y.npy` (int64 labels, where the data has them) and `data.json` (the
/// shape, the class names, the split, the scaling) into `dir`, a new or empty folder.
pub fn export(data: &Data, dir: &Path) -> Result<Vec<String>> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_some()
    {
        return Err(Error::flag(
            "--export",
            format!("{} is not empty; give a new or empty folder", dir.display()),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let elements = data.shape.elements();
    let mut written = Vec::new();
    for (name, split) in [("train", &data.train), ("test", &data.test)] {
        let x = split.values.to_f32();
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = dir.join(format!("{name}_x.npy"));
        write_atomically(&path, &npy("<f4", &[split.len(), elements], &bytes))?;
        written.push(path.display().to_string());
        if let Some(labels) = &split.labels {
            let bytes: Vec<u8> = labels
                .iter()
                .flat_map(|&l| (l as i64).to_le_bytes())
                .collect();
            let path = dir.join(format!("{name}_y.npy"));
            write_atomically(&path, &npy("<i8", &[labels.len()], &bytes))?;
            written.push(path.display().to_string());
        }
    }
    let about = serde_json::json!({
        "source": data.source,
        "shape": data.shape,
        "classes": data.classes,
        "split": data.split,
        "scaling": data.scaling,
    });
    let path = dir.join("data.json");
    write_atomically(&path, format!("{about:#}\n").as_bytes())?;
    written.push(path.display().to_string());
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_headers_are_aligned_and_describe_the_array() {
        let bytes = npy("<f4", &[2, 3], &[0u8; 24]);
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + len + 24);
        let one = npy("<i8", &[5], &[0u8; 40]);
        let len = u16::from_le_bytes([one[8], one[9]]) as usize;
        assert!(std::str::from_utf8(&one[10..10 + len])
            .unwrap()
            .contains("'shape': (5,)"));
    }
}

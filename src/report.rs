//! Small helpers for the reports that people read: medians and aligned tables.

pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// A number as it was read, for an error about it: as written, or in exponent form
/// when it is huge (1e308 rather than three hundred digits).
pub fn as_read(value: f64) -> String {
    match value.abs() < 1e9 {
        true => value.to_string(),
        false => format!("{value:e}"),
    }
}

/// Formats an optional figure; "-" where there is none.
pub fn opt(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".to_string(),
    }
}

/// A table with a header, columns as wide as their widest cell; text columns (the first
/// `left` ones) align left, figures right.
pub fn table(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| {
                if i < left {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.push(
        widths
            .iter()
            .map(|&w| "-".repeat(w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_are_shown_short() {
        assert_eq!(as_read(-18.8), "-18.8");
        assert_eq!(as_read(0.0), "0");
        assert_eq!(as_read(1e308), "1e308");
        assert_eq!(as_read(f64::NAN), "NaN");
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn tables_align_their_columns() {
        let t = table(
            &["op", "ms"],
            &[
                vec!["matmul".into(), "1.5".into()],
                vec!["x".into(), "10.25".into()],
            ],
            1,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "op         ms");
        assert_eq!(lines[2], "matmul    1.5");
        assert_eq!(lines[3], "x       10.25");
    }
}

//! `compare OURS.jsonl PEER.jsonl`: joins our benchmark rows with a peer's (the PyTorch
//! script's) on op and shape, and shows both side by side with the ratio.

use std::collections::BTreeMap;
use std::path::Path;

use crate::bench::Row;
use crate::error::{Error, Result};
use crate::report::{opt, table};

/// One row of the peer's output: `{"peer": "torch", "op", "shape", "ms", "gflops"?}`.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct PeerRow {
    pub op: String,
    pub shape: Vec<usize>,
    pub ms: f64,
    pub gflops: Option<f64>,
}

pub struct Comparison {
    /// (our best row for the key, the peer's row)
    pub joined: Vec<(Row, PeerRow)>,
    pub only_ours: Vec<Row>,
    pub only_peer: Vec<PeerRow>,
    /// The peer's header line (version and device), when it printed one.
    pub peer_header: Option<serde_json::Value>,
}

/// The peer names its eager epochs `train_epoch_eager/<model>`; ours are `train_epoch/<model>`.
fn peer_key(op: &str) -> String {
    op.replace("train_epoch_eager/", "train_epoch/")
}

fn line_error(path: &Path, line: usize, message: String) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    }
}

/// Every non-blank line as a JSON object, with its line number. Anything else (the table
/// output instead of `--json`, a truncated line) is an error naming the file and line,
/// and so is a file without a single line.
fn json_lines(path: &Path, text: &str) -> Result<Vec<(usize, serde_json::Value)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| line_error(path, i + 1, format!("not a JSON line ({e})")))?;
        if !value.is_object() {
            return Err(line_error(path, i + 1, "not a JSON object".into()));
        }
        out.push((i + 1, value));
    }
    if out.is_empty() {
        return Err(Error::Data {
            path: path.to_path_buf(),
            message: "holds no rows (expected the JSON lines of `bench --json` or torch_peer.py)"
                .into(),
        });
    }
    Ok(out)
}

/// A time read from a file, which ratios are taken of and bars drawn to on a log axis:
/// above zero and below a day (86,400,000 ms), or an error naming the file, line and field.
fn check_ms(path: &Path, line: usize, field: &str, ms: f64) -> Result<()> {
    const DAY_MS: f64 = 86_400_000.0;
    // Written so that NaN fails too.
    match ms > 0.0 && ms < DAY_MS {
        true => Ok(()),
        false => Err(line_error(
            path,
            line,
            format!(
                "{field} {} is not a time (above 0 and below a day in ms)",
                crate::report::as_read(ms)
            ),
        )),
    }
}

fn read_text(path: &Path) -> Result<String> {
    crate::native::files::read_regular_text(path).map_err(|e| Error::io(path, e))
}

/// Our `bench --json` rows, as read from `path`'s contents `text`.
pub fn parse_ours(path: &Path, text: &str) -> Result<Vec<Row>> {
    json_lines(path, text)?
        .into_iter()
        .map(|(line, value)| {
            let row: Row = serde_json::from_value(value)
                .map_err(|e| line_error(path, line, format!("not a bench row ({e})")))?;
            if let Some(ms) = row.gpu_ms {
                check_ms(path, line, "gpu_ms", ms)?;
            }
            Ok(row)
        })
        .collect()
}

/// The peer's rows and its header line (the one object without an `op`), if any.
pub fn parse_peer(path: &Path, text: &str) -> Result<(Vec<PeerRow>, Option<serde_json::Value>)> {
    let mut header = None;
    let mut rows = Vec::new();
    for (line, value) in json_lines(path, text)? {
        if value.get("op").is_none() {
            header = Some(value);
            continue;
        }
        let row: PeerRow = serde_json::from_value(value)
            .map_err(|e| line_error(path, line, format!("not a peer row ({e})")))?;
        check_ms(path, line, "ms", row.ms)?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::Data {
            path: path.to_path_buf(),
            message: "holds a header but no rows".into(),
        });
    }
    Ok((rows, header))
}

pub fn load(ours: &Path, peer: &Path) -> Result<Comparison> {
    let mut our_rows: BTreeMap<(String, Vec<usize>), Row> = BTreeMap::new();
    for row in parse_ours(ours, &read_text(ours)?)? {
        // Of several variants of one op and shape, the fastest is the one training would pick.
        let key = (row.op.clone(), row.shape.clone());
        let faster =
            |old: &Row| row.gpu_ms.unwrap_or(f64::INFINITY) < old.gpu_ms.unwrap_or(f64::INFINITY);
        if our_rows.get(&key).is_none_or(faster) {
            our_rows.insert(key, row);
        }
    }
    let (peer_rows, peer_header) = parse_peer(peer, &read_text(peer)?)?;
    let mut joined = Vec::new();
    let mut only_peer = Vec::new();
    for row in peer_rows {
        match our_rows.remove(&(peer_key(&row.op), row.shape.clone())) {
            Some(ours) => joined.push((ours, row)),
            None => only_peer.push(row),
        }
    }
    if joined.is_empty() {
        return Err(Error::Other(format!(
            "{} and {} share no op and shape: nothing to compare",
            ours.display(),
            peer.display()
        )));
    }
    Ok(Comparison {
        joined,
        only_ours: our_rows.into_values().collect(),
        only_peer,
        peer_header,
    })
}

/// Draws ours and the peer's time per joined op side by side (`compare --plot`).
pub fn plot(c: &Comparison, path: &Path) -> Result<()> {
    let pairs: Vec<crate::native::roofline::Pair> = c
        .joined
        .iter()
        .filter_map(|(o, p)| {
            Some(crate::native::roofline::Pair {
                label: format!("{} {}", o.op, format!("{:?}", o.shape).replace(' ', "")),
                ours_ms: o.gpu_ms?,
                peer_ms: p.ms,
            })
        })
        .collect();
    let field = |k: &str| {
        c.peer_header
            .as_ref()
            .and_then(|h| h.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let peer = match (field("version"), field("device")) {
        (Some(v), Some(d)) => format!("PyTorch {v} ({d})"),
        _ => "peer".to_string(),
    };
    let title =
        format!("time per call: ours against {peer}; ×: ours / peer, below 1 we are faster");
    crate::native::roofline::draw_comparison(path, &title, &peer, &pairs)
}

pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    if let Some(h) = &c.peer_header {
        out += &format!("peer: {h}\n");
    }
    let rows: Vec<Vec<String>> = c
        .joined
        .iter()
        .map(|(o, p)| {
            vec![
                o.op.clone(),
                format!("{:?}", o.shape).replace(' ', ""),
                o.variant.clone(),
                opt(o.gpu_ms, 4),
                opt(Some(p.ms), 4),
                opt(o.gflops, 1),
                opt(p.gflops, 1),
                opt(o.gpu_ms.map(|ms| ms / p.ms), 2),
            ]
        })
        .collect();
    out += "ratio = our ms / peer ms (below 1: we are faster)\n";
    out += &table(
        &[
            "op",
            "shape",
            "variant",
            "ours ms",
            "peer ms",
            "ours GFLOP/s",
            "peer GFLOP/s",
            "ratio",
        ],
        &rows,
        3,
    );
    if !c.only_ours.is_empty() {
        out += &format!("\nonly in ours ({}):\n", c.only_ours.len());
        for r in &c.only_ours {
            out += &format!("  {} {:?} {}\n", r.op, r.shape, r.variant);
        }
    }
    if !c.only_peer.is_empty() {
        out += &format!("\nonly in the peer ({}):\n", c.only_peer.len());
        for r in &c.only_peer {
            out += &format!("  {} {:?}\n", r.op, r.shape);
        }
    }
    out
}

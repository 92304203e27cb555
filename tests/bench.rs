//! The benchmark's bookkeeping: FLOP and byte formulas, coverage of every WGSL entry
//! point, the JSON row schema, and `compare` joining our rows with the PyTorch peer's.

use std::collections::BTreeSet;
use std::process::Command;

mod child;

use wgsl_autoencoder::bench::{self, Row};
use wgsl_autoencoder::gpu::kernels;
use wgsl_autoencoder::native::compare;
use wgsl_autoencoder::ops::{
    Conv2dBackwardWeight, Conv2dForward, Conv2dShape, ConvTranspose2dForward, ConvTranspose2dShape,
    Matmul, MatmulShape, MaxPool2dForward, Op, Pool2dShape, View,
};
use wgsl_autoencoder::peaks;

fn v(buf: usize, len: usize) -> View {
    View::whole(buf, len)
}

#[test]
fn flop_and_byte_formulas() {
    let shape = MatmulShape::new(128, 784, 100);
    let mm = Op::from(Matmul::new(
        v(0, 128 * 784),
        v(1, 784 * 100),
        v(2, 128 * 100),
        shape,
        Default::default(),
    ));
    assert_eq!(mm.flops(), 2.0 * 128.0 * 784.0 * 100.0);
    assert_eq!(
        mm.bytes(),
        4.0 * (128.0 * 784.0 + 784.0 * 100.0 + 128.0 * 100.0)
    );

    // The PyTorch peer's conv FLOPs: 2·b·co·h·h·ci·9 (3×3, pad 1, stride 1), the same for
    // all three products.
    let s = Conv2dShape {
        n: 128,
        c: 16,
        h: 14,
        w: 14,
        o: 8,
        kh: 3,
        kw: 3,
        stride: 1,
        pad: 1,
    };
    let peer = 2.0 * 128.0 * 8.0 * 14.0 * 14.0 * 16.0 * 9.0;
    let fwd = Op::from(Conv2dForward {
        x: v(0, s.x_len()),
        w: v(1, s.w_len()),
        b: v(2, 8),
        y: v(3, s.y_len()),
        shape: s,
    });
    let bwd = Op::from(Conv2dBackwardWeight {
        x: v(0, s.x_len()),
        dy: v(1, s.y_len()),
        dw: v(2, s.w_len()),
        shape: s,
    });
    assert_eq!(fwd.flops(), peer);
    assert_eq!(bwd.flops(), peer);
    assert_eq!(
        fwd.bytes(),
        4.0 * (s.x_len() + s.w_len() + 8 + s.y_len()) as f64
    );

    // Transposed convs count on the input side: 2·b·ci·h·h·co·9.
    let t = ConvTranspose2dShape {
        n: 128,
        c: 8,
        h: 7,
        w: 7,
        o: 8,
        kh: 3,
        kw: 3,
        stride: 2,
        pad: 1,
        out_pad: 1,
    };
    let op = Op::from(ConvTranspose2dForward {
        x: v(0, t.x_len()),
        w: v(1, t.w_len()),
        b: v(2, 8),
        y: v(3, t.y_len()),
        shape: t,
    });
    assert_eq!(op.flops(), 2.0 * 128.0 * 8.0 * 7.0 * 7.0 * 8.0 * 9.0);

    // Max-pool: K·K compares per output; reads x, writes y and the indices.
    let p = Pool2dShape {
        n: 2,
        c: 3,
        h: 28,
        w: 28,
        k: 2,
        stride: 2,
    };
    let op = Op::from(MaxPool2dForward {
        x: v(0, p.x_len()),
        y: v(1, p.y_len()),
        idx: v(2, p.y_len()),
        shape: p,
    });
    assert_eq!(op.flops(), (2 * 3 * 14 * 14 * 4) as f64);
    assert_eq!(op.bytes(), 4.0 * (p.x_len() + 2 * p.y_len()) as f64);
}

/// Every `@compute` entry point in shaders/ and its ladders' folders, read from the WGSL
/// sources themselves.
fn wgsl_entry_points() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        // shaders/parts/ holds helpers, no entry points.
        if path.is_dir() && path != root.join("parts") {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if !path.is_dir() {
            files.push(path);
        }
    }
    let mut names = BTreeSet::new();
    for path in files {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim_start().starts_with("@compute") {
                let def = lines.find(|l| l.trim_start().starts_with("fn ")).unwrap();
                let name = def.trim_start()["fn ".len()..].split('(').next().unwrap();
                names.insert(name.to_string());
            }
        }
    }
    names
}

#[test]
fn quick_and_full_benchmarks_cover_every_entry_point() {
    let all = wgsl_entry_points();
    assert!(all.len() >= 20, "{all:?}");
    for quick in [true, false] {
        // The entry point each case runs on the GPU, variants included; the peak kernels
        // are timed by `bench --peak`.
        let mut cases = bench::cases(quick).unwrap();
        for op in [peaks::fma_op(4, 1), peaks::copy_op(4), peaks::read_op(4)] {
            cases.extend(bench::with_variants(op));
        }
        // A batch split's fold is timed with its dispatch, in the same row.
        let covered: BTreeSet<String> = cases
            .iter()
            .flat_map(|c| {
                let l = kernels::launch(&c.op, c.variant).unwrap();
                let fold = l.fold.map(|f| f.entry.to_string());
                std::iter::once(l.entry.to_string()).chain(fold)
            })
            .collect();
        assert_eq!(covered, all, "quick = {quick}");
    }
}

/// The binary.
fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wgsl-autoencoder"))
}

/// A cache folder for this test binary instead of the user's, holding the card's peaks,
/// measured once (`bench --peak`) before any test needs them, so that the runs here read
/// them rather than each measure them.
fn cache() -> &'static std::path::Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let out = child::own_cache(&mut bin(), dir.path())
                .args(["bench", "--peak"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            dir
        })
        .path()
}

/// A row of ours as `compare` reads it, timed at `ms` (the rest placeholders).
fn row(op: &str, variant: &str, shape: Vec<usize>, ms: f64) -> Row {
    Row {
        op: op.into(),
        variant: variant.into(),
        shape,
        dims: Default::default(),
        activation: None,
        gpu_ms: Some(ms),
        cpu_ms: None,
        speedup: None,
        gflops: Some(1.0),
        gbps: Some(1.0),
        timing: "timestamp".into(),
        repeats: 1,
        images_per_second: None,
        intensity: None,
        bound: None,
        peak_share: None,
    }
}

fn bench_json(extra: &[&str]) -> Vec<Row> {
    let out = child::own_cache(&mut bin(), cache())
        .args(["bench", "--quick", "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| {
            let value: serde_json::Value = serde_json::from_str(l).unwrap();
            for key in [
                "op",
                "variant",
                "shape",
                "gpu_ms",
                "cpu_ms",
                "gflops",
                "gbps",
                "timing",
                "intensity",
                "bound",
                "peak_share",
            ] {
                assert!(value.get(key).is_some(), "{key} missing in {l}");
            }
            serde_json::from_value(value).unwrap()
        })
        .collect()
}

/// `bench --quick --json` times rows as they should be (every number finite and
/// positive, the reference timed too) on the 64³ products, every matmul variant (a
/// tenth of the quick rows: every variant of every quick shape is `check`ed elsewhere,
/// and lavapipe takes minutes over the thin tiles' rows); and the PyTorch peer's
/// fixture has a row for every quick case, joined as `compare` joins them.
#[test]
fn bench_quick_json_rows_and_compare() {
    let rows = bench_json(&["--filter", "matmul[64, 64, 64,"]);
    let cases = bench::cases(true).unwrap();
    let expected = cases
        .iter()
        .filter(|c| c.name() == "matmul" && c.shape().starts_with(&[64, 64, 64]))
        .count();
    assert_eq!(rows.len(), expected, "{rows:?}");
    assert!(rows.len() > 5, "every matmul variant at 64³: {rows:?}");
    for r in &rows {
        for (key, value) in [("gpu_ms", r.gpu_ms), ("gflops", r.gflops), ("gbps", r.gbps)] {
            let v = value.unwrap_or_else(|| panic!("{} {:?}: no {key}", r.op, r.shape));
            assert!(
                v.is_finite() && v > 0.0,
                "{} {:?}: {key} = {v}",
                r.op,
                r.shape
            );
        }
        assert!(r.timing == "timestamp" || r.timing == "wallclock");
        // Quick shapes are all under the CPU cap, so the reference was timed too.
        assert!(r.cpu_ms.is_some_and(|c| c > 0.0), "{}: cpu_ms", r.op);
    }
    // Peer rows from a real run of scripts/torch_peer.py on a CPU over the quick rows
    // (tests/fixtures/torch_peer_cpu.jsonl): every quick case of ours must find its
    // peer. A new op or shape in the models needs the fixture made again:
    //   wgsl-autoencoder bench --quick --json > ours.jsonl
    //   python3 scripts/torch_peer.py ours.jsonl > tests/fixtures/torch_peer_cpu.jsonl
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.jsonl");
    let lines: Vec<String> = cases
        .iter()
        .map(|c| serde_json::to_string(&row(c.name(), &c.variant_name(), c.shape(), 1.0)).unwrap())
        .collect();
    std::fs::write(&ours, lines.join("\n")).unwrap();
    let peer = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch_peer_cpu.jsonl");
    let c = compare::load(&ours, &peer).unwrap();
    assert!(c.peer_header.is_some());
    let unique: BTreeSet<(String, Vec<usize>)> = cases
        .iter()
        .map(|c| (c.name().to_string(), c.shape()))
        .collect();
    assert_eq!(c.joined.len(), unique.len(), "every row has a peer row");
    assert!(c.only_ours.is_empty() && c.only_peer.is_empty());
}

#[test]
fn compare_joins_on_op_and_shape_and_lists_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let ours = [
        row("matmul", "naive", vec![1024, 1024, 1024], 4.0),
        row("matmul", "tiled", vec![1024, 1024, 1024], 1.0),
        row("train_epoch/dense", "-", vec![60000, 128], 250.0),
        row("gather_batch", "-", vec![128, 784], 0.01),
    ];
    let ours_path = dir.path().join("ours.jsonl");
    let text: Vec<String> = ours
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    std::fs::write(&ours_path, text.join("\n")).unwrap();
    let peer_path = dir.path().join("peer.jsonl");
    std::fs::write(
        &peer_path,
        [
            r#"{"peer": "torch", "version": "2.15.0", "device": "cpu"}"#,
            r#"{"peer": "torch", "op": "matmul", "shape": [1024, 1024, 1024], "ms": 2.0, "gflops": 1073.7}"#,
            r#"{"peer": "torch", "op": "train_epoch_eager/dense", "shape": [60000, 128], "ms": 1000.0}"#,
            r#"{"peer": "torch", "op": "matmul", "shape": [4096, 4096, 4096], "ms": 3.0, "gflops": 1.0}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let c = compare::load(&ours_path, &peer_path).unwrap();
    assert_eq!(c.joined.len(), 2);
    // Of two variants, the faster one stands for us.
    let (mm, peer) = c.joined.iter().find(|(o, _)| o.op == "matmul").unwrap();
    assert_eq!((mm.variant.as_str(), peer.ms), ("tiled", 2.0));
    assert!(c
        .joined
        .iter()
        .any(|(o, p)| o.op == "train_epoch/dense" && p.op == "train_epoch_eager/dense"));
    assert_eq!(c.only_ours.len(), 1);
    assert_eq!(c.only_peer.len(), 1);
    let text = compare::render(&c);
    assert!(
        text.contains("0.50") && text.contains("0.25"),
        "ratios: {text}"
    );
    assert!(
        text.contains("only in ours (1)") && text.contains("only in the peer (1)"),
        "{text}"
    );
    // `compare --plot`: a pair of bars per joined op.
    let picture = dir.path().join("compare.png");
    compare::plot(&c, &picture).unwrap();
    let png = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&picture).unwrap(),
    ));
    let info = png.read_info().unwrap().info().clone();
    assert_eq!(info.width, 1400);
    assert!(info.height >= 300, "{}", info.height);
}

#[test]
fn compare_reports_a_bad_file_as_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{not json").unwrap();
    let err = compare::load(&bad, &bad).err().unwrap().to_string();
    assert!(err.contains("bad.jsonl") && err.contains("line 1"), "{err}");
    let missing = compare::load(&dir.path().join("none.jsonl"), &bad)
        .err()
        .unwrap()
        .to_string();
    assert!(missing.contains("none.jsonl"), "{missing}");
}

#[test]
fn profile_prints_every_dispatch_of_a_conv_step() {
    let run = |extra: &[&str]| {
        let mut args = vec!["profile", "--model", "conv", "--batch", "8", "--steps", "2"];
        args.extend(extra);
        let out = child::own_cache(&mut bin(), cache())
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(&[]);
    for kernel in [
        "conv2d_act_pool_forward",
        "conv2d_act_forward",
        "mse_sigmoid_backward",
        "conv2d_backward_pool_act",
        "conv2d_backward_act",
        "conv2d_backward_params",
        "adam_update",
    ] {
        assert!(table.contains(kernel), "{kernel} missing:\n{table}");
    }
    // The decoder's transposed convs run on conv2d's kernels; their shapes say so by
    // their output padding.
    assert!(table.contains(" op1 relu"), "{table}");
    assert!(
        table.contains("busy") && table.contains("ms wall"),
        "{table}"
    );

    let json: serde_json::Value = serde_json::from_str(run(&["--json"]).trim()).unwrap();
    let dispatches = json["dispatches"].as_array().unwrap();
    // gather, the 5 fused stages forward, the fused loss, 5 stages backward, Adam: within
    // the 16 a conv step may take.
    assert_eq!(dispatches.len(), 13, "{json}");
    for d in dispatches {
        assert_eq!(d["calls"], 2, "{d}");
        assert!(d["median_ms"].as_f64().unwrap() > 0.0, "{d}");
    }
    // The dispatches' shares and the host's make up the step.
    let share: f64 = dispatches
        .iter()
        .map(|d| d["share"].as_f64().unwrap())
        .sum::<f64>()
        + json["host_share"].as_f64().unwrap();
    assert!((share - 1.0).abs() < 1e-9, "shares sum to {share}");
    assert!(json["step_wall_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_filter_keeps_matching_rows_only() {
    let rows = bench_json(&["--filter", "max_pool2d"]);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.op.starts_with("max_pool2d")));
    // Words: each must be in the row's op[shape] or its variant's name.
    let rows = bench_json(&["--filter", "matmul[64, sgemm64"]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].op.as_str(), rows[0].variant.as_str()),
        ("matmul", "sgemm64x64")
    );
    assert_eq!(rows[0].shape[..3], [64, 64, 64]);
}

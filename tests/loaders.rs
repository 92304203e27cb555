//! Property tests of everything that reads files a user hands in: the gzipped IDX
//! validation, the `--data` readers (IDX, PNG/JPEG, CSV, NPY, a picked folder), the
//! checkpoint loader, `compare`'s reader and the metrics reader. Random,
//! truncated and corrupted bytes must always give a value or a clean error, never a
//! panic, and never make an allocation sized by what the bytes claim.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;

use wgsl_autoencoder::checkpoint;
use wgsl_autoencoder::data::{decode_idx, IDX_IMAGES, IDX_LABELS};
use wgsl_autoencoder::model::{Arch, DataSizes, Graph};
use wgsl_autoencoder::native::compare;
use wgsl_autoencoder::native::metrics::MetricsLog;
use wgsl_autoencoder::ops::{AdamConfig, LossKind};
use wgsl_autoencoder::rng::TorchRng;
use wgsl_autoencoder::train::TrainState;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A valid labels file of `count` digits and a valid images file of `count` images.
fn idx(magic: u32, count: usize) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    b.extend((count as u32).to_be_bytes());
    if magic == IDX_IMAGES {
        b.extend(28u32.to_be_bytes());
        b.extend(28u32.to_be_bytes());
        b.extend((0..count * 784).map(|i| (i % 251) as u8));
    } else {
        b.extend((0..count).map(|i| (i % 10) as u8));
    }
    b
}

fn graph() -> Graph {
    let data = DataSizes::bytes(4, 4);
    let arch = Arch::dense(vec![4, 2]);
    Graph::build(&arch, 2, LossKind::Mse, AdamConfig::new(1e-3), data).unwrap()
}

/// A valid full checkpoint of `graph()`, as bytes.
fn checkpoint_bytes(graph: &Graph) -> Vec<u8> {
    let path = Path::new("c.safetensors");
    let n = graph.param_len();
    let state = TrainState {
        params: (0..n).map(|i| i as f32 * 0.01).collect(),
        adam_m: vec![0.5; n],
        adam_v: vec![0.25; n],
        adam_step: 3,
        epoch: 2,
        rng: TorchRng::new(1).to_words(),
    };
    checkpoint::state_bytes(path, graph, &state, "{}", None).unwrap()
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
    for &(at, v) in edits {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] ^= v;
        }
    }
    bytes.truncate(cut.min(bytes.len()));
    bytes
}

const P: &str = "input";

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn idx_decoding_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for magic in [IDX_LABELS, IDX_IMAGES] {
            let _ = decode_idx(Path::new(P), &bytes[..], magic, 3);
            let _ = decode_idx(Path::new(P), &gz(&bytes)[..], magic, 3);
        }
    }

    #[test]
    fn idx_decoding_never_panics_on_corrupted_files(
        edits in proptest::collection::vec((any::<usize>(), 1..=255u8), 0..6),
        cut in any::<usize>(),
        images in any::<bool>(),
        compress_first in any::<bool>(),
    ) {
        let magic = if images { IDX_IMAGES } else { IDX_LABELS };
        let good = idx(magic, 3);
        let bytes = match compress_first {
            // Corrupt the gzip stream itself.
            true => mutate(gz(&good), &edits, cut),
            // Corrupt the IDX file, then compress: the gzip is valid, the contents not.
            false => gz(&mutate(good, &edits, cut)),
        };
        let result = decode_idx(Path::new(P), &bytes[..], magic, 3);
        if let Ok(out) = result {
            // Anything accepted is an IDX file of exactly the expected length.
            prop_assert_eq!(out.len(), if images { 16 + 3 * 784 } else { 8 + 3 });
        }
    }

    #[test]
    fn checkpoint_loading_never_panics_on_corrupted_files(
        edits in proptest::collection::vec((any::<usize>(), 1..=255u8), 0..6),
        cut in any::<usize>(),
        header_len in proptest::option::of(any::<u64>()),
    ) {
        let g = graph();
        let mut bytes = mutate(checkpoint_bytes(&g), &edits, cut);
        // The first eight bytes claim the header's length: claim anything.
        if let (Some(n), true) = (header_len, bytes.len() >= 8) {
            bytes[..8].copy_from_slice(&n.to_le_bytes());
        }
        let path = Path::new(P);
        let _ = checkpoint::parse_meta(path, &bytes);
        let _ = checkpoint::parse_weights(path, &bytes, &g);
        if let Ok(state) = checkpoint::parse_state(path, &bytes, &g) {
            prop_assert!(state.params.iter().chain(&state.adam_m).chain(&state.adam_v).all(|v| v.is_finite()));
        }
    }

    #[test]
    fn checkpoint_loading_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let g = graph();
        let path = Path::new(P);
        prop_assert!(checkpoint::parse_weights(path, &bytes, &g).is_err());
        prop_assert!(checkpoint::parse_state(path, &bytes, &g).is_err());
    }

    #[test]
    fn compare_and_metrics_readers_never_panic(text in "\\PC{0,200}", lines in proptest::collection::vec("[{}\\[\\]\":,a-z0-9. -]{0,60}", 0..8)) {
        let path = Path::new(P);
        for t in [text.clone(), lines.join("\n")] {
            let _ = compare::parse_ours(path, &t);
            let _ = compare::parse_peer(path, &t);
            let _ = MetricsLog::parse(path, &t);
        }
    }

    #[test]
    fn compare_reader_survives_mutated_rows(edits in proptest::collection::vec((any::<usize>(), 1..=127u8), 0..4), cut in any::<usize>()) {
        let row = r#"{"op":"matmul","variant":"tiled","shape":[64,64,64],"gpu_ms":0.5,"cpu_ms":null,"speedup":null,"gflops":1.0,"gbps":1.0,"timing":"timestamp","repeats":1}"#;
        let bytes = mutate(row.as_bytes().to_vec(), &edits, cut);
        let text = String::from_utf8_lossy(&bytes);
        let _ = compare::parse_ours(Path::new(P), &text);
        let _ = compare::parse_peer(Path::new(P), &text);
    }
}

#[test]
fn a_gzip_bomb_is_read_no_further_than_the_file_it_claims_to_be() {
    // 64 MiB of zeros in about 64 KiB of gzip, where 11 bytes of labels are expected.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let started = std::time::Instant::now();
    let e = decode_idx(Path::new("bomb.gz"), &bomb[..], IDX_LABELS, 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bomb.gz"), "{e}");
    // Stopping after 12 bytes takes microseconds; reading 64 MiB would take far longer.
    assert!(
        started.elapsed().as_millis() < 200,
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn valid_files_are_accepted() {
    for magic in [IDX_LABELS, IDX_IMAGES] {
        let bytes = gz(&idx(magic, 3));
        assert!(decode_idx(Path::new(P), &bytes[..], magic, 3).is_ok());
    }
    let g = graph();
    let state = checkpoint::parse_state(Path::new(P), &checkpoint_bytes(&g), &g).unwrap();
    assert_eq!((state.epoch, state.adam_step), (2, 3));
}

/// The page's loader (the four files' bytes, as fetched) gives what the terminal's gives.
#[test]
fn mnist_from_the_files_bytes_equals_mnist_from_disk() {
    use wgsl_autoencoder::data::{mnist_from_gz, FILES};
    use wgsl_autoencoder::native::data::{default_data_dir, load_mnist};
    let dir = default_data_dir();
    let read = |i: usize| std::fs::read(dir.join(format!("{}.gz", FILES[i].0))).unwrap();
    let files = [read(0), read(1), read(2), read(3)];
    let bytes = [&files[0][..], &files[1][..], &files[2][..], &files[3][..]];
    let web = mnist_from_gz(bytes, Some(1000)).unwrap();
    let disk = load_mnist(&dir, Some(1000)).unwrap();
    assert_eq!(web.train.values, disk.train.values);
    assert_eq!(web.train.labels, disk.train.labels);
    assert_eq!(web.test.values, disk.test.values);
    assert_eq!(web.test.labels, disk.test.labels);
    // A file in the wrong place is named in the error.
    let swapped = [bytes[1], bytes[0], bytes[2], bytes[3]];
    let err = mnist_from_gz(swapped, None).err().unwrap().to_string();
    assert!(err.contains("train-images-idx3-ubyte.gz"), "{err}");
}

/// Valid small inputs of every `--data` reader, to corrupt.
mod user_data {
    use wgsl_autoencoder::data::Prepare;

    pub fn png() -> Vec<u8> {
        let mut out = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut out);
        let pixels: Vec<u8> = (0..2 * 3 * 3).map(|i| i as u8 * 13).collect();
        image::ImageEncoder::write_image(encoder, &pixels, 3, 2, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    pub fn idx() -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
        b.extend(0..12u8);
        b
    }

    pub fn npy() -> Vec<u8> {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend([1.0f32, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()));
        out
    }

    pub const CSV: &str = "a,b,label\n1,2,x\n3,4.5,y\n";

    pub fn prepares() -> [Prepare; 3] {
        [
            Prepare::default(),
            Prepare {
                image_size: Some((4, 5)),
                colour: Some(wgsl_autoencoder::data::Colour::Grey),
                ..Prepare::default()
            },
            Prepare {
                label_column: Some("label".into()),
                ..Prepare::default()
            },
        ]
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn user_data_readers_never_panic_on_corrupted_files(
        edits in proptest::collection::vec((any::<usize>(), 1..=255u8), 0..6),
        cut in any::<usize>(),
    ) {
        use wgsl_autoencoder::data::{idx, images, table};
        let path = Path::new(P);
        let png = mutate(user_data::png(), &edits, cut);
        let idx_bytes = mutate(user_data::idx(), &edits, cut);
        let npy = mutate(user_data::npy(), &edits, cut);
        let csv = mutate(user_data::CSV.as_bytes().to_vec(), &edits, cut);
        for prepare in user_data::prepares() {
            if let Ok(p) = images::decode(path, &png, &prepare) {
                prop_assert_eq!(p.pixels.len(), p.channels * p.height * p.width);
            }
            let _ = table::read_npy(path, &npy, &prepare);
            let _ = table::read_csv(path, &csv, &prepare);
            let _ = wgsl_autoencoder::data::images_from_files(
                vec![("a/1.png".into(), png.clone()), ("b/2.png".into(), user_data::png())],
                &prepare,
            );
        }
        for bytes in [idx_bytes.clone(), gz(&idx_bytes), mutate(gz(&user_data::idx()), &edits, cut)] {
            if let Ok(read) = idx::decode(path, &bytes) {
                prop_assert_eq!(read.data.len(), read.dims.iter().product::<usize>());
            }
        }
    }

    #[test]
    fn user_data_readers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        use wgsl_autoencoder::data::{idx, images, table};
        let path = Path::new(P);
        let prepare = wgsl_autoencoder::data::Prepare::default();
        let _ = images::decode(Path::new("x.png"), &bytes, &prepare);
        let _ = idx::decode(path, &bytes);
        let _ = idx::decode(path, &gz(&bytes));
        let _ = table::read_csv(path, &bytes, &prepare);
        let mut npy = b"\x93NUMPY".to_vec();
        npy.extend(&bytes);
        let _ = table::read_npy(path, &npy, &prepare);
    }
}

#[test]
fn an_idx_gzip_bomb_is_read_no_further_than_its_dimensions_promise() {
    use wgsl_autoencoder::data::idx;
    // A header promising 3 bytes, then 64 MiB of zeros in about 64 KiB of gzip.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&[0, 0, 8, 1, 0, 0, 0, 3]).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let started = std::time::Instant::now();
    let e = idx::decode(Path::new("bomb.gz"), &bomb)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bomb.gz") && e.contains("more than 3"), "{e}");
    assert!(
        started.elapsed().as_millis() < 200,
        "{:?}",
        started.elapsed()
    );
}

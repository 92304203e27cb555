//! `--seed 0` gives the weights and shuffles of `torch.manual_seed(0)`: compared with
//! values that torch 2.15 printed (tests/fixtures/torch_seed0.py wrote torch_seed0.json).

use wgsl_autoencoder::model::{Arch, DataSizes, Graph};
use wgsl_autoencoder::ops::{AdamConfig, LossKind};
use wgsl_autoencoder::rng::TorchRng;

#[test]
fn seed_zero_reproduces_torch_initialisation_and_randperm() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_seed0.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let sizes = DataSizes::bytes(60_000, 10_000);
    for arch in [
        Arch::dense(vec![100, 200, 30]),
        Arch::conv(vec![16, 8]),
        Arch::vae(vec![400, 20]),
        Arch::conv_vae(vec![16, 8, 20]),
    ] {
        let want = &fixture[arch.name()];
        let graph = Graph::build(&arch, 1, LossKind::Mse, AdamConfig::new(1e-3), sizes).unwrap();
        let mut rng = TorchRng::new(0);
        let flat = graph.init_params(&mut rng);
        assert_eq!(
            graph.params.len(),
            want["tensors"].as_object().unwrap().len()
        );
        for p in &graph.params {
            let t = &want["tensors"][&p.name];
            let values = &flat[p.value.range()];
            let first: Vec<f32> = t["first"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(
                &values[..first.len()],
                first.as_slice(),
                "{} {}: first values",
                arch.name(),
                p.name
            );
            let sum: f64 = values.iter().map(|&v| v as f64).sum();
            let torch_sum = t["sum"].as_f64().unwrap();
            assert!(
                (sum - torch_sum).abs() <= 1e-9 * torch_sum.abs().max(1.0),
                "{} {}: sum {sum} vs {torch_sum}",
                arch.name(),
                p.name
            );
        }
        // The epochs' shuffles continue the same stream.
        for epoch in want["perms"].as_array().unwrap() {
            let perm = rng.randperm(60_000);
            let head: Vec<u32> = epoch
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(
                &perm[..head.len()],
                head.as_slice(),
                "{} permutation",
                arch.name()
            );
        }
    }
}

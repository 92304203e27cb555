//! optim.wgsl against cpu::optim: Adam over several steps' bias corrections.

mod common;

use common::{check_op, random, words, Tol};
use wgsl_autoencoder::ops::{views, AdamConfig, AdamUpdate, Op, StepParams};

#[test]
fn adam_update_matches_reference() {
    let config = AdamConfig::new(1e-3);
    for (i, &len) in [1usize, 3, 255, 257, 70_000].iter().enumerate() {
        for t in [1u64, 2, 10, 5000] {
            let (bc1, bc2) = config.bias_corrections(t);
            let step = StepParams {
                batch_start: 0,
                batch_len: 0,
                bias_correction1: bc1,
                bias_correction2: bc2,
            };
            let v = views(&[len, len, len, len]);
            let op = Op::from(AdamUpdate {
                grad: v[0],
                param: v[1],
                m: v[2],
                v: v[3],
                config,
            });
            let seed = 100 * i as u64 + t;
            let init = vec![
                words(&random(len, seed, -1.0, 1.0)),
                words(&random(len, seed + 1, -1.0, 1.0)),
                words(&random(len, seed + 2, -0.1, 0.1)),
                // The second moment is never negative.
                words(&random(len, seed + 3, 0.0, 0.01)),
            ];
            // f32 against the f64 reference; the update itself is ~1e-3, the params ~1.
            let tol = Tol {
                atol: 1e-6,
                rtol: 1e-5,
            };
            check_op(&format!("len {len} t {t}"), &op, &init, step, tol);
        }
    }
}

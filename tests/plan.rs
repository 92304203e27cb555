//! `profile --plan`'s rows for both models' training steps: one per dispatch, each the
//! launch the GPU backend would make (its grid, and the workgroup size and memory its
//! pipeline declares, read from the WGSL with its constants applied), and on a GPU of 132
//! compute units (an H100's) every dispatch of real work spread over at least two
//! workgroups per unit.

use wgsl_autoencoder::backend::MemoryLimits;
use wgsl_autoencoder::data::{TEST_COUNT, TRAIN_COUNT};
use wgsl_autoencoder::gpu::kernels::{choose, launch, Measured, Parallelism};
use wgsl_autoencoder::model::{Arch, DataSizes, Fusion, Graph};
use wgsl_autoencoder::native::reflect::Reflector;
use wgsl_autoencoder::ops::{Access, Op};
use wgsl_autoencoder::plan::{self, Row};
use wgsl_autoencoder::{TrainConfig, Trainer};

const H100_UNITS: usize = 132;

/// The most outputs any kernel computes per invocation (sgemm 128x128's 8x8 block).
const MOST_OUTPUTS_PER_INVOCATION: u64 = 64;

fn graph(arch: Arch, batch: usize) -> Graph {
    let config = TrainConfig {
        batch,
        ..TrainConfig::new(arch)
    };
    let sizes = DataSizes {
        train_images: TRAIN_COUNT,
        test_images: TEST_COUNT,
    };
    let limits = MemoryLimits {
        per_buffer: 1 << 31,
        per_buffer_what: "a GPU's binding limit",
        total: None,
        total_what: "",
    };
    Trainer::graph_for(&config, sizes, &limits, Fusion::default()).unwrap()
}

fn plan_of(ops: &[Op], device: Parallelism) -> Vec<Row> {
    let mut reflector = Reflector::default();
    plan::rows(
        ops,
        &Measured::default(),
        device,
        Some(H100_UNITS),
        &mut |l| reflector.footprint(l),
    )
    .unwrap()
}

#[test]
fn a_row_per_dispatch_whose_workgroups_cover_its_outputs() {
    for arch in [Arch::default_dense(), Arch::default_conv()] {
        for batch in [1, 128, 1024] {
            for device in [Parallelism::Wide, Parallelism::Narrow] {
                let ops = graph(arch.clone(), batch).train;
                let rows = plan_of(&ops, device);
                assert_eq!(rows.len(), ops.len(), "{} at {batch}", arch.name());
                for (row, op) in rows.iter().zip(&ops) {
                    let what = format!("{} at {batch}: {} {}", arch.name(), row.entry, row.shape);
                    let l =
                        launch(op, choose(op, None, &Measured::default(), device).variant).unwrap();
                    assert_eq!(row.entry, l.entry, "{what}");
                    let groups: u64 = l.grid.iter().map(|&g| u64::from(g)).product();
                    assert_eq!(row.workgroups, groups, "{what}");
                    // Within what WebGPU allows every adapter.
                    assert!(
                        (1..=256).contains(&row.invocations),
                        "{what}: {} invocations",
                        row.invocations
                    );
                    assert!(row.workgroup_bytes <= 16384, "{what}");
                    let outputs = op
                        .bindings()
                        .iter()
                        .filter(|b| b.access != Access::Read)
                        .map(|b| b.len as u64)
                        .max()
                        .unwrap();
                    let invocations = row.workgroups * u64::from(row.invocations);
                    assert!(
                        invocations * MOST_OUTPUTS_PER_INVOCATION >= outputs,
                        "{what}: {invocations} invocations for {outputs} outputs"
                    );
                    assert_eq!(row.flops, op.flops(), "{what}");
                    assert_eq!(row.bytes, op.bytes(), "{what}");
                }
            }
        }
    }
}

#[test]
fn workgroup_memory_follows_the_variants_constants() {
    // The fused conv forward stages its weights for the channels each invocation
    // computes: more channels per invocation, more workgroup memory.
    let ops = graph(Arch::default_conv(), 8).train;
    let op = ops
        .iter()
        .find(|op| op.entry() == "conv2d_act_pool_forward")
        .unwrap();
    let mut reflector = Reflector::default();
    let mut bytes = Vec::new();
    for v in wgsl_autoencoder::gpu::kernels::variants(op) {
        let l = launch(op, v).unwrap();
        bytes.push((v.name(), reflector.footprint(&l).unwrap().workgroup_bytes));
    }
    assert!(bytes.len() > 1, "{bytes:?}");
    assert!(bytes.windows(2).all(|w| w[0].1 != w[1].1), "{bytes:?}");
}

/// What issue 19 asks of the kernels: on a GPU of 132 units, every dispatch of both
/// models at batch 128 that does more than 10 MFLOP or moves more than 1 MiB launches at
/// least 264 workgroups.
#[test]
fn every_dispatch_of_real_work_fills_an_h100_at_batch_128() {
    let mut starved = Vec::new();
    for arch in [Arch::default_dense(), Arch::default_conv()] {
        let rows = plan_of(&graph(arch.clone(), 128).train, Parallelism::Wide);
        for r in plan::starved(&rows) {
            starved.push(format!(
                "{} #{} {} {} {}: {} workgroups for {:.1} MFLOP, {:.2} MiB",
                arch.name(),
                r.index,
                r.entry,
                r.variant,
                r.shape,
                r.workgroups,
                r.flops / 1e6,
                r.bytes / 1048576.0
            ));
        }
    }
    assert!(
        starved.is_empty(),
        "starved dispatches:\n{}",
        starved.join("\n")
    );
}

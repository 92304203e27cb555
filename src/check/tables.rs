//! The shape tables every entry point is checked over: ones, odd sizes, sizes that are
//! not multiples of any workgroup or tile, batch 1 and more, channels 1, 3 and 17,
//! strides 1 and 2, paddings 0 to 2, output padding 0 and 1, and the models' own shapes.
//! One function per entry point, named after it; `all()` is every case of every table.

use super::{random_words as random, words, Case, Tol, TIGHT};
use crate::data::pack_bytes;
use crate::gpu::kernels::{variants, MatmulVariant, Variant};
use crate::ops::{
    views, Activation, ActivationBackward, ActivationForward, AdamConfig, AdamUpdate, BiasBackward,
    BiasForward, Conv2dActForward, Conv2dBackward, Conv2dBackwardBias, Conv2dBackwardInput,
    Conv2dBackwardWeight, Conv2dForward, Conv2dShape, ConvTranspose2dActForward,
    ConvTranspose2dBackward, ConvTranspose2dBackwardInput, ConvTranspose2dBackwardWeight,
    ConvTranspose2dForward, ConvTranspose2dShape, Corrupt, Epilogue, FusedPool, GatherBatch,
    GatherRows, InputGrad, L1Backward, LossActBackward, LossBackward, LossForward, LossKind,
    Matmul, MatmulShape, MaxPool2dBackward, MaxPool2dForward, NoiseKind, Op, PeakCopy, PeakFma,
    PeakRead, Pool2dShape, ReparamKlBackward, ReparamKlForward, StepParams,
};
use crate::ops::{KlScores, RowScores};

/// Every case of every table.
pub fn all() -> Vec<Case> {
    [
        matmul(),
        bias_forward(),
        bias_backward(),
        activation_forward(),
        activation_backward(),
        loss_forward(),
        loss_backward(),
        loss_act_backward(),
        row_scores(),
        adam_update(),
        gather_batch(),
        gather_rows(),
        conv2d_forward(),
        conv2d_backward_input(),
        conv2d_backward_weight(),
        conv2d_backward_bias(),
        max_pool2d_forward(),
        max_pool2d_backward(),
        conv_transpose2d_forward(),
        conv_transpose2d_backward_input(),
        conv_transpose2d_backward_weight(),
        conv2d_act_forward(),
        conv2d_act_pool_forward(),
        conv2d_backward(),
        conv_transpose2d_act_forward(),
        conv_transpose2d_backward(),
        noise(),
        reparam_kl_forward(),
        kl_scores(),
        reparam_kl_backward(),
        l1_backward(),
        peak_fma(),
        peak_copy(),
        peak_read(),
    ]
    .concat()
}

/// A sum of `terms` products of values in [-1, 1), in f32 on the GPU against the f64
/// reference: rounding grows with the length of the sum.
fn sum_tol(per_term: f32, terms: usize) -> Tol {
    Tol {
        atol: per_term * terms as f32,
        rtol: 1e-5,
    }
}

/// (m, k, n): ones and lines; sizes off every tile (8, 16, 32, 64, 128) and off 4, which
/// sgemm's vec4 loads cannot take; sizes that are multiples of 4 but of no tile, for
/// sgemm's edge blocks and its last partial k-tile; a whole tile of every size.
pub const MATMUL_SHAPES: [(usize, usize, usize); 8] = [
    (1, 1, 1),
    (1, 1000, 3),
    (127, 1, 33),
    (37, 129, 61),
    (5, 3, 17),
    (68, 20, 36),
    (132, 44, 196),
    (128, 128, 128),
];

/// The dense autoencoder's products at batch 128, each in the layout the model runs it
/// in: (m, k, n, trans_a, trans_b).
pub const MATMUL_MODEL_SHAPES: [(usize, usize, usize, bool, bool); 6] = [
    (128, 784, 100, false, true),  // forward of the first layer, x·Wᵀ
    (128, 200, 30, false, true),   // forward into the code
    (128, 100, 784, false, true),  // forward of the last layer
    (128, 100, 784, false, false), // input gradient of the first layer, dy·W
    (100, 128, 784, true, false),  // weight gradient of the first layer, dyᵀ·x
    (784, 128, 100, true, false),  // weight gradient of the last layer
];

const TRANSPOSES: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

/// Each epilogue in the layouts a Linear layer uses it with (the forward x·Wᵀ, the input
/// gradient dy·W, the weight gradient dyᵀ·x), and the bias gradient also with A stored
/// (M,K), since its row sums read the staged A. An epilogue acts on the finished sums,
/// so the other layouts add nothing the plain table has not checked.
fn epilogue_layouts() -> Vec<(Epilogue, (bool, bool))> {
    let mut list = Vec::new();
    for act in Activation::ALL {
        list.push((Epilogue::BiasAct { bias: V, act }, (false, true)));
        list.push((Epilogue::ActBackward { y: V, act }, (false, false)));
    }
    list.push((Epilogue::BiasBackward { db: V }, (true, false)));
    list.push((Epilogue::BiasBackward { db: V }, (false, false)));
    list
}

fn matmul_case(
    variant: MatmulVariant,
    shape: MatmulShape,
    epilogue: Epilogue,
    seed: u64,
) -> Option<Case> {
    let op = Matmul {
        epilogue,
        ..Matmul::new(V, V, V, shape, Default::default())
    };
    if !variant.runs(&op) {
        return None;
    }
    let label = format!("{} {:?} {shape:?}", variant.name(), epilogue);
    let op = Op::from(op).standalone();
    let case = Case::random(label, op, seed, sum_tol(1e-6, shape.k));
    Some(
        case.with_variant(Variant::Matmul(variant))
            .with_step(StepParams::default()),
    )
}

/// Every variant (every block size of sgemm and thin), every shape it runs, every
/// transpose combination, plain; one 256³ product per variant, large enough for sgemm's
/// interior blocks and several workgroups of every block size; then every epilogue on
/// every variant that has it, in its layouts, over shapes that reach the edges (a 1×1,
/// sizes off every tile, a model layer).
pub fn matmul() -> Vec<Case> {
    let mut cases = Vec::new();
    for variant in MatmulVariant::ALL {
        for (i, &(m, k, n)) in MATMUL_SHAPES.iter().enumerate() {
            for (t, &(trans_a, trans_b)) in TRANSPOSES.iter().enumerate() {
                let shape = MatmulShape {
                    m,
                    k,
                    n,
                    trans_a,
                    trans_b,
                };
                let seed = (10 * i + t) as u64;
                cases.extend(matmul_case(variant, shape, Epilogue::None, seed));
            }
        }
        for (i, &(m, k, n, trans_a, trans_b)) in MATMUL_MODEL_SHAPES.iter().enumerate() {
            let shape = MatmulShape {
                m,
                k,
                n,
                trans_a,
                trans_b,
            };
            cases.extend(matmul_case(variant, shape, Epilogue::None, 500 + i as u64));
        }
        let square = MatmulShape::new(256, 256, 256);
        cases.extend(matmul_case(variant, square, Epilogue::None, 7));
        let (m, k, n, _, _) = MATMUL_MODEL_SHAPES[1];
        let edges = [
            MATMUL_SHAPES[0],
            MATMUL_SHAPES[3],
            MATMUL_SHAPES[6],
            (m, k, n),
        ];
        for (i, &(m, k, n)) in edges.iter().enumerate() {
            for (e, (epilogue, (trans_a, trans_b))) in epilogue_layouts().into_iter().enumerate() {
                let shape = MatmulShape {
                    m,
                    k,
                    n,
                    trans_a,
                    trans_b,
                };
                let seed = (100 * i + e) as u64;
                cases.extend(matmul_case(variant, shape, epilogue, seed));
            }
        }
    }
    cases
}

/// (rows, cols): ones, odd sizes, a partial workgroup, and more than one workgroup.
const ELEMENTWISE_SHAPES: [(usize, usize); 6] =
    [(1, 1), (1, 3), (5, 17), (3, 100), (128, 30), (257, 784)];

pub fn bias_forward() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
        let v = views(&[rows * cols, cols, rows * cols]);
        let op = Op::from(BiasForward {
            x: v[0],
            b: v[1],
            y: v[2],
            rows,
            cols,
        });
        let init = vec![
            random(rows * cols, i as u64, -1.0, 1.0),
            random(cols, 50 + i as u64, -1.0, 1.0),
            vec![0; rows * cols],
        ];
        cases.push(Case::given(format!("{rows}x{cols}"), op, init, TIGHT));
    }
    cases
}

pub fn bias_backward() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
        let v = views(&[rows * cols, cols]);
        let op = Op::from(BiasBackward {
            dy: v[0],
            db: v[1],
            rows,
            cols,
        });
        let init = vec![random(rows * cols, i as u64, -1.0, 1.0), vec![0; cols]];
        cases.push(Case::given(
            format!("{rows}x{cols}"),
            op,
            init,
            sum_tol(1e-6, rows),
        ));
    }
    cases
}

pub fn activation_forward() -> Vec<Case> {
    let mut cases = Vec::new();
    for act in Activation::ALL {
        for (i, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
            let len = rows * cols;
            let v = views(&[len, len]);
            let op = Op::from(ActivationForward {
                act,
                x: v[0],
                y: v[1],
                rows,
                cols,
            });
            let init = vec![random(len, i as u64, -6.0, 6.0), vec![0; len]];
            cases.push(Case::given(format!("{act:?} {len}"), op, init, TIGHT));
        }
        let len = SPECIAL_VALUES.len();
        let v = views(&[len, len]);
        let op = Op::from(ActivationForward {
            act,
            x: v[0],
            y: v[1],
            rows: 1,
            cols: len,
        });
        let init = vec![words(&SPECIAL_VALUES), vec![0; len]];
        let label = format!("{act:?} NaN, ±inf and where exp and tanh saturate");
        cases.push(Case::given(label, op, init, TIGHT));
    }
    cases
}

/// Inputs a fast-math compiler may mishandle: NaN (which must come out NaN), infinities,
/// signed zeros, and values around where the activations change form or clamp their
/// arguments (±10 for tanh; -80, -104 and 88 for sigmoid) and beyond, up to the largest
/// floats.
const SPECIAL_VALUES: [f32; 23] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -0.0,
    1e-30,
    -1e-30,
    9.5,
    -9.5,
    10.5,
    -10.5,
    20.0,
    -20.0,
    79.5,
    -79.5,
    -80.5,
    88.5,
    -88.5,
    -100.0,
    -104.5,
    200.0,
    f32::MAX,
    f32::MIN,
];

pub fn activation_backward() -> Vec<Case> {
    let mut cases = Vec::new();
    for act in Activation::ALL {
        for (i, &(rows, cols)) in ELEMENTWISE_SHAPES.iter().enumerate() {
            let len = rows * cols;
            let v = views(&[len, len, len]);
            let op = Op::from(ActivationBackward {
                act,
                y: v[0],
                dy: v[1],
                dx: v[2],
                rows,
                cols,
            });
            // y as the forward would produce it: ≥ 0 with zeros for ReLU, in (0, 1) for
            // Sigmoid, in (-1, 1) for Tanh.
            let low = if act == Activation::Tanh { -1.0 } else { -0.5 };
            let y: Vec<f32> = random(len, 70 + i as u64, low, 1.0)
                .into_iter()
                .map(f32::from_bits)
                .map(|y| {
                    if act == Activation::Tanh {
                        y
                    } else {
                        y.max(0.0)
                    }
                })
                .collect();
            let init = vec![
                words(&y),
                random(len, 90 + i as u64, -1.0, 1.0),
                vec![0; len],
            ];
            cases.push(Case::given(format!("{act:?} {len}"), op, init, TIGHT));
        }
    }
    cases
}

/// (rows, cols): a single element, odd sizes, less than and more than one workgroup's
/// stride, and a batch of MNIST images.
const LOSS_SHAPES: [(usize, usize); 5] = [(1, 1), (3, 7), (1, 255), (5, 257), (128, 784)];

/// Sigmoid outputs, kept off 0 and 1 only by chance, and pixel-like targets; for the
/// last case of each table (`edges`), predictions of exactly 0 and 1 (whose logs BCE
/// clamps at -100 without taking log(0)), and next to them.
fn predictions_and_targets(len: usize, seed: u64, edges: bool) -> (Vec<u32>, Vec<u32>) {
    if edges {
        let y: Vec<f32> = (0..len).map(|i| EDGE_PREDICTIONS[i % 7]).collect();
        let t: Vec<f32> = (0..len).map(|i| [0.0, 1.0, 0.5][i % 3]).collect();
        return (words(&y), words(&t));
    }
    (random(len, seed, 0.0, 1.0), random(len, seed + 1, 0.0, 1.0))
}

const EDGE_PREDICTIONS: [f32; 7] = [0.0, 1.0, 1e-30, 0.99999994, 0.5, 1e-7, 0.9999];

/// The loss tables' shapes, and the edge case on one of them.
fn loss_shapes(more: &[(usize, usize)]) -> Vec<((usize, usize), bool)> {
    let plain = LOSS_SHAPES.iter().chain(more).map(|&s| (s, false));
    plain.chain([((3, 7), true)]).collect()
}

fn loss_label(loss: LossKind, (rows, cols): (usize, usize), edges: bool, summed: bool) -> String {
    let edges = if edges { " with y = 0 and 1" } else { "" };
    let summed = if summed { " summed" } else { "" };
    format!("{loss:?}{summed} {rows}x{cols}{edges}")
}

/// Each loss, the mean and the per-image sum (a VAE's).
fn loss_kinds() -> [(LossKind, bool); 4] {
    [
        (LossKind::Mse, false),
        (LossKind::Bce, false),
        (LossKind::Mse, true),
        (LossKind::Bce, true),
    ]
}

pub fn loss_forward() -> Vec<Case> {
    let mut cases = Vec::new();
    for (loss, summed) in loss_kinds() {
        for (i, ((rows, cols), edges)) in loss_shapes(&[]).into_iter().enumerate() {
            let len = rows * cols;
            let (y, t) = predictions_and_targets(len, 10 * i as u64, edges);
            let v = views(&[len, len, 1, 1]);
            let op = Op::from(LossForward {
                loss,
                y: v[0],
                t: v[1],
                value: v[2],
                total: v[3],
                rows,
                cols,
                summed,
            });
            // The running total starts from a value the kernel must add to, not overwrite.
            let init = vec![y, t, vec![0], words(&[1.25])];
            // A tree sum in f32 against an f64 sum: relative error grows with the length.
            let tol = Tol {
                atol: 1e-6,
                rtol: 1e-5,
            };
            cases.push(Case::given(
                loss_label(loss, (rows, cols), edges, summed),
                op,
                init,
                tol,
            ));
        }
    }
    cases
}

pub fn loss_backward() -> Vec<Case> {
    let mut cases = Vec::new();
    for (loss, summed) in loss_kinds() {
        for (i, ((rows, cols), edges)) in loss_shapes(&[]).into_iter().enumerate() {
            let len = rows * cols;
            let (y, t) = predictions_and_targets(len, 10 * i as u64, edges);
            let v = views(&[len, len, len]);
            let op = Op::from(LossBackward {
                loss,
                y: v[0],
                t: v[1],
                dy: v[2],
                rows,
                cols,
                summed,
            });
            let init = vec![y, t, vec![0; len]];
            cases.push(Case::given(
                loss_label(loss, (rows, cols), edges, summed),
                op,
                init,
                TIGHT,
            ));
        }
    }
    cases
}

/// The fused loss over the loss shapes and a batch of 1000 images (3063 chunks, the last
/// one partial), adding to running totals that are not zero; through a Sigmoid, and
/// through a linear output at a few shapes.
pub fn loss_act_backward() -> Vec<Case> {
    let mut cases = Vec::new();
    let sigmoid = loss_kinds().into_iter().map(|k| (Activation::Sigmoid, k));
    let linear = [
        (LossKind::Mse, false),
        (LossKind::Bce, false),
        (LossKind::Mse, true),
    ]
    .into_iter()
    .map(|k| (Activation::Identity, k));
    for (act, (loss, summed)) in sigmoid.chain(linear) {
        let shapes = loss_shapes(&[(1000, 784)]);
        // The linear output's entry points differ from the Sigmoid's in one select: a
        // spread of the shapes covers them.
        let keep = |i: usize| act == Activation::Sigmoid || i.is_multiple_of(2);
        for (i, ((rows, cols), edges)) in shapes.into_iter().enumerate().filter(|(i, _)| keep(*i)) {
            let len = rows * cols;
            let groups = crate::ops::loss_totals(len);
            let (y, t) = predictions_and_targets(len, 10 * i as u64, edges);
            let v = views(&[len, len, len, groups]);
            let op = Op::from(LossActBackward {
                loss,
                act,
                y: v[0],
                t: v[1],
                dz: v[2],
                totals: v[3],
                rows,
                cols,
                summed,
            });
            let init = vec![y, t, vec![0; len], random(groups, 7, 0.0, 2.0)];
            // Each total sums at most LOSS_CHUNK (256) terms in a tree, against an f64 sum.
            let tol = Tol {
                atol: 1e-6,
                rtol: 1e-5,
            };
            let label = loss_label(loss, (rows, cols), edges, summed);
            let label = match act {
                Activation::Identity => format!("{label} through a linear output"),
                _ => label,
            };
            cases.push(Case::given(label, op, init, tol));
        }
    }
    cases
}

/// Each row's score over the loss shapes, a test set's batch of 1000 MNIST digits, rows
/// longer than a workgroup (3×32×32 colour images), and the edges, mean and summed.
pub fn row_scores() -> Vec<Case> {
    let mut cases = Vec::new();
    for (loss, summed) in loss_kinds() {
        let shapes = loss_shapes(&[(1000, 784), (3, 3072)]);
        for (i, ((rows, cols), edges)) in shapes.into_iter().enumerate() {
            let len = rows * cols;
            let (y, t) = predictions_and_targets(len, 30 + 10 * i as u64, edges);
            let v = views(&[len, len, rows]);
            let op = Op::from(RowScores {
                loss,
                y: v[0],
                t: v[1],
                scores: v[2],
                rows,
                cols,
                summed,
            });
            let init = vec![y, t, vec![0; rows]];
            // A workgroup's tree sum of up to 3072 terms in f32 against an f64 sum.
            let tol = Tol {
                atol: 1e-6,
                rtol: 1e-5,
            };
            let label = loss_label(loss, (rows, cols), edges, summed);
            cases.push(Case::given(label, op, init, tol));
        }
    }
    cases
}

/// Adam over lengths around the workgroup, at several steps' bias corrections.
pub fn adam_update() -> Vec<Case> {
    let config = AdamConfig::new(1e-3);
    let mut cases = Vec::new();
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
                random(len, seed, -1.0, 1.0),
                random(len, seed + 1, -1.0, 1.0),
                random(len, seed + 2, -0.1, 0.1),
                // The second moment is never negative.
                random(len, seed + 3, 0.0, 0.01),
            ];
            // f32 against the f64 reference; the update itself is ~1e-3, the params ~1.
            let tol = Tol {
                atol: 1e-6,
                rtol: 1e-5,
            };
            let case = Case::given(format!("len {len} t {t}"), op, init, tol);
            cases.push(case.with_step(step));
        }
    }
    cases
}

/// Images whose width is not a multiple of 4, so that they straddle packed words, and
/// batches from the start, the middle and the end of a permutation.
pub fn gather_batch() -> Vec<Case> {
    let mut cases = Vec::new();
    for (images, cols, rows, start) in [
        (1usize, 1usize, 1usize, 0usize),
        (10, 7, 3, 5),
        (50, 784, 17, 20),
        (300, 784, 128, 172),
    ] {
        let bytes: Vec<u8> = (0..images * cols).map(|i| (i * 37 % 256) as u8).collect();
        let packed = pack_bytes(&bytes);
        // A permutation that is not the identity.
        let perm: Vec<u32> = if images % 7 == 0 {
            (0..images as u32).rev().collect()
        } else {
            (0..images as u32)
                .map(|i| (i * 7 + 3) % images as u32)
                .collect()
        };
        let v = views(&[packed.len(), images, rows * cols]);
        let op = Op::from(GatherBatch {
            data: v[0],
            perm: v[1],
            x: v[2],
            images,
            rows,
            cols,
        });
        let step = StepParams {
            batch_start: start as u32,
            batch_len: rows as u32,
            ..Default::default()
        };
        let init = vec![packed, perm, vec![0; rows * cols]];
        let label = format!("{images} images of {cols}, rows {rows} from {start}");
        cases.push(Case::given(label, op, init, TIGHT).with_step(step));
    }
    cases
}

/// Rows of 1, odd and large widths (an ECG beat's 140), batches from the start, the middle
/// and the end of a permutation; values of any sign, gathered bit for bit.
pub fn gather_rows() -> Vec<Case> {
    let mut cases = Vec::new();
    for (images, cols, rows, start) in [
        (1usize, 1usize, 1usize, 0usize),
        (10, 7, 3, 5),
        (50, 140, 17, 20),
        (300, 3 * 32 * 32, 128, 172),
    ] {
        let data = random(images * cols, images as u64, -3.0, 3.0);
        let perm: Vec<u32> = (0..images as u32)
            .map(|i| (i * 7 + 3) % images as u32)
            .collect();
        let v = views(&[images * cols, images, rows * cols]);
        let op = Op::from(GatherRows {
            data: v[0],
            perm: v[1],
            x: v[2],
            images,
            rows,
            cols,
        });
        let step = StepParams {
            batch_start: start as u32,
            batch_len: rows as u32,
            ..Default::default()
        };
        let init = vec![data, perm, vec![0; rows * cols]];
        let label = format!("{images} rows of {cols}, rows {rows} from {start}");
        cases.push(Case::given(label, op, init, TIGHT).with_step(step));
    }
    cases
}

/// Spatial cases for the convolution tables: (n, c, o, h, w), cycling through batch 1 and
/// 5, channels 1, 3 and 17, odd, even and non-square sizes from 1×1 to 29×29.
pub const CONV_SIZES: [(usize, usize, usize, usize, usize); 8] = [
    (1, 1, 1, 1, 1),
    (5, 3, 17, 2, 3),
    (1, 17, 3, 5, 5),
    (5, 1, 3, 7, 4),
    (1, 3, 1, 8, 8),
    (5, 17, 17, 13, 11),
    (1, 1, 16, 28, 28),
    (5, 3, 3, 29, 29),
];

/// (size, kernel, stride, pad)
pub type ConvCase = ((usize, usize, usize, usize, usize), usize, usize, usize);

/// Every (kernel, stride, pad) with kernels 1, 2, 3 and 5, strides 1 and 2 and paddings
/// 0 to 2, each with five sizes: 120 cases, of which the callers leave out the shapes
/// PyTorch would reject.
pub fn conv_cases() -> Vec<ConvCase> {
    let mut cases = Vec::new();
    let mut i = 0;
    for kernel in [1, 2, 3, 5] {
        for stride in [1, 2] {
            for pad in [0, 1, 2] {
                for _ in 0..5 {
                    cases.push((CONV_SIZES[i % CONV_SIZES.len()], kernel, stride, pad));
                    i += 1;
                }
            }
        }
    }
    cases
}

/// The conv2d table: PyTorch refuses padding wider than half the kernel, and empty outputs.
pub fn conv2d_shapes() -> Vec<Conv2dShape> {
    conv_cases()
        .into_iter()
        .map(|((n, c, o, h, w), k, stride, pad)| Conv2dShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride,
            pad,
        })
        .filter(|s| 2 * s.pad <= s.kh && s.validate().is_ok())
        .collect()
}

/// One case per shape of `shapes`, its op built by `op` on buffers of its own, with
/// seeded random inputs and a tolerance for sums of `terms(shape)` products.
fn random_cases<S: std::fmt::Debug>(
    shapes: &[S],
    op: impl Fn(&S) -> Op,
    seed: impl Fn(usize) -> u64,
    terms: impl Fn(&S) -> usize,
) -> Vec<Case> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let op = op(s).standalone();
            let tol = sum_tol(2e-6, terms(s));
            Case::random(format!("{s:?}"), op, seed(i), tol).with_step(StepParams::default())
        })
        .collect()
}

/// The placeholder view of an op that `Op::standalone` then places on a buffer of its own.
const V: crate::ops::View = crate::ops::View {
    buf: 0,
    offset: 0,
    len: 0,
};

/// Every shape under each variant: the direct kernel and the implicit GEMM's tiles, with
/// a layer of 40 channels, wide enough for every tile (64 channels: two of its 16 columns
/// of invocations past the last channel) and not a multiple of any.
pub fn conv2d_forward() -> Vec<Case> {
    let mut shapes = conv2d_shapes();
    shapes.push(Conv2dShape {
        n: 2,
        c: 3,
        h: 6,
        w: 5,
        o: 40,
        kh: 3,
        kw: 3,
        stride: 1,
        pad: 1,
    });
    let cases = random_cases(
        &shapes,
        |&shape| {
            Conv2dForward {
                x: V,
                w: V,
                b: V,
                y: V,
                shape,
            }
            .into()
        },
        |i| 10 * i as u64,
        |s| s.c * s.kh * s.kw,
    );
    cases.into_iter().flat_map(every_variant).collect()
}

pub fn conv2d_backward_input() -> Vec<Case> {
    random_cases(
        &conv2d_shapes(),
        |&shape| {
            Conv2dBackwardInput {
                dy: V,
                w: V,
                dx: V,
                shape,
            }
            .into()
        },
        |i| 10 * i as u64,
        |s| s.o * s.kh * s.kw,
    )
}

pub fn conv2d_backward_weight() -> Vec<Case> {
    random_cases(
        &conv2d_shapes(),
        |&shape| {
            Conv2dBackwardWeight {
                x: V,
                dy: V,
                dw: V,
                shape,
            }
            .into()
        },
        |i| 10 * i as u64,
        |s| s.n * s.out_h() * s.out_w(),
    )
}

pub fn conv2d_backward_bias() -> Vec<Case> {
    random_cases(
        &conv2d_shapes(),
        |s| {
            Conv2dBackwardBias {
                dy: V,
                db: V,
                n: s.n,
                o: s.o,
                hw: s.out_h() * s.out_w(),
            }
            .into()
        },
        |i| i as u64,
        |s| s.n * s.out_h() * s.out_w(),
    )
}

/// Windows that tile, overlap and skip pixels, over the conv sizes; channels 17 on every
/// other size.
pub fn pool_shapes() -> Vec<Pool2dShape> {
    let mut shapes = Vec::new();
    for (i, &(n, c, _, h, w)) in CONV_SIZES.iter().enumerate() {
        for (k, stride) in [(2, 2), (3, 2), (2, 1), (3, 3), (1, 1), (5, 2), (2, 3)] {
            let s = Pool2dShape {
                n,
                c: if i % 2 == 0 { c } else { 17 },
                h,
                w,
                k,
                stride,
            };
            if s.validate().is_ok() {
                shapes.push(s);
            }
        }
    }
    shapes
}

pub fn max_pool2d_forward() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, s) in pool_shapes().iter().enumerate() {
        let v = views(&[s.x_len(), s.y_len(), s.y_len()]);
        let op = Op::from(MaxPool2dForward {
            x: v[0],
            y: v[1],
            idx: v[2],
            shape: *s,
        });
        let init = vec![
            random(s.x_len(), i as u64, -1.0, 1.0),
            vec![0; s.y_len()],
            vec![0; s.y_len()],
        ];
        let case = Case::given(format!("{s:?}"), op, init, TIGHT);
        cases.push(case.with_step(StepParams::default()));
    }
    // Windows that overlap, with NaNs (which take a window over, as in PyTorch) and
    // infinities among the inputs.
    let s = Pool2dShape {
        n: 2,
        c: 3,
        h: 7,
        w: 6,
        k: 3,
        stride: 2,
    };
    let v = views(&[s.x_len(), s.y_len(), s.y_len()]);
    let op = Op::from(MaxPool2dForward {
        x: v[0],
        y: v[1],
        idx: v[2],
        shape: s,
    });
    let x = with_special_values(random(s.x_len(), 99, -1.0, 1.0), [11, 13, 17]);
    let init = vec![x, vec![0; s.y_len()], vec![0; s.y_len()]];
    let case = Case::given(format!("{s:?} with NaN and ±inf"), op, init, TIGHT);
    cases.push(case.with_step(StepParams::default()));
    cases
}

/// `words` with a NaN, +inf and -inf every `every[0]`, `every[1]` and `every[2]` places.
fn with_special_values(mut words: Vec<u32>, every: [usize; 3]) -> Vec<u32> {
    let special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
    for (i, w) in words.iter_mut().enumerate() {
        if let Some(k) = (0..3).find(|&k| i % every[k] == 5) {
            *w = special[k].to_bits();
        }
    }
    words
}

pub fn max_pool2d_backward() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, s) in pool_shapes().iter().enumerate() {
        // Indices from the reference forward, so that they are ones a forward could write.
        let x: Vec<f32> = random(s.x_len(), i as u64, -1.0, 1.0)
            .into_iter()
            .map(f32::from_bits)
            .collect();
        let mut y = vec![0.0; s.y_len()];
        let mut idx = vec![0u32; s.y_len()];
        crate::cpu::pool::max_pool2d_forward(s, &x, &mut y, &mut idx);
        let v = views(&[s.y_len(), s.y_len(), s.x_len()]);
        let op = Op::from(MaxPool2dBackward {
            dy: v[0],
            idx: v[1],
            dx: v[2],
            shape: *s,
        });
        let init = vec![
            random(s.y_len(), 100 + i as u64, -1.0, 1.0),
            idx,
            vec![0; s.x_len()],
        ];
        let case = Case::given(format!("{s:?}"), op, init, TIGHT);
        cases.push(case.with_step(StepParams::default()));
    }
    cases
}

/// The conv table with output padding 1 wherever the stride allows it (PyTorch needs it
/// below the stride), without the shapes PyTorch refuses.
pub fn conv_transpose2d_shapes() -> Vec<ConvTranspose2dShape> {
    let mut shapes = Vec::new();
    for (i, ((n, c, o, h, w), k, stride, pad)) in conv_cases().into_iter().enumerate() {
        let out_pad = if stride > 1 && i % 2 == 0 { 1 } else { 0 };
        let s = ConvTranspose2dShape {
            n,
            c,
            h,
            w,
            o,
            kh: k,
            kw: k,
            stride,
            pad,
            out_pad,
        };
        if s.validate().is_ok() {
            shapes.push(s);
        }
    }
    shapes
}

pub fn conv_transpose2d_forward() -> Vec<Case> {
    random_cases(
        &conv_transpose2d_shapes(),
        |&shape| {
            ConvTranspose2dForward {
                x: V,
                w: V,
                b: V,
                y: V,
                shape,
            }
            .into()
        },
        |i| 10 * i as u64,
        |s| s.c * s.kh * s.kw,
    )
}

pub fn conv_transpose2d_backward_input() -> Vec<Case> {
    random_cases(
        &conv_transpose2d_shapes(),
        |&shape| {
            ConvTranspose2dBackwardInput {
                dy: V,
                w: V,
                dx: V,
                shape,
            }
            .into()
        },
        |i| 10 * i as u64,
        |s| s.o * s.kh * s.kw,
    )
}

pub fn conv_transpose2d_backward_weight() -> Vec<Case> {
    random_cases(
        &conv_transpose2d_shapes(),
        |&shape| {
            ConvTranspose2dBackwardWeight {
                x: V,
                dy: V,
                dw: V,
                shape,
            }
            .into()
        },
        |i| 10 * i as u64,
        |s| s.n * s.h * s.w,
    )
}

// ---------------------------------------------------------------------------------------
// The fused conv stages. Their kernels are specialised per layer, so every shape is a
// pipeline of its own (compiled once per test binary and context): these tables name a
// few shapes that between them reach every edge of the conv table (batch 1 and 5,
// channels 1, 3 and 17, kernels 1, 2, 3 and 5, strides 1 and 2, paddings 0 to 2, output
// padding 0 and 1, odd and non-square sizes; pools that tile, overlap and skip), and the
// autoencoder's own stages, rather than all 120.

/// (n, c, o, h, w, kernel, stride, pad)
type StageShape = (usize, usize, usize, usize, usize, usize, usize, usize);

const STAGE_SHAPES: [StageShape; 5] = [
    (1, 1, 1, 1, 1, 1, 1, 0),
    (5, 3, 17, 7, 4, 3, 2, 1),
    (1, 17, 3, 5, 5, 5, 1, 2),
    (5, 1, 3, 8, 8, 2, 2, 0),
    (2, 3, 2, 9, 7, 3, 1, 1),
];

fn conv_shape(&(n, c, o, h, w, k, stride, pad): &StageShape) -> Conv2dShape {
    Conv2dShape {
        n,
        c,
        h,
        w,
        o,
        kh: k,
        kw: k,
        stride,
        pad,
    }
}

/// Output padding 1 wherever the stride allows it.
fn tconv_shape(&(n, c, o, h, w, k, stride, pad): &StageShape) -> ConvTranspose2dShape {
    ConvTranspose2dShape {
        n,
        c,
        h,
        w,
        o,
        kh: k,
        kw: k,
        stride,
        pad,
        out_pad: stride - 1,
    }
}

/// The conv autoencoder's convolutions (channels 16, 8) at batch 2.
fn model_convs() -> [Conv2dShape; 3] {
    let conv = |c, h, o| conv_shape(&(2, c, o, h, h, 3, 1, 1));
    [conv(1, 28, 16), conv(16, 14, 8), conv(16, 28, 1)]
}

/// The conv autoencoder's transposed convolutions at batch 2.
fn model_tconvs() -> [ConvTranspose2dShape; 2] {
    let tconv = |c, h, o| tconv_shape(&(2, c, o, h, h, 3, 2, 1));
    [tconv(8, 7, 8), tconv(8, 14, 16)]
}

/// The activations in turn, so that a table of a few shapes reaches each.
fn act_of(i: usize) -> Activation {
    Activation::ALL[i % Activation::ALL.len()]
}

fn fused_case(label: String, op: Op, seed: u64, terms: usize) -> Case {
    let tol = sum_tol(2e-6, terms);
    Case::random(label, op.standalone(), seed, tol).with_step(StepParams::default())
}

/// The case under every variant its op has (`variants::variants`), each forced: the
/// channel counts per invocation of a fused conv forward, the batch splits of a fused
/// backward's weight gradient.
fn every_variant(case: Case) -> Vec<Case> {
    variants(&case.op)
        .into_iter()
        .map(|v| Case {
            label: format!("{} {}", v.name(), case.label),
            ..case.clone().with_variant(v)
        })
        .collect()
}

pub fn conv2d_act_forward() -> Vec<Case> {
    let mut shapes: Vec<Conv2dShape> = STAGE_SHAPES.iter().map(conv_shape).collect();
    shapes.push(model_convs()[2]);
    shapes
        .iter()
        .enumerate()
        .map(|(i, &shape)| {
            let op = Conv2dActForward {
                x: V,
                w: V,
                b: V,
                y: V,
                shape,
                act: act_of(i),
                pool: None,
            };
            let label = format!("{:?} {shape:?}", act_of(i));
            fused_case(label, op.into(), i as u64, shape.c * shape.kh * shape.kw)
        })
        .flat_map(every_variant)
        .collect()
}

/// Pools that tile (2/2), overlap (3/2, 2/1), skip (1/2) and leave rows over (3/2 on
/// 7×7), and the autoencoder's two conv stages.
pub fn conv2d_act_pool_forward() -> Vec<Case> {
    let pools = [(2, 2), (3, 2), (2, 1), (1, 2), (3, 2)];
    let mut stages: Vec<(Conv2dShape, usize, usize)> = STAGE_SHAPES[1..]
        .iter()
        .zip(&pools)
        .map(|(s, &(k, stride))| (conv_shape(s), k, stride))
        .filter(|(s, k, stride)| s.pool(*k, *stride).validate().is_ok())
        .collect();
    stages.extend(model_convs()[..2].iter().map(|&s| (s, 2, 2)));
    stages
        .iter()
        .enumerate()
        .map(|(i, &(shape, k, stride))| {
            let pool = Some(FusedPool { idx: V, k, stride });
            let op = Conv2dActForward {
                x: V,
                w: V,
                b: V,
                y: V,
                shape,
                act: act_of(i),
                pool,
            };
            let label = format!("{:?} pool {k}/{stride} {shape:?}", act_of(i));
            fused_case(
                label,
                op.into(),
                50 + i as u64,
                shape.c * shape.kh * shape.kw,
            )
        })
        .chain(special_values_stages())
        .flat_map(every_variant)
        .collect()
}

/// The autoencoder's first stage with NaNs and infinities in its input: the sums they
/// reach are NaN or infinite, and must come out of every activation and the pool as the
/// reference's do (a NaN taking its window over).
fn special_values_stages() -> Vec<Case> {
    let shape = model_convs()[0];
    let pool = Some(FusedPool {
        idx: V,
        k: 2,
        stride: 2,
    });
    Activation::ALL
        .into_iter()
        .map(|act| {
            let op = Conv2dActForward {
                x: V,
                w: V,
                b: V,
                y: V,
                shape,
                act,
                pool,
            };
            let label = format!("{act:?} pool 2/2 {shape:?} with NaN and ±inf");
            let mut case = fused_case(label, op.into(), 90, shape.c * shape.kh * shape.kw);
            // A few of each, so that most sums stay finite.
            let x = std::mem::take(&mut case.init[0]);
            case.init[0] = with_special_values(x, [211, 223, 227]);
            case
        })
        .collect()
}

/// The max-pool below a layer of input (n, c, h, w), window k and stride s, its input as
/// large as floor mode allows: with s > 1, a row and a column that no window reads.
fn pool_below(n: usize, c: usize, h: usize, w: usize, k: usize, s: usize) -> Pool2dShape {
    let side = |out: usize| (out - 1) * s + k + (s - 1).min(1);
    Pool2dShape {
        n,
        c,
        h: side(h),
        w: side(w),
        k,
        stride: s,
    }
}

/// The input gradients the backward tables take in turn: through an activation, and
/// through pools that skip pixels (routed by cells) and overlap (gathered); the model's
/// stages add pools that tile.
fn input_grad(n: usize, c: usize, h: usize, w: usize, i: usize) -> InputGrad {
    let act = act_of(i / 2);
    let pools = [(1, 2), (3, 2), (2, 2)];
    if i.is_multiple_of(2) {
        return InputGrad::Act { dx: V, act };
    }
    let (k, s) = pools[(i / 2) % pools.len()];
    InputGrad::PoolAct {
        dx: V,
        act,
        idx: V,
        pool: pool_below(n, c, h, w, k, s),
    }
}

/// As the autoencoder's stages below a layer: through ReLU after a 2/2 pool, or not.
fn model_input_grad(s: (usize, usize, usize, usize), pooled: bool) -> InputGrad {
    let (n, c, h, w) = s;
    let act = Activation::Relu;
    match pooled {
        false => InputGrad::Act { dx: V, act },
        true => InputGrad::PoolAct {
            dx: V,
            act,
            idx: V,
            pool: pool_below(n, c, h, w, 2, 2),
        },
    }
}

/// The longest sum among the outputs: a weight's over the batch's pixels, or an input
/// element's over the output channels and taps.
fn backward_terms(batch_pixels: usize, o: usize, k: usize) -> usize {
    batch_pixels.max(o * k * k)
}

/// Every shape with each input gradient in turn, a first layer's (none), and the model's.
pub fn conv2d_backward() -> Vec<Case> {
    let mut layers: Vec<(Conv2dShape, Option<InputGrad>)> = STAGE_SHAPES
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let s = conv_shape(st);
            let grad = (i != 0).then(|| input_grad(s.n, s.c, s.h, s.w, i));
            (s, grad)
        })
        .collect();
    let [conv1, conv2, conv_out] = model_convs();
    layers.push((conv1, None));
    layers.push((conv2, Some(model_input_grad((2, 16, 14, 14), true))));
    layers.push((conv_out, Some(model_input_grad((2, 16, 28, 28), false))));
    // A batch of 9, which no split into 2, 4 or 8 chunks divides: the last chunk is
    // short, and at 8 the chunks of 2 leave the last one empty.
    let odd = conv_shape(&(9, 3, 4, 6, 5, 3, 1, 1));
    layers.push((odd, Some(input_grad(odd.n, odd.c, odd.h, odd.w, 2))));
    layers.push((odd, None));
    // Weights past the input role's staging budget (16·16·9 floats > 2048): the input
    // gradient then reads them from global memory (conv2d::stages_grad_weights).
    let wide = conv_shape(&(2, 16, 16, 5, 4, 3, 1, 1));
    assert!(!crate::gpu::kernels::conv2d::stages_grad_weights(&wide));
    for i in [3, 4] {
        layers.push((wide, Some(input_grad(wide.n, wide.c, wide.h, wide.w, i))));
    }
    layers
        .into_iter()
        .enumerate()
        .map(|(i, (shape, dx))| {
            let op = Conv2dBackward {
                x: V,
                dy: V,
                w: V,
                dw: V,
                db: V,
                dx,
                shape,
            };
            let s = shape;
            let terms = backward_terms(s.n * s.out_h() * s.out_w(), s.o, s.kh);
            fused_case(
                format!("{dx:?} {shape:?}"),
                op.into(),
                100 + i as u64,
                terms,
            )
        })
        .flat_map(every_variant)
        .collect()
}

pub fn conv_transpose2d_act_forward() -> Vec<Case> {
    let mut shapes: Vec<ConvTranspose2dShape> = STAGE_SHAPES.iter().map(tconv_shape).collect();
    shapes.extend(model_tconvs());
    shapes
        .iter()
        .enumerate()
        .map(|(i, &shape)| {
            let op = ConvTranspose2dActForward {
                x: V,
                w: V,
                b: V,
                y: V,
                shape,
                act: act_of(i),
            };
            let label = format!("{:?} {shape:?}", act_of(i));
            fused_case(
                label,
                op.into(),
                200 + i as u64,
                shape.c * shape.kh * shape.kw,
            )
        })
        .flat_map(every_variant)
        .collect()
}

pub fn conv_transpose2d_backward() -> Vec<Case> {
    let mut layers: Vec<(ConvTranspose2dShape, InputGrad)> = STAGE_SHAPES
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let s = tconv_shape(st);
            // One step on from conv2d_backward's, so that between them the
            // activations each reach both kinds of input gradient.
            (s, input_grad(s.n, s.c, s.h, s.w, i + 1))
        })
        .collect();
    let [tconv1, tconv2] = model_tconvs();
    layers.push((tconv1, model_input_grad((2, 8, 7, 7), true)));
    layers.push((tconv2, model_input_grad((2, 8, 14, 14), false)));
    layers
        .into_iter()
        .enumerate()
        .map(|(i, (shape, dx))| {
            let op = ConvTranspose2dBackward {
                x: V,
                dy: V,
                w: V,
                dw: V,
                db: V,
                dx,
                shape,
            };
            let s = shape;
            // dW sums over input pixels, db over output pixels, dx over o·k² taps.
            let pixels = (s.n * s.h * s.w).max(s.n * s.out_h() * s.out_w());
            let terms = backward_terms(pixels, s.o, s.kh);
            fused_case(
                format!("{dx:?} {shape:?}"),
                op.into(),
                300 + i as u64,
                terms,
            )
        })
        .flat_map(every_variant)
        .collect()
}

/// Exact: the noise is integer arithmetic and one unfused float sum on both sides.
pub const EXACT: Tol = Tol {
    atol: 0.0,
    rtol: 0.0,
};

/// (rows, cols, batch start): one pixel, odd sizes, more than one workgroup, an MNIST
/// batch, and batches from the middle of an epoch.
const NOISE_SHAPES: [(usize, usize, u32); 6] = [
    (1, 1, 0),
    (3, 7, 5),
    (1, 257, 0),
    (5, 300, 17),
    (128, 784, 0),
    (64, 784, 59_872),
];

/// Both kinds of noise over the shapes, with random keys, bit for bit.
pub fn noise() -> Vec<Case> {
    let kinds = [
        NoiseKind::Gaussian { std: 0.5 },
        NoiseKind::Gaussian { std: 0.1 },
        NoiseKind::Mask { p: 0.3 },
        NoiseKind::Mask { p: 0.9 },
    ];
    let mut cases = Vec::new();
    for (k, noise) in kinds.into_iter().enumerate() {
        for (i, &(rows, cols, start)) in NOISE_SHAPES.iter().enumerate() {
            let len = rows * cols;
            let v = views(&[len, 2, len]);
            let op = Op::from(Corrupt {
                noise,
                x: v[0],
                key: v[1],
                y: v[2],
                rows,
                cols,
            });
            let seed = (10 * k + i) as u64;
            let key: Vec<u32> = random(2, seed + 1, 0.0, 1.0);
            let init = vec![random(len, seed, 0.0, 1.0), key, vec![0; len]];
            let step = StepParams {
                batch_start: start,
                batch_len: rows as u32,
                bias_correction1: 1.0,
                bias_correction2: 1.0,
            };
            let label = format!("{} {rows}x{cols} from {start}", noise.spec());
            cases.push(Case::given(label, op, init, EXACT).with_step(step));
        }
    }
    cases
}

/// The latent kernels' tolerance. ε is Box–Muller on the same 24-bit uniforms on both
/// sides, with its log and cos as polynomials of additions and products computed in the
/// same order (`ln_unit`, `cos_turns` in shaders/latent.wgsl and cpu::latent), so the
/// GPU's ε, z and the gradients differ from the reference only by rounding (and WGSL's
/// sqrt and exp, a few ulps): a few ulps of values up to about 30 (|ε| ≤ 5.7, σ ≤ e^1.5
/// on these inputs), which 1e-5 relative and 1e-5 absolute hold with room. WGSL's own
/// cos may be off by 2⁻¹¹ and its log by 2⁻²¹ absolute, and SwiftShader (a browser's
/// software adapter) uses enough of that to fail this tolerance, which is why ε does not
/// call them. The KL's and Σ|a|'s running totals sum 256 terms in a tree against an f64
/// sum, within the same bounds.
pub const LATENT_TOL: Tol = Tol {
    atol: 1e-5,
    rtol: 1e-5,
};

/// (rows, latent, batch start): one element, odd sizes, more than one workgroup with a
/// partial last one, the VAE's batch, and a batch from the middle of an epoch.
const LATENT_SHAPES: [(usize, usize, u32); 6] = [
    (1, 1, 0),
    (3, 7, 5),
    (5, 20, 17),
    (13, 30, 1_001),
    (128, 20, 0),
    (64, 2, 59_872),
];

/// The step a latent case runs at: its batch's start, which numbers ε's counters.
fn start_step(start: u32, rows: usize) -> StepParams {
    StepParams {
        batch_start: start,
        batch_len: rows as u32,
        bias_correction1: 1.0,
        bias_correction2: 1.0,
    }
}

/// Heads of μ in [-2, 2) and log σ² in [-3, 3) per row, and their bias.
fn heads(rows: usize, latent: usize, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut h = Vec::with_capacity(2 * rows * latent);
    let (mu, logvar) = (
        random(rows * latent, seed, -2.0, 2.0),
        random(rows * latent, seed + 1, -3.0, 3.0),
    );
    for n in 0..rows {
        h.extend_from_slice(&mu[n * latent..(n + 1) * latent]);
        h.extend_from_slice(&logvar[n * latent..(n + 1) * latent]);
    }
    (h, random(2 * latent, seed + 2, -0.5, 0.5))
}

/// The sampling with its KL over the shapes, with random keys, adding to totals that are
/// not zero; and, on every shape, heads of zeros, where z is ε itself.
pub fn reparam_kl_forward() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &(rows, latent, start)) in LATENT_SHAPES.iter().enumerate() {
        let len = rows * latent;
        let groups = crate::ops::loss_totals(len);
        for zero in [false, true] {
            let v = views(&[2 * len, 2 * latent, 2, len, len, groups]);
            let op = Op::from(ReparamKlForward {
                h: v[0],
                b: v[1],
                key: v[2],
                z: v[3],
                mu: v[4],
                totals: v[5],
                rows,
                latent,
            });
            let seed = 40 + 10 * i as u64;
            let (h, b) = match zero {
                true => (vec![0; 2 * len], vec![0; 2 * latent]),
                false => heads(rows, latent, seed),
            };
            let key = random(2, seed + 3, 0.0, 1.0);
            let init = vec![
                h,
                b,
                key,
                vec![0; len],
                vec![0; len],
                random(groups, seed + 4, 0.0, 2.0),
            ];
            let what = if zero { "z = ε" } else { "z and KL" };
            let label = format!("{what} {rows}x{latent} from {start}");
            cases.push(Case::given(label, op, init, LATENT_TOL).with_step(start_step(start, rows)));
        }
    }
    cases
}

/// β·KL of each row added to scores that are not zero, over the latent shapes, at β 1
/// and 0.25.
pub fn kl_scores() -> Vec<Case> {
    let mut cases = Vec::new();
    for beta in [1.0f32, 0.25] {
        for (i, &(rows, latent, _)) in LATENT_SHAPES.iter().enumerate() {
            let v = views(&[2 * rows * latent, 2 * latent, rows]);
            let op = Op::from(KlScores {
                h: v[0],
                b: v[1],
                scores: v[2],
                rows,
                latent,
                beta,
            });
            let (h, b) = heads(rows, latent, 70 + 10 * i as u64);
            let init = vec![h, b, random(rows, 75 + i as u64, 0.0, 500.0)];
            let label = format!("β {beta} {rows}x{latent}");
            cases.push(Case::given(label, op, init, LATENT_TOL));
        }
    }
    cases
}

/// The heads' gradient over the shapes, at β 1 and 0.25.
pub fn reparam_kl_backward() -> Vec<Case> {
    let mut cases = Vec::new();
    for beta in [1.0f32, 0.25] {
        for (i, &(rows, latent, start)) in LATENT_SHAPES.iter().enumerate() {
            let len = rows * latent;
            let v = views(&[2 * len, 2 * latent, 2, len, 2 * len]);
            let op = Op::from(ReparamKlBackward {
                h: v[0],
                b: v[1],
                key: v[2],
                dz: v[3],
                dh: v[4],
                rows,
                latent,
                beta,
            });
            let seed = 140 + 10 * i as u64;
            let (h, b) = heads(rows, latent, seed);
            let key = random(2, seed + 3, 0.0, 1.0);
            let dz = random(len, seed + 4, -1.0, 1.0);
            let init = vec![h, b, key, dz, vec![0; 2 * len]];
            let label = format!("β {beta} {rows}x{latent} from {start}");
            cases.push(Case::given(label, op, init, LATENT_TOL).with_step(start_step(start, rows)));
        }
    }
    cases
}

/// The L1 penalty's subgradient through each activation and through none, over codes of
/// odd widths, several workgroups, the dense model's and a VAE's; a third of the codes
/// exactly zero, as a ReLU code's are, whose sign is 0.
pub fn l1_backward() -> Vec<Case> {
    let shapes = [(1usize, 1usize), (3, 7), (5, 257), (128, 30), (128, 20)];
    let acts = [
        None,
        Some(Activation::Relu),
        Some(Activation::Sigmoid),
        Some(Activation::Tanh),
    ];
    let mut cases = Vec::new();
    for (k, act) in acts.into_iter().enumerate() {
        for (i, &(rows, cols)) in shapes.iter().enumerate() {
            let len = rows * cols;
            let groups = crate::ops::loss_totals(len);
            let v = views(&[len, len, len, groups]);
            let op = Op::from(L1Backward {
                a: v[0],
                dy: v[1],
                dz: v[2],
                totals: v[3],
                rows,
                cols,
                lambda: 0.3,
                act,
            });
            let seed = 240 + 10 * (k * shapes.len() + i) as u64;
            let a: Vec<f32> = random(len, seed, -1.0, 1.0)
                .into_iter()
                .enumerate()
                .map(|(j, w)| if j % 3 == 0 { 0.0 } else { f32::from_bits(w) })
                .collect();
            let init = vec![
                words(&a),
                random(len, seed + 1, -1.0, 1.0),
                vec![0; len],
                random(groups, seed + 2, 0.0, 2.0),
            ];
            let name = act.map_or("plain", |a| a.name());
            let label = format!("{name} {rows}x{cols}");
            cases.push(Case::given(label, op, init, LATENT_TOL));
        }
    }
    cases
}

/// (len, iters, mul, add): no steps, one iteration, lengths around the workgroup, factors
/// of either sign and chains that contract slowly (0.9) or fast (0.5) towards their fixed
/// point, so that a kernel taking the wrong number of steps cannot land on it by chance.
const PEAK_FMA_SHAPES: [(usize, usize, f32, f32); 6] = [
    (1, 0, 0.5, 0.25),
    (3, 1, -0.5, 1.0),
    (255, 2, 0.75, 0.25),
    (257, 7, 0.9, -0.1),
    (1000, 3, -0.9, 0.5),
    (4099, 33, 0.5, 0.5),
];

pub fn peak_fma() -> Vec<Case> {
    PEAK_FMA_SHAPES
        .iter()
        .enumerate()
        .map(|(i, &(len, iters, mul, add))| {
            let op = Op::from(PeakFma {
                x: V,
                y: V,
                len,
                iters,
                mul,
                add,
            })
            .standalone();
            let label = format!("len {len} iters {iters} mul {mul} add {add}");
            Case::random(label, op, i as u64, TIGHT).with_step(StepParams::default())
        })
        .collect()
}

/// Multiples of 4 (the kernels load four floats at a time): one load, a partial
/// workgroup, a workgroup and a bit, and several workgroups.
const PEAK_COPY_LENS: [usize; 5] = [4, 8, 1020, 1028, 70_000];

pub fn peak_copy() -> Vec<Case> {
    PEAK_COPY_LENS
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let op = Op::from(PeakCopy { x: V, y: V, len }).standalone();
            Case::random(format!("len {len}"), op, i as u64, TIGHT).with_step(StepParams::default())
        })
        .collect()
}

/// (len, chunk): one chunk of one load, a partial last chunk, chunks smaller than a
/// workgroup's loads, exactly one load per invocation, and many loads per invocation.
const PEAK_READ_SHAPES: [(usize, usize); 5] =
    [(4, 4), (12, 8), (1028, 16), (4100, 1024), (70_000, 16_384)];

pub fn peak_read() -> Vec<Case> {
    PEAK_READ_SHAPES
        .iter()
        .enumerate()
        .map(|(i, &(len, chunk))| {
            let op = Op::from(PeakRead {
                x: V,
                y: V,
                len,
                chunk,
            })
            .standalone();
            let tol = sum_tol(1e-6, chunk);
            Case::random(format!("len {len} chunk {chunk}"), op, i as u64, tol)
                .with_step(StepParams::default())
        })
        .collect()
}

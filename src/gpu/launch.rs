//! How each `Op` launches on the GPU: its shader, its params uniform (one `#[repr(C)]`
//! struct per family, mirroring the `Params` struct at the top of each WGSL file) and its
//! workgroup grid.

use bytemuck::{bytes_of, Pod, Zeroable};

use crate::gpu::shaders::Shader;
use crate::model::ops::Op;

pub struct Launch {
    pub shader: Shader,
    pub params: Vec<u8>,
    pub grid: [u32; 3],
}

const WORKGROUP: usize = 256;
const MAX_GROUPS: usize = 65535;

/// One invocation per element over a 1-D range, folded into a second grid dimension when
/// it needs more than 65535 workgroups (every 1-D kernel folds `gid.y` back in).
pub fn grid_1d(elements: usize) -> [u32; 3] {
    let groups = elements.div_ceil(WORKGROUP).max(1);
    if groups <= MAX_GROUPS {
        [groups as u32, 1, 1]
    } else {
        [MAX_GROUPS as u32, groups.div_ceil(MAX_GROUPS) as u32, 1]
    }
}

/// One workgroup per output, for the kernels that reduce each output over a whole batch
/// inside its workgroup; folded into a second dimension like `grid_1d`.
pub fn grid_groups(outputs: usize) -> [u32; 3] {
    grid_1d(outputs * WORKGROUP)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatmulParams {
    m: u32,
    k: u32,
    n: u32,
    trans_a: u32,
    trans_b: u32,
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ElementwiseParams {
    len: u32,
    rows: u32,
    cols: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LossParams {
    len: u32,
    rows: u32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AdamParams {
    len: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BatchParams {
    rows: u32,
    cols: u32,
    _pad: [u32; 2],
}

fn u(v: usize) -> u32 {
    // Graph construction bounds every size by the device's binding limit (< 4 GiB).
    u32::try_from(v).expect("sizes are checked against device limits before launch")
}

fn elementwise(len: usize, rows: usize, cols: usize) -> Vec<u8> {
    bytes_of(&ElementwiseParams {
        len: u(len),
        rows: u(rows),
        cols: u(cols),
        _pad: 0,
    })
    .to_vec()
}

pub fn launch(op: &Op) -> Launch {
    use crate::gpu::conv_launch;
    let (shader, params, grid) = match op {
        Op::GatherBatch { rows, cols, .. } => (
            Shader::Batch,
            bytes_of(&BatchParams {
                rows: u(*rows),
                cols: u(*cols),
                _pad: [0; 2],
            })
            .to_vec(),
            grid_1d(rows * cols),
        ),
        Op::Matmul {
            shape: s, variant, ..
        } => {
            let tile = match variant {
                crate::model::ops::MatmulVariant::Naive => 16,
                crate::model::ops::MatmulVariant::Tiled => 64,
            };
            let params = MatmulParams {
                m: u(s.m),
                k: u(s.k),
                n: u(s.n),
                trans_a: s.trans_a as u32,
                trans_b: s.trans_b as u32,
                _pad: [0; 3],
            };
            let grid = [
                u(s.n.div_ceil(tile).max(1)),
                u(s.m.div_ceil(tile).max(1)),
                1,
            ];
            (Shader::Matmul, bytes_of(&params).to_vec(), grid)
        }
        Op::BiasForward { rows, cols, .. } => (
            Shader::Elementwise,
            elementwise(rows * cols, *rows, *cols),
            grid_1d(rows * cols),
        ),
        Op::BiasBackward { rows, cols, .. } => (
            Shader::Elementwise,
            elementwise(*cols, *rows, *cols),
            grid_1d(*cols),
        ),
        Op::ActivationForward { y, .. } | Op::ActivationBackward { dx: y, .. } => (
            Shader::Elementwise,
            elementwise(y.len, 0, 0),
            grid_1d(y.len),
        ),
        Op::LossForward { y, rows, .. } => {
            let p = LossParams {
                len: u(y.len),
                rows: u(*rows),
                _pad: [0; 2],
            };
            // The reduction runs in a single workgroup.
            (Shader::Loss, bytes_of(&p).to_vec(), [1, 1, 1])
        }
        Op::LossBackward { y, .. } => {
            let p = LossParams {
                len: u(y.len),
                rows: 0,
                _pad: [0; 2],
            };
            (Shader::Loss, bytes_of(&p).to_vec(), grid_1d(y.len))
        }
        Op::AdamUpdate { param, config, .. } => {
            let p = AdamParams {
                len: u(param.len),
                lr: config.lr,
                beta1: config.beta1,
                beta2: config.beta2,
                eps: config.eps,
                _pad: [0; 3],
            };
            (Shader::Optim, bytes_of(&p).to_vec(), grid_1d(param.len))
        }
        conv => conv_launch::launch(conv),
    };
    Launch {
        shader,
        params,
        grid,
    }
}

#[cfg(test)]
mod tests {
    use super::grid_1d;

    #[test]
    fn grid_covers_every_element_and_respects_the_dimension_limit() {
        assert_eq!(grid_1d(0), [1, 1, 1]);
        assert_eq!(grid_1d(256), [1, 1, 1]);
        assert_eq!(grid_1d(257), [2, 1, 1]);
        let big = 65535 * 256 + 1;
        let [x, y, _] = grid_1d(big);
        assert_eq!(x, 65535);
        assert!(x as usize * y as usize * 256 >= big);
    }
}

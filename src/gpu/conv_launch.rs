//! Launch parameters of the conv2d, pool and conv_transpose2d families, mirroring the
//! `Params` structs at the top of those WGSL files. Most entry points run one invocation
//! per output element; the weight and bias gradients, which reduce over the batch, run one
//! workgroup per output.

use bytemuck::{bytes_of, Pod, Zeroable};

use crate::cpu::conv2d::Conv2dShape;
use crate::cpu::conv_transpose2d::ConvTranspose2dShape;
use crate::cpu::pool::Pool2dShape;
use crate::gpu::launch::{grid_1d, grid_groups};
use crate::gpu::shaders::Shader;
use crate::model::ops::Op;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Conv2dParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    kh: u32,
    kw: u32,
    stride: u32,
    pad: u32,
    oh: u32,
    ow: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PoolParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    stride: u32,
    oh: u32,
    ow: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConvTranspose2dParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    kh: u32,
    kw: u32,
    stride: u32,
    pad: u32,
    out_pad: u32,
    oh: u32,
    ow: u32,
}

fn u(v: usize) -> u32 {
    u32::try_from(v).expect("sizes are checked against device limits before launch")
}

fn conv2d(s: &Conv2dShape) -> Vec<u8> {
    bytes_of(&Conv2dParams {
        n: u(s.n),
        c: u(s.c),
        h: u(s.h),
        w: u(s.w),
        o: u(s.o),
        kh: u(s.kh),
        kw: u(s.kw),
        stride: u(s.stride),
        pad: u(s.pad),
        oh: u(s.out_h()),
        ow: u(s.out_w()),
        _pad: 0,
    })
    .to_vec()
}

fn pool(s: &Pool2dShape) -> Vec<u8> {
    bytes_of(&PoolParams {
        n: u(s.n),
        c: u(s.c),
        h: u(s.h),
        w: u(s.w),
        k: u(s.k),
        stride: u(s.stride),
        oh: u(s.out_h()),
        ow: u(s.out_w()),
    })
    .to_vec()
}

fn conv_transpose2d(s: &ConvTranspose2dShape) -> Vec<u8> {
    bytes_of(&ConvTranspose2dParams {
        n: u(s.n),
        c: u(s.c),
        h: u(s.h),
        w: u(s.w),
        o: u(s.o),
        kh: u(s.kh),
        kw: u(s.kw),
        stride: u(s.stride),
        pad: u(s.pad),
        out_pad: u(s.out_pad),
        oh: u(s.out_h()),
        ow: u(s.out_w()),
    })
    .to_vec()
}

/// (shader, params, grid) for the convolutional ops; the dense ops are in `launch`.
pub fn launch(op: &Op) -> (Shader, Vec<u8>, [u32; 3]) {
    match op {
        Op::Conv2dForward { shape, .. } => (Shader::Conv2d, conv2d(shape), grid_1d(shape.y_len())),
        Op::Conv2dBackwardInput { shape, .. } => {
            (Shader::Conv2d, conv2d(shape), grid_1d(shape.x_len()))
        }
        Op::Conv2dBackwardWeight { shape, .. } => {
            (Shader::Conv2d, conv2d(shape), grid_groups(shape.w_len()))
        }
        Op::Conv2dBackwardBias { n, o, hw, .. } => {
            // The bias reduction reads n, o and oh·ow only; hw travels as oh = hw, ow = 1.
            let shape = Conv2dShape {
                n: *n,
                c: 1,
                h: *hw,
                w: 1,
                o: *o,
                kh: 1,
                kw: 1,
                stride: 1,
                pad: 0,
            };
            (Shader::Conv2d, conv2d(&shape), grid_groups(*o))
        }
        Op::MaxPool2dForward { shape, .. } => (Shader::Pool, pool(shape), grid_1d(shape.y_len())),
        Op::MaxPool2dBackward { shape, .. } => (Shader::Pool, pool(shape), grid_1d(shape.x_len())),
        Op::ConvTranspose2dForward { shape, .. } => (
            Shader::ConvTranspose2d,
            conv_transpose2d(shape),
            grid_1d(shape.y_len()),
        ),
        Op::ConvTranspose2dBackwardInput { shape, .. } => (
            Shader::ConvTranspose2d,
            conv_transpose2d(shape),
            grid_1d(shape.x_len()),
        ),
        Op::ConvTranspose2dBackwardWeight { shape, .. } => (
            Shader::ConvTranspose2d,
            conv_transpose2d(shape),
            grid_groups(shape.w_len()),
        ),
        other => unreachable!("{} is launched by gpu::launch", other.entry()),
    }
}

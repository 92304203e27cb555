//! The WGSL sources, one per kernel family, embedded in the binary.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Batch,
    Matmul,
    Elementwise,
    Loss,
    Optim,
    Conv2d,
    Pool,
    ConvTranspose2d,
}

impl Shader {
    pub fn name(self) -> &'static str {
        match self {
            Shader::Batch => "batch",
            Shader::Matmul => "matmul",
            Shader::Elementwise => "elementwise",
            Shader::Loss => "loss",
            Shader::Optim => "optim",
            Shader::Conv2d => "conv2d",
            Shader::Pool => "pool",
            Shader::ConvTranspose2d => "conv_transpose2d",
        }
    }

    pub fn source(self) -> &'static str {
        match self {
            Shader::Batch => include_str!("../../shaders/batch.wgsl"),
            Shader::Matmul => include_str!("../../shaders/matmul.wgsl"),
            Shader::Elementwise => include_str!("../../shaders/elementwise.wgsl"),
            Shader::Loss => include_str!("../../shaders/loss.wgsl"),
            Shader::Optim => include_str!("../../shaders/optim.wgsl"),
            Shader::Conv2d => include_str!("../../shaders/conv2d.wgsl"),
            Shader::Pool => include_str!("../../shaders/pool.wgsl"),
            Shader::ConvTranspose2d => include_str!("../../shaders/conv_transpose2d.wgsl"),
        }
    }
}

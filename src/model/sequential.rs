//! The one description of a model: its modules in `nn.Sequential` order, as PyTorch would
//! list them. Everything else is derived from this list: the layers the graph is built
//! from, fused or not (`fusion`), the parameters with their checkpoint names and
//! initialisation, the sizes the size check weighs before anything is allocated, and
//! where the code is.

use crate::ops::{Activation, Conv2dShape, ConvTranspose2dShape, Pool2dShape};

/// A square spatial shape (channels, height, width) carried between conv layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chw {
    pub c: usize,
    pub h: usize,
    pub w: usize,
}

impl Chw {
    /// Elements per image, in u128 so that no channel count can overflow it.
    pub fn elements(&self) -> u128 {
        self.c as u128 * self.h as u128 * self.w as u128
    }
}

/// One module of the `nn.Sequential`, with the shape of its input.
#[derive(Clone, Debug, PartialEq)]
pub enum Module {
    /// `nn.Linear(inputs, outputs)`: y = x · Wᵀ + b, W (out, in).
    Linear { inputs: usize, outputs: usize },
    /// `nn.Conv2d` with a square kernel; weight (out, in, k, k).
    Conv2d {
        input: Chw,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    },
    /// `nn.ConvTranspose2d` with a square kernel; weight (in, out, k, k).
    ConvTranspose2d {
        input: Chw,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        out_pad: usize,
    },
    /// `nn.MaxPool2d(kernel, stride)`; keeps its argmax for the backward.
    MaxPool2d {
        input: Chw,
        kernel: usize,
        stride: usize,
    },
    /// An activation, elementwise.
    Act(Activation),
    /// A variational autoencoder's sampling: its input is the two heads, μ then log σ²
    /// (`latent` each) in every row; its output z = μ + exp(½·log σ²)·ε, `latent` wide.
    /// Its KL term joins the loss.
    Reparameterize { latent: usize },
    /// `nn.Flatten()`: a conv model's (c, h, w) image as one row of c·h·w numbers. The
    /// buffers already hold each image so, so it runs nothing.
    Flatten { input: Chw },
    /// `nn.Unflatten(1, (c, h, w))`: the inverse, equally free.
    Unflatten { output: Chw },
}

/// One parameter tensor a module owns, as PyTorch names and initialises it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// `weight` or `bias`; the checkpoint name is `<module index>.<suffix>`.
    pub suffix: &'static str,
    pub shape: Vec<usize>,
    /// PyTorch's fan-in for the uniform initialisation bound.
    pub fan_in: usize,
    pub kind: ParamKind,
}

/// How PyTorch initialises a parameter: `kaiming_uniform_(a=√5)` for weights, uniform
/// ±1/√fan_in for biases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Weight,
    Bias,
}

impl Module {
    pub fn conv2d_shape(&self, n: usize) -> Option<Conv2dShape> {
        match *self {
            Module::Conv2d {
                input,
                out_channels,
                kernel,
                stride,
                pad,
            } => Some(Conv2dShape {
                n,
                c: input.c,
                h: input.h,
                w: input.w,
                o: out_channels,
                kh: kernel,
                kw: kernel,
                stride,
                pad,
            }),
            _ => None,
        }
    }

    pub fn conv_transpose2d_shape(&self, n: usize) -> Option<ConvTranspose2dShape> {
        match *self {
            Module::ConvTranspose2d {
                input,
                out_channels,
                kernel,
                stride,
                pad,
                out_pad,
            } => Some(ConvTranspose2dShape {
                n,
                c: input.c,
                h: input.h,
                w: input.w,
                o: out_channels,
                kh: kernel,
                kw: kernel,
                stride,
                pad,
                out_pad,
            }),
            _ => None,
        }
    }

    pub fn pool_shape(&self, n: usize) -> Option<Pool2dShape> {
        match *self {
            Module::MaxPool2d {
                input,
                kernel,
                stride,
            } => Some(Pool2dShape {
                n,
                c: input.c,
                h: input.h,
                w: input.w,
                k: kernel,
                stride,
            }),
            _ => None,
        }
    }

    /// The spatial shape of one image's output, for modules that have one.
    pub fn output_chw(&self) -> Option<Chw> {
        let chw = |c, h, w| Chw { c, h, w };
        if let Some(s) = self.conv2d_shape(1) {
            return Some(chw(s.o, s.out_h(), s.out_w()));
        }
        if let Some(s) = self.conv_transpose2d_shape(1) {
            return Some(chw(s.o, s.out_h(), s.out_w()));
        }
        if let Module::Unflatten { output } = *self {
            return Some(output);
        }
        self.pool_shape(1).map(|s| chw(s.c, s.out_h(), s.out_w()))
    }

    /// Elements of one image's output, given that of its input (u128: never overflows).
    pub fn output_elements(&self, input: u128) -> u128 {
        match self {
            Module::Linear { outputs, .. } => *outputs as u128,
            Module::Reparameterize { latent } => *latent as u128,
            Module::Act(_) | Module::Flatten { .. } => input,
            _ => self.output_chw().map_or(input, |c| c.elements()),
        }
    }

    /// The parameters it owns, weight first, as `nn.Module.named_parameters` lists them.
    pub fn params(&self) -> Vec<ParamSpec> {
        let pair = |weight: Vec<usize>, outputs: usize, fan_in: usize| {
            vec![
                ParamSpec {
                    suffix: "weight",
                    shape: weight,
                    fan_in,
                    kind: ParamKind::Weight,
                },
                ParamSpec {
                    suffix: "bias",
                    shape: vec![outputs],
                    fan_in,
                    kind: ParamKind::Bias,
                },
            ]
        };
        match *self {
            Module::Linear { inputs, outputs } => pair(vec![outputs, inputs], outputs, inputs),
            Module::Conv2d {
                input,
                out_channels: o,
                kernel: k,
                ..
            } => pair(vec![o, input.c, k, k], o, input.c * k * k),
            // PyTorch takes fan-in from dimension 1 of the weight, which for a transposed
            // convolution is the number of output channels.
            Module::ConvTranspose2d {
                input,
                out_channels: o,
                kernel: k,
                ..
            } => pair(vec![input.c, o, k, k], o, o * k * k),
            Module::MaxPool2d { .. }
            | Module::Act(_)
            | Module::Reparameterize { .. }
            | Module::Flatten { .. }
            | Module::Unflatten { .. } => Vec::new(),
        }
    }

    /// Elements of its weights, in u128 (what the size check weighs).
    pub fn weight_elements(&self) -> u128 {
        match *self {
            Module::Linear { inputs, outputs } => inputs as u128 * outputs as u128,
            Module::Conv2d {
                input,
                out_channels,
                kernel,
                ..
            }
            | Module::ConvTranspose2d {
                input,
                out_channels,
                kernel,
                ..
            } => input.c as u128 * out_channels as u128 * kernel as u128 * kernel as u128,
            Module::MaxPool2d { .. }
            | Module::Act(_)
            | Module::Reparameterize { .. }
            | Module::Flatten { .. }
            | Module::Unflatten { .. } => 0,
        }
    }

    /// What it is, in a few words, for the size check's messages.
    pub fn describe(&self) -> String {
        match self {
            Module::Linear { inputs, outputs } => format!("a {inputs}→{outputs} linear layer"),
            Module::Conv2d {
                input,
                out_channels,
                kernel,
                ..
            } => format!(
                "a {}→{out_channels} channel {kernel}×{kernel} conv",
                input.c
            ),
            Module::ConvTranspose2d {
                input,
                out_channels,
                kernel,
                ..
            } => format!(
                "a {}→{out_channels} channel {kernel}×{kernel} transposed conv",
                input.c
            ),
            Module::MaxPool2d { input, .. } => format!("a max-pool of {} channels", input.c),
            Module::Act(act) => format!("a {}", act.name()),
            Module::Reparameterize { latent } => {
                format!("the sampling of {latent} Gaussians")
            }
            Module::Flatten { input } => {
                format!("a flattening of {}×{}×{}", input.c, input.h, input.w)
            }
            Module::Unflatten { output } => {
                format!("an unflattening to {}×{}×{}", output.c, output.h, output.w)
            }
        }
    }
}

/// A model as the list of its modules, in `nn.Sequential` order: module `i` is named `i`
/// there, so its parameters are `i.weight` and `i.bias` in a `state_dict`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequential {
    /// Elements of one input image.
    pub input: usize,
    pub modules: Vec<Module>,
    /// The module whose output is the code: the last the encoder runs.
    pub code: usize,
}

impl Sequential {
    /// Elements per image of each module's output, in order (u128).
    pub fn output_elements(&self) -> Vec<u128> {
        let mut size = self.input as u128;
        self.modules
            .iter()
            .map(|m| {
                size = m.output_elements(size);
                size
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Arch, DataSizes, Graph};
    use crate::ops::{AdamConfig, LossKind};

    /// The names and shapes a graph built from the description gives its parameters: its
    /// modules' (`Module::params`), under their indices.
    #[test]
    fn parameters_are_named_and_shaped_as_in_pytorch() {
        let names = |arch: Arch| -> Vec<(String, Vec<usize>)> {
            let data = DataSizes::bytes(4, 4);
            let graph = Graph::build(&arch, 2, LossKind::Mse, AdamConfig::new(1e-3), data);
            let params = graph.unwrap().params;
            params.into_iter().map(|p| (p.name, p.shape)).collect()
        };
        let dense = names(Arch::dense(vec![10, 3]));
        assert_eq!(
            dense,
            [
                ("0.weight".to_string(), vec![10, 784]),
                ("0.bias".to_string(), vec![10]),
                ("2.weight".to_string(), vec![3, 10]),
                ("2.bias".to_string(), vec![3]),
                ("4.weight".to_string(), vec![10, 3]),
                ("4.bias".to_string(), vec![10]),
                ("6.weight".to_string(), vec![784, 10]),
                ("6.bias".to_string(), vec![784]),
            ]
        );
        // A VAE's heads are one Linear of twice the latent width; the sampling (module 3)
        // has no parameters.
        let vae = names(Arch::vae(vec![10, 3]));
        let shapes: Vec<(&str, Vec<usize>)> =
            vae.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
        assert_eq!(
            shapes,
            [
                ("0.weight", vec![10, 784]),
                ("0.bias", vec![10]),
                ("2.weight", vec![6, 10]),
                ("2.bias", vec![6]),
                ("4.weight", vec![10, 3]),
                ("4.bias", vec![10]),
                ("6.weight", vec![784, 10]),
                ("6.bias", vec![784]),
            ]
        );
        let conv = names(Arch::conv(vec![4]));
        assert_eq!(
            conv,
            [
                ("0.weight".to_string(), vec![4, 1, 3, 3]),
                ("0.bias".to_string(), vec![4]),
                ("3.weight".to_string(), vec![4, 4, 3, 3]),
                ("3.bias".to_string(), vec![4]),
                ("5.weight".to_string(), vec![1, 4, 3, 3]),
                ("5.bias".to_string(), vec![1]),
            ]
        );
        // A conv VAE: the conv encoder, nn.Flatten (6), the heads (7) and the sampling
        // (8), the Linear back to the bottleneck (9) and its activation, nn.Unflatten (11),
        // then the conv decoder, as scripts/torch_models.py's conv_vae lists them.
        let conv_vae = names(Arch::conv_vae(vec![4, 2, 3]));
        let shapes: Vec<(&str, Vec<usize>)> = conv_vae
            .iter()
            .map(|(n, s)| (n.as_str(), s.clone()))
            .collect();
        assert_eq!(
            shapes,
            [
                ("0.weight", vec![4, 1, 3, 3]),
                ("0.bias", vec![4]),
                ("3.weight", vec![2, 4, 3, 3]),
                ("3.bias", vec![2]),
                ("7.weight", vec![6, 98]),
                ("7.bias", vec![6]),
                ("9.weight", vec![98, 3]),
                ("9.bias", vec![98]),
                ("12.weight", vec![2, 2, 3, 3]),
                ("12.bias", vec![2]),
                ("14.weight", vec![2, 4, 3, 3]),
                ("14.bias", vec![4]),
                ("16.weight", vec![1, 4, 3, 3]),
                ("16.bias", vec![1]),
            ]
        );
    }

    #[test]
    fn sizes_follow_the_modules_without_overflow() {
        let seq = Arch::dense(vec![usize::MAX, 2]).sequential();
        let outputs = seq.output_elements();
        assert_eq!(outputs[0], usize::MAX as u128);
        assert!(seq.modules[2].weight_elements() == 2 * usize::MAX as u128);
        let conv = Arch::default_conv().sequential();
        assert_eq!(conv.output_elements()[conv.code], 8 * 7 * 7);
        assert_eq!(*conv.output_elements().last().unwrap(), 784);
    }
}

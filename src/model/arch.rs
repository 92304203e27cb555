//! The autoencoders' architectures: which model, its sizes, its activations and the shape
//! of the samples it takes, each described once as a `Sequential` of modules
//! (`Arch::sequential`) and saved in checkpoints as a spec (`Arch::spec`).

use crate::data::{Data, Layout, ScalingKind, Shape};
use crate::error::{Error, Result};
use crate::model::sequential::{Chw, Module, Sequential};
use crate::ops::Activation;

/// The dense autoencoder's encoder widths by default: 784-100-200-30, mirrored back.
pub const DEFAULT_LAYERS: [usize; 3] = [100, 200, 30];
/// The dense VAE's encoder widths by default, as PyTorch's example: 784-400-20, the 20
/// the latent size.
pub const DEFAULT_VAE_LAYERS: [usize; 2] = [400, 20];
/// The conv autoencoder's encoder channels by default: two stages, 16 then 8 channels.
pub const DEFAULT_CHANNELS: [usize; 2] = [16, 8];
/// The conv VAE's sizes by default: the conv AE's channels, then a latent size of 20.
pub const DEFAULT_CONV_VAE_SIZES: [usize; 3] = [16, 8, 20];
/// The most encoder widths or conv stages a model may have.
pub const MAX_LAYERS: usize = 32;

/// Dense (an MLP) or convolutional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Encoder widths after the inputs; the last is the code. The decoder mirrors them.
    Dense,
    /// Encoder conv channels, each followed by 2×2 max-pooling; transposed convs mirror
    /// them.
    Conv,
}

/// Which autoencoder: its family and sizes, whether it samples its code (a VAE), the
/// activation of its hidden layers and of its output, and the samples it takes. Saved in
/// checkpoints and run configurations as its `spec()`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Arch {
    pub family: Family,
    /// Dense: the encoder widths (a VAE's last is its latent size, reached by two heads,
    /// μ and log σ², one product of twice that width, and a sampling). Conv: the encoder
    /// channels (a conv VAE's then end in its latent size: the bottleneck flattened feeds
    /// the two heads and the sampling, and one Linear with the hidden activation takes
    /// the sample back to the bottleneck's shape for the decoder).
    pub sizes: Vec<usize>,
    pub variational: bool,
    /// Between hidden layers.
    pub activation: Activation,
    /// The output's: a Sigmoid for data in [0, 1]; the identity (a linear output) for
    /// standardised rows.
    pub output: Activation,
    /// One sample's shape: what the model takes and gives back.
    pub input: Shape,
}

impl Arch {
    fn new(family: Family, sizes: Vec<usize>, variational: bool) -> Arch {
        Arch {
            family,
            sizes,
            variational,
            activation: Activation::Relu,
            output: Activation::Sigmoid,
            input: Shape::MNIST,
        }
    }

    /// A dense autoencoder with these encoder widths, ReLU between layers, on MNIST.
    pub fn dense(layers: Vec<usize>) -> Arch {
        Arch::new(Family::Dense, layers, false)
    }

    /// A dense variational autoencoder: these encoder widths, the last the latent size.
    pub fn vae(layers: Vec<usize>) -> Arch {
        Arch::new(Family::Dense, layers, true)
    }

    /// A conv autoencoder with these encoder channels, ReLU after each conv.
    pub fn conv(channels: Vec<usize>) -> Arch {
        Arch::new(Family::Conv, channels, false)
    }

    /// A conv variational autoencoder: these conv channels, then the latent size.
    pub fn conv_vae(sizes: Vec<usize>) -> Arch {
        Arch::new(Family::Conv, sizes, true)
    }

    /// 784-100-200-30-200-100-784.
    pub fn default_dense() -> Arch {
        Arch::dense(DEFAULT_LAYERS.to_vec())
    }

    /// Conv 16, pool, conv 8, pool, then transposed convs back to 28×28.
    pub fn default_conv() -> Arch {
        Arch::conv(DEFAULT_CHANNELS.to_vec())
    }

    /// Whether the model samples its code (a VAE), so that its loss is the negative ELBO.
    pub fn is_variational(&self) -> bool {
        self.variational
    }

    /// The same model with another hidden activation.
    pub fn with_activation(self, activation: Activation) -> Arch {
        Arch { activation, ..self }
    }

    /// The same model for samples of another shape.
    pub fn with_input(self, input: Shape) -> Arch {
        Arch { input, ..self }
    }

    /// The same model for `data`: its samples' shape, and a linear output where its rows
    /// are standardised (a Sigmoid for everything in [0, 1]).
    pub fn fitted_to(self, data: &Data) -> Arch {
        let standardised = data
            .scaling
            .as_ref()
            .is_some_and(|s| s.kind == ScalingKind::Standardize);
        let output = match standardised {
            true => Activation::Identity,
            false => Activation::Sigmoid,
        };
        self.with_input(data.shape).with_output(output)
    }

    /// The same model with another output activation (`Identity`: a linear output).
    pub fn with_output(self, output: Activation) -> Arch {
        Arch { output, ..self }
    }

    pub fn name(&self) -> &'static str {
        match (self.family, self.variational) {
            (Family::Dense, true) => "vae",
            (Family::Dense, false) => "dense",
            (Family::Conv, true) => "conv-vae",
            (Family::Conv, false) => "conv",
        }
    }

    /// The activation between hidden layers.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The size flag's values: encoder widths or conv channels (a conv VAE's then its
    /// latent size).
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The flag that sizes this architecture.
    pub fn flag(&self) -> &'static str {
        match self.family {
            Family::Dense => "--layers",
            Family::Conv => "--channels",
        }
    }

    /// A one-line description, such as `784-100-200-30-200-100-784`.
    pub fn describe(&self) -> String {
        let act = match self.activation {
            Activation::Relu => String::new(),
            other => format!(", {} hidden", other.name()),
        };
        let output = match self.output {
            Activation::Sigmoid => String::new(),
            Activation::Identity => ", linear output".to_string(),
            other => format!(", {} output", other.name()),
        };
        match self.family {
            Family::Dense => {
                let widths: Vec<String> = dense_widths(&self.sizes, self.input.elements())
                    .iter()
                    .map(|w| w.to_string())
                    .collect();
                let sampled = match self.variational {
                    true => format!(", sampling {} Gaussians", self.sizes.last().unwrap_or(&0)),
                    false => String::new(),
                };
                let on = match self.input.layout {
                    Layout::Images if self.input != Shape::MNIST => {
                        format!(" on {} images", self.input.describe())
                    }
                    _ => String::new(),
                };
                format!("{}{on}{sampled}{act}{output}", widths.join("-"))
            }
            Family::Conv => {
                let (convs, latent) = conv_split(&self.sizes, self.variational);
                let c: Vec<String> = convs.iter().map(|c| c.to_string()).collect();
                let shift = convs.len().min(usize::BITS as usize - 1);
                let (h, w) = (self.input.height >> shift, self.input.width >> shift);
                let code = convs.last().copied().unwrap_or(0);
                // A conv VAE's code is its sample; the bottleneck is what it flattens.
                let (bottleneck, sampled) = match latent {
                    Some(l) => (
                        "bottleneck",
                        format!(", flattened to {l} sampled Gaussians"),
                    ),
                    None => ("code", String::new()),
                };
                let on = match self.input == Shape::MNIST {
                    true => String::new(),
                    false => format!(" on {} images", self.input.describe()),
                };
                format!(
                    "with channels {}{on}, {bottleneck} {code}×{h}×{w}{sampled}{act}{output}",
                    c.join(",")
                )
            }
        }
    }

    /// What the code is, in words, for the pictures of the latent space.
    pub fn code_words(&self, code_len: usize) -> String {
        match (self.family, self.variational) {
            (_, true) => format!("the {code_len} means μ"),
            (Family::Dense, false) => format!("{code_len} numbers"),
            (Family::Conv, false) => format!("the {code_len}-number bottleneck"),
        }
    }

    /// What makes these sizes impossible to build, if anything.
    pub fn problem(&self) -> Option<String> {
        let sizes = &self.sizes;
        let what = match self.family {
            Family::Dense => "widths",
            Family::Conv => "channel counts",
        };
        if sizes.is_empty() || sizes.contains(&0) {
            return Some(format!(
                "{sizes:?}: needs one or more {what}, all above zero"
            ));
        }
        if sizes.len() > MAX_LAYERS {
            return Some(format!("{} {what}: at most {MAX_LAYERS}", sizes.len()));
        }
        if !matches!(self.output, Activation::Sigmoid | Activation::Identity) {
            return Some(format!(
                "a {} output: the output is a sigmoid (data in [0, 1]) or linear (standardised rows)",
                self.output.name()
            ));
        }
        if self.variational && self.output != Activation::Sigmoid {
            return Some(
                "a VAE's reconstruction term is the BCE, which needs data in [0, 1] and a sigmoid output: scale rows by min-max (the default), not --standardize".into(),
            );
        }
        if self.family == Family::Conv {
            return self.conv_problem();
        }
        None
    }

    /// Why the conv stages cannot take the input, if they cannot.
    fn conv_problem(&self) -> Option<String> {
        let (channels, _) = conv_split(&self.sizes, self.variational);
        if self.variational && channels.is_empty() {
            return Some(format!(
                "{:?}: a conv VAE needs one or more conv channel counts, then the latent size",
                self.sizes
            ));
        }
        let shape = self.input;
        if shape.layout == Layout::Rows {
            return Some(format!(
                "the conv models take images, and the data is {}: use --model dense or vae",
                shape.describe()
            ));
        }
        // Each pooling halves a side (flooring); each transposed conv doubles it back, so
        // only sides that are multiples of 2^stages come back whole.
        let stages = channels.len() as u32;
        let step = 1usize.checked_shl(stages).unwrap_or(0);
        let fits = |side: usize| step > 0 && side >= step && side.is_multiple_of(step);
        if fits(shape.height) && fits(shape.width) {
            return None;
        }
        let near = |side: usize| -> Vec<usize> {
            let below = side / step.max(1) * step;
            let above = below + step;
            [below, above].into_iter().filter(|&s| s > 0).collect()
        };
        let sizes: Vec<String> = match step {
            0 => Vec::new(),
            _ => {
                let (hs, ws) = (near(shape.height), near(shape.width));
                hs.iter()
                    .zip(&ws)
                    .map(|(h, w)| format!("{h}x{w}"))
                    .collect()
            }
        };
        let advice = match sizes.is_empty() {
            true => "use fewer stages".to_string(),
            false => format!(
                "use fewer stages, or resize the images to a multiple of {step} a side (--image-size {})",
                sizes.join(" or ")
            ),
        };
        Some(format!(
            "{} conv stages pool {}×{} down {}-fold, which the decoder's stride-2 transposed convs rebuild whole only for sides that are multiples of {}; {advice}",
            channels.len(),
            shape.height,
            shape.width,
            step,
            step,
        ))
    }

    /// Refuses sizes that cannot build, before anything is allocated, naming the flag.
    pub fn validate(&self) -> Result<()> {
        match self.problem() {
            Some(why) => Err(Error::flag(self.flag(), why)),
            None => Ok(()),
        }
    }

    /// The flags that rebuild this architecture, as stored in checkpoints:
    /// `dense:100,200,30`, then `:tanh` for a hidden activation other than ReLU,
    /// `:in=3x32x32` (or `:in=rows:140`) for samples other than MNIST's, and
    /// `:out=identity` for a linear output. A spec without them is MNIST's, as every
    /// checkpoint saved before shapes were recorded.
    pub fn spec(&self) -> String {
        let list: Vec<String> = self.sizes.iter().map(|x| x.to_string()).collect();
        let mut spec = format!("{}:{}", self.name(), list.join(","));
        if self.activation != Activation::Relu {
            spec += &format!(":{}", self.activation.name());
        }
        if self.input != Shape::MNIST {
            spec += &format!(":in={}", self.input.spec());
        }
        if self.output != Activation::Sigmoid {
            spec += &format!(":out={}", self.output.name());
        }
        spec
    }

    /// Reads a `spec()` back: `None` for anything that is not one.
    pub fn from_spec(spec: &str) -> Option<Arch> {
        let (kind, rest) = spec.split_once(':')?;
        let (list, extras) = rest.split_once(':').unwrap_or((rest, ""));
        let sizes: Vec<usize> = list
            .split(',')
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        let mut arch = Arch::of_kind(kind, sizes)?;
        let (mut activation, mut input, mut output) = (None, None, None);
        // `in=rows:140` holds a colon of its own: the extras split at `:in=` and `:out=`.
        let mut extras = extras.to_string();
        for key in ["out=", "in="] {
            if let Some(at) = extras
                .rfind(key)
                .filter(|&at| at == 0 || extras[..at].ends_with(':'))
            {
                let value = extras[at + key.len()..].to_string();
                extras.truncate(at.saturating_sub(1));
                let slot = match key {
                    "in=" => &mut input,
                    _ => &mut output,
                };
                *slot = Some(value);
            }
        }
        if !extras.is_empty() {
            activation = Some(Activation::from_name(&extras)?);
        }
        if let Some(a) = activation {
            arch = arch.with_activation(a);
        }
        if let Some(shape) = input {
            arch = arch.with_input(Shape::parse(&shape)?);
        }
        if let Some(name) = output {
            arch = arch.with_output(Activation::from_name(&name)?);
        }
        (arch.problem().is_none() && arch.spec() == spec).then_some(arch)
    }

    /// The kinds `of_kind` builds, as errors name them.
    pub const KINDS: &'static str = "dense, vae, conv and conv-vae autoencoders";

    /// The model of this kind (`name()`: dense, vae, conv or conv-vae) with these sizes,
    /// unchecked (`problem` says what is wrong with them); `None` for another kind.
    pub fn of_kind(kind: &str, sizes: Vec<usize>) -> Option<Arch> {
        Some(match kind {
            "dense" => Arch::dense(sizes),
            "vae" => Arch::vae(sizes),
            "conv" => Arch::conv(sizes),
            "conv-vae" => Arch::conv_vae(sizes),
            _ => return None,
        })
    }

    /// The model's one description: its modules in `nn.Sequential` order, so that module
    /// `i`'s parameters are PyTorch's `i.weight` and `i.bias`, and where the code is.
    pub fn sequential(&self) -> Sequential {
        match self.family {
            Family::Dense => dense_sequential(self),
            Family::Conv => {
                let (convs, latent) = conv_split(&self.sizes, self.variational);
                conv_sequential(self, convs, latent)
            }
        }
    }
}

impl TryFrom<String> for Arch {
    type Error = String;

    fn try_from(spec: String) -> std::result::Result<Arch, String> {
        Arch::from_spec(&spec)
            .ok_or_else(|| format!("{spec:?} is not an architecture this program builds"))
    }
}

impl From<Arch> for String {
    fn from(arch: Arch) -> String {
        arch.spec()
    }
}

/// The input's D, the encoder widths, then the mirror back to D.
fn dense_widths(layers: &[usize], input: usize) -> Vec<usize> {
    let mut widths = vec![input];
    widths.extend(layers);
    widths.extend(layers.iter().rev().skip(1));
    widths.push(input);
    widths
}

/// Linear, activation, … , Linear, the output activation; the code is the encoder's last
/// activation. A VAE's encoder ends instead in the heads, one Linear to twice the latent
/// width (μ then log σ²), and the sampling, whose output is the code.
fn dense_sequential(arch: &Arch) -> Sequential {
    let (layers, input) = (&arch.sizes, arch.input.elements());
    let widths = dense_widths(layers, input);
    let last = widths.len() - 2;
    let code_layer = layers.len() - 1;
    let mut modules = Vec::new();
    for (i, pair) in widths.windows(2).enumerate() {
        if arch.variational && i == code_layer {
            modules.push(Module::Linear {
                inputs: pair[0],
                outputs: 2 * pair[1],
            });
            modules.push(Module::Reparameterize { latent: pair[1] });
            continue;
        }
        modules.push(Module::Linear {
            inputs: pair[0],
            outputs: pair[1],
        });
        modules.push(Module::Act(match i == last {
            true => arch.output,
            false => arch.activation,
        }));
    }
    Sequential {
        input,
        modules,
        code: 2 * layers.len() - 1,
    }
}

/// A conv model's sizes as conv channels and, for a VAE, the latent size after them.
fn conv_split(sizes: &[usize], variational: bool) -> (&[usize], Option<usize>) {
    match (variational, sizes.split_last()) {
        (true, Some((&latent, convs))) => (convs, Some(latent)),
        _ => (sizes, None),
    }
}

/// Conv(3×3, pad 1), activation, MaxPool(2) per stage; then ConvTranspose(3×3, stride 2,
/// pad 1, output padding 1) and activation per stage back up; then Conv(3×3, pad 1) to
/// the input's channels and the output activation. The code is the last pool's output,
/// the bottleneck.
///
/// With a `latent` size (a conv VAE), the bottleneck is flattened into the heads (one
/// Linear to twice the latent width, μ then log σ²) and the sampling, whose output is the
/// code; one Linear and the hidden activation take it back to the bottleneck, unflattened
/// for the transposed convs: `nn.Flatten` and `nn.Unflatten` as in PyTorch, so that the
/// parameters keep `nn.Sequential`'s indices.
fn conv_sequential(arch: &Arch, channels: &[usize], latent: Option<usize>) -> Sequential {
    let hidden = arch.activation;
    let mut modules = Vec::new();
    let mut shape = Chw {
        c: arch.input.channels,
        h: arch.input.height,
        w: arch.input.width,
    };
    let conv = |input: Chw, out_channels: usize| Module::Conv2d {
        input,
        out_channels,
        kernel: 3,
        stride: 1,
        pad: 1,
    };
    for &c in channels {
        let module = conv(shape, c);
        let conv_out = module.output_chw().unwrap_or(shape);
        let pool = Module::MaxPool2d {
            input: conv_out,
            kernel: 2,
            stride: 2,
        };
        shape = pool.output_chw().unwrap_or(conv_out);
        modules.extend([module, Module::Act(hidden), pool]);
    }
    let mut code = modules.len() - 1;
    if let Some(latent) = latent {
        let bottleneck = shape.c * shape.h * shape.w;
        modules.extend([
            Module::Flatten { input: shape },
            Module::Linear {
                inputs: bottleneck,
                outputs: 2 * latent,
            },
            Module::Reparameterize { latent },
        ]);
        code = modules.len() - 1;
        modules.extend([
            Module::Linear {
                inputs: latent,
                outputs: bottleneck,
            },
            Module::Act(hidden),
            Module::Unflatten { output: shape },
        ]);
    }
    // The decoder's channels: the code's channels first, then the encoder's in reverse.
    let mut targets: Vec<usize> = channels.iter().rev().skip(1).copied().collect();
    targets.insert(0, shape.c);
    for c in targets {
        let tconv = Module::ConvTranspose2d {
            input: shape,
            out_channels: c,
            kernel: 3,
            stride: 2,
            pad: 1,
            out_pad: 1,
        };
        shape = tconv.output_chw().unwrap_or(shape);
        modules.extend([tconv, Module::Act(hidden)]);
    }
    modules.extend([conv(shape, arch.input.channels), Module::Act(arch.output)]);
    Sequential {
        input: arch.input.elements(),
        modules,
        code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_back_and_old_ones_are_mnist_s() {
        let archs = [
            Arch::default_dense(),
            Arch::conv(vec![4, 2]).with_activation(Activation::Tanh),
            Arch::dense(vec![40, 12])
                .with_input(Shape::rows(140))
                .with_output(Activation::Identity),
            Arch::conv_vae(vec![8, 4, 6]).with_input(Shape::images(3, 32, 32)),
            Arch::vae(vec![10, 2])
                .with_activation(Activation::Tanh)
                .with_input(Shape::rows(7)),
        ];
        for arch in archs {
            let spec = arch.spec();
            assert_eq!(Arch::from_spec(&spec), Some(arch), "{spec}");
        }
        // What earlier versions saved reads as MNIST's model.
        let old = Arch::from_spec("conv:16,8:tanh").unwrap();
        assert_eq!(old.input, Shape::MNIST);
        assert_eq!(old.output, Activation::Sigmoid);
        assert_eq!(old.activation, Activation::Tanh);
        assert_eq!(
            Arch::from_spec("dense:40,12:in=rows:140:out=identity")
                .unwrap()
                .input,
            Shape::rows(140)
        );
        for bad in [
            "dense",
            "dense:",
            "dense:4:relu",
            "dense:4:in=1x28x28",
            "dense:4:out=sigmoid",
            "dense:4:in=0x2x2",
            "conv:4:in=rows:12",
            "vae:4:in=rows:12:out=identity",
            "conv:4:in=1x7x7",
            "dense:4:tanh:tanh",
            "dense:4:out=relu",
        ] {
            assert_eq!(Arch::from_spec(bad), None, "{bad}");
        }
    }

    #[test]
    fn conv_stages_name_the_sizes_that_would_work() {
        let why = Arch::default_conv()
            .with_input(Shape::images(3, 30, 30))
            .problem()
            .unwrap();
        assert!(why.contains("--image-size 28x28 or 32x32"), "{why}");
        let why = Arch::conv(vec![4, 4, 4]).problem().unwrap();
        assert!(
            why.contains("multiples of 8") && why.contains("24x24 or 32x32"),
            "{why}"
        );
        assert!(Arch::default_conv()
            .with_input(Shape::images(3, 32, 20))
            .problem()
            .is_none());
    }
}

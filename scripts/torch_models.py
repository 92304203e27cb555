"""The autoencoders as PyTorch builds them, shared by the scripts here.

`nn.Sequential` indices are the parameter names of wgsl-autoencoder's checkpoints
(`0.weight`, `0.bias`, ...), so `model.load_state_dict(safetensors.torch.load_file(path))`
works on these, and `torch.manual_seed(S)` before building one gives the weights that
`wgsl-autoencoder train --seed S` starts from.

Every model follows its data's shape, as `src/model/arch.rs` builds it: a sample is
`shape`, (C, H, W) for images or (D,) for rows of D numbers (MNIST's (1, 28, 28) by
default). Dense models run D = C*H*W wide at both ends; conv models take C channels in
and give C back. The output activation is a Sigmoid (data in [0, 1]) or, for
standardised rows, the identity (`output="identity"`), at the same module index, so the
parameter names do not change.
"""
import gzip
import os

import numpy as np
import torch
import torch.nn as nn

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")


# `--activation`: the hidden layers' activation, by the name wgsl-autoencoder gives it.
HIDDEN = {"relu": nn.ReLU, "tanh": nn.Tanh}

# The output's: a Sigmoid for data in [0, 1], the identity (a linear output) for
# standardised rows, by the names a checkpoint's spec gives them (`:out=identity`).
OUTPUT = {"sigmoid": nn.Sigmoid, "identity": nn.Identity}

MNIST_SHAPE = (1, 28, 28)


def elements(shape):
    """Numbers in one sample of `shape`: C*H*W, or D."""
    n = 1
    for d in shape:
        n *= d
    return n


def dense_ae(layers=(100, 200, 30), activation="relu", inputs=784, output="sigmoid"):
    """784-100-200-30-200-100-784 by default (`inputs` wide at both ends): the activation
    between, the output activation (a Sigmoid by default) at the end."""
    widths = [inputs, *layers, *reversed(layers[:-1]), inputs]
    mods = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        mods += [nn.Linear(a, b), OUTPUT[output]() if i == len(widths) - 2 else HIDDEN[activation]()]
    return nn.Sequential(*mods)


class Reparameterize(nn.Module):
    """A VAE's sampling: its input is the two heads, one Linear of twice the latent width
    (mu then log sigma^2 in each row); its output z = mu + exp(logvar / 2) * eps. It keeps
    mu and logvar for the loss's KL term. `generator` draws eps (torch.randn), apart from
    the generator of the weights and shuffles, so that those stay wgsl-autoencoder's."""

    def __init__(self, latent, generator=None):
        super().__init__()
        self.latent, self.generator = latent, generator

    def forward(self, h):
        self.mu, self.logvar = h[:, : self.latent], h[:, self.latent :]
        std = torch.exp(0.5 * self.logvar)
        eps = torch.randn(std.shape, generator=self.generator, device=std.device)
        return self.mu + std * eps

    def kl(self):
        """KL(N(mu, sigma^2) || N(0, I)) of each image, summed over the latent."""
        return -0.5 * torch.sum(1 + self.logvar - self.mu.pow(2) - self.logvar.exp(), dim=1)


def dense_vae(layers=(400, 20), activation="relu", generator=None, inputs=784):
    """784-400-20-400-784 by default (`inputs` wide at both ends), as PyTorch's VAE
    example: the activation between hidden layers, the heads (one Linear to 2 x 20) and
    the sampling, then the mirror back to 784 with a Sigmoid (always: its loss is the BCE).
    Parameters `0.*`, `2.*` (the heads: rows 0-19 mu, 20-39 log sigma^2), `4.*`, `6.*`."""
    widths = [inputs, *layers, *reversed(layers[:-1]), inputs]
    code = len(layers) - 1
    mods = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        if i == code:
            mods += [nn.Linear(a, 2 * b), Reparameterize(b, generator)]
            continue
        mods += [nn.Linear(a, b), nn.Sigmoid() if i == len(widths) - 2 else HIDDEN[activation]()]
    return nn.Sequential(*mods)


def sampling(model):
    """A VAE's Reparameterize module, or None."""
    return next((m for m in model if isinstance(m, Reparameterize)), None)


def code_index(model, model_name, arch):
    """The module whose output is the code, as wgsl-autoencoder marks it: the encoder's last
    activation (dense), the sampling (VAE, conv VAE), the last pool (conv)."""
    if model_name in ("dense", "vae"):
        return 2 * len(arch) - 1
    if model_name == "conv-vae":
        return 3 * (len(arch) - 1) + 2
    return 3 * len(arch) - 1


def conv_ae(channels=(16, 8), activation="relu", shape=MNIST_SHAPE, output="sigmoid"):
    """Conv(3x3, pad 1), activation, MaxPool(2) per stage; ConvTranspose(3x3, stride 2,
    pad 1, output padding 1) and activation per stage back up; Conv(3x3, pad 1) back to
    the input's channels (shape[0]), the output activation (a Sigmoid by default)."""
    act = HIDDEN[activation]
    mods, c = [], shape[0]
    for o in channels:
        mods += [nn.Conv2d(c, o, 3, padding=1), act(), nn.MaxPool2d(2)]
        c = o
    for o in [channels[-1], *reversed(channels[:-1])]:
        mods += [nn.ConvTranspose2d(c, o, 3, stride=2, padding=1, output_padding=1), act()]
        c = o
    mods += [nn.Conv2d(c, shape[0], 3, padding=1), OUTPUT[output]()]
    return nn.Sequential(*mods)


def conv_vae(sizes=(16, 8, 20), activation="relu", generator=None, shape=MNIST_SHAPE):
    """The conv encoder of conv_ae (the channels, all of `sizes` but the last), Flatten,
    the heads (one Linear to 2 x latent, the last of `sizes`) and the sampling, one Linear
    and the activation back to the bottleneck (c_last x H/2^s x W/2^s, non-square
    allowed), Unflatten, then conv_ae's decoder back to shape[0] channels and a Sigmoid.
    With the default sizes the parameters are `0.*`, `3.*`, `7.*` (the heads), `9.*`,
    `12.*`, `14.*`, `16.*`."""
    *channels, latent = sizes
    act = HIDDEN[activation]
    c, h, w = shape
    mods = []
    for o in channels:
        mods += [nn.Conv2d(c, o, 3, padding=1), act(), nn.MaxPool2d(2)]
        c, h, w = o, h // 2, w // 2
    bottleneck = c * h * w
    mods += [nn.Flatten(), nn.Linear(bottleneck, 2 * latent), Reparameterize(latent, generator)]
    mods += [nn.Linear(latent, bottleneck), act(), nn.Unflatten(1, (c, h, w))]
    for o in [channels[-1], *reversed(channels[:-1])]:
        mods += [nn.ConvTranspose2d(c, o, 3, stride=2, padding=1, output_padding=1), act()]
        c = o
    mods += [nn.Conv2d(c, shape[0], 3, padding=1), nn.Sigmoid()]
    return nn.Sequential(*mods)


def conv_problem(channels, shape):
    """Why conv stages of `channels` cannot take samples of `shape`, or None: they take
    images, and each pooling halves a side that the decoder's stride-2 transposed convs
    double back, so each side must be a multiple of 2^stages (arch.rs's conv_problem)."""
    if len(shape) != 3:
        return f"the conv models take images, and the data is rows of {shape[0]} numbers: use --model dense or vae"
    step = 2 ** len(channels)
    _, h, w = shape
    if all(side >= step and side % step == 0 for side in (h, w)):
        return None
    near = [f"{h // step * step + k * step}x{w // step * step + k * step}" for k in (0, 1)
            if h // step * step + k * step > 0 and w // step * step + k * step > 0]
    return (f"{len(channels)} conv stages pool {h}×{w} down {step}-fold, which the decoder's stride-2 "
            f"transposed convs rebuild whole only for sides that are multiples of {step}; use fewer "
            f"stages, or resize the images to a multiple of {step} a side (--image-size {' or '.join(near)})")


def build(model, arch=None, activation="relu", generator=None, shape=MNIST_SHAPE, output="sigmoid"):
    """The model `wgsl-autoencoder --model MODEL` builds for samples of `shape` ((C, H, W)
    images or (D,) rows), with its size flag and hidden activation if given, and its
    output activation ("sigmoid", or "identity" for standardised rows); a VAE draws its
    eps from `generator`. Refuses what wgsl-autoencoder refuses: a conv model on rows or
    on sides it cannot rebuild, a VAE with a linear output."""
    shape = tuple(shape)
    if output not in OUTPUT:
        raise SystemExit(f"Error: output {output!r}: the output is {' or '.join(OUTPUT)}")
    if model in ("vae", "conv-vae") and output != "sigmoid":
        flag = "--layers" if model == "vae" else "--channels"
        raise SystemExit(f"Error: invalid value for {flag}: a VAE's reconstruction term is the BCE, which needs data "
                         "in [0, 1] and a sigmoid output: scale rows by min-max (the default), not --standardize")
    if model in ("conv", "conv-vae"):
        sizes = tuple(arch or ((16, 8, 20) if model == "conv-vae" else (16, 8)))
        channels = sizes[:-1] if model == "conv-vae" else sizes
        why = conv_problem(channels, shape) if channels else (
            f"{list(sizes)}: a conv VAE needs one or more conv channel counts, then the latent size")
        if why:
            raise SystemExit(f"Error: invalid value for --channels: {why}")
    if model == "dense":
        return dense_ae(tuple(arch) if arch else (100, 200, 30), activation, elements(shape), output)
    if model == "vae":
        return dense_vae(tuple(arch) if arch else (400, 20), activation, generator, elements(shape))
    if model == "conv-vae":
        return conv_vae(tuple(arch) if arch else (16, 8, 20), activation, generator, shape)
    return conv_ae(tuple(arch) if arch else (16, 8), activation, shape, output)


DEFAULT_SIZES = {"dense": [100, 200, 30], "vae": [400, 20], "conv": [16, 8], "conv-vae": [16, 8, 20]}


def shape_spec(shape):
    """`1x28x28` for images, `rows:140` for rows: how wgsl-autoencoder's checkpoints spell
    a sample's shape (`Shape::spec`)."""
    shape = tuple(shape)
    return "x".join(map(str, shape)) if len(shape) == 3 else f"rows:{shape[0]}"


def parse_shape(spec):
    """A `shape_spec` read back (`Shape::parse`): (C, H, W) or (D,); None if it is none."""
    try:
        dims = (int(spec[len("rows:"):]),) if spec.startswith("rows:") else tuple(int(v) for v in spec.split("x"))
    except ValueError:
        return None
    return dims if len(dims) in (1, 3) and all(d > 0 for d in dims) and "+" not in spec else None


def arch_spec(model, arch=None, activation="relu", shape=MNIST_SHAPE, output="sigmoid"):
    """The architecture as wgsl-autoencoder's checkpoints name it (`Arch::spec`):
    `dense:100,200,30`, then `:tanh` for a hidden activation other than ReLU, `:in=SHAPE`
    for samples other than MNIST's, `:out=identity` for a linear output; so that a model
    saved here and one saved by the Rust tool describe the same model alike."""
    spec = f"{model}:{','.join(map(str, arch or DEFAULT_SIZES[model]))}"
    if activation != "relu":
        spec += f":{activation}"
    if tuple(shape) != MNIST_SHAPE:
        spec += f":in={shape_spec(shape)}"
    if output != "sigmoid":
        spec += f":out={output}"
    return spec


def parse_arch_spec(spec):
    """An `arch_spec` read back (`Arch::from_spec`): (model, sizes, activation, shape,
    output), or None for anything that is not one. `in=rows:140` holds a colon of its
    own, so the extras split at `:in=` and `:out=`, the last first."""
    kind, _, rest = spec.partition(":")
    listed, _, extras = rest.partition(":")
    if kind not in DEFAULT_SIZES:
        return None
    try:
        sizes = [int(v) for v in listed.split(",")]
    except ValueError:
        return None
    found = {}
    for key in ("out=", "in="):
        at = extras.rfind(key)
        if at >= 0 and (at == 0 or extras[:at].endswith(":")):
            found[key] = extras[at + len(key):]
            extras = extras[:max(at - 1, 0)]
    activation = extras or "relu"
    shape = parse_shape(found.get("in=", shape_spec(MNIST_SHAPE)))
    output = found.get("out=", "sigmoid")
    if activation not in HIDDEN or output not in OUTPUT or shape is None or any(v <= 0 for v in sizes):
        return None
    if arch_spec(kind, sizes, activation, shape, output) != spec:
        return None
    return kind, sizes, activation, shape, output


def log_every(steps_per_epoch):
    """Steps between logged losses when `--log-every` is not given, as wgsl-autoencoder
    chooses them (`train::default_log_every`): about eight an epoch, at most 64 apart."""
    return min(max(-(-steps_per_epoch // 8), 1), 64)


def as_input(model, x, shape=MNIST_SHAPE):
    """(N, C*H*W) samples as the model takes them: as they are for a dense model, (N, C,
    H, W) for a conv one."""
    return x if model in ("dense", "vae") else x.view(-1, *shape)


def mnist_images(name, data_dir=DATA_DIR):
    """One of the IDX image files of data/mnist as an (N, 784) float tensor in [0, 1]."""
    raw = gzip.open(os.path.join(data_dir, name)).read()
    return torch.tensor(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784), dtype=torch.float32) / 255

"""The autoencoders as PyTorch builds them, shared by the scripts here.

`nn.Sequential` indices are the parameter names of wgsl-autoencoder's checkpoints
(`0.weight`, `0.bias`, ...), so `model.load_state_dict(safetensors.torch.load_file(path))`
works on these, and `torch.manual_seed(S)` before building one gives the weights that
`wgsl-autoencoder train --seed S` starts from.
"""
import gzip
import os

import numpy as np
import torch
import torch.nn as nn

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")


# `--activation`: the hidden layers' activation, by the name wgsl-autoencoder gives it.
HIDDEN = {"relu": nn.ReLU, "tanh": nn.Tanh}


def dense_ae(layers=(100, 200, 30), activation="relu"):
    """784-100-200-30-200-100-784 by default: the activation between, Sigmoid at the end."""
    widths = [784, *layers, *reversed(layers[:-1]), 784]
    mods = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        mods += [nn.Linear(a, b), nn.Sigmoid() if i == len(widths) - 2 else HIDDEN[activation]()]
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


def dense_vae(layers=(400, 20), activation="relu", generator=None):
    """784-400-20-400-784 by default, as PyTorch's VAE example: the activation between
    hidden layers, the heads (one Linear to 2 x 20) and the sampling, then the mirror back
    to 784 with a Sigmoid. Parameters `0.*`, `2.*` (the heads: rows 0-19 mu, 20-39 log
    sigma^2), `4.*`, `6.*`."""
    widths = [784, *layers, *reversed(layers[:-1]), 784]
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


def conv_ae(channels=(16, 8), activation="relu"):
    """Conv(3x3, pad 1), activation, MaxPool(2) per stage; ConvTranspose(3x3, stride 2,
    pad 1, output padding 1) and activation per stage back up; Conv(3x3, pad 1) to one
    channel, Sigmoid."""
    act = HIDDEN[activation]
    mods, c = [], 1
    for o in channels:
        mods += [nn.Conv2d(c, o, 3, padding=1), act(), nn.MaxPool2d(2)]
        c = o
    for o in [channels[-1], *reversed(channels[:-1])]:
        mods += [nn.ConvTranspose2d(c, o, 3, stride=2, padding=1, output_padding=1), act()]
        c = o
    mods += [nn.Conv2d(c, 1, 3, padding=1), nn.Sigmoid()]
    return nn.Sequential(*mods)


def conv_vae(sizes=(16, 8, 20), activation="relu", generator=None):
    """The conv encoder of conv_ae (the channels, all of `sizes` but the last), Flatten,
    the heads (one Linear to 2 x latent, the last of `sizes`) and the sampling, one Linear
    and the activation back to the bottleneck, Unflatten, then conv_ae's decoder. With the
    default sizes the parameters are `0.*`, `3.*`, `7.*` (the heads), `9.*`, `12.*`,
    `14.*`, `16.*`."""
    *channels, latent = sizes
    act = HIDDEN[activation]
    mods, c, side = [], 1, 28
    for o in channels:
        mods += [nn.Conv2d(c, o, 3, padding=1), act(), nn.MaxPool2d(2)]
        c, side = o, side // 2
    bottleneck = c * side * side
    mods += [nn.Flatten(), nn.Linear(bottleneck, 2 * latent), Reparameterize(latent, generator)]
    mods += [nn.Linear(latent, bottleneck), act(), nn.Unflatten(1, (c, side, side))]
    for o in [channels[-1], *reversed(channels[:-1])]:
        mods += [nn.ConvTranspose2d(c, o, 3, stride=2, padding=1, output_padding=1), act()]
        c = o
    mods += [nn.Conv2d(c, 1, 3, padding=1), nn.Sigmoid()]
    return nn.Sequential(*mods)


def build(model, arch=None, activation="relu", generator=None):
    """The model `wgsl-autoencoder --model MODEL` builds, with its size flag and hidden
    activation if given; a VAE draws its eps from `generator`."""
    if model == "dense":
        return dense_ae(tuple(arch) if arch else (100, 200, 30), activation)
    if model == "vae":
        return dense_vae(tuple(arch) if arch else (400, 20), activation, generator)
    if model == "conv-vae":
        return conv_vae(tuple(arch) if arch else (16, 8, 20), activation, generator)
    return conv_ae(tuple(arch) if arch else (16, 8), activation)


def log_every(steps_per_epoch):
    """Steps between logged losses when `--log-every` is not given, as wgsl-autoencoder
    chooses them (`train::default_log_every`): about eight an epoch, at most 64 apart."""
    return min(max(-(-steps_per_epoch // 8), 1), 64)


def as_input(model, x):
    """(N, 784) images as the model takes them."""
    return x if model in ("dense", "vae") else x.view(-1, 1, 28, 28)


def mnist_images(name, data_dir=DATA_DIR):
    """One of the IDX image files of data/mnist as an (N, 784) float tensor in [0, 1]."""
    raw = gzip.open(os.path.join(data_dir, name)).read()
    return torch.tensor(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784), dtype=torch.float32) / 255

"""The same training run in PyTorch, for side-by-side loss curves.

    python3 scripts/torch_train.py --model dense|conv|vae|conv-vae [--layers 100,200,30 | --channels 16,8]
        [--activation relu|tanh] [--epochs 5] [--seed 0] [--batch 128] [--limit N]
        [--beta 1] [--l1 LAMBDA] [--log-every STEPS] [--out DIR]
        [--data PATH] [--image-size HxW] [--grey | --rgb] [--standardize]
        [--test-fraction F] [--split-seed S] [--label-column NAME]

`--data PATH` (alias `--data-dir`; data/mnist by default) is read as `wgsl-autoencoder
--data PATH` reads it, with the same data flags (scripts/torch_data.py, by the rules of
docs/data-rules.md): the same samples in the same order, the same split and scaling. The
model follows the data's shape (C x H x W images, or rows of D numbers), as the Rust
tool's does; standardised rows (`--standardize`) get a linear output and the MSE, and
their metrics have no test_bce. `--limit N` keeps the first N training samples, after
the split and the scaling's fit. The first line says what the data is, as `train` says it.

A VAE (`--model vae`, `--layers 400,20` by default) trains on the per-image negative
ELBO, the BCE summed over pixels plus beta times the KL term, averaged over the batch; its
eps comes from torch.randn on a generator of its own (seeded `--seed` + 1), so that the
weights and shuffles stay those of the one seeded `--seed`. Its test loss takes one eps
per test image, as PyTorch's example does, and metrics.jsonl gains test_loss, test_recon
and test_kl. `--l1 LAMBDA` adds LAMBDA * sum |code| per image to any model's loss (Keras'
activity_regularizer). Every model's line has code_mean and code_near_zero: the test
codes' (a VAE's mu) mean magnitude and the fraction below 1e-3.

`wgsl-autoencoder train --seed S` draws its initial weights and its per-epoch shuffles
exactly as this script does after `torch.manual_seed(S)`: the same nn.Sequential
initialisation, then one `torch.randperm` per epoch, from one generator. Both print the
mean training loss of each epoch (weighted by batch size) and the test-set MSE and BCE,
so the curves can be compared line by line (the BCE only where the output is a Sigmoid).
Runs on the CPU unless CUDA is present.

With `--out DIR` it also writes `DIR/metrics.jsonl` in the format `train` writes (one
JSON object per epoch: epoch, train_loss, test_mse, test_bce (not for a linear output), seconds,
images_per_second, eval_seconds, and interval_loss every --log-every steps, by default
as `train` chooses them), so that
`wgsl-autoencoder plot RUN_DIR TORCH_DIR` draws both curves in one loss.png.

`--classes A,B` (or `--exclude-classes A,B`) trains on the training samples of those
classes only (one-class training, as `train --classes`): the test split stays whole,
and rows are scaled by what trains. After the last epoch `--out DIR` also gets
`DIR/model.safetensors`: the state_dict under its `nn.Sequential` names, with metadata
(all strings, as safetensors keeps them) enough to rebuild the model and read its data
again as it was read (scripts/torch_score.py does):

    format           "torch_train.py"
    arch             the Rust checkpoints' spec, e.g. "conv:16,8" or
                     "dense:40,12:in=rows:140:out=identity" (torch_models.arch_spec)
    shape, output    "1x28x28" or "rows:140"; "sigmoid" or "identity"
    model, sizes, activation   --model, the sizes (JSON list), --activation
    data             JSON {"path": absolute path, "prepare": the data flags in the Rust
                     run record's form (torch_data.prepare_record)}
    scaling          JSON {"kind", "offset", "scale"} as the Rust checkpoints save it (rows only)
    trained_classes  JSON list of class names (with --classes/--exclude-classes only)
    limit, epoch, seed, batch, lr, beta, l1   as trained (limit "" when none)
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

from torch_data import add_arguments, load, prepare_from, prepare_record, scaling_record
from torch_models import DATA_DIR, HIDDEN, arch_spec, as_input, build, code_index, log_every, sampling, shape_spec

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["dense", "conv", "vae", "conv-vae"], default="dense")
p.add_argument("--beta", type=float, default=1.0, help="a VAE's KL weight")
p.add_argument("--l1", type=float, default=0.0, help="L1 penalty on the code's activations")
p.add_argument("--layers", default=None, help="dense encoder widths, e.g. 100,200,30")
p.add_argument("--channels", default=None, help="conv encoder channels, e.g. 16,8")
p.add_argument("--activation", choices=sorted(HIDDEN), default="relu")
p.add_argument("--log-every", type=int, default=None, help="steps between logged losses")
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--limit", type=int, default=None, help="the first N training samples")
add_arguments(p, os.path.normpath(DATA_DIR))
p.add_argument("--out", default=None, help="write DIR/metrics.jsonl as `train` does (a new or empty folder)")
a = p.parse_args()
log_path = os.path.join(a.out, "metrics.jsonl") if a.out else None
if log_path and os.path.exists(log_path):
    raise SystemExit(f"Error: {log_path} already exists; choose another --out")
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

prepare = prepare_from(a)
data = load(a.data, prepare)
data.limit(a.limit)
print(data.describe(), flush=True)
for line in data.notes:
    print(f"note: {line}", flush=True)
shape, linear = data.shape, data.linear_output()
train, test = data.train.floats().to(dev), data.test.floats().to(dev)
torch.manual_seed(a.seed)
sizes = a.layers if a.model in ("dense", "vae") else a.channels
arch = [int(v) for v in sizes.split(",")] if sizes else None
eps_gen = torch.Generator(device=dev).manual_seed(a.seed + 1)
model = build(a.model, arch, a.activation, eps_gen, shape, "identity" if linear else "sigmoid").to(dev)
default_arch = {"dense": [100, 200, 30], "vae": [400, 20], "conv": [16, 8], "conv-vae": [16, 8, 20]}[a.model]
code_at = code_index(model, a.model, arch or default_arch)
vae = sampling(model)
log = None
if log_path:
    os.makedirs(a.out, exist_ok=True)
    log = open(log_path, "x")
NEAR_ZERO = 1e-3


def losses(x):
    """(loss, output, code) of a batch: the mean MSE (an autoencoder), or the per-image
    negative ELBO (a VAE), plus the L1 penalty on the code if asked for."""
    code = model[: code_at + 1](x)
    y = model[code_at + 1 :](code)
    if vae is not None:
        recon = F.binary_cross_entropy(y, x, reduction="sum") / len(x)
        loss = recon + a.beta * vae.kl().sum() / len(x)
    else:
        loss = F.mse_loss(y, x)
    if a.l1 > 0:
        loss = loss + a.l1 * code.abs().sum() / len(x)
    return loss, y, code
opt = torch.optim.Adam(model.parameters(), a.lr)
n = len(train)
every = a.log_every or log_every(-(-n // a.batch))
for epoch in range(1, a.epochs + 1):
    order = torch.randperm(n).to(dev)  # drawn on the CPU generator, after the weights
    total, start = 0.0, time.perf_counter()
    intervals, since, seen = [], 0.0, 0
    for step, i in enumerate(range(0, n, a.batch), 1):
        x = as_input(a.model, train[order[i:i + a.batch]], shape)
        opt.zero_grad()
        loss, _, _ = losses(x)
        loss.backward()
        opt.step()
        total += loss.item() * len(x)
        since, seen = since + loss.item() * len(x), seen + len(x)
        done = min(i + a.batch, n)
        if step % every == 0 or done == n:
            intervals.append([epoch - 1 + done / n, since / seen])
            since, seen = 0.0, 0
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        x = as_input(a.model, test, shape)
        _, y, code = losses(x)
        mse = F.mse_loss(y, x).item()
        bce = None if linear else F.binary_cross_entropy(y, x).item()
        code = vae.mu if vae is not None else code
        extra = {"code_mean": code.abs().mean().item(), "code_near_zero": (code.abs() < NEAR_ZERO).float().mean().item()}
        if vae is not None:
            recon, kl = bce * train.shape[1], vae.kl().mean().item()
            extra = {"test_loss": recon + a.beta * kl, "test_recon": recon, "test_kl": kl, **extra}
    eval_seconds = time.perf_counter() - start
    name = "loss" if vae is not None else "mse"
    shown = f"  test loss {extra['test_loss']:.4f}" if vae is not None else ""
    shown_bce = "" if bce is None else f"  test bce {bce:.6f}"
    print(f"epoch {epoch:>3}/{a.epochs}  train {name} {total / n:.6f}  test mse {mse:.6f}{shown_bce}{shown}  {seconds:.2f} s", flush=True)
    if log:
        line = {"epoch": epoch, "train_loss": total / n, "test_mse": mse, "test_bce": bce, "seconds": seconds,
                "images_per_second": n / seconds, "eval_seconds": eval_seconds, "interval_loss": intervals, **extra}
        if bce is None:
            del line["test_bce"]  # a linear output's metrics have none, as the Rust tool's
        log.write(json.dumps(line) + "\n")
        log.flush()


def save_model(path):
    """Writes the trained model to `path` (safetensors): the state_dict, and in the
    metadata what rebuilding it and reading its data again need."""
    from safetensors.torch import save_file  # only a run that saves needs it

    output = "identity" if linear else "sigmoid"
    sizes = arch or default_arch
    compact = (",", ":")  # JSON as serde_json writes it
    meta = {
        "format": "torch_train.py",
        "arch": arch_spec(a.model, sizes, a.activation, shape, output),
        "shape": shape_spec(shape),
        "output": output,
        "model": a.model,
        "sizes": json.dumps(sizes, separators=compact),
        "activation": a.activation,
        "data": json.dumps({"path": os.path.abspath(a.data), "prepare": prepare_record(prepare)}, separators=compact),
        "limit": "" if a.limit is None else str(a.limit),
        "epoch": str(a.epochs),
        "seed": str(a.seed),
        "batch": str(a.batch),
        "lr": repr(a.lr),
        "beta": repr(a.beta),
        "l1": repr(a.l1),
    }
    if data.scaling is not None:
        meta["scaling"] = json.dumps(scaling_record(data.scaling), separators=compact)
    if data.trained_classes is not None:
        meta["trained_classes"] = json.dumps(data.trained_classes, separators=compact)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, path, metadata=meta)


if a.out:
    save_model(os.path.join(a.out, "model.safetensors"))

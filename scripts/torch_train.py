"""The same training run in PyTorch, for side-by-side loss curves.

    python3 scripts/torch_train.py --model dense|conv [--layers 100,200,30 | --channels 16,8]
        [--activation relu|tanh] [--epochs 5] [--seed 0] [--batch 128] [--limit N]
        [--log-every STEPS] [--out DIR]

`wgsl-autoencoder train --seed S` draws its initial weights and its per-epoch shuffles
exactly as this script does after `torch.manual_seed(S)`: the same nn.Sequential
initialisation, then one `torch.randperm` per epoch, from one generator. Both print the
mean training loss of each epoch (weighted by batch size) and the test-set MSE and BCE,
so the curves can be compared line by line. Runs on the CPU unless CUDA is present.

With `--out DIR` it also writes `DIR/metrics.jsonl` in the format `train` writes (one
JSON object per epoch: epoch, train_loss, test_mse, test_bce, seconds,
images_per_second, eval_seconds, and interval_loss every --log-every steps, by default
as `train` chooses them), so that
`wgsl-autoencoder plot RUN_DIR TORCH_DIR` draws both curves in one loss.png.
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

from torch_models import DATA_DIR, HIDDEN, as_input, build, log_every, mnist_images

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["dense", "conv"], default="dense")
p.add_argument("--layers", default=None, help="dense encoder widths, e.g. 100,200,30")
p.add_argument("--channels", default=None, help="conv encoder channels, e.g. 16,8")
p.add_argument("--activation", choices=sorted(HIDDEN), default="relu")
p.add_argument("--log-every", type=int, default=None, help="steps between logged losses")
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--limit", type=int, default=None)
p.add_argument("--data-dir", default=DATA_DIR)
p.add_argument("--out", default=None, help="write DIR/metrics.jsonl as `train` does (a new or empty folder)")
a = p.parse_args()
log = None
if a.out:
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "metrics.jsonl")
    if os.path.exists(path):
        raise SystemExit(f"Error: {path} already exists; choose another --out")
    log = open(path, "x")
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

train = mnist_images("train-images-idx3-ubyte.gz", a.data_dir)[: a.limit].to(dev)
test = mnist_images("t10k-images-idx3-ubyte.gz", a.data_dir).to(dev)
torch.manual_seed(a.seed)
sizes = a.layers if a.model == "dense" else a.channels
model = build(a.model, [int(v) for v in sizes.split(",")] if sizes else None, a.activation).to(dev)
opt = torch.optim.Adam(model.parameters(), a.lr)
n = len(train)
every = a.log_every or log_every(-(-n // a.batch))
for epoch in range(1, a.epochs + 1):
    order = torch.randperm(n).to(dev)  # drawn on the CPU generator, after the weights
    total, start = 0.0, time.perf_counter()
    intervals, since, seen = [], 0.0, 0
    for step, i in enumerate(range(0, n, a.batch), 1):
        x = as_input(a.model, train[order[i:i + a.batch]])
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
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
        x = as_input(a.model, test)
        y = model(x)
        mse, bce = F.mse_loss(y, x).item(), F.binary_cross_entropy(y, x).item()
    eval_seconds = time.perf_counter() - start
    print(f"epoch {epoch:>3}/{a.epochs}  train mse {total / n:.6f}  test mse {mse:.6f}  test bce {bce:.6f}  {seconds:.2f} s", flush=True)
    if log:
        line = {"epoch": epoch, "train_loss": total / n, "test_mse": mse, "test_bce": bce, "seconds": seconds,
                "images_per_second": n / seconds, "eval_seconds": eval_seconds, "interval_loss": intervals}
        log.write(json.dumps(line) + "\n")
        log.flush()

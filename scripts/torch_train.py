"""The same training run in PyTorch, for side-by-side loss curves.

    python3 scripts/torch_train.py --model dense|conv [--epochs 5] [--seed 0] [--batch 128] [--limit N]

`wgsl-autoencoder train --seed S` draws its initial weights and its per-epoch shuffles
exactly as this script does after `torch.manual_seed(S)`: the same nn.Sequential
initialisation, then one `torch.randperm` per epoch, from one generator. Both print the
mean training loss of each epoch (weighted by batch size) and the test-set MSE and BCE,
so the curves can be compared line by line. Runs on the CPU unless CUDA is present.
"""
import argparse, gzip, os, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["dense", "conv"], default="dense")
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--limit", type=int, default=None)
p.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "data", "mnist"))
a = p.parse_args()
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def images(name):
    raw = gzip.open(os.path.join(a.data_dir, name)).read()
    return torch.tensor(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784), dtype=torch.float32) / 255


train = images("train-images-idx3-ubyte.gz")[: a.limit].to(dev)
test = images("t10k-images-idx3-ubyte.gz").to(dev)
torch.manual_seed(a.seed)
if a.model == "dense":
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 200), nn.ReLU(), nn.Linear(200, 30), nn.ReLU(),
                          nn.Linear(30, 200), nn.ReLU(), nn.Linear(200, 100), nn.ReLU(), nn.Linear(100, 784), nn.Sigmoid())
    shape = lambda x: x
else:
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                          nn.ConvTranspose2d(8, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                          nn.Conv2d(16, 1, 3, padding=1), nn.Sigmoid())
    shape = lambda x: x.view(-1, 1, 28, 28)
model = model.to(dev)
opt = torch.optim.Adam(model.parameters(), a.lr)
n = len(train)
for epoch in range(1, a.epochs + 1):
    order = torch.randperm(n).to(dev)  # drawn on the CPU generator, after the weights
    total, start = 0.0, time.perf_counter()
    for i in range(0, n, a.batch):
        x = shape(train[order[i:i + a.batch]])
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()
        total += loss.item() * len(x)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        x = shape(test)
        y = model(x)
        mse, bce = F.mse_loss(y, x).item(), F.binary_cross_entropy(y, x).item()
    print(f"epoch {epoch:>3}/{a.epochs}  train mse {total / n:.6f}  test mse {mse:.6f}  test bce {bce:.6f}  {seconds:.2f} s", flush=True)

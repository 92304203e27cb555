"""The PyTorch peer of `wgsl-autoencoder bench`: times, in PyTorch, every op and whole
training epoch that our benchmark timed, so that `wgsl-autoencoder compare` can put the
two side by side.

    wgsl-autoencoder bench --json [--train] > ours.jsonl
    python3 scripts/torch_peer.py ours.jsonl > torch.jsonl
    wgsl-autoencoder compare ours.jsonl torch.jsonl

It reads our rows (op, shape and named dims) and rebuilds each op with the ATen call
PyTorch's autograd makes for it: `F.linear`/`matmul`, `convolution_backward`,
`max_pool2d_with_indices_backward`, `mse_loss_backward`, Adam's `step`, and so on. It
prints a header line, then one JSON line per op: `{"peer": "torch", "op", "shape", "ms",
"gflops"}`, GFLOP/s from our FLOP count for the row. Kernel times come from CUDA events
on a GPU (TF32 off, as fp32 should be), and from the host clock on a CPU. Whole epochs
(`train_epoch_eager/<model>`, and `train_epoch_compile/<model>` with `--compile`) are
timed as ours are: one warm-up epoch, then the best of `--epochs` epochs on 60,000
images, from the first step to the last loss on the host.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import as_input, build, mnist_images

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("ours", help="our rows: the output of `wgsl-autoencoder bench --json`")
p.add_argument("--repeats", type=int, default=30, help="timed runs per op (median)")
p.add_argument("--epochs", type=int, default=2, help="timed epochs per training row (best)")
p.add_argument("--compile", action="store_true", help="also time torch.compile(mode='reduce-overhead') epochs")
a = p.parse_args()

dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
gen = torch.Generator(device="cpu").manual_seed(7)


def rand(*shape, lo=-1.0, hi=1.0):
    return (torch.rand(*shape, generator=gen) * (hi - lo) + lo).to(dev)


def sync():
    if dev == "cuda":
        torch.cuda.synchronize()


def median_ms(fn, repeats):
    """Median milliseconds of fn() after two warm-up calls."""
    fn(), fn()
    sync()
    times = []
    for _ in range(repeats):
        if dev == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def conv_args(d):
    return dict(stride=d["stride"], padding=d["pad"])


# Each activation by the name our rows give it (`activation`, or the op's name for the
# elementwise ones): its forward, and its backward from the output, as autograd runs
# them. Our numeric codes stay on our side.
ACTIVATIONS = {
    "relu": (torch.relu, lambda g, y: torch.ops.aten.threshold_backward(g, y, 0)),
    "sigmoid": (torch.sigmoid, lambda g, y: torch.ops.aten.sigmoid_backward(g, y)),
    "tanh": (torch.tanh, lambda g, y: torch.ops.aten.tanh_backward(g, y)),
    "identity": (lambda x: x, lambda g, y: g),
}


def activation(name, op):
    """The forward and backward of the activation our row names for `op`."""
    if name not in ACTIVATIONS:
        sys.exit(f"torch_peer: {op}: unknown activation {name!r} (rows from another version of wgsl-autoencoder?)")
    return ACTIVATIONS[name]


FUSED_CONV = ("conv2d_act_forward", "conv2d_act_pool_forward", "conv2d_backward_params",
              "conv2d_backward_act", "conv2d_backward_pool_act", "conv_transpose2d_act_forward",
              "conv_transpose2d_backward_act", "conv_transpose2d_backward_pool_act")


def fused_conv_fn(op, d, act_name):
    """A conv stage as autograd runs it: the convolution (or its backward for all of its
    gradients), the activation, and the max-pool (or their backwards)."""
    aten = torch.ops.aten
    transposed = op.startswith("conv_transpose2d")
    x = rand(d["n"], d["c"], d["h"], d["w"])
    w = rand(d["c"], d["o"], d["kh"], d["kw"]) if transposed else rand(d["o"], d["c"], d["kh"], d["kw"])
    b = rand(d["o"])
    s, pd = [d["stride"]] * 2, [d["pad"]] * 2
    out_pad = [d.get("out_pad", 0)] * 2
    if transposed:
        conv = lambda: F.conv_transpose2d(x, w, b, stride=d["stride"], padding=d["pad"], output_padding=out_pad)
    else:
        conv = lambda: F.conv2d(x, w, b, stride=d["stride"], padding=d["pad"])
    k, ps = d.get("pool_k", 1), d.get("pool_stride", 1)
    if op.endswith("_forward"):
        act, _ = activation(act_name, op)
        if "pool" in op:
            return lambda: F.max_pool2d(act(conv()), k, ps, return_indices=True)
        return lambda: act(conv())
    dy = rand(*conv().shape)
    mask = [op != "conv2d_backward_params", True, True]
    back = lambda: aten.convolution_backward(dy, x, w, [d["o"]], s, pd, [1, 1], transposed, out_pad, 1, mask)
    if op == "conv2d_backward_params":  # no input gradient, so no activation
        return back
    act, act_back = activation(act_name, op)
    if "pool" not in op:
        y = act(x)
        return lambda: act_back(back()[0], y)
    # The stage below: its activation's output, pooled into this layer's input x.
    below = torch.nn.functional.interpolate(x, scale_factor=ps) if ps > 1 else x
    r = act(rand(*below.shape))
    _, idx = F.max_pool2d(r, k, ps, return_indices=True)
    return lambda: act_back(aten.max_pool2d_with_indices_backward(back()[0], r, [k, k], [ps, ps], [0, 0], [1, 1], False, idx), r)


def op_fn(op, d, act_name):
    """A no-argument function running `op` with sizes `d` (and the activation our row
    names, for fused ops), on fresh random inputs."""
    aten = torch.ops.aten
    if op.startswith("matmul"):
        m, k, n = d["m"], d["k"], d["n"]
        a_ = rand(k, m).t() if d["trans_a"] else rand(m, k)
        b_ = rand(n, k).t() if d["trans_b"] else rand(k, n)
        if op == "matmul":
            return lambda: torch.matmul(a_, b_)
        if op == "matmul_bias_backward":  # the weight gradient's mm and the bias gradient's sum
            return lambda: (torch.matmul(a_, b_), a_.sum(1))
        act, act_back = activation(act_name, op)
        if op == "matmul_bias_act":  # Linear's addmm, then its activation
            bias = rand(n)
            return lambda: act(torch.addmm(bias, a_, b_))
        if op == "matmul_act_backward":  # the input gradient, then the activation's backward
            y = act(rand(m, n))
            return lambda: act_back(torch.matmul(a_, b_), y)
    if op in ("bias_forward", "bias_backward"):
        x, b = rand(d["rows"], d["cols"]), rand(d["cols"])
        return (lambda: x + b) if op == "bias_forward" else (lambda: x.sum(0))
    name, _, kind = op.rpartition("_")
    if name in ACTIVATIONS and kind in ("forward", "backward"):  # relu_forward, tanh_backward, …
        forward, backward = ACTIVATIONS[name]
        x = rand(d["rows"], d["cols"], lo=-6, hi=6)
        if kind == "forward":
            return lambda: forward(x)
        y, dy = forward(x), rand(d["rows"], d["cols"])
        return lambda: backward(dy, y)
    if op in ("mse_forward", "bce_forward", "mse_backward", "bce_backward"):
        y, t = rand(d["rows"], d["cols"], lo=0.01, hi=0.99), rand(d["rows"], d["cols"], lo=0, hi=1)
        g = torch.ones((), device=dev)
        return {
            "mse_forward": lambda: F.mse_loss(y, t),
            "bce_forward": lambda: F.binary_cross_entropy(y, t),
            "mse_backward": lambda: aten.mse_loss_backward(g, y, t, 1),
            "bce_backward": lambda: aten.binary_cross_entropy_backward(g, y, t, None, 1),
        }[op]
    if op in ("mse_sigmoid_backward", "bce_sigmoid_backward"):
        # What autograd runs for loss(sigmoid(z)): the loss, its backward, the Sigmoid's.
        # `summed` (a VAE's): reduction='sum', over the batch's size.
        y, t = rand(d["rows"], d["cols"], lo=0.01, hi=0.99), rand(d["rows"], d["cols"], lo=0, hi=1)
        g = torch.ones((), device=dev)
        red, name = (2, "sum") if d.get("summed") else (1, "mean")
        if op == "mse_sigmoid_backward":
            return lambda: (F.mse_loss(y, t, reduction=name) / d["rows"],
                            aten.sigmoid_backward(aten.mse_loss_backward(g, y, t, red), y))
        return lambda: (F.binary_cross_entropy(y, t, reduction=name) / d["rows"],
                        aten.sigmoid_backward(aten.binary_cross_entropy_backward(g, y, t, None, red), y))
    if op in ("mse_identity_backward", "bce_identity_backward"):
        # A linear output's: the loss and its backward, with nothing to go through.
        y, t = rand(d["rows"], d["cols"], lo=0.01, hi=0.99), rand(d["rows"], d["cols"], lo=0, hi=1)
        g = torch.ones((), device=dev)
        red, name = (2, "sum") if d.get("summed") else (1, "mean")
        if op == "mse_identity_backward":
            return lambda: (F.mse_loss(y, t, reduction=name) / d["rows"], aten.mse_loss_backward(g, y, t, red))
        return lambda: (F.binary_cross_entropy(y, t, reduction=name) / d["rows"],
                        aten.binary_cross_entropy_backward(g, y, t, None, red))
    if op in ("reparam_kl_forward", "reparam_kl_backward"):
        # A VAE's heads (their bias added: addmm adds it in PyTorch) to z and the KL term,
        # and the heads' gradient as autograd computes it from the saved eps and std.
        rows, L = d["rows"], d["latent"]
        h = rand(rows, 2 * L)
        if op == "reparam_kl_forward":
            def forward():
                mu, logvar = h[:, :L], h[:, L:]
                std = torch.exp(0.5 * logvar)
                z = mu + std * torch.randn_like(std)
                return z, -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            return forward
        mu, logvar = h[:, :L], h[:, L:]
        std, eps, dz = torch.exp(0.5 * logvar), torch.randn(rows, L, device=dev), rand(rows, L)
        return lambda: torch.cat([dz + mu / rows, 0.5 * dz * eps * std + 0.5 * (logvar.exp() - 1) / rows], 1)
    if op == "l1_backward":
        # Keras' activity_regularizer's gradient, the code a ReLU's output, added to dy.
        a, dy = torch.relu(rand(d["rows"], d["cols"])), rand(d["rows"], d["cols"])
        return lambda: dy + 1e-5 / d["rows"] * torch.sign(a) * (a > 0)
    if op == "adam_update":
        param = torch.nn.Parameter(rand(d["len"]))
        param.grad = rand(d["len"])
        opt = torch.optim.Adam([param], 1e-3)
        return opt.step
    if op == "gather_batch":
        data = (rand(4 * d["rows"], d["cols"], lo=0, hi=255)).to(torch.uint8)
        perm = torch.randperm(4 * d["rows"], generator=gen).to(dev)
        return lambda: data[perm[: d["rows"]]].float() / 255
    if op == "gather_rows":
        data = rand(4 * d["rows"], d["cols"])
        perm = torch.randperm(4 * d["rows"], generator=gen).to(dev)
        return lambda: data[perm[: d["rows"]]]
    if op in ("mse_scores", "bce_scores"):
        # Each sample's reconstruction error, as a PyTorch detector scores: the loss with
        # reduction='none', then a mean (or, summed, a sum) over each row.
        y, t = rand(d["rows"], d["cols"], lo=0.01, hi=0.99), rand(d["rows"], d["cols"], lo=0, hi=1)
        loss = F.mse_loss if op == "mse_scores" else F.binary_cross_entropy
        reduce = (lambda e: e.sum(1)) if d.get("summed") else (lambda e: e.mean(1))
        return lambda: reduce(loss(y, t, reduction="none"))
    if op == "kl_scores":
        rows, L = d["rows"], d["latent"]
        h, scores = rand(rows, 2 * L), rand(rows)
        mu, logvar = h[:, :L], h[:, L:]
        return lambda: scores + -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), 1)
    if op in FUSED_CONV:
        return fused_conv_fn(op, d, act_name)
    if op in ("noise_gaussian", "noise_mask"):
        # What a denoising autoencoder's data pipeline does in PyTorch (0.5 and 0.3: the
        # README's examples; the cost does not depend on them).
        x = rand(d["rows"], d["cols"], lo=0, hi=1)
        if op == "noise_gaussian":
            return lambda: (x + 0.5 * torch.randn_like(x)).clamp(0, 1)
        return lambda: x * (torch.rand_like(x) >= 0.3)
    if op.startswith("conv2d_") and op != "conv2d_backward_bias":
        x = rand(d["n"], d["c"], d["h"], d["w"])
        w, b = rand(d["o"], d["c"], d["kh"], d["kw"]), rand(d["o"])
        y = F.conv2d(x, w, b, **conv_args(d))
        dy = rand(*y.shape)
        s, pd = [d["stride"]] * 2, [d["pad"]] * 2
        back = lambda mask: aten.convolution_backward(dy, x, w, None, s, pd, [1, 1], False, [0, 0], 1, mask)
        return {
            "conv2d_forward": lambda: F.conv2d(x, w, b, **conv_args(d)),
            "conv2d_backward_input": lambda: back([True, False, False]),
            "conv2d_backward_weight": lambda: back([False, True, False]),
        }[op]
    if op == "conv2d_backward_bias":
        dy = rand(d["n"], d["o"], d["hw"])
        return lambda: dy.sum((0, 2))
    if op.startswith("max_pool2d"):
        x = rand(d["n"], d["c"], d["h"], d["w"])
        k, s = d["k"], d["stride"]
        y, idx = F.max_pool2d(x, k, s, return_indices=True)
        dy = rand(*y.shape)
        if op == "max_pool2d_forward":
            return lambda: F.max_pool2d(x, k, s, return_indices=True)
        return lambda: aten.max_pool2d_with_indices_backward(dy, x, [k, k], [s, s], [0, 0], [1, 1], False, idx)
    if op.startswith("conv_transpose2d"):
        x = rand(d["n"], d["c"], d["h"], d["w"])
        w, b = rand(d["c"], d["o"], d["kh"], d["kw"]), rand(d["o"])
        kw = dict(stride=d["stride"], padding=d["pad"], output_padding=d["out_pad"])
        y = F.conv_transpose2d(x, w, b, **kw)
        dy = rand(*y.shape)
        s, pd, op_ = [d["stride"]] * 2, [d["pad"]] * 2, [d["out_pad"]] * 2
        back = lambda mask: aten.convolution_backward(dy, x, w, None, s, pd, [1, 1], True, op_, 1, mask)
        return {
            "conv_transpose2d_forward": lambda: F.conv_transpose2d(x, w, b, **kw),
            "conv_transpose2d_backward_input": lambda: back([True, False, False]),
            "conv_transpose2d_backward_weight": lambda: back([False, True, False]),
        }[op]
    return None


def epoch_seconds(model_name, batch, images, epochs, compile_):
    """Best of `epochs` timed epochs after a warm-up one, as `bench --train` times ours."""
    torch.manual_seed(0)
    model = build(model_name).to(dev)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    train = mnist_images("train-images-idx3-ubyte.gz")[:images].to(dev)

    def step(x):
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()
        return loss.detach()

    if compile_:
        step = torch.compile(step, mode="reduce-overhead")
    best = float("inf")
    for e in range(1 + epochs):
        order = torch.randperm(images).to(dev)
        sync()
        start = time.perf_counter()
        total = torch.zeros((), device=dev)
        for i in range(0, images, batch):
            x = as_input(model_name, train[order[i:i + batch]])
            total += step(x) * len(x)
        total.item()  # one readback per epoch, as ours
        if e > 0:
            best = min(best, time.perf_counter() - start)
    return best


header = {"peer": "torch", "version": torch.__version__, "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu"}
print(json.dumps(header), flush=True)
seen = set()
with open(a.ours) as f:
    rows = [json.loads(line) for line in f if line.lstrip().startswith("{")]
for row in rows:
    op, shape, dims = row["op"], row["shape"], row.get("dims", {})
    if (op, tuple(shape)) in seen:
        continue  # another variant of an op already timed
    seen.add((op, tuple(shape)))
    flops = (row.get("gflops") or 0) * (row.get("gpu_ms") or 0) * 1e6
    if op.startswith("train_epoch/"):
        model = op.split("/", 1)[1]
        kinds = [("eager", False)] + ([("compile", True)] if a.compile else [])
        for kind, compile_ in kinds:
            seconds = epoch_seconds(model, dims["batch"], dims["images"], a.epochs, compile_)
            ms = seconds * 1e3
            print(json.dumps({"peer": "torch", "op": f"train_epoch_{kind}/{model}", "shape": shape, "ms": round(ms, 4),
                              "gflops": round(flops / (ms * 1e6), 1) if flops else None}), flush=True)
        continue
    fn = op_fn(op, dims, row.get("activation"))
    if fn is None:
        print(f"torch_peer: no PyTorch op for {op}; skipped", file=sys.stderr)
        continue
    ms = median_ms(fn, a.repeats)
    print(json.dumps({"peer": "torch", "op": op, "shape": shape, "ms": round(ms, 6),
                      "gflops": round(flops / (ms * 1e6), 1) if flops else None}), flush=True)

"""The one-class MNIST benchmark (Ruff et al., "Deep One-Class Classification", ICML 2018,
Table 1): for each digit, an autoencoder trained on that digit's training images alone,
then every MNIST test image scored by its reconstruction error; the AUROC of telling the
other nine digits from the trained one.

    python3 scripts/one_class_mnist.py OUT_DIR [EPOCHS] [--binary PATH] [--rust-args "..."]
        [--digits 0,1,...] [--models conv,dense]

For each digit 0-9 and for `--model conv` (`--channels 16,8`) and `--model dense`
(`--layers 100,200,30`), the project's default models, it runs the PyTorch twin:

    torch_train.py --model M --classes D --epochs E --seed 0 --batch B --lr 1e-3 --out OUT_DIR/torch/M-D
    torch_score.py OUT_DIR/torch/M-D --json

(MSE loss, Adam, seed 0, EPOCHS 10 and --batch B 128 by default), and appends one JSON line per (model,
digit) to OUT_DIR/torch.jsonl: tool, model, digit, epochs, auroc, average_precision,
the counts at the default threshold, and the seconds training and scoring took. Then it
prints the table: a row per digit, a column per model (and tool), and the mean.

With `--binary PATH` (or WGSL_AUTOENCODER=PATH in the environment) it runs the same
protocol with the Rust tool too, into OUT_DIR/rust/M-D and OUT_DIR/rust.jsonl:

    PATH train --model M --classes D --epochs E --seed 0 --batch B --lr 0.001 --out OUT_DIR/rust/M-D
    PATH score OUT_DIR/rust/M-D --json

(`--rust-args "--backend cpu"` adds flags to both). Only then: without it, the Rust tool
is never called.

A (tool, model, digit) whose line is already in its JSONL file at these epochs is not run
again, so an interrupted benchmark resumes where it stopped; a run folder left without
its line is an error naming it (remove it to run that one again).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {"conv": ["--channels", "16,8"], "dense": ["--layers", "100,200,30"]}
COMMON = ["--seed", "0", "--lr", "0.001"]


def run(cmd, log):
    """Runs `cmd`, its output appended to `log`; stops the benchmark if it fails. Returns
    its stdout and the seconds it took."""
    started = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    with open(log, "a") as f:
        f.write(f"$ {shlex.join(cmd)}\n{p.stdout}{p.stderr}\n")
    if p.returncode != 0:
        raise SystemExit(f"Error: {shlex.join(cmd)} failed ({p.returncode}):\n{p.stderr.strip()}")
    return p.stdout, seconds


def done(path, epochs):
    """The lines of a JSONL file, keyed by (model, digit), at these epochs."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return {(r["model"], r["digit"]): r for r in lines if r["epochs"] == epochs}


def commands(tool, binary, rust_args, model, digit, epochs, batch, run_dir):
    """The training and scoring commands of one (tool, model, digit)."""
    flags = ["--model", model, *SIZES[model], "--classes", str(digit), "--epochs", str(epochs), "--batch", str(batch),
             *COMMON]
    if tool == "torch":
        return ([sys.executable, os.path.join(HERE, "torch_train.py"), *flags, "--out", run_dir],
                [sys.executable, os.path.join(HERE, "torch_score.py"), run_dir, "--json"])
    return ([binary, "train", *flags, *rust_args, "--out", run_dir],
            [binary, "score", run_dir, "--json", *rust_args])


def one(tool, binary, rust_args, model, digit, epochs, batch, out):
    """Trains and scores one (tool, model, digit); returns its JSON line."""
    run_dir = os.path.join(out, tool, f"{model}-{digit}")
    if os.path.exists(run_dir):
        raise SystemExit(f"Error: {run_dir} exists but {tool}.jsonl has no line for it: remove the folder to run it "
                         "again")
    train, score = commands(tool, binary, rust_args, model, digit, epochs, batch, run_dir)
    log = os.path.join(out, f"{tool}.log")
    _, train_seconds = run(train, log)
    stdout, score_seconds = run(score, log)
    report = json.loads(stdout.strip().splitlines()[-1])
    d = report["detection"]
    return {"tool": tool, "model": model, "digit": digit, "epochs": epochs, "arch": report["model"],
            "auroc": d["auroc"], "average_precision": d["average_precision"], "threshold": report["threshold"],
            "precision": d["precision"], "recall": d["recall"], "f1": d["f1"],
            "false_positive_rate": d["false_positive_rate"], **d["confusion"],
            "train_seconds": round(train_seconds, 2), "score_seconds": round(score_seconds, 2)}


def table(results, models, tools, digits):
    """A row per digit, a column per (model, tool), AUROC in percent as Ruff et al. give
    it, and the mean over the digits each column has."""
    columns = [(m, t) for m in models for t in tools]
    name = lambda m, t: m if len(tools) == 1 else f"{m} {t}"  # noqa: E731
    lines = ["digit  " + "  ".join(f"{name(m, t) + ' AUROC':>16}" for m, t in columns)]
    for d in digits:
        cells = [results[t].get((m, d)) for m, t in columns]
        shown = ["-" if c is None else f"{100 * c['auroc']:.1f}" for c in cells]
        lines.append(f"{d:>5}  " + "  ".join(f"{v:>16}" for v in shown))
    means = []
    for m, t in columns:
        values = [results[t][(m, d)]["auroc"] for d in digits if (m, d) in results[t]]
        means.append(f"{100 * sum(values) / len(values):.1f}" if values else "-")
    lines.append(" mean  " + "  ".join(f"{v:>16}" for v in means))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description="One-class MNIST (Ruff et al. 2018, Table 1) with the PyTorch twin, "
                                            "and the Rust tool when asked.")
    p.add_argument("out", metavar="OUT_DIR")
    p.add_argument("epochs", metavar="EPOCHS", type=int, nargs="?", default=10)
    p.add_argument("--binary", default=os.environ.get("WGSL_AUTOENCODER"), metavar="PATH",
                   help="run the protocol with this wgsl-autoencoder binary too [$WGSL_AUTOENCODER]")
    p.add_argument("--rust-args", default="", metavar="FLAGS", help="flags added to the Rust train and score commands")
    p.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9", metavar="D,D", help="the digits [all ten]")
    p.add_argument("--models", default="conv,dense", metavar="M,M", help="the models [conv,dense]")
    p.add_argument("--batch", type=int, default=128, help="the batch of both tools [128]")
    p.add_argument("--skip-torch", action="store_true", help="run the Rust tool only (with --binary)")
    a = p.parse_args()
    digits = [int(d) for d in a.digits.split(",")]
    models = a.models.split(",")
    if any(m not in SIZES for m in models):
        raise SystemExit(f"Error: invalid value for --models: {a.models}: the models are conv and dense")
    tools = ([] if a.skip_torch else ["torch"]) + (["rust"] if a.binary else [])
    if not tools:
        raise SystemExit("Error: --skip-torch leaves nothing to run without --binary")
    os.makedirs(a.out, exist_ok=True)
    rust_args = shlex.split(a.rust_args)
    started = time.perf_counter()
    results = {}
    for tool in tools:
        path = os.path.join(a.out, f"{tool}.jsonl")
        results[tool] = done(path, a.epochs)
        for model in models:
            for digit in digits:
                if (model, digit) in results[tool]:
                    continue
                line = one(tool, a.binary, rust_args, model, digit, a.epochs, a.batch, a.out)
                results[tool][(model, digit)] = line
                with open(path, "a") as f:
                    f.write(json.dumps(line) + "\n")
                print(f"{tool} {model} digit {digit}: AUROC {line['auroc']:.4f}  ({line['train_seconds']:.0f} s "
                      f"training, {line['score_seconds']:.0f} s scoring)", flush=True)
    print(f"\none-class MNIST, {a.epochs} epochs, seed 0, batch {a.batch}, Adam lr 1e-3, MSE; AUROC (%) of the other "
          "nine digits against the trained one, on the 10,000 test images")
    print(table(results, models, tools, digits))
    print(f"wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

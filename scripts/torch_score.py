"""Anomaly scores of a trained model, in PyTorch: the twin of `wgsl-autoencoder score`.

    python3 scripts/torch_score.py RUN_DIR [--data PATH] [--normal 0,1 | --anomalous 7] [--json]

RUN_DIR holds the `model.safetensors` that `torch_train.py --out RUN_DIR` wrote (its
metadata: the architecture, the data flags, the scaling; see torch_train.py), or one the
Rust tool's `train --out` wrote (its data flags then come from checkpoint.safetensors'
run record). The model is rebuilt from it, and the data read as training read it
(`--data PATH` reads other data the same way): the same flags, so the same split and the
training split cut to the classes it trained on, and rows scaled by the saved scaling
rather than one fitted again. As `score` does, the whole training split sets the
threshold: --limit is no data flag.

Every test sample is scored by its reconstruction's mean squared error: the mean over
its values of (y - x)^2, as `F.mse_loss(y, x, reduction="none").mean(dim=1)` in float32.
(A VAE's reconstruction is decoded from its mean, mu, so that scores are deterministic.)
Higher is more anomalous. The threshold is the 99th percentile (numpy.percentile,
linear, in float64) of the training split's scores; a sample is flagged where its score
is above it.

Which test samples are anomalies: those of classes other than the run trained on
(`--classes` / `--exclude-classes` at training), or `--normal A,B` (every other class
anomalous) or `--anomalous A,B` (every other class normal). With labels it gives the
AUROC of "anomalous" (the Mann-Whitney statistic, ties averaged), average precision
(scikit-learn's: the sum over distinct thresholds, from the highest score down, of
(R_n - R_{n-1}) * P_n), and at the threshold the precision, recall, F1, false-positive
rate and the four confusion counts. It prints lines as `score` does, or with `--json`
one object of `score --json`'s form (model, checkpoint, split, score, samples, seconds,
threshold, threshold_rule, flagged, detection {normal_classes, normal, anomalous, auroc,
average_precision, precision, recall, f1, false_positive_rate, confusion {...}}, files).
It writes RUN_DIR/scores.csv (index,label,score,flagged, as `score` writes it) unless
that file exists.

The arithmetic follows src/anomaly.rs, so that both tools give the same numbers from the
same scores.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_data import debug_str, flag_error, load, prepare_of_record, rust_float, scaling_of_record
from torch_models import arch_spec, as_input, build, code_index, parse_arch_spec, sampling, shape_spec

PERCENTILE = 99.0
BATCH = 1024


def checkpoint_error(path, message):
    """A saved model's error, as `Error::Checkpoint` words it."""
    raise SystemExit(f"Error: checkpoint {path}: {message}")


def read_run(run):
    """What rebuilding the run's model and reading its data need: (state_dict, arch
    (model, sizes, activation, shape, output), data path, Prepare, scaling), from
    RUN_DIR/model.safetensors (and, for a Rust run, checkpoint.safetensors' record)."""
    from safetensors import safe_open  # imported here: only scoring needs it

    path = os.path.join(run, "model.safetensors")
    if not os.path.isfile(path):
        checkpoint_error(path, "no such file: RUN_DIR is a folder that torch_train.py --out (or train --out) wrote")
    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own kinds for a corrupt file
        checkpoint_error(path, f"not a safetensors file ({e})")
    arch = parse_arch_spec(meta.get("arch", ""))
    if meta.get("format") not in ("torch_train.py", "wgsl-autoencoder") or arch is None:
        checkpoint_error(path, "no torch_train.py or wgsl-autoencoder architecture in its metadata")
    record = json.loads(meta["data"]) if meta["format"] == "torch_train.py" else rust_record(run)
    scaling = scaling_of_record(json.loads(meta["scaling"])) if "scaling" in meta else None
    default_data = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist"))
    return state, arch, record.get("path") or default_data, prepare_of_record(record.get("prepare") or {}), scaling


def rust_record(run):
    """The data record of a run the Rust tool saved, from the `flags` (its run record,
    JSON) of RUN_DIR/checkpoint.safetensors: {"path": ..., "prepare": ...}; the path is
    absent for the bundled MNIST."""
    from safetensors import safe_open

    path = os.path.join(run, "checkpoint.safetensors")
    try:
        with safe_open(path, "pt") as f:
            flags = json.loads((f.metadata() or {}).get("flags", "{}"))
    except Exception as e:
        checkpoint_error(path, f"its run record cannot be read ({e})")
    return flags.get("data") or {}


def rebuild(state, arch, dev):
    """The model of `arch` with the saved weights, on `dev`, in evaluation mode."""
    name, sizes, activation, shape, output = arch
    model = build(name, sizes, activation, None, shape, output)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"Error: the saved weights do not fit {name} {sizes}: missing {missing}, unexpected {unexpected}")
    return model.to(dev).eval()


@torch.no_grad()
def scores_of(model, arch, values, dev):
    """Each sample's reconstruction MSE (float32), `values` (N, D) in batches; a VAE's
    reconstruction decoded from its mean."""
    name, sizes, _, shape, _ = arch
    vae = sampling(model)
    cut = code_index(model, name, sizes) if vae is not None else None
    out = []
    for i in range(0, len(values), BATCH):
        x = as_input(name, values[i:i + BATCH].to(dev), shape)
        if vae is None:
            y = model(x)
        else:
            h = model[:cut](x)
            y = model[cut + 1:](h[:, :vae.latent])
        out.append(F.mse_loss(y, x, reduction="none").flatten(1).mean(dim=1).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


# ---------------------------------------------------------------------------------------
# The arithmetic of src/anomaly.rs


def percentile(values, p):
    """numpy.percentile's linear interpolation, on the scores as float64."""
    return float(np.percentile(np.asarray(values, np.float64), p))


def average_ranks(scores):
    """Ranks from 1, ties given the mean of the ranks they span."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
    ends = np.r_[starts[1:], len(scores)]
    ranks = np.empty(len(scores), np.float64)
    ranks[order] = np.repeat((starts + ends - 1) / 2.0 + 1.0, ends - starts)
    return ranks


def auroc(scores, anomalous):
    """The chance that an anomaly scores above a normal sample, ties counting a half: the
    Mann-Whitney U over the product of the counts; None without both kinds."""
    p = int(anomalous.sum())
    n = len(anomalous) - p
    if p == 0 or n == 0:
        return None
    rank_sum = 0.0
    for r in average_ranks(scores)[anomalous]:  # summed in sample order, as anomaly.rs
        rank_sum += float(r)
    return (rank_sum - p * (p + 1.0) / 2.0) / (p * float(n))


def average_precision(scores, anomalous):
    """scikit-learn's average precision: the sum over the distinct scores, from the
    highest down, of (R_n - R_{n-1}) * P_n, flagging every sample scored at least that;
    None without anomalies."""
    positives = int(anomalous.sum())
    if positives == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    tps = np.cumsum(anomalous[order])
    last_of_tie = np.r_[ordered[1:] != ordered[:-1], True]
    ap, recall_before = 0.0, 0.0
    for i in np.flatnonzero(last_of_tie):
        recall = int(tps[i]) / positives
        precision = int(tps[i]) / (i + 1)
        ap += (recall - recall_before) * precision
        recall_before = recall
    return ap


def confusion(flagged, anomalous):
    """The four counts at a threshold, anomalies the positives, and the rates (0 where a
    rate's denominator is, as scikit-learn's zero_division=0)."""
    tp = int((flagged & anomalous).sum())
    fp = int((flagged & ~anomalous).sum())
    tn = int((~flagged & ~anomalous).sum())
    fn = int((~flagged & anomalous).sum())
    ratio = lambda a, b: a / b if b else 0.0  # noqa: E731
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "false_positive_rate": ratio(fp, fp + tn),
            "true_positives": tp, "false_positives": fp, "true_negatives": tn, "false_negatives": fn}


# ---------------------------------------------------------------------------------------


def normal_classes(a, data):
    """The class indices counted normal: `--normal`, every class but `--anomalous`, or the
    classes the run trained on; None where nothing says (a run trained on every class, and
    no flag). Refused as `score` refuses them: names the data has no class of, data
    without labels, and a choice that leaves no class normal or none anomalous."""
    if a.normal is not None:
        flag, names, normal = "--normal", a.normal, True
    elif a.anomalous is not None:
        flag, names, normal = "--anomalous", a.anomalous, False
    elif data.trained_classes is not None:
        flag, names, normal = "--normal", data.trained_classes, True
    else:
        return None
    if data.test.labels is None:
        flag_error(flag, f"{data.source} has no labels to tell normal samples from anomalies by")
    named = []
    for name in names:
        if name not in data.classes:
            flag_error(flag, f"{debug_str(name)} is not a class of {data.source}; its classes are "
                             f"{', '.join(data.classes)}")
        named.append(data.classes.index(name))
    chosen = [c for c in range(len(data.classes)) if (c in named) == normal]
    if not chosen or len(chosen) == len(data.classes):
        flag_error(flag, f"{','.join(names)} leaves {'no class normal' if not chosen else 'no class anomalous'}: a "
                         "detection needs both normal samples and anomalies")
    return chosen


def csv_cell(text):
    """A CSV cell for `text`: quoted where it holds a comma, a quote or a line break."""
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


def scores_csv(labels, classes, scores, flagged):
    """`scores.csv` (as `score` writes it): `index,label,score,flagged`, the label its
    class's name (empty without labels), the score in the shortest digits that read back
    to its f32, flagged 1 or 0."""
    lines = ["index,label,score,flagged\n"]
    for i, (s, flag) in enumerate(zip(scores, flagged)):
        label = "" if labels is None else csv_cell(classes[labels[i]])
        lines.append(f"{i},{label},{rust_float(np.float32(s))},{int(flag)}\n")
    return "".join(lines)


def render(r, device):
    """The report for people, line for line as `score` words it."""
    out = [f"scored {r['samples']} {r['split']} samples by their {r['score']} in {r['seconds']:.2f} s (PyTorch on "
           f"{device}, {BATCH} a batch)"]
    rule = r["threshold_rule"]["training_percentile"]
    out.append(f"threshold {r['threshold']:.6f}: the {rust_float(rule['percentile'])}th percentile of the "
               f"{rule['samples']} training samples' scores (the default)")
    out.append(f"flagged {r['flagged']} of {r['samples']} samples")
    d = r["detection"]
    if d is not None:
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        out.append(f"normal: class {', '.join(d['normal_classes'])} ({d['normal']} samples); anomalous: the rest "
                   f"({d['anomalous']})")
        out.append(f"AUROC {fmt(d['auroc'])}  average precision {fmt(d['average_precision'])}")
        out.append(f"at the threshold: precision {d['precision']:.4f}  recall {d['recall']:.4f}  F1 {d['f1']:.4f}  "
                   f"false-positive rate {d['false_positive_rate']:.4f}")
        c = d["confusion"]
        out.append(f"  {c['true_positives']} anomalies flagged, {c['false_positives']} normal flagged, "
                   f"{c['true_negatives']} normal passed, {c['false_negatives']} anomalies missed")
    else:
        out.append("no detection measured: say which classes are normal (train with --classes, or give --normal or "
                   "--anomalous)")
    if r["files"]:
        out.append(f"wrote {os.path.dirname(r['files'][0])}: {', '.join(os.path.basename(f) for f in r['files'])}")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description="Scores a torch_train.py run's test samples by their reconstruction "
                                            "error, with AUROC, average precision and the counts at a threshold.")
    p.add_argument("run", metavar="RUN_DIR", help="the folder torch_train.py --out wrote")
    p.add_argument("--data", default=None, metavar="PATH", help="other data, read with the run's flags [the run's]")
    split_names = lambda text: text.split(",")  # noqa: E731
    which = p.add_mutually_exclusive_group()
    which.add_argument("--normal", type=split_names, action="extend", default=None, metavar="NAMES",
                       help="the normal classes; every other is anomalous [those the run trained on]")
    which.add_argument("--anomalous", type=split_names, action="extend", default=None, metavar="NAMES",
                       help="the anomalous classes; every other is normal")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    path = os.path.join(a.run, "model.safetensors")
    state, arch, data_path, prepare, scaling = read_run(a.run)
    # As `score` reads it: the run's data flags, its saved scaling, and the whole training
    # split (--limit is no data flag: the threshold takes every training sample).
    data = load(a.data or data_path, prepare, scaling)
    if tuple(data.shape) != tuple(arch[3]):
        raise SystemExit(f"Error: checkpoint {path}: the model takes samples of {shape_spec(arch[3])}, and "
                         f"{data.source} holds {shape_spec(data.shape)}")
    if not a.json:
        print(data.describe(), flush=True)
        for line in data.notes:
            print(f"note: {line}", flush=True)
    normal = normal_classes(a, data)
    model = rebuild(state, arch, dev)
    started = time.perf_counter()
    scores = scores_of(model, arch, data.test.floats(), dev)
    seconds = time.perf_counter() - started
    train_scores = scores_of(model, arch, data.train.floats(), dev)
    threshold = percentile(train_scores, PERCENTILE)
    flagged = scores.astype(np.float64) > threshold
    labels = data.test.labels
    detection = None
    if normal is not None:
        anomalous = ~np.isin(labels, normal)
        c = confusion(flagged, anomalous)
        detection = {
            "normal_classes": [data.classes[k] for k in normal],
            "normal": int((~anomalous).sum()), "anomalous": int(anomalous.sum()),
            "auroc": auroc(scores, anomalous), "average_precision": average_precision(scores, anomalous),
            **{k: c.pop(k) for k in ("precision", "recall", "f1", "false_positive_rate")},
            "confusion": c,
        }
    files = []
    csv_path = os.path.join(a.run, "scores.csv")
    if os.path.exists(csv_path):
        print(f"note: {csv_path} exists; left as it is", file=sys.stderr)
    else:
        with open(csv_path, "x") as f:
            f.write(scores_csv(labels, data.classes, scores, flagged))
        files.append(csv_path)
    report = {"model": arch_spec(*arch), "checkpoint": path, "split": "test", "score": "mse",
              "samples": int(len(scores)), "seconds": seconds, "threshold": threshold,
              "threshold_rule": {"training_percentile": {"percentile": PERCENTILE, "samples": int(len(train_scores))}},
              "flagged": int(flagged.sum()), "detection": detection, "files": files}
    print(json.dumps(report) if a.json else render(report, dev))


if __name__ == "__main__":
    main()

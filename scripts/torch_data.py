"""A user's data as wgsl-autoencoder reads it (`--data PATH`), for the PyTorch twin.

    from torch_data import Prepare, load
    data = load("pets/", Prepare(image_size=(32, 32), colour="grey"))
    data.train.floats(), data.test.floats()   # float32 tensors (N, C*H*W) or (N, D)

The rules are docs/data-rules.md's, which the Rust loaders (src/data/*) follow too, so
that both sides train on the same samples, in the same order, with the same split and
the same scaling:

- PATH is recognised by its content: an NPY file (its magic), else a CSV file; a folder
  of IDX files (gzipped or not), else a folder of PNG/JPEG images (subfolders are
  classes, sorted by name; `train/` and `test/` give the split). Hidden files are
  skipped; other files are left out with a note.
- Where the source has no split of its own, each class (the unlabelled: all samples)
  gives round(n_c * F) samples to the test split (half away from zero), the first of
  `torch.randperm(n_c, generator=g)`, g = `torch.Generator().manual_seed(S)` drawn in
  class order; both splits keep the source's order.
- Rows (CSV, 2-D NPY) are scaled per feature, fitted on the training split: min-max to
  [0, 1] (the test rows clipped), or `standardize` (mean and population deviation
  summed in f64 in row order, rounded to f32), x' = (x - offset) / scale in f32.
- Images are bytes, planar C x H x W, and become x / 255 in float32; NPY float images in
  [0, 1] are kept as they are.

Exact: IDX, NPY, CSV (cells parsed as Rust's f64 parser accepts them, then rounded to
f32), the split, the scaling, and 8-bit PNGs (grey, grey+alpha, RGB, RGBA, palette,
1/2/4-bit grey), including `--grey` (PIL's `convert("L")` rule, computed here in integer
arithmetic: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16) and `--rgb`; 16-bit grey
PNGs too ((v + 128) // 257, as the `image` crate rounds). What may differ, as the rules
allow: JPEG decoding (PIL's libjpeg against the `image` crate's decoder; CMYK JPEGs
especially), 16-bit colour PNGs (PIL keeps the high byte where the `image` crate rounds),
and resizing by `--image-size` (PIL's bilinear against the `image` crate's Triangle
filter); images already at the asked size are never resized, so they stay exact.

Errors are `SystemExit("Error: ...")`, naming the file and, where one applies, the row
and column or the index, as the Rust tool's do.
"""
import argparse
import ast
import csv
import errno
import gzip
import io
import json
import math
import os
import re
import stat
import struct
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

DEFAULT_TEST_FRACTION = 0.1
# The largest sample the loaders accept, in values: 2^28, 1 GiB as f32.
MAX_SAMPLE_VALUES = 1 << 28
# The most bytes one image may take decoded before its conversion: 1 GiB.
MAX_DECODED_BYTES = 1 << 30
# The largest IDX read, after gunzip: 4 GiB.
MAX_IDX_BYTES = 1 << 32
# A finite f64 at or beyond this magnitude rounds to infinity as an f32.
F32_OVERFLOW = float(2 ** 128 - 2 ** 103)

NPY_MAGIC = b"\x93NUMPY"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "16-bit integer",
             0x0C: "32-bit integer", 0x0D: "32-bit float", 0x0E: "64-bit float"}
# File name endings that say "image": such a file is never left out silently.
IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "jpe", "jfif", "gif", "bmp", "tif", "tiff", "webp", "avif", "heic",
                    "heif", "ico", "qoi", "pbm", "pgm", "ppm", "pnm", "tga", "exr", "hdr", "dds"}
# Image formats other than PNG and JPEG recognised by a long signature, whatever their name
# (`image::guess_format`'s): refused when read, never left out.
OTHER_SIGNATURES = [(b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"),
                    (b"qoif", "QOI"), (b"\x76\x2f\x31\x01", "EXR"), (b"#?RADIANCE", "HDR"),
                    (b"farbfeld", "FF"), (b"DDS ", "DDS")]
# Short signatures plain text may start with: an image only when the name says so.
NAMED_SIGNATURES = [(b"BM", "BMP"), (b"\x00\x00\x01\x00", "ICO")] + [(b"P%d" % k, "PBM") for k in range(1, 8)]


def fail(path, message):
    """A data error, as `Error::Data` words it."""
    raise SystemExit(f"Error: data file {path}: {message}")


def flag_error(flag, message):
    """A flag's error, as `Error::Flag` words it."""
    raise SystemExit(f"Error: invalid value for {flag}: {message}")


@dataclass
class Prepare:
    """What to do to a source's samples on the way in: the data flags (`prepare.rs`).
    `image_size` (H, W); `colour` None, "grey" or "rgb"; `test_fraction` None for the
    default 0.1; `classes` / `exclude_classes` None, or the class names to train on
    (or not to): one-class training, which cuts the training split only."""
    image_size: tuple = None
    colour: str = None
    standardize: bool = False
    test_fraction: float = None
    split_seed: int = 0
    label_column: str = None
    classes: list = None
    exclude_classes: list = None

    def fraction(self):
        return DEFAULT_TEST_FRACTION if self.test_fraction is None else self.test_fraction


@dataclass
class Part:
    """One split's samples: `values` (N, C*H*W) uint8 for byte images, float32 for rows
    and float images; `labels` int64 class indices, or None."""
    values: np.ndarray
    labels: np.ndarray = None

    def __len__(self):
        return len(self.values)

    def subset(self, indices):
        return Part(self.values[indices], None if self.labels is None else self.labels[indices])

    def floats(self):
        """The samples as the model sees them, a float32 tensor (N, D): bytes / 255 in
        float32 (as wgsl-autoencoder's `b as f32 / 255.0`), floats as they are."""
        t = torch.from_numpy(np.array(self.values))  # a copy: frombuffer arrays are read-only
        return t.float() / 255 if self.values.dtype == np.uint8 else t

    def label_tensor(self):
        return None if self.labels is None else torch.from_numpy(self.labels)


@dataclass
class Loaded:
    """A source's samples as read, before the split and the scaling (`prepare::Loaded`):
    `kind` one of "image-files", "byte-images", "float-images", "csv-rows", "npy-rows";
    `whole` all samples, or `train` and `test` where the source gives its own split."""
    kind: str
    shape: tuple
    classes: list
    source: str
    whole: Part = None
    train: Part = None
    test: Part = None
    notes: list = field(default_factory=list)


@dataclass
class Data:
    """A source's data, split and prepared: `shape` (C, H, W) for images or (D,) for
    rows; `split` None (the source's own) or (fraction, seed); `scaling` None or (kind,
    offset, scale), kind "minmax" or "standardize", offset and scale float32 arrays;
    `trained_classes` None, or the class names the training split was cut to."""
    train: Part
    test: Part
    shape: tuple
    classes: list
    source: str
    split: tuple = None
    scaling: tuple = None
    notes: list = field(default_factory=list)
    trained_classes: list = None

    def describe(self):
        """The one-line summary wgsl-autoencoder prints first (`Data::describe`)."""
        split = ""
        if self.split is not None:
            of = "of each class" if self.classes else "of the samples"
            split = f" (test split: {rust_float(self.split[0])} {of}, seed {self.split[1]})"
        if self.classes:
            more = f", … {len(self.classes) - 12} more" if len(self.classes) > 12 else ""
            classes = f"{len(self.classes)} classes ({', '.join(self.classes[:12])}{more})"
        else:
            classes = "no labels"
        scaling = ""
        if self.scaling is not None:
            scaling = ", " + {"minmax": "min-max to [0, 1]",
                              "standardize": "standardised to mean 0, deviation 1"}[self.scaling[0]]
        trained = ""
        if self.trained_classes is not None:
            trained = f" (class {', '.join(self.trained_classes)} only)"
        return (f"data: {self.source}: {len(self.train)} training{trained} and {len(self.test)} test samples{split}, "
                f"{describe_shape(self.shape)}{scaling}, {classes}")

    def limit(self, n):
        """Keeps the first `n` training samples (`Data::apply_limit`): after the split and
        the scaling's fit."""
        if n is None:
            return
        if n < 1:
            flag_error("--limit", f"{n}: must be at least 1")
        if n > len(self.train):
            flag_error("--limit", f"{n}: must be between 1 and {len(self.train)}, the training samples of {self.source}")
        self.train = self.train.subset(np.arange(n))

    def linear_output(self):
        """Whether the model's output is linear (standardised rows) rather than a Sigmoid."""
        return self.scaling is not None and self.scaling[0] == "standardize"


def rust_float(x):
    """A float as Rust's `{}` writes it: the shortest digits (of an f32 for an np.float32,
    of an f64 otherwise), never an exponent; NaN and inf as Rust names them."""
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return np.format_float_positional(x, trim="-")


def describe_shape(shape):
    """`3×32×32` for images, `rows of 140 numbers` for rows."""
    return "×".join(map(str, shape)) if len(shape) == 3 else f"rows of {shape[0]} numbers"


def elements(shape):
    n = 1
    for d in shape:
        n *= d
    return n


# ---------------------------------------------------------------------------------------
# What PATH is


def load(path, prepare=None, scaling=None):
    """The data at `path`, recognised by what it holds, prepared as `prepare` says; rows
    are scaled by `scaling` ((kind, offset, scale), a saved model's) where given, else by
    one fitted on the training split."""
    prepare = prepare or Prepare()
    path = str(path)
    try:
        is_folder = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as e:
        what = "no such file or folder" if e.errno == errno.ENOENT else f"cannot be read ({os_error(e)})"
        fail(path, f"{what}; --data (or --data-dir) takes a folder of images or IDX files, a CSV file or an NPY file")
    if is_folder:
        return finish(read_folder(path, prepare), prepare, path, scaling)
    raw = read_regular(path)
    if raw.startswith(NPY_MAGIC):
        loaded = read_npy(path, raw, prepare)
    else:
        refuse_lone_sample_file(path, raw)
        loaded = read_csv(path, raw, prepare)
    return finish(loaded, prepare, path, scaling)


def os_error(e):
    """An OSError as Rust's io::Error displays it: `No such file or directory (os error 2)`."""
    return f"{e.strerror} (os error {e.errno})" if e.errno is not None else str(e)


def kind_name(mode):
    """What a file that is not a regular one is (`files::kind_name`)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "something else"


def read_regular(path):
    """The bytes of a regular file, or an error naming it (`files::read_regular`): a FIFO
    or a device is refused before it is read, as it could block or never end."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        fail(path, f"cannot be read ({os_error(e)})")
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            fail(path, f"cannot be read (not a regular file but {kind_name(mode)})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError as e:
        fail(path, f"cannot be read ({os_error(e)})")
    finally:
        os.close(fd)


def refuse_lone_sample_file(path, raw):
    """A single image or IDX file is no dataset of its own, but its folder may be."""
    what = "an image file" if sniff(os.path.basename(path), raw[:16]) else None
    if what is None and raw[:2] == b"\x1f\x8b":
        try:
            what = "an IDX file" if idx_sniff(gzip.GzipFile(fileobj=io.BytesIO(raw)).read(16)) else None
        except (OSError, EOFError):
            what = None
    elif what is None:
        what = "an IDX file" if idx_sniff(raw[:16]) else None
    if what:
        fail(path, f"is {what}: --data takes the folder that holds such files, a CSV file or an NPY file")


def walk(root):
    """Every regular file under `root` (links to files followed, links to folders not:
    they could loop), by relative path ('/'-separated), sorted; hidden files and folders
    skipped; and a note for what is neither a file nor a folder."""
    found, skipped, pending = [], [], [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        for entry in os.scandir(folder):
            if entry.name.startswith("."):
                continue
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, relative + "/"))
            elif entry.is_file(follow_symlinks=True):
                found.append((relative, entry.path))
            else:
                skipped.append(relative)
    found.sort()
    skipped.sort()
    notes = []
    if skipped:
        notes.append(f"left out {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} that are neither files nor "
                     f"folders (links to folders are not followed): {', '.join(skipped[:3])}")
    return found, notes


def read_folder(root, prepare):
    """A folder: of IDX files (its own files), else of images (anywhere beneath it)."""
    files, notes = walk(root)
    # The flags no folder takes (IDX or images alike), refused before anything is read;
    # those about the split wait for the folder's plan.
    check_flags("image-files", False, prepare, f"the folder {root}")
    idx = [(relative, head) for relative, full in files if "/" not in relative
           for head in [idx_head(full)] if head is not None]
    mnist = mnist_layout(root, idx, prepare)
    if mnist is not None:
        return mnist
    if idx:
        loaded = read_idx_folder(root, [r for r, _ in files], idx, prepare)
    else:
        entries = []
        for relative, full in files:
            with open(full, "rb") as f:
                entries.append((relative, sniff(relative, f.read(16)) is not None))
        if not any(is_image for _, is_image in entries):
            tables = [r for r, _ in files if r.endswith(".csv") or r.endswith(".npy")]
            if tables:
                fail(root, f"holds no images or IDX files; a CSV or NPY file is given by its own path (--data "
                           f"{os.path.join(root, tables[0])})")
            fail(root, "holds no images, IDX files, CSV or NPY files: --data takes a folder of PNG/JPEG images (in "
                       "class folders, or train/ and test/) or of IDX files, a CSV file or an NPY file")
        loaded = read_image_folder(root, entries, prepare)
    loaded.notes = notes + loaded.notes
    return loaded


def check_flags(kind, own_split, prepare, what):
    """Refuses a flag that does not apply to `kind` of source (`prepare::check_flags`)."""
    rows = kind in ("csv-rows", "npy-rows")
    colour_flag = {"grey": "--grey", "rgb": "--rgb"}.get(prepare.colour)
    image_flags = [f for f in ("--image-size" if prepare.image_size else None, colour_flag) if f]
    if rows:
        if image_flags:
            flag_error(image_flags[0], f"applies to images, and {what} holds rows of numbers")
    elif prepare.standardize:
        flag_error("--standardize", f"applies to rows of numbers (a CSV or a 2-D NPY), and {what} holds images, "
                                    "which are used as x/255 (or as their floats in [0, 1])")
    if kind == "float-images" and image_flags:
        flag_error(image_flags[0], f"applies to byte images, and {what} holds float images, which are used as they are")
    if prepare.label_column is not None and kind != "csv-rows":
        flag_error("--label-column", f"applies to CSV files only, and {what} is not one")
    if own_split:
        flag = "--test-fraction" if prepare.test_fraction is not None else "--split-seed" if prepare.split_seed else None
        if flag:
            flag_error(flag, f"{what} has its own test split, so there is none to make; leave the flag out")


def finish(loaded, prepare, path, scaling=None):
    """A source's samples made into a `Data` (`prepare::finish`): flags checked, the split
    made where the source has none, the training split cut to `--classes` (before the
    scaling is fitted, so that it is fitted on what trains), rows scaled."""
    check_flags(loaded.kind, loaded.whole is None, prepare, loaded.source)
    if loaded.whole is None:
        for name, part in (("training", loaded.train), ("test", loaded.test)):
            if len(part) == 0:
                fail(path, f"its {name} split holds no samples")
        train, test, split = loaded.train, loaded.test, None
    else:
        fraction, seed = prepare.fraction(), prepare.split_seed
        train_at, test_at = split_indices(loaded.whole.labels, len(loaded.whole), fraction, seed)
        train, test, split = loaded.whole.subset(train_at), loaded.whole.subset(test_at), (fraction, seed)
    train, trained = keep_training_classes(train, loaded.classes, prepare, loaded.source)
    data = Data(train, test, loaded.shape, loaded.classes, loaded.source, split, None, loaded.notes, trained)
    if loaded.kind in ("csv-rows", "npy-rows"):
        scale_rows(data, prepare, scaling, path)
    return data


# ---------------------------------------------------------------------------------------
# One-class training


def keep_training_classes(train, classes, prepare, source):
    """The training split cut to the classes `--classes` names (or to all but those
    `--exclude-classes` names), and the classes kept by name, or None where every class
    trains (`prepare::keep_training_classes`). The test split stays whole, so that
    anomalies are scored against normal samples. Refuses a filter on unlabelled data, a
    class the data does not have, and a filter that leaves nothing to train on."""
    if prepare.classes is None and prepare.exclude_classes is None:
        return train, None
    if prepare.classes is not None and prepare.exclude_classes is not None:
        flag_error("--classes", "give --classes or --exclude-classes, not both")
    flag, names, keep = (("--classes", prepare.classes, True) if prepare.classes is not None
                         else ("--exclude-classes", prepare.exclude_classes, False))
    if train.labels is None:
        flag_error(flag, f"{source} has no labels to choose samples by; it needs class folders, a label file or "
                         "--label-column")
    chosen = []
    for name in names:
        if name not in classes:
            more = ", …" if len(classes) > 20 else ""
            flag_error(flag, f"{debug_str(name)} is not a class of {source}; its classes are "
                             f"{', '.join(classes[:20])}{more}")
        chosen.append(classes.index(name))
    kept_classes = [c for c in range(len(classes)) if (c in chosen) == keep]
    kept = np.flatnonzero(np.isin(train.labels, kept_classes))
    if len(kept) == 0:
        flag_error(flag, f"{','.join(names)} leaves no training samples of {source}")
    return train.subset(kept), [classes[c] for c in kept_classes]


# ---------------------------------------------------------------------------------------
# The split


def round_half_away(x):
    """Rounds a non-negative x half away from zero, as Rust's f64::round (Python's round
    rounds half to even)."""
    whole = math.floor(x)
    return int(whole) + (1 if x - whole >= 0.5 else 0)


def split_indices(labels, count, fraction, seed):
    """The stratified seeded split (`prepare::split_indices`): the training and the test
    samples' indices in the source, each in source order."""
    if not 0 < fraction < 1:
        flag_error("--test-fraction", f"{rust_float(fraction)}: must lie between 0 and 1 (0.1 holds a tenth of each class out)")
    if count < 2:
        flag_error("--test-fraction", f"the data holds {count} sample{'' if count == 1 else 's'}: at least 2 are "
                                      "needed, one to train on and one to test")
    if labels is None:
        strata = [np.arange(count)]
    else:
        strata = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    g = torch.Generator().manual_seed(seed)
    is_test = np.zeros(count, bool)
    for members in strata:
        perm = torch.randperm(len(members), generator=g).numpy()
        take = round_half_away(len(members) * fraction)
        is_test[members[perm[:take]]] = True
    test, train = np.flatnonzero(is_test), np.flatnonzero(~is_test)
    if len(test) == 0 or len(train) == 0:
        part, advice = ("test", "a larger") if len(test) == 0 else ("training", "a smaller")
        per_class = "" if len(strata) == 1 else f", in {len(strata)} classes of at most {max(map(len, strata))} each"
        flag_error("--test-fraction", f"{rust_float(fraction)} of {count} samples{per_class} leaves the {part} split "
                                      f"empty ({len(train)} training, {len(test)} test): give {advice} --test-fraction")
    return train, test


# ---------------------------------------------------------------------------------------
# Scaling


def column_sums(x):
    """Per-column sums of (N, D) float64 rows, added in row order (np.sum would pair)."""
    return np.cumsum(x, axis=0)[-1] if len(x) else np.zeros(x.shape[1])


def fit_scaling(kind, rows):
    """The per-feature scaling of float32 rows (N, D) (`prepare::fit_scaling`): min-max
    (offset min, scale max - min in f32; 0 becomes 1) or standardisation (mean and
    population deviation in f64, row order, rounded to f32; 0 becomes 1)."""
    if kind == "minmax":
        low, high = rows.min(axis=0), rows.max(axis=0)
        scale = (high - low).astype(np.float32)
        return kind, low.astype(np.float32), np.where(scale == 0, np.float32(1), scale).astype(np.float32)
    x, n = rows.astype(np.float64), len(rows)
    mean = column_sums(x) / n
    deviation = np.sqrt(column_sums((x - mean) ** 2) / n).astype(np.float32)
    return kind, mean.astype(np.float32), np.where(deviation == 0, np.float32(1), deviation).astype(np.float32)


def apply_scaling(scaling, rows, clip):
    """x' = (x - offset) / scale in float32, clipped to [0, 1] where `clip`."""
    _, offset, scale = scaling
    out = (rows - offset) / scale
    return np.clip(out, np.float32(0), np.float32(1)) if clip else out


def scale_rows(data, prepare, saved, path):
    """Scales both splits' rows by `saved` or by a scaling fitted on the training rows;
    min-max clips the test rows to [0, 1]."""
    features = data.shape[0]
    if saved is not None:
        if len(saved[1]) != features or len(saved[2]) != features:
            fail(path, f"rows of {features} numbers, but the model's saved scaling is for {len(saved[1])}: "
                       "give the data the model was trained on")
        scaling = (saved[0], np.asarray(saved[1], np.float32), np.asarray(saved[2], np.float32))
    else:
        scaling = fit_scaling("standardize" if prepare.standardize else "minmax", data.train.values)
    with np.errstate(over="ignore", invalid="ignore"):
        for name, clip in (("train", False), ("test", scaling[0] == "minmax")):
            part = getattr(data, name)
            values = apply_scaling(scaling, part.values, clip)
            bad = np.flatnonzero(~np.isfinite(values.ravel()))
            if len(bad):
                fail(path, f"feature {bad[0] % max(features, 1)} overflows f32 once scaled: its values span more "
                           "than f32 can hold")
            setattr(data, name, Part(values.astype(np.float32), part.labels))
    data.scaling = scaling


# ---------------------------------------------------------------------------------------
# CSV

NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
                    r"|(?i:inf|infinity|nan))")
INDEX = re.compile(r"\+?[0-9]+")
# What the `csv` crate's Trim::All takes off a cell of a StringRecord (`str::trim`), and
# what `str::trim` takes off --label-column: Unicode's White_Space (Python's own strip()
# would also take \x1c-\x1f).
SPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
         "\u200a\u2028\u2029\u202f\u205f\u3000")


def number(cell):
    """The cell as Rust's `str::parse::<f64>` reads it, or None (Python's float() would also
    take underscores and non-ASCII digits)."""
    return float(cell) if NUMBER.fullmatch(cell) else None


def debug_str(s):
    """A string quoted as Rust's `{:?}` quotes it: `\\t`, `\\r`, `\\n`, `\\0`, `\\\\` and `\\"`
    escaped; other characters that are not printable (control, format, private-use,
    unassigned, separators but the space) or that extend a grapheme (combining marks),
    as `\\u{hex}`. (Rust's tables come from its own Unicode version, Python's from
    its: they differ only for characters assigned in between.)"""
    out = []
    for c in s:
        if c in DEBUG_ESCAPES:
            out.append(DEBUG_ESCAPES[c])
        elif " " <= c <= "~":
            out.append(c)
        elif unicodedata.category(c) in NOT_PRINTABLE or unicodedata.category(c) in ("Mn", "Me"):
            out.append(f"\\u{{{ord(c):x}}}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


DEBUG_ESCAPES = {"\t": "\\t", "\r": "\\r", "\n": "\\n", "\0": "\\0", "\\": "\\\\", '"': '\\"'}
NOT_PRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}


def total_order(x):
    """A key that sorts floats as Rust's f64::total_cmp (-0 before 0, NaN at the ends)."""
    bits = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits ^ (0x7FFFFFFFFFFFFFFF if bits < 0 else 0)


def read_csv(path, raw, prepare):
    """The rows of a CSV file (`table::read_csv`): a header if its first row has a cell
    (other than the label column's) that is no number; the label column, if
    --label-column names one; every other column a feature (f64, rounded to f32)."""
    source = f"CSV rows in {path}"
    check_flags("csv-rows", False, prepare, source)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(path, f"is neither an NPY file nor CSV text (not UTF-8 at byte {e.start}); --data takes a folder of "
                   "images or IDX files, a CSV or an NPY file")
    lines = list(io.StringIO(text, newline=""))  # split at \n, \r and \r\n, kept
    newlines = [0]
    for text_line in lines:
        newlines.append(newlines[-1] + text_line.count("\n"))
    reader = csv.reader(lines)
    # (row, line, cells). Blank lines are skipped. A row's line is `table::LineCounter`'s:
    # one more than the '\n's before the first character of its record that is no line
    # break, that is, the physical line its record starts on (blank lines before it and
    # the rest of a CRLF passed over).
    records, start = [], 0
    try:
        for cells in reader:
            if cells:
                records.append((len(records) + 1, 1 + newlines[start], [c.strip(SPACE) for c in cells]))
            start = reader.line_num
    except csv.Error as e:
        fail(path, f"row {len(records) + 1}: cannot be read as CSV ({e})")
    if not records:
        fail(path, "is empty: a CSV needs rows of numbers")
    first = records[0][2]
    columns = len(first)
    header, names, label = csv_columns(path, first, prepare.label_column)
    features = columns - (label is not None)
    if features == 0:
        fail(path, "has no column of features besides its label column")

    def describe(j):
        return f"column {j} ({debug_str(names[j])})" if header else f"column {j}"

    values, label_cells = [], []
    for row, at_line, cells in records[1:] if header else records:
        at = f"row {row} (line {at_line})" if at_line != row else f"row {row}"
        if len(cells) != columns:
            fail(path, f"{at} has {len(cells)} cells, but the first row has {columns}: every row needs the same number")
        for j, cell in enumerate(cells):
            if j == label:
                if not cell:
                    fail(path, f"{at}, {describe(j)}: the label is empty")
                label_cells.append(cell)
                continue
            v = number(cell)
            if v is None:
                hint = " (a column of labels? name it with --label-column)" if label is None else ""
                fail(path, f"{at}, {describe(j)}: " + ("the cell is empty" if not cell else
                                                       f"{debug_str(cell)} is not a number{hint}"))
            if math.isnan(v):
                fail(path, f"{at}, {describe(j)}: NaN is not a number to train on")
            if math.isinf(v):
                fail(path, f"{at}, {describe(j)}: {debug_str(cell)} is infinite")
            if abs(v) >= F32_OVERFLOW:
                fail(path, f"{at}, {describe(j)}: {debug_str(cell)} is beyond f32's range")
            values.append(v)
    count = len(values) // features
    if count == 0:
        fail(path, "has a header but no rows of numbers")
    rows = np.array(values, np.float64).astype(np.float32).reshape(count, features)
    classes, labels = [], None
    if label is not None:
        classes, labels = classes_of(label_cells)
        source = f"{source}, labels from {describe(label)}"
    return Loaded("csv-rows", (features,), classes, source, whole=Part(rows, labels))


def csv_columns(path, cells, label_column):
    """Whether the first row is a header, the columns' names, and the label's index."""
    by_name = cells.index(label_column) if label_column is not None and label_column in cells else None
    by_index = None
    if label_column is not None and INDEX.fullmatch(label_column.strip(SPACE)) \
            and int(label_column.strip(SPACE)) < len(cells):
        by_index = int(label_column.strip(SPACE))

    def header_without(label):
        return any(j != label and number(c) is None for j, c in enumerate(cells))

    # NAME as an index over a first row of data; else as a header's name; else as an
    # index under a header.
    if by_index is not None and not header_without(by_index):
        header, label = False, by_index
    elif by_name is not None and header_without(by_name):
        header, label = True, by_name
    elif by_index is not None:
        header, label = True, by_index
    else:
        header, label = header_without(None), None
    if label_column is not None and label is None:
        if header:
            more = ", …" if len(cells) > 8 else ""
            names = f"its header names {', '.join(debug_str(c) for c in cells[:8])}{more}"
        else:
            names = "it has no header"
        flag_error("--label-column", f"{debug_str(label_column)}: {path} has no such column ({names}), and it is no "
                                     f"column index below {len(cells)}")
    names = list(cells) if header else [str(j) for j in range(len(cells))]
    return header, names, label


def classes_of(cells):
    """A label column's classes, its distinct values sorted as numbers if every one is one
    (ties by their bytes), else by their bytes; and each row's class index."""
    classes = sorted(set(cells))
    numbers = [number(c) for c in classes]
    if all(v is not None for v in numbers):
        classes = [c for _, c in sorted(zip(map(total_order, numbers), classes))]
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[c] for c in cells], np.int64)


# ---------------------------------------------------------------------------------------
# NPY

NPY_DTYPES = {"|u1": np.uint8, "<u1": np.uint8, ">u1": np.uint8, "=u1": np.uint8, "u1": np.uint8,
              "<f4": np.dtype("<f4"), "<f8": np.dtype("<f8")}


def npy_header(path, raw):
    """An NPY file's dtype, shape and where its data starts, every field checked."""
    if len(raw) < 10:
        fail(path, "is too short for an NPY header")
    major, minor = raw[6], raw[7]
    if major == 1:
        length, at = struct.unpack("<H", raw[8:10])[0], 10
    elif major in (2, 3):
        if len(raw) < 12:
            fail(path, "is too short for an NPY header")
        length, at = struct.unpack("<I", raw[8:12])[0], 12
    else:
        fail(path, f"is NPY version {major}.{minor}: only 1.0, 2.0 and 3.0 are read")
    end = at + length
    if end > len(raw):
        fail(path, f"its header claims {length} bytes, more than the file holds")
    try:
        text = raw[at:end].decode("utf-8")
    except UnicodeDecodeError:
        fail(path, "its header is not text")
    try:
        header = ast.literal_eval(text.strip())
        assert isinstance(header, dict)
    except (ValueError, SyntaxError, AssertionError, MemoryError, RecursionError) as e:
        fail(path, f"its header {debug_str(text)} cannot be read: {e}")
    for key in ("descr", "fortran_order", "shape"):
        if key not in header:
            fail(path, f"its header has no {debug_str(key)}")
    descr = header["descr"]
    if not isinstance(descr, str):
        fail(path, "has a structured dtype: only plain arrays of numbers are read")
    if descr in (">f4", ">f8"):
        fail(path, f"holds big-endian numbers ({debug_str(descr)}): save it little-endian (arr.astype('<f4'))")
    if descr not in NPY_DTYPES:
        fail(path, f"holds numbers of dtype {debug_str(descr)}: only '|u1' (bytes), '<f4' and '<f8' are read "
                   "(arr.astype(np.float32))")
    if header["fortran_order"] is True:
        fail(path, "is in Fortran order (fortran_order: True): save it in C order (np.ascontiguousarray(arr))")
    if header["fortran_order"] is not False:
        fail(path, "its header's fortran_order is not True or False")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        fail(path, "its header's shape is not a tuple")
    dtype = np.dtype(NPY_DTYPES[descr])
    promised = dtype.itemsize * elements(shape)
    if promised != len(raw) - end:
        fail(path, f"its shape {tuple_text(shape)} of {dtype.itemsize}-byte numbers calls for {promised} bytes of data, "
                   f"but it holds {len(raw) - end}")
    return dtype, shape, end


def tuple_text(dims):
    """`(400, 30)`, `(4,)`: a shape as Python writes a tuple."""
    return f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(map(str, dims)) + ")"


def index_text(flat, shape):
    """`[3, 0, 7]`: a flat position as an index of `shape`."""
    return "[" + ", ".join(map(str, np.unravel_index(flat, [max(d, 1) for d in shape]))) + "]"


def read_npy(path, raw, prepare):
    """The samples of an NPY file (`table::read_npy`): 2-D (N, D) rows; 3-D (N, H, W) grey
    images; 4-D (N, H, W, C), else (N, C, H, W), images of C = 1 or 3. Unlabelled."""
    dtype, dims, at = npy_header(path, raw)
    shape_text = tuple_text(dims)
    last = True
    if len(dims) == 2:
        count, shape = dims[0], (dims[1],)
    elif len(dims) == 3:
        count, shape = dims[0], (1, dims[1], dims[2])
    elif len(dims) == 4 and dims[3] in (1, 3):
        count, shape = dims[0], (dims[3], dims[1], dims[2])
    elif len(dims) == 4 and dims[1] in (1, 3):
        count, shape, last = dims[0], (dims[1], dims[2], dims[3]), False
    else:
        fail(path, f"has shape {shape_text}: rows are (N, D); images (N, H, W), (N, H, W, C) or (N, C, H, W) with C 1 or 3")
    if count == 0 or elements(shape) == 0:
        fail(path, f"has shape {shape_text}: it holds no samples")
    if elements(shape) > MAX_SAMPLE_VALUES:
        fail(path, f"has shape {shape_text}: samples of more than 2^28 values (1 GiB as f32)")
    rows = len(shape) == 1
    kind = "npy-rows" if rows else "byte-images" if dtype == np.uint8 else "float-images"
    what = f"rows of {shape[0]} numbers" if rows else "images, channels last" if last else "images, channels first"
    source = f"NPY array {shape_text} in {path} ({what})"
    check_flags(kind, False, prepare, source)
    data = np.frombuffer(raw, dtype, offset=at).reshape(dims)
    if kind == "byte-images":
        values = planar_samples(data, last)
        values, shape = conform_bytes(path, values, shape, prepare)
        return Loaded(kind, shape, [], source, whole=Part(values))
    if dtype == np.float64:
        big = np.flatnonzero(np.isfinite(data.ravel()) & (np.abs(data.ravel()) >= F32_OVERFLOW))
        if len(big):
            fail(path, f"the value at index {index_text(big[0], dims)} ({rust_float(data.ravel()[big[0]])}) is beyond f32's range")
    values = data.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(values.ravel()))
    if len(bad):
        v = values.ravel()[bad[0]]
        fail(path, f"the value at index {index_text(bad[0], dims)} is {'NaN' if np.isnan(v) else 'infinite'}")
    if kind == "float-images":
        out = np.flatnonzero((values.ravel() < 0) | (values.ravel() > 1))
        if len(out):
            fail(path, f"the value at index {index_text(out[0], dims)} is {rust_float(values.ravel()[out[0]])}: float images must "
                       "lie in [0, 1] (or save them as bytes, '|u1')")
        return Loaded(kind, shape, [], source, whole=Part(planar_samples(values, last)))
    return Loaded(kind, shape, [], source, whole=Part(values.reshape(count, -1)))


def planar_samples(array, channels_last):
    """(N, H, W[, C]) or (N, C, H, W) samples as (N, C*H*W), planar."""
    if array.ndim == 4 and channels_last:
        array = array.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(array).reshape(len(array), -1)


# ---------------------------------------------------------------------------------------
# Images: the channels and size the flags ask for


def luma(rgb):
    """PIL's convert("L") of (..., 3) uint8 pixels, exactly: ITU-R 601-2 in 16-bit fixed
    point, rounded."""
    r, g, b = (rgb[..., k].astype(np.uint32) for k in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def channels_out(native, prepare):
    return {"grey": 1, "rgb": 3}.get(prepare.colour, native)


def conform(path, pixels, prepare):
    """Interleaved (H, W, C) pixels made into the sample `prepare` asks for: channels
    converted (--grey by `luma`, --rgb by repeating), then resized (PIL's bilinear) where
    --image-size differs from their size; returned planar (C, H, W)."""
    native = pixels.shape[2]
    out = channels_out(native, prepare)
    if (native, out) == (3, 1):
        pixels = luma(pixels)[..., None]
    elif (native, out) == (1, 3):
        pixels = np.repeat(pixels, 3, axis=2)
    size = prepare.image_size
    if size is not None and tuple(size) != pixels.shape[:2]:
        h, w = size
        image = Image.fromarray(pixels[..., 0] if out == 1 else pixels, "L" if out == 1 else "RGB")
        pixels = np.asarray(image.resize((w, h), Image.BILINEAR)).reshape(h, w, out)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def check_size(path, height, width, bytes_per_pixel, native, prepare):
    """Refuses, from a header's numbers alone, an image too large to decode or to keep."""
    if height * width * bytes_per_pixel > MAX_DECODED_BYTES:
        fail(path, f"is {height}×{width} pixels (H×W): more than 1 GiB decoded, too large to read, whatever "
                   "--image-size; make it smaller first")
    h, w = prepare.image_size or (height, width)
    c = channels_out(native, prepare)
    if c * h * w > MAX_SAMPLE_VALUES:
        fail(path, f"a sample of {c}×{h}×{w} values is more than 2^28 (1 GiB as f32): give a smaller --image-size")


def conform_bytes(path, values, shape, prepare):
    """Byte images (N, C*H*W), planar, given the channels and size `prepare` asks for, as
    image files are; samples already as asked are kept as they are."""
    c, h, w = shape
    size = tuple(prepare.image_size or (h, w))
    target = (channels_out(c, prepare), *size)
    if target == shape:
        return values, shape
    check_size(path, h, w, c, c, prepare)
    interleaved = values.reshape(-1, c, h, w).transpose(0, 2, 3, 1)
    out = np.stack([conform(path, sample, prepare) for sample in interleaved]) if len(values) else \
        np.zeros((0, *target), np.uint8)
    return out.reshape(len(values), -1), target


# ---------------------------------------------------------------------------------------
# Image files


def sniff(name, head):
    """What a file is, from its first 16 bytes and its name: "png", "jpeg", a string
    saying which other image it is ("unsupported: ..."), or None (not an image)."""
    named = "." in name and name.rsplit(".", 1)[1].lower() in IMAGE_EXTENSIONS
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    for magic, what in OTHER_SIGNATURES:
        if head.startswith(magic):
            return f"unsupported: a {what} image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "unsupported: a WEBP image"
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return "unsupported: a AVIF image"
    for magic, what in NAMED_SIGNATURES if named else []:
        if head.startswith(magic):
            return f"unsupported: a {what} image"
    if named:
        return ("unsupported: named as an image, but its first bytes are no PNG's or JPEG's signature (a corrupt "
                "file, or another format)")
    return None


def eight_bit(image):
    """A decoded image's pixels as 8-bit (H, W, 1) grey or (H, W, 3) RGB, alpha dropped
    without compositing, as the `image` crate gives them: 16-bit grey rounded by
    (v + 128) // 257; palettes expanded to RGB; 1, 2 and 4-bit grey scaled to 0-255."""
    mode = image.mode
    if mode == "L":
        return np.asarray(image)[..., None]
    if mode == "LA":
        return np.asarray(image)[..., :1]
    if mode == "1":
        return np.asarray(image.convert("L"))[..., None]
    if mode.startswith("I"):
        grey = np.asarray(image).astype(np.int64)
        return ((grey + 128) // 257).clip(0, 255).astype(np.uint8)[..., None]
    if mode == "RGB":
        return np.asarray(image)
    if mode in ("RGBA", "RGBX", "P", "PA"):
        return np.asarray(image.convert("RGBA"))[..., :3]
    return np.asarray(image.convert("RGB"))


def decode(path, prepare):
    """One image file as a planar (C, H, W) uint8 sample, as `prepare` asks."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(path, f"cannot be read ({e.strerror})")
    kind = sniff(os.path.basename(path), raw[:16])
    if kind is None:
        fail(path, "is not a PNG or JPEG image (its first bytes are neither's signature)")
    if kind.startswith("unsupported: "):
        fail(path, f"is {kind[len('unsupported: '):]}: only PNG and JPEG images are read; convert it, or move it out "
                   "of the folder")
    name = kind.upper()
    try:
        image = Image.open(io.BytesIO(raw))
        width, height = image.size
        native = 3 if image.mode in ("RGB", "RGBA", "RGBX", "P", "PA", "CMYK", "YCbCr") else 1
        check_size(path, height, width, 8 if "16" in image.mode else 4, native, prepare)
        image.load()
        pixels = eight_bit(image)
    except SystemExit:
        raise
    except Exception as e:  # PIL raises many kinds for corrupt files
        fail(path, f"cannot be decoded as {name} ({e}): a corrupt or truncated file")
    return conform(path, pixels, prepare)


def note(what, names):
    """A note naming what was left out: the count and the first few names."""
    shown = ", ".join(names[:3]) + (f", … {len(names) - 3} more" if len(names) > 3 else "")
    return f"left out {len(names)} {what}: {shown}"


def plan_part(root, prefix, images, notes):
    """One split's (or the whole folder's) classes and (relative path, label) samples:
    subfolders are classes (sorted by name), images beside them are left out; without
    subfolders the images are unlabelled. Sorted by class, then by path."""
    classes = sorted({p.split("/", 1)[0] for p in images if "/" in p})
    if not classes:
        return classes, [(p, None) for p in sorted(images)]
    loose = [p for p in images if "/" not in p]
    if loose:
        notes.append(note(f"images directly in {root}/{prefix} beside its class folders", loose))
    index = {c: i for i, c in enumerate(classes)}
    members = sorted((index[p.split("/", 1)[0]], p) for p in images if "/" in p)
    return classes, [(p, label) for label, p in members]


def folder_plan(root, files):
    """Which files are which samples (`folder::plan`): (classes, train members, test
    members or None, notes); members are (path relative to root, label)."""
    notes = []
    others = [p for p, is_image in files if not is_image]
    if others:
        notes.append(note("files that are not images", others))
    images = [p for p, is_image in files if is_image]
    if not images:
        fail(root, "holds no PNG or JPEG images")
    train = [p[len("train/"):] for p in images if p.startswith("train/")]
    test = [p[len("test/"):] for p in images if p.startswith("test/")]
    if not train or not test:
        if train or test:
            has, lacks = ("test", "train") if not train else ("train", "test")
            notes.append(f"{has}/ without {lacks}/ is a class folder like any other: give both for a split of your own")
        classes, members = plan_part(root, "", images, notes)
        return classes, members, None, notes
    beside = [p for p in images if not p.startswith("train/") and not p.startswith("test/")]
    if beside:
        notes.append(note("images beside train/ and test/", beside))
    train_classes, train_members = plan_part(root, "train/", train, notes)
    test_classes, test_members = plan_part(root, "test/", test, notes)
    if train_classes != test_classes:
        only = [c for c in train_classes if c not in test_classes]
        other = [c for c in test_classes if c not in train_classes]
        why = (f"train/ has the class folder {debug_str(only[0])}, which test/ lacks" if only else
               f"test/ has the class folder {debug_str(other[0])}, which train/ lacks" if other else
               "train/ and test/ have different class folders")
        fail(root, f"{why}: both need the same class folders (or both none)")
    return (train_classes, [("train/" + p, l) for p, l in train_members],
            [("test/" + p, l) for p, l in test_members], notes)


def describe_plan(classes, test):
    n = len(classes)
    text = "no class folders (unlabelled)" if n == 0 else "1 class folder" if n == 1 else f"{n} class folders"
    return f"{text}, train/ and test/" if test is not None else text


def read_image_folder(root, files, prepare):
    """A folder of PNG/JPEG images as samples (`folder::assemble`), refusing images of
    mixed channels or sizes, naming a file of each."""
    classes, train, test, notes = folder_plan(root, files)
    source = f"PNG/JPEG images in {root}: {describe_plan(classes, test)}"
    check_flags("image-files", test is not None, prepare, source)
    members = train + (test or [])
    path = lambda relative: os.path.join(root, relative)  # noqa: E731
    pictures = [decode(path(p), prepare) for p, _ in members]
    first = pictures[0]
    kinds = {1: "grey (1 channel)", 3: "RGB (3 channels)"}
    for picture, (p, _) in zip(pictures, members):
        if picture.shape[0] != first.shape[0]:
            fail(path(members[0][0]), f"is {kinds[first.shape[0]]}, but {path(p)} is {kinds[picture.shape[0]]}: pass "
                                      "--grey or --rgb to give every image one channel count")
    for picture, (p, _) in zip(pictures, members):
        if picture.shape[1:] != first.shape[1:]:
            fail(path(members[0][0]), f"is {first.shape[1]}×{first.shape[2]} pixels (H×W), but {path(p)} is "
                                      f"{picture.shape[1]}×{picture.shape[2]}: pass --image-size HxW to resize every "
                                      "image to one size")
    shape = tuple(first.shape)

    def part(chosen, start):
        values = np.stack(pictures[start:start + len(chosen)]).reshape(len(chosen), -1)
        labels = np.array([l for _, l in chosen], np.int64) if classes else None
        return Part(values, labels)

    loaded = Loaded("image-files", shape, classes, source, notes=notes)
    if test is None:
        loaded.whole = part(train, 0)
    else:
        loaded.train, loaded.test = part(train, 0), part(test, len(train))
    return loaded


# ---------------------------------------------------------------------------------------
# IDX folders


def open_maybe_gzipped(path):
    """A file's bytes as a stream, gunzipped when its first bytes are gzip's magic."""
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def idx_sniff(head):
    """(element type, rank, dims) from an IDX file's first bytes (gunzipped), or None if
    they do not begin as an IDX file's do (two zero bytes, a known type, a rank)."""
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[3] == 0 or head[2] not in IDX_TYPES:
        return None
    rank = head[3]
    dims = [struct.unpack(">I", head[4 + 4 * k:8 + 4 * k])[0] for k in range(min(rank, (len(head) - 4) // 4))]
    return head[2], rank, dims


def idx_head(path):
    """An IDX file's header, gunzipped where it is gzipped; None for anything else."""
    try:
        with open_maybe_gzipped(path) as f:
            return idx_sniff(f.read(4 + 4 * 255))
    except (OSError, EOFError, gzip.BadGzipFile):
        return None


def dims_text(dims):
    return "×".join(map(str, dims))


def type_name(t):
    return f"0x{t:02X} ({IDX_TYPES[t]})" if t in IDX_TYPES else f"0x{t:02X}"


def read_idx(path):
    """One IDX file (gzipped or not): its dimensions and its bytes, magic, element type
    (unsigned bytes only) and exact length checked."""
    try:
        with open_maybe_gzipped(path) as f:
            magic = f.read(4)
            if len(magic) < 4:
                fail(path, f"only {len(magic)} bytes: too short for an IDX header")
            if magic[:2] != b"\x00\x00":
                fail(path, "does not start as an IDX file does (two zero bytes, a type, a dimension count)")
            if magic[2] != 0x08:
                fail(path, f"holds elements of type {type_name(magic[2])}: only unsigned bytes (0x08) are read")
            rank = magic[3]
            if rank == 0:
                fail(path, "declares no dimensions")
            header = f.read(4 * rank)
            if len(header) < 4 * rank:
                fail(path, f"its header ends after {len(header)} of the {4 * rank} bytes of its {rank} dimensions")
            dims = list(struct.unpack(f">{rank}I", header))
            promised = elements(dims)
            if promised > MAX_IDX_BYTES:
                fail(path, f"dimensions {dims_text(dims)} promise more than 4 GiB: too large to read")
            data = f.read(promised + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        fail(path, f"not a valid gzip file ({e})")
    if len(data) != promised:
        found = f"more than {promised}" if len(data) > promised else str(len(data))
        fail(path, f"its dimensions {dims_text(dims)} call for {promised} bytes after the header, but it holds {found}")
    return dims, np.frombuffer(data, np.uint8)


def split_of(name):
    if "train" in name:
        return "train"
    if "t10k" in name or "test" in name:
        return "test"
    return None


def idx_plan(folder, files):
    """Which IDX file holds which split's images and labels (`idx::plan`): (train part,
    test part or None, notes), a part being (images index, labels index or None)."""
    images, labels = [], []
    for i, (name, (element_type, rank, _)) in enumerate(files):
        path = os.path.join(folder, name)
        if element_type != 0x08:
            fail(path, f"holds elements of type {type_name(element_type)}: only unsigned bytes (0x08) are read")
        if rank == 1:
            labels.append((split_of(name), i))
        elif rank in (3, 4):
            images.append((split_of(name), i))
        else:
            fail(path, f"has {rank} dimensions: an IDX file here holds images (N, H, W) or (N, H, W, C), or labels (N)")
    name = lambda i: files[i][0]  # noqa: E731

    def one(of, split, what):
        found = [i for s, i in of if s == split]
        if len(found) > 1:
            fail(os.path.join(folder, name(found[1])), f"is a second {what} file of its split, beside {name(found[0])}: keep one per split")
        return found[0] if found else None

    notes = []
    train_images, test_images = one(images, "train", "images"), one(images, "test", "images")
    loose_images = [i for s, i in images if s is None]
    train_labels, test_labels = one(labels, "train", "labels"), one(labels, "test", "labels")
    loose_labels = one(labels, None, "labels")

    def leave_out(i, why):
        if i is not None:
            notes.append(f"left out {name(i)}: {why}")

    if train_images is None and test_images is None and not loose_images:
        fail(folder, "holds IDX labels but no IDX images file (N, H, W) or (N, H, W, C)")
    if train_images is not None and test_images is not None and not loose_images:
        leave_out(loose_labels, "a labels file of neither split (its name has neither train nor test/t10k)")
        return (train_images, train_labels), (test_images, test_labels), notes
    singles = [i for i in (train_images, test_images) if i is not None] + loose_images
    if len(singles) == 1:
        only = singles[0]
        own, others = {"train": (train_labels, [test_labels, loose_labels]),
                       "test": (test_labels, [train_labels, loose_labels]),
                       None: (loose_labels, [train_labels, test_labels])}[split_of(name(only))]
        others = [o for o in others if o is not None]
        if own is not None:
            for o in others:
                leave_out(o, "a labels file of a split that has no images file")
            chosen = own
        elif len(others) == 1:
            chosen = others[0]
        elif not others:
            chosen = None
        else:
            fail(folder, f"holds one images file ({name(only)}) and several labels files ({name(others[0])}, "
                         f"{name(others[1])}): which go with it is unclear; keep one")
        return (only, chosen), None, notes
    loose = loose_images[0]
    other = [i for i in (train_images, test_images) if i is not None] + [i for i in loose_images if i != loose]
    beside = f" beside {name(other[0])}" if other else ""
    fail(os.path.join(folder, name(loose)), f"is an images file of neither split{beside}: name the training file with "
                                            "\"train\" and the test file with \"test\" or \"t10k\"")


def idx_image_shape(path, dims):
    """The count and sample shape of an images IDX: (N, H, W) grey, (N, H, W, C) C 1 or 3."""
    if len(dims) == 3:
        count, shape = dims[0], (1, dims[1], dims[2])
    elif len(dims) == 4 and dims[3] in (1, 3):
        count, shape = dims[0], (dims[3], dims[1], dims[2])
    elif len(dims) == 4:
        fail(path, f"holds images of {dims[3]} channels (its last dimension): only 1 (grey) or 3 (RGB) are read")
    else:
        fail(path, f"has dimensions {dims_text(dims)}: images are (N, H, W) or (N, H, W, C)")
    if count == 0 or elements(shape) == 0:
        fail(path, f"has dimensions {dims_text(dims)}: it holds no image")
    if elements(shape) > MAX_SAMPLE_VALUES:
        fail(path, f"images of {describe_shape(shape)} are more than 2^28 values each (1 GiB as f32)")
    return count, shape


MNIST_FILES = [("train-images-idx3-ubyte.gz", [60000, 28, 28]), ("train-labels-idx1-ubyte.gz", [60000]),
               ("t10k-images-idx3-ubyte.gz", [10000, 28, 28]), ("t10k-labels-idx1-ubyte.gz", [10000])]
MNIST_MAGIC = {3: 2051, 1: 2049}


def mnist_layout(folder, idx, prepare):
    """A folder in MNIST's layout, read as wgsl-autoencoder's `load_mnist` reads it
    (`native::data::mnist_layout`): where it holds one of MNIST's four file names and its
    IDX files (`idx`: (name, header)) are exactly those four at MNIST's sizes, MNIST's
    splits without notes; where one of the four is missing or no IDX file, the error
    `load_mnist` gives. None for any other folder, including the four names at other
    sizes, which are read as any IDX folder is."""
    if not any(os.path.lexists(os.path.join(folder, name)) for name, _ in MNIST_FILES):
        return None
    names = dict(idx)
    if all(name in names for name, _ in MNIST_FILES):
        if sorted(idx) != sorted((n, (8, len(d), d)) for n, d in MNIST_FILES):
            return None
    parts = [mnist_file(os.path.join(folder, name), dims) for name, dims in MNIST_FILES]
    source = f"MNIST-format IDX files in {folder}"
    check_flags("byte-images", True, prepare, source)
    shape = (1, 28, 28)
    train = Part(parts[0].reshape(60000, 784), parts[1].astype(np.int64))
    test = Part(parts[2].reshape(10000, 784), parts[3].astype(np.int64))
    train.values, new_shape = conform_bytes(folder, train.values, shape, prepare)
    test.values, _ = conform_bytes(folder, test.values, shape, prepare)
    return Loaded("byte-images", new_shape, [str(c) for c in range(10)], source, train=train, test=test)


def mnist_file(path, dims):
    """One of MNIST's four gzipped files, checked as `data::decode_idx` checks it: the
    items after its header."""
    magic, count = MNIST_MAGIC[len(dims)], dims[0]
    header = 16 if len(dims) == 3 else 8
    expected = header + count * (784 if len(dims) == 3 else 1)
    try:
        with open(path, "rb", opener=lambda p, flags: os.open(p, flags | getattr(os, "O_NONBLOCK", 0))) as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                fail(path, f"cannot open (not a regular file but {kind_name(mode)}); the bundled MNIST lives in "
                           "data/mnist, or pass --data-dir DIR")
            gz = f.read()
    except OSError as e:
        fail(path, f"cannot open ({os_error(e)}); the bundled MNIST lives in data/mnist, or pass --data-dir DIR")
    try:
        data = gzip.GzipFile(fileobj=io.BytesIO(gz)).read(expected + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        fail(path, f"not a valid gzip file ({e})")
    if len(data) < header:
        fail(path, f"only {len(data)} bytes: too short for an IDX header")
    found, n = struct.unpack(">II", data[:8])
    if found != magic:
        fail(path, f"magic number {found}, expected {magic}")
    if n != count:
        fail(path, f"holds {n} items, expected {count}")
    if header == 16:
        rows, cols = struct.unpack(">II", data[8:16])
        if (rows, cols) != (28, 28):
            fail(path, f"images are {rows}×{cols}, expected 28×28")
    if len(data) != expected:
        found = f"more than {expected}" if len(data) > expected else str(len(data))
        fail(path, f"{found} bytes after gunzip, expected {expected}")
    items = np.frombuffer(data, np.uint8, offset=header)
    if header == 8 and (items > 9).any():
        i = int(np.flatnonzero(items > 9)[0])
        fail(path, f"label {i} is {items[i]}, not a digit 0-9: a corrupt MNIST file")
    return items


def read_idx_folder(folder, walked, files, prepare):
    """A folder's IDX files (`files`: (name, header), of the `walked` files) as samples
    (`idx::assemble`): byte images made planar, then given the channels and size
    `prepare` asks for; classes "0".."max label". (MNIST's own four files go by
    `mnist_layout`.)"""
    train_part, test_part, notes = idx_plan(folder, files)
    others = [r for r in walked if r not in dict(files)]
    if others:
        notes.insert(0, note("files that are not IDX files", others))
    names = [files[i][0] for p in (train_part, test_part) if p for i in p if i is not None]
    source = f"IDX files in {folder} ({', '.join(names)})"
    check_flags("byte-images", test_part is not None, prepare, source)

    def part(p):
        images_path = os.path.join(folder, files[p[0]][0])
        dims, data = read_idx(images_path)
        count, shape = idx_image_shape(images_path, dims)
        values = planar_samples(data.reshape(dims), True)
        labels = None
        if p[1] is not None:
            labels_path = os.path.join(folder, files[p[1]][0])
            label_dims, label_data = read_idx(labels_path)
            if len(label_dims) != 1:
                fail(labels_path, f"has dimensions {dims_text(label_dims)}: labels are (N)")
            if label_dims[0] != count:
                fail(labels_path, f"holds {label_dims[0]} labels, but {images_path} holds {count} images: a labels "
                                  "file must have one label per image")
            labels = label_data.astype(np.int64)
        return Part(values, labels), shape, images_path

    train, shape, train_path = part(train_part)
    test = None
    if test_part is not None:
        test, test_shape, test_path = part(test_part)
        if test_shape != shape:
            fail(test_path, f"holds images of {describe_shape(test_shape)}, but {files[train_part[0]][0]} holds images "
                            f"of {describe_shape(shape)}: both splits need one shape")
        if (test.labels is None) != (train.labels is None):
            fail(folder, "has a labels file for one split but not for the other: give both, or neither")
    classes = []
    if train.labels is not None:
        top = max(int(p.labels.max()) for p in (train, test) if p is not None)
        classes = [str(c) for c in range(top + 1)]
    train.values, new_shape = conform_bytes(train_path, train.values, shape, prepare)
    loaded = Loaded("byte-images", new_shape, classes, source, notes=notes)
    if test is None:
        loaded.whole = train
    else:
        test.values, _ = conform_bytes(test_path, test.values, shape, prepare)
        loaded.train, loaded.test = train, test
    return loaded


# ---------------------------------------------------------------------------------------
# The command line: the data flags wgsl-autoencoder takes, shared with torch_train.py


def image_size(text):
    """`--image-size HxW`."""
    parts = re.split("[xX×]", text, maxsplit=1)
    try:
        h, w = (int(v.strip()) for v in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{debug_str(text)}: give height x width in pixels, e.g. 32x32")
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"{debug_str(text)}: each side must be at least 1 pixel")
    return h, w


def names_list(text):
    """`--classes A,B`: class names split at commas, as clap's value_delimiter splits them
    (a flag given twice adds to the list)."""
    return text.split(",")


def add_arguments(p, default=None):
    """Adds the data flags to an argparse parser."""
    p.add_argument("--data", "--data-dir", dest="data", default=default, metavar="PATH",
                   help="a folder of IDX files or of images (PNG/JPEG), a CSV or an NPY file")
    p.add_argument("--image-size", type=image_size, default=None, metavar="HxW", help="resize every image to HxW")
    colour = p.add_mutually_exclusive_group()
    colour.add_argument("--grey", action="store_true", help="images as one grey channel (colour ones by luma)")
    colour.add_argument("--rgb", action="store_true", help="images as three channels (grey ones repeated)")
    p.add_argument("--standardize", action="store_true", help="rows to mean 0, deviation 1 (then a linear output)")
    p.add_argument("--test-fraction", type=float, default=None, metavar="F",
                   help="where the data has no split: the share of each class held out [0.1]")
    p.add_argument("--split-seed", type=int, default=None, metavar="S", help="seeds that split [0]")
    p.add_argument("--label-column", default=None, metavar="NAME", help="a CSV's column of labels (name or index)")
    p.add_argument("--classes", type=names_list, action="extend", default=None, metavar="NAMES",
                   help="train only on the training samples of these classes (e.g. 0 or cat,dog): one-class "
                        "training; the test split stays whole")
    p.add_argument("--exclude-classes", type=names_list, action="extend", default=None, metavar="NAMES",
                   help="train on every class but these")


def prepare_from(a):
    """The `Prepare` the parsed data flags ask for."""
    return Prepare(image_size=a.image_size, colour="grey" if a.grey else "rgb" if a.rgb else None,
                   standardize=a.standardize, test_fraction=a.test_fraction, split_seed=a.split_seed or 0,
                   label_column=a.label_column, classes=a.classes, exclude_classes=a.exclude_classes)


def prepare_record(prepare):
    """The data flags as JSON-ready values, under the names and in the form the Rust
    tool's run record saves them (`Prepare`'s serde form: `image_size` [H, W] or null,
    `colour` "grey", "rgb" or null, ...), so that a saved model says how its data was read."""
    return {"image_size": list(prepare.image_size) if prepare.image_size else None, "colour": prepare.colour,
            "standardize": prepare.standardize, "test_fraction": prepare.test_fraction,
            "split_seed": prepare.split_seed, "label_column": prepare.label_column,
            "classes": prepare.classes, "exclude_classes": prepare.exclude_classes}


def prepare_of_record(record):
    """`prepare_record` read back (fields it lacks take their defaults, as serde's
    `#[serde(default)]` does)."""
    fields = Prepare.__dataclass_fields__
    unknown = [k for k in record if k not in fields]
    if unknown:
        raise SystemExit(f"Error: the saved data flags have a field {debug_str(unknown[0])} this reader does not know")
    values = dict(record)
    if values.get("image_size") is not None:
        values["image_size"] = tuple(values["image_size"])
    values["split_seed"] = values.get("split_seed") or 0
    return Prepare(**values)


def scaling_record(scaling):
    """A rows' scaling as the Rust tool's checkpoints save it (`Scaling`'s serde form):
    {"kind": "minmax" or "standardize", "offset": [...], "scale": [...]}, each f32 in the
    shortest digits that read back to its bits; None without one."""
    if scaling is None:
        return None
    f32s = lambda a: [float(str(np.float32(v))) for v in a]  # noqa: E731
    return {"kind": scaling[0], "offset": f32s(scaling[1]), "scale": f32s(scaling[2])}


def scaling_of_record(record):
    """`scaling_record` read back: (kind, offset, scale) with float32 arrays, or None."""
    if record is None:
        return None
    return record["kind"], np.asarray(record["offset"], np.float32), np.asarray(record["scale"], np.float32)


def render(data):
    """What `wgsl-autoencoder data` prints: the summary, each class's training and test
    counts, the scaling, the notes."""
    lines = [data.describe()]
    if data.classes:
        width = max(5, *(len(c) for c in data.classes))
        lines.append(f"  {'class':<{width}}  {'train':>8}  {'test':>8}")
        for i, name in enumerate(data.classes):
            train, test = (int((part.labels == i).sum()) for part in (data.train, data.test))
            lines.append(f"  {name:<{width}}  {train:>8}  {test:>8}")
    if data.scaling is not None:
        kind = {"minmax": "min-max to [0, 1]", "standardize": "standardised to mean 0, deviation 1"}[data.scaling[0]]
        lines.append(f"  scaling fitted on the training split: {kind} ({len(data.scaling[1])} features)")
    lines += [f"note: {line}" for line in data.notes]
    return "\n".join(lines)


def export(data, out):
    """Writes the prepared splits as `wgsl-autoencoder data --export DIR` does: train_x.npy
    and test_x.npy (float32 (N, D), what the model sees), train_y.npy and test_y.npy (int64
    labels, where there are some) and data.json (source, shape, classes, split, scaling)."""
    if os.path.isdir(out) and os.listdir(out):
        flag_error("--export", f"{out} is not empty; give a new or empty folder")
    os.makedirs(out, exist_ok=True)
    for name, part in (("train", data.train), ("test", data.test)):
        np.save(os.path.join(out, f"{name}_x.npy"), part.floats().numpy())
        if part.labels is not None:
            np.save(os.path.join(out, f"{name}_y.npy"), part.labels.astype("<i8"))
    shape = data.shape if len(data.shape) == 3 else (1, 1, data.shape[0])
    about = {
        "source": data.source,
        "shape": {"channels": shape[0], "height": shape[1], "layout": "images" if len(data.shape) == 3 else "rows",
                  "width": shape[2]},
        "classes": data.classes,
        "split": "given" if data.split is None else {"fraction": {"fraction": data.split[0], "seed": data.split[1]}},
        "scaling": None if data.scaling is None else {
            "kind": data.scaling[0], "offset": data.scaling[1].tolist(), "scale": data.scaling[2].tolist()},
    }
    with open(os.path.join(out, "data.json"), "w") as f:
        f.write(json.dumps(about, indent=2) + "\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="Reads --data as wgsl-autoencoder does and says what it holds "
                                            "(`wgsl-autoencoder data`'s twin).")
    add_arguments(p, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")))
    p.add_argument("--export", default=None, metavar="DIR", help="write the prepared splits as NPY files")
    a = p.parse_args()
    data = load(a.data, prepare_from(a))
    print(render(data))
    if a.export:
        export(data, a.export)

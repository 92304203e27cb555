// The page: controls, drawing and the automation contract. Everything that computes
// (the data's checks and preparation, the models, training, the anomaly scores, the
// kernel check, the profile) is the Rust core, compiled to wasm, behind `Lab`
// (web/src/lib.rs); this file only reads files, asks and draws.
import init, { Lab, checkWeightsFile, lastPanic } from "./wgsl_autoencoder_web.js";

const $ = (id) => document.getElementById(id);
const FILES = [
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
];
// Ten colours a reader tells apart (Tableau 10), one per class (cycling past ten).
const COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f"];
const DEFAULT_SIZES = { dense: "100,200,30", conv: "16,8", vae: "400,20", "conv-vae": "16,8,20" };
// The size control names what the model's sizes are.
const sizesLabel = (model) => (model.startsWith("conv") ? "Channels" : "Layers");
const WEBGPU_ADVICE =
  "WebGPU is on by default in Chrome and Edge 113+ (Windows, macOS, ChromeOS, Android), " +
  "Safari 26+ and Firefox 141+ on Windows. On Linux, start Chrome or Chromium with " +
  "--enable-unsafe-webgpu (and --enable-features=Vulkan); in Firefox elsewhere, set " +
  "dom.webgpu.enabled in about:config. Pages must come from https or localhost.\n" +
  "You can still train on the CPU reference (slow): choose it under \u201cRun on\u201d.";

const colour = (label) => COLOURS[label % COLOURS.length];
// The scores' two kinds: the classes trained on, and the others.
const NORMAL = "#4e79a7", ANOMALY = "#e15759";

// What status() reports: the automation contract (README, "Automation").
const status = {
  state: "loading", epoch: 0, step: 0, train_loss: null, test_mse: null,
  images_per_second: null, adapter: null, error: null, data: null, auroc: null,
};
const history = { points: [], epochs: [] }; // live loss points; per-epoch metrics
let lab = null;
let data = null; // what the core says of the data in use (Lab.dataInfo)
let latent = null; // { xy, labels, series, endpoints } of the last evaluation
let scored = null; // the last scores (Lab.scores), for scores() and the histogram
let drawnScore = null; // the last drawing's { score, threshold, anomaly }
let drawnPoint = null;
let lastExamples = 0;
let running = false;
// Each Start begins a new run: an advance of the run before, still in flight, is dropped.
let generation = 0;
// The model the run under way trains (its kind) and its backend, and whether a model
// file is opening.
let runModel = null;
let runBackend = null;
let opening = false;
// The kernel ladder's panel.
let ladderRungs = [];  // ladderPlan's rungs, with their WGSL
let ladderRows = null; // the last climb's rows, shares filled in
let climbing = false;

// ---------- errors: always on the page, never only in the console ----------

function describe(e) {
  const panic = lastPanic();
  if (panic) return `The wasm core stopped: ${panic}`;
  if (e instanceof Error) return e.message;
  return String(e);
}

function fail(e, { restart = false } = {}) {
  const lost = lab && lab.deviceLost();
  let message = describe(e);
  if (lost) {
    message = `The GPU device was lost (${lost}). The browser or the driver reset it; ` +
      "the model on it is gone. Restart to open the GPU again.";
    restart = true;
  }
  status.state = "error";
  status.error = message;
  $("error-text").textContent = message;
  $("error").hidden = false;
  $("restart").hidden = !restart && !lastPanic();
  $("error").scrollIntoView({ block: "nearest" });
  setState("error");
  console.error(e);
}

// A refusal: said where errors are, with the page left in `state` (what it was, where
// nothing changed), every control working as in that state.
function refuse(e, state) {
  const message = describe(e);
  status.error = message;
  $("error-text").textContent = message;
  $("error").hidden = false;
  $("restart").hidden = true;
  $("error").scrollIntoView({ block: "nearest" });
  setState(state);
}

function clearError() {
  status.error = null;
  $("error").hidden = true;
}

// A lost device is said at once, even while a call waits on it (which it may never end),
// unless the model in use is on the CPU reference.
function watchDevice() {
  setInterval(() => {
    if (lab && lab.deviceLost() && status.state !== "error" && runBackend !== "cpu") {
      fail(new Error("the GPU device was lost"));
    }
  }, 250);
}

window.addEventListener("unhandledrejection", (ev) => fail(ev.reason));
window.addEventListener("error", (ev) => fail(ev.error || ev.message));

// ---------- state and controls ----------

function setState(state) {
  status.state = state;
  $("s-state").textContent = state;
  const ready = ["ready", "done", "paused", "error"].includes(state) && lab !== null;
  const haveData = data !== null;
  $("start").disabled = !ready || !haveData;
  $("odd-start").disabled = !ready || !haveData || $("classes").value === "";
  $("pause").disabled = state !== "training";
  $("resume").disabled = state !== "paused";
  const haveModel = ["done", "paused"].includes(state);
  $("download").disabled = !haveModel;
  // Scoring runs between epochs: once a run is done (or a model is opened).
  $("score").disabled = state !== "done";
  $("open").disabled = !ready || !haveData;
  // The data changes only between runs (a new one drops the model).
  for (const id of ["use-mnist", "pick-folder", "pick-files"]) $(id).disabled = !ready || !mnistLoaded;
  for (const el of $("data-options").elements) el.disabled = !ready || !mnistLoaded;
  $("check").disabled = !status.adapter || state === "training" || state === "loading";
  $("ladder-climb").disabled = !status.adapter || state === "training" || state === "loading" || climbing;
  $("profile").disabled = !status.adapter || state === "training" || !haveData;
  $("interpolate").disabled = !latent || latent.labels.length === 0 || state === "training";
}

// The training samples asked for (by the URL or the control), kept apart from the
// control, which can show no more than the data has.
let wantLimit = 60000;

function settings() {
  const f = new FormData($("settings"));
  const limit = Number(f.get("limit"));
  const cls = $("classes").value;
  return {
    model: f.get("model"),
    sizes: f.get("sizes"),
    activation: f.get("activation"),
    batch: Number(f.get("batch")),
    lr: Number(f.get("lr")),
    epochs: Number(f.get("epochs")),
    noise: f.get("noise"),
    limit: data && limit >= data.train ? null : limit,
    seed: 0,
    backend: f.get("backend"),
    classes: cls === "" ? [] : [cls],
  };
}

// The data controls, as the core's DataOptions takes them.
function dataOptions() {
  const f = new FormData($("data-options"));
  const fraction = String(f.get("test_fraction") || "").trim();
  return {
    image_size: String(f.get("image_size") || "").trim(),
    colour: f.get("colour") || "",
    test_fraction: fraction === "" ? null : Number(fraction),
  };
}

// The class the URL asks to train on (`classes=0`), chosen once the data has classes.
let wantClass = "";

// URL parameters set the controls: ?model=conv&channels=16,8&batch=64&classes=0&autostart=1
function applyUrl() {
  const q = new URLSearchParams(location.search);
  const form = $("settings").elements;
  const model = q.get("model");
  if (model) form.model.value = model;
  form.sizes.value = q.get("layers") || q.get("channels") || DEFAULT_SIZES[form.model.value] || form.sizes.value;
  for (const name of ["activation", "batch", "lr", "epochs", "limit", "noise", "backend"]) {
    if (q.has(name)) form[name].value = q.get(name);
  }
  wantLimit = Number(form.limit.value);
  const options = $("data-options").elements;
  for (const name of ["image_size", "colour", "test_fraction"]) {
    if (q.has(name)) options[name].value = q.get(name);
  }
  wantClass = q.get("classes") || "";
  $("sizes-label").textContent = sizesLabel(form.model.value);
  return q.get("autostart") === "1";
}

$("settings").elements.model.addEventListener("change", (ev) => {
  $("settings").elements.sizes.value = DEFAULT_SIZES[ev.target.value] || "";
  $("sizes-label").textContent = sizesLabel(ev.target.value);
  // The page shows one model: switching the model ends a run under way (its advance
  // in flight is dropped) and the page waits for Start to train the new one.
  if (["starting", "training", "paused"].includes(status.state) && !opening) {
    generation++;
    resetRun();
    refuse(new Error(`The model changed to ${ev.target.value}, so the run of the ${runModel} model ` +
      `stopped. Press Start to train the ${ev.target.value} model.`), "ready");
  }
});
$("settings").elements.limit.addEventListener("change", (ev) => {
  wantLimit = Number(ev.target.value);
});
$("classes").addEventListener("change", () => {
  setState(status.state);
  if (!scored) showScores(null);
});

// ---------- data ----------

let mnistLoaded = false;

async function fetchWithProgress(url, onBytes) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: the server answered ${response.status} ${response.statusText}`);
  const reader = response.body.getReader();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    onBytes(value.length);
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return bytes;
}

async function loadMnist() {
  // The four files are 11.4 MB together (the bar is a guide only).
  const total = 11_369_320;
  let got = 0;
  const bar = $("data-progress");
  const files = [];
  for (const name of FILES) {
    $("data").textContent = `Downloading ${name}…`;
    files.push(await fetchWithProgress(`data/mnist/${name}`, (n) => {
      got += n;
      bar.value = Math.min(got / total, 1) * 0.8;
    }));
  }
  $("data").textContent = "Decompressing and checking MNIST…";
  await nextFrame();
  let info = await lab.loadData(files[0], files[1], files[2], files[3]);
  mnistLoaded = true;
  // Data controls the URL set apply to MNIST too (its own split: no test fraction).
  const options = dataOptions();
  if (options.image_size || options.colour || options.test_fraction != null) {
    info = await lab.prepareData(JSON.stringify(options));
  }
  bar.value = 1;
  showData(info);
}

// Shows what the core found, and makes the page follow it: the training samples the
// control offers, the classes to train on, the drawing pad.
function showData(info) {
  data = info;
  status.data = {
    kind: info.kind, source: info.source, describe: info.describe, shape: info.shape_text,
    layout: info.shape.layout, channels: info.shape.channels, height: info.shape.height,
    width: info.shape.width, train: info.train, test: info.test, classes: info.classes,
    notes: info.notes,
  };
  $("data").textContent = info.describe.replace(/^data: /, "");
  $("data-notes").innerHTML = "";
  for (const note of info.notes) {
    const li = document.createElement("li");
    li.textContent = `note: ${note}`;
    $("data-notes").append(li);
  }
  $("use-mnist").classList.toggle("current", info.kind === "mnist");
  $("folder-label").classList.toggle("current", info.kind !== "mnist" && lastPick === "folder");
  $("files-label").classList.toggle("current", info.kind !== "mnist" && lastPick === "files");
  const limit = $("settings").elements.limit;
  limit.max = String(info.train);
  limit.value = String(Math.min(wantLimit, info.train));
  // The classes to train on: the data's, keeping the choice where the new data has it.
  // The URL's (once) is kept even where the data lacks it, for the core to refuse in
  // its words.
  const select = $("classes");
  const keep = select.value || wantClass;
  select.innerHTML = "";
  select.append(new Option(info.classes.length ? "every class" : "every sample (unlabelled)", ""));
  for (const name of info.classes) select.append(new Option(`class ${name} only`, name));
  if (keep && keep === wantClass && !info.classes.includes(keep)) {
    select.append(new Option(`class ${keep} only`, keep));
  }
  select.value = info.classes.includes(keep) || keep === wantClass ? keep : "";
  wantClass = "";
  select.disabled = info.classes.length === 0;
  preparePad();
  resetRun();
}

// A new run, or new data: the last run's pictures go.
function resetRun() {
  history.points = []; history.epochs = [];
  Object.assign(status, { epoch: 0, step: 0, train_loss: null, test_mse: null, images_per_second: null, auroc: null });
  latent = null; drawnPoint = null; scored = null; drawnScore = null; frame = null;
  for (const id of ["s-epoch", "s-step", "s-loss", "s-mse", "s-rate"]) $(id).textContent = "–";
  $("epoch-progress").value = 0;
  drawLatent();
  drawLoss();
  blank($("recon"));
  blank($("decoded"));
  blank($("drawn-rebuilt"));
  blank($("strip"));
  $("verdict").textContent = "";
  $("opened").textContent = "";
  // Back to their first sizes: the next pictures may have another shape.
  Object.assign($("recon"), { width: 560, height: 180 });
  Object.assign($("strip"), { width: 560, height: 56 });
  showScores(null);
  legend();
}

function blank(canvas) {
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
}

// Which picker gave the data in use: `folder` or `files`.
let lastPick = null;

// A picked file's path inside the folder picked, without the folder's own name.
function relativePath(file) {
  const path = file.webkitRelativePath || file.name;
  const cut = path.indexOf("/");
  return file.webkitRelativePath && cut >= 0 ? path.slice(cut + 1) : path;
}

async function pickFiles(input, kind) {
  const files = [...input.files];
  input.value = "";
  if (files.length === 0) return;
  await changeData(async (options) => {
    const bar = $("data-progress");
    const names = [], contents = [];
    for (let i = 0; i < files.length; i++) {
      if (i % 200 === 0) {
        $("data").textContent = `Reading ${files.length.toLocaleString()} files… ${i.toLocaleString()}`;
        bar.value = i / files.length;
        await nextFrame();
      }
      names.push(relativePath(files[i]));
      contents.push(new Uint8Array(await files[i].arrayBuffer()));
    }
    bar.value = 1;
    $("data").textContent = `Decoding and checking ${files.length.toLocaleString()} files…`;
    await nextFrame();
    const info = await lab.loadFiles(names, contents, options);
    lastPick = kind;
    return info;
  });
}

// Puts other data in use (or the same, prepared again). On an error, which names the
// file at fault, the data before stays in use and says so.
async function changeData(work) {
  clearError();
  const before = data;
  // Read before the controls are disabled (a form's data leaves disabled ones out).
  const options = JSON.stringify(dataOptions());
  setState("loading");
  try {
    showData(await work(options));
    setState("ready");
  } catch (e) {
    if (before) {
      $("data").textContent = before.describe.replace(/^data: /, "");
    }
    fail(new Error(`${describe(e)}\n(The data in use is still: ${before ? before.source : "none"}.)`));
  }
}

$("pick-folder").addEventListener("change", (ev) => pickFiles(ev.target, "folder"));
$("pick-files").addEventListener("change", (ev) => pickFiles(ev.target, "files"));
$("use-mnist").addEventListener("click", () => changeData(async (options) => {
  lastPick = null;
  return lab.useMnist(options);
}));
$("data-options").addEventListener("change", () => changeData((options) => lab.prepareData(options)));
$("data-options").addEventListener("submit", (ev) => ev.preventDefault());

// ---------- drawing samples ----------

const nextFrame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

// The size a sample is drawn at: images scaled so that their longer side is `side`
// (whole multiples where they fit, so that pixels stay square), rows as a plot twice
// as wide as high.
function tileSize(shape, side) {
  if (shape.layout === "rows") return { w: 2 * side, h: side };
  const long = Math.max(shape.height, shape.width);
  const scale = long <= side ? Math.max(1, Math.floor(side / long)) : side / long;
  return { w: Math.max(1, Math.round(shape.width * scale)), h: Math.max(1, Math.round(shape.height * scale)) };
}

// One image (C×H×W values in 0..1, at `offset`) as a canvas of its own size.
function imageCanvas(values, offset, shape) {
  const { channels: c, height: h, width: w } = shape;
  const plane = h * w;
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  const img = new ImageData(w, h);
  const byte = (v) => Math.max(0, Math.min(255, Math.round(v * 255)));
  for (let i = 0; i < plane; i++) {
    const r = byte(values[offset + i]);
    const g = c >= 3 ? byte(values[offset + plane + i]) : r;
    const b = c >= 3 ? byte(values[offset + 2 * plane + i]) : r;
    img.data.set([r, g, b, 255], i * 4);
  }
  small.getContext("2d").putImageData(img, 0, 0);
  return small;
}

// Rows as small line plots, on a common scale: `lines` are [values, offset, colour].
function drawRows(ctx, lines, features, x, y, w, h) {
  let lo = Infinity, hi = -Infinity;
  for (const [v, at] of lines) {
    for (let j = 0; j < features; j++) { lo = Math.min(lo, v[at + j]); hi = Math.max(hi, v[at + j]); }
  }
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  ctx.fillStyle = "#fff";
  ctx.fillRect(x, y, w, h);
  ctx.strokeStyle = "#d9dde5";
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  for (const [v, at, stroke] of lines) {
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 1.3;
    ctx.beginPath();
    for (let j = 0; j < features; j++) {
      const px = x + 2 + (j / Math.max(1, features - 1)) * (w - 4);
      const py = y + h - 2 - ((v[at + j] - lo) / (hi - lo)) * (h - 4);
      j ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
    }
    ctx.stroke();
  }
}

// Draws sample `k` of `values` (samples of `shape`) at (x, y), `size` big; for rows,
// `rebuilt` (when given) is drawn over it in another colour.
function drawSample(ctx, values, k, shape, x, y, size, rebuilt = null) {
  const n = shape.channels * shape.height * shape.width;
  if (shape.layout === "rows") {
    const lines = [[values, k * n, "#1d2330"]];
    if (rebuilt) lines.push([rebuilt, k * n, "#f28e2b"]);
    drawRows(ctx, lines, n, x, y, size.w, size.h);
    return;
  }
  // Whole-number enlargements keep square pixels; anything else is smoothed.
  ctx.imageSmoothingEnabled = !Number.isInteger(size.w / shape.width) || !Number.isInteger(size.h / shape.height);
  ctx.drawImage(imageCanvas(values, k * n, shape), x, y, size.w, size.h);
}

// Samples in a grid, `cols` a row, each `side` big: the decoded point, the strip.
function drawSamples(canvas, values, shape, cols, { side = 56, gap = 2 } = {}) {
  const n = values.length / (shape.channels * shape.height * shape.width);
  const size = tileSize(shape, side);
  const rows = Math.max(1, Math.ceil(n / cols));
  canvas.width = Math.max(1, cols * (size.w + gap) - gap);
  canvas.height = rows * (size.h + gap) - gap;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let k = 0; k < n; k++) {
    drawSample(ctx, values, k, shape, (k % cols) * (size.w + gap), Math.floor(k / cols) * (size.h + gap), size);
  }
}

// Samples and their reconstructions, in columns (a class each, named above it), each
// sample above its reconstruction (for rows: both in one plot). `caption(k)` gives
// sample k a line of text and its colour; `across` columns make a row.
function drawPairs(canvas, ex, columns, { side = 56, gap = 2, caption = null, across = Infinity } = {}) {
  const shape = ex.shape;
  const size = tileSize(shape, side);
  const rows = shape.layout === "rows";
  const head = 14;
  const named = !caption && columns.some((c) => c.name);
  const cellW = Math.max(size.w, caption ? 64 : 0);
  const cellH = (caption ? head : 0) + (rows ? size.h : 2 * size.h + 1);
  const per = Math.max(1, ...columns.map((c) => c.samples.length));
  const colH = (named ? head : 0) + per * (cellH + 4) - 4;
  const wide = Math.max(1, Math.min(columns.length, across));
  const down = Math.max(1, Math.ceil(columns.length / wide));
  canvas.width = wide * (cellW + gap) - gap;
  canvas.height = down * (colH + 8) - 8;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "top";
  columns.forEach((column, c) => {
    const x = (c % wide) * (cellW + gap);
    const top = Math.floor(c / wide) * (colH + 8);
    if (named && column.name) {
      ctx.fillStyle = "#5d6575";
      ctx.fillText(fitText(ctx, column.name, cellW), x + 1, top + 1);
    }
    const tx = x + Math.floor((cellW - size.w) / 2);
    column.samples.forEach((k, r) => {
      let y = top + (named ? head : 0) + r * (cellH + 4);
      if (caption) {
        const [text, tint] = caption(k);
        ctx.fillStyle = tint;
        ctx.fillText(fitText(ctx, text, cellW), x + 1, y + 1);
        y += head;
      }
      if (rows) {
        drawSample(ctx, ex.clean, k, shape, tx, y, size, ex.rebuilt);
      } else {
        drawSample(ctx, ex.clean, k, shape, tx, y, size);
        drawSample(ctx, ex.rebuilt, k, shape, tx, y + size.h + 1, size);
      }
    });
  });
}

// Text cut to a width, with an ellipsis.
function fitText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let t = text;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > width) t = t.slice(0, -1);
  return `${t}…`;
}

function drawLoss() {
  const canvas = $("loss");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 48, bottom = 32;
  ctx.clearRect(0, 0, w, h);
  const values = [
    ...history.points.map((p) => p[1]),
    ...history.epochs.flatMap((m) => [m.train_loss, m.test_mse]),
  ].filter((v) => v > 0 && Number.isFinite(v));
  if (values.length === 0) return;
  const epochs = Math.max(1, Number(settingsEpochs()));
  let lo = Math.log10(Math.min(...values)), hi = Math.log10(Math.max(...values));
  if (hi - lo < 0.2) { lo -= 0.1; hi += 0.1; }
  const X = (e) => left + (e / epochs) * (w - left - 8);
  const Y = (v) => 6 + (1 - (Math.log10(v) - lo) / (hi - lo)) * (h - bottom - 10);
  ctx.strokeStyle = "#d9dde5";
  ctx.fillStyle = "#5d6575";
  ctx.font = "11px system-ui, sans-serif";
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (Math.log10(v) < lo || Math.log10(v) > hi) continue;
      ctx.beginPath(); ctx.moveTo(left, Y(v)); ctx.lineTo(w - 8, Y(v)); ctx.stroke();
      ctx.fillText(v.toPrecision(1), 4, Y(v) + 4);
    }
  }
  const every = Math.ceil(epochs / 10);
  for (let e = 0; e <= epochs; e += every) ctx.fillText(String(e), X(e) - 3, h - 18);
  ctx.fillText("epoch", left + (w - left) / 2 - 14, h - 3);
  ctx.strokeStyle = "#2f6fdb";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  history.points.forEach(([e, v], i) => (i ? ctx.lineTo(X(e), Y(v)) : ctx.moveTo(X(e), Y(v))));
  ctx.stroke();
  for (const m of history.epochs) {
    ctx.fillStyle = "#2f6fdb";
    ctx.beginPath(); ctx.arc(X(m.epoch), Y(m.train_loss), 4, 0, 7); ctx.fill();
    ctx.fillStyle = "#e15759";
    ctx.fillRect(X(m.epoch) - 4, Y(m.test_mse) - 4, 8, 8);
  }
}

function settingsEpochs() {
  return status.epochs || $("settings").elements.epochs.value;
}

// The latent plot's frame: the codes' extent with a margin, kept for clicks.
let frame = null;
function drawLatent() {
  const canvas = $("latent");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!latent || latent.labels.length === 0) {
    ctx.fillStyle = "#5d6575";
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillText("Drawn after the first epoch's evaluation.", 20, 200);
    return;
  }
  const { xy, labels } = latent;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < labels.length; i++) {
    x0 = Math.min(x0, xy[2 * i]); x1 = Math.max(x1, xy[2 * i]);
    y0 = Math.min(y0, xy[2 * i + 1]); y1 = Math.max(y1, xy[2 * i + 1]);
  }
  const mx = (x1 - x0) * 0.05 || 1, my = (y1 - y0) * 0.05 || 1;
  frame = { x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my, w: canvas.width, h: canvas.height };
  // Few points are drawn larger, so that a small test set still reads.
  const dot = labels.length < 500 ? 4 : 2.5;
  ctx.globalAlpha = labels.length < 500 ? 0.8 : 0.55;
  for (let i = 0; i < labels.length; i++) {
    const [px, py] = toCanvas(xy[2 * i], xy[2 * i + 1]);
    ctx.fillStyle = colour(labels[i]);
    ctx.fillRect(px - dot / 2, py - dot / 2, dot, dot);
  }
  ctx.globalAlpha = 1;
  if (drawnPoint) star(ctx, ...toCanvas(drawnPoint[0], drawnPoint[1]));
}

const toCanvas = (x, y) => [
  ((x - frame.x0) / (frame.x1 - frame.x0)) * frame.w,
  (1 - (y - frame.y0) / (frame.y1 - frame.y0)) * frame.h,
];
const fromCanvas = (px, py) => [
  frame.x0 + (px / frame.w) * (frame.x1 - frame.x0),
  frame.y0 + (1 - py / frame.h) * (frame.y1 - frame.y0),
];

function star(ctx, x, y) {
  ctx.fillStyle = "#000";
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  for (let k = 0; k < 10; k++) {
    const r = k % 2 ? 4 : 10, a = (k * Math.PI) / 5 - Math.PI / 2;
    ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
  }
  ctx.closePath(); ctx.fill(); ctx.stroke();
}

// The legend (a colour per class, or one series of unlabelled samples) and the
// interpolation's ends (named test samples), as the core names them.
const LEGEND_SHOWN = 20;
function legend() {
  const series = latent ? latent.series : (data && data.classes.length ? data.classes : ["samples"]);
  const shown = series.slice(0, LEGEND_SHOWN);
  const el = $("legend");
  el.innerHTML = "";
  shown.forEach((name, i) => {
    const span = document.createElement("span");
    span.style.setProperty("--c", colour(i));
    span.textContent = name;
    span.title = name;
    el.append(span);
  });
  if (series.length > shown.length) {
    const more = document.createElement("span");
    more.textContent = `… ${series.length - shown.length} more`;
    el.append(more);
  }
  el.style.gridTemplateColumns = `repeat(${Math.min(5, Math.max(1, shown.length))}, auto)`;
  const ends = latent ? latent.endpoints : [];
  for (const id of ["from", "to"]) {
    $(id).innerHTML = "";
    ends.forEach((e) => $(id).append(new Option(e.name, String(e.index))));
  }
  if (ends.length > 1) $("to").value = String(ends[1].index);
}

// ---------- training ----------

function showUpdate(u) {
  status.epoch = u.epoch;
  status.epochs = u.epochs;
  status.step = u.step;
  if (u.train_loss != null) status.train_loss = u.train_loss;
  if (u.images_per_second != null) status.images_per_second = u.images_per_second;
  if (u.point) history.points.push(u.point);
  if (u.metrics) {
    const m = u.metrics;
    status.test_mse = m.test_mse;
    // The logged intervals replace this epoch's live points.
    history.points = history.points.filter(([e]) => e <= m.epoch - 1 + 1e-9);
    history.points.push(...m.interval_loss);
    history.epochs.push(m);
  }
  $("s-epoch").textContent = `${u.epoch} / ${u.epochs}`;
  $("s-step").textContent = String(u.step);
  // A VAE's loss is hundreds of nats: six figures keep it inside its column.
  const loss = status.train_loss;
  $("s-loss").textContent = loss == null ? "–" : Math.abs(loss) >= 1 ? loss.toPrecision(6) : loss.toFixed(5);
  $("s-mse").textContent = status.test_mse == null ? "–" : status.test_mse.toFixed(5);
  $("s-rate").textContent = status.images_per_second == null ? "–"
    : Math.round(status.images_per_second).toLocaleString();
  $("epoch-progress").value = u.total ? u.done / u.total : 0;
  drawLoss();
}

// Each refresh draws only for the run it was asked for (`mine`): a run stopped while
// its pictures were on their way leaves nothing behind.
async function refreshExamples(mine = generation) {
  const ex = await lab.examples();
  if (!ex || mine !== generation) return;
  drawPairs($("recon"), ex, ex.columns, { side: 56, gap: 2 });
  $("recon-note").textContent = ex.shape.layout === "rows"
    ? "Each plot: a test sample's numbers (dark) and what the model rebuilds from its code (orange). Refreshed as training goes."
    : "Top of each pair: a test sample. Below it: what the model rebuilds from its code. Refreshed as training goes.";
  lastExamples = performance.now();
}

async function refreshLatent(mine = generation) {
  const answer = await lab.latent();
  if (mine !== generation) return;
  latent = answer;
  legend();
  drawLatent();
}

async function start() {
  // As the Start button: one run at a time, once the data is in (a second press, or a
  // call, while a run starts or trains does nothing).
  if (!["ready", "done", "paused", "error"].includes(status.state) || !lab || !data) return;
  clearError();
  resetRun();
  const chosen = settings();
  setState("starting");
  const mine = ++generation;
  runModel = chosen.model;
  runBackend = chosen.backend;
  try {
    await lab.start(JSON.stringify(chosen));
  } catch (e) {
    if (mine === generation) fail(e);
    return;
  }
  // Stopped (the model switched) while it was being built.
  if (mine !== generation) return;
  setState("training");
  await trainLoop();
}

async function trainLoop() {
  if (running) return;
  running = true;
  try {
    while (status.state === "training") {
      const mine = generation;
      const u = await lab.advance();
      if (mine !== generation) continue;
      showUpdate(u);
      if (u.phase === "done") {
        setState("done");
        // A model of one class is judged at once: its scores are what it is for.
        if (settings().classes.length) await refreshScores();
        break;
      }
      if (u.phase === "epoch") {
        await refreshLatent(mine);
        await refreshExamples(mine);
      } else if (u.phase === "train" && performance.now() - lastExamples > 1000) {
        await refreshExamples(mine);
      }
      await nextFrame();
    }
  } catch (e) {
    fail(e);
  } finally {
    running = false;
  }
}

// ---------- the odd ones out ----------

async function refreshScores() {
  $("score").disabled = true;
  $("odd-summary").textContent = "Scoring the test set and the training samples…";
  try {
    scored = await lab.scores();
    status.auroc = scored.auroc;
    showScores(scored);
  } catch (e) {
    // Said where the scores go (and to status()), leaving the model as it is.
    const why = `The test set could not be scored: ${describe(e)}`;
    $("odd-summary").textContent = why;
    status.error = why;
  }
  setState(status.state);
}

const fmt = (v) => (v == null ? "–" : Math.abs(v) >= 0.01 ? v.toPrecision(3) : v.toExponential(2));

function showScores(s) {
  drawHistogram();
  const canvas = $("odd-samples");
  if (!s) {
    const chosen = $("classes").value;
    $("odd-summary").textContent = !data || !data.classes.length
      ? "The data has no classes: train, then score the test set to see its odd ones out."
      : chosen
        ? `Train on class ${chosen} only: the test set is scored when training ends, the other classes being the anomalies.`
        : "Choose a class under \u201cTrain on\u201d and train: the test set is scored when training ends.";
    $("histogram-legend").innerHTML = "";
    blank(canvas);
    return;
  }
  const trained = s.trained_classes ? s.trained_classes.join(", ") : null;
  const c = s.at_threshold;
  const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)}%` : "–");
  const lines = [];
  if (trained) {
    lines.push(`Trained on class ${trained} only. AUROC ${s.auroc == null ? "–" : s.auroc.toFixed(3)}: ` +
      "the chance that a test sample of another class scores above one of the class trained on " +
      `(0.5 is a coin toss, 1 perfect); average precision ${s.average_precision == null ? "–" : s.average_precision.toFixed(3)}.`);
    lines.push(`Threshold ${fmt(s.threshold)} (the ${s.percentile}th percentile of ${s.train_scored.toLocaleString()} training scores): ` +
      `flags ${c.true_positives.toLocaleString()} of ${s.anomalous.toLocaleString()} anomalies (${pct(c.true_positives, s.anomalous)}) ` +
      `and ${c.false_positives.toLocaleString()} of ${s.normal.toLocaleString()} normal test samples (${pct(c.false_positives, s.normal)}).`);
  } else {
    lines.push("Trained on every class, so every test sample counts as normal: no AUROC. " +
      `Threshold ${fmt(s.threshold)} (the ${s.percentile}th percentile of ${s.train_scored.toLocaleString()} training scores) ` +
      `flags ${c.false_positives.toLocaleString()} of ${s.normal.toLocaleString()} test samples.`);
  }
  $("odd-summary").textContent = lines.join(" ");
  const legendItems = [[NORMAL, trained ? `class ${trained} (normal)` : "test samples"]];
  if (s.anomalous) legendItems.push([ANOMALY, "other classes (anomalies)"]);
  $("histogram-legend").innerHTML = "";
  for (const [c2, text] of legendItems) {
    const span = document.createElement("span");
    span.style.setProperty("--c", c2);
    span.textContent = text;
    $("histogram-legend").append(span);
  }
  const line = document.createElement("span");
  line.className = "line";
  line.textContent = "threshold; ★ your drawing";
  $("histogram-legend").append(line);
  const columns = s.top.map((_, k) => ({ name: "", samples: [k] }));
  const odd = { ...s.odd, columns };
  // Two rows of five: the top five, then the next.
  drawPairs(canvas, odd, columns, {
    side: 56, gap: 6, across: 5,
    caption: (k) => [`${s.top[k].class ?? `#${s.top[k].index}`} · ${fmt(s.top[k].score)}`,
      s.top[k].anomalous ? ANOMALY : NORMAL],
  });
}

// The histogram of test scores (log counts), normal and anomalous apart, the threshold
// and a drawing's score.
function drawHistogram() {
  const canvas = $("histogram");
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, left = 44, bottom = 34, top = 10, right = 10;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  if (!scored) {
    ctx.fillStyle = "#5d6575";
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillText("The test scores are drawn here once they are computed.", 20, h / 2);
    return;
  }
  const hist = scored.histogram;
  const bins = hist.normal.length;
  const most = Math.max(1, ...hist.normal, ...hist.anomalous);
  const topLog = Math.ceil(Math.log10(most + 1) * 10) / 10;
  const X = (v) => left + ((v - hist.lo) / (hist.hi - hist.lo)) * (w - left - right);
  const Y = (n) => h - bottom - (Math.log10(n + 1) / topLog) * (h - bottom - top);
  const bw = (w - left - right) / bins;
  ctx.strokeStyle = "#d9dde5";
  ctx.fillStyle = "#5d6575";
  for (let count = 1; count <= most; count *= 10) {
    const y = Y(count);
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - right, y); ctx.stroke();
    ctx.fillText(count.toLocaleString(), 4, y + 4);
  }
  for (let i = 0; i < bins; i++) {
    const x = left + i * bw;
    ctx.globalAlpha = 0.75;
    if (hist.normal[i]) { ctx.fillStyle = NORMAL; ctx.fillRect(x + 0.5, Y(hist.normal[i]), bw / 2 - 0.5, h - bottom - Y(hist.normal[i])); }
    if (hist.anomalous[i]) { ctx.fillStyle = ANOMALY; ctx.fillRect(x + bw / 2, Y(hist.anomalous[i]), bw / 2 - 0.5, h - bottom - Y(hist.anomalous[i])); }
  }
  ctx.globalAlpha = 1;
  ctx.strokeStyle = "#1d2330";
  ctx.beginPath(); ctx.moveTo(left, h - bottom); ctx.lineTo(w - right, h - bottom); ctx.stroke();
  ctx.fillStyle = "#5d6575";
  for (let t = 0; t <= 4; t++) {
    const v = hist.lo + ((hist.hi - hist.lo) * t) / 4;
    const label = fmt(v);
    ctx.fillText(label, Math.min(w - right - ctx.measureText(label).width, Math.max(0, X(v) - ctx.measureText(label).width / 2)), h - bottom + 13);
  }
  ctx.fillText(`${scored.describe} (test samples, log count)`, left, h - 4);
  // The threshold.
  const tx = X(scored.threshold);
  ctx.strokeStyle = "#1d2330";
  ctx.setLineDash([5, 3]);
  ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(tx, top - 4); ctx.lineTo(tx, h - bottom); ctx.stroke();
  ctx.setLineDash([]);
  ctx.lineWidth = 1;
  ctx.fillStyle = "#1d2330";
  const tl = `threshold ${fmt(scored.threshold)}`;
  ctx.fillText(tl, tx + 4 + ctx.measureText(tl).width > w - right ? tx - 4 - ctx.measureText(tl).width : tx + 4, top + 6);
  // A drawing's score: a star on the axis (at the edge, with its value, when beyond it).
  if (drawnScore) {
    const beyond = drawnScore.score > hist.hi;
    const sx = Math.min(X(drawnScore.score), w - right - 2);
    star(ctx, Math.max(left, sx), h - bottom - 10);
    if (beyond) {
      ctx.fillStyle = "#1d2330";
      const label = `${fmt(drawnScore.score)} →`;
      ctx.fillText(label, w - right - ctx.measureText(label).width, h - bottom - 26);
    }
  }
}

$("score").addEventListener("click", () => refreshScores());
$("odd-start").addEventListener("click", start);

// ---------- the latent plane, interpolation and drawing ----------

$("latent").addEventListener("click", async (ev) => {
  if (!frame || !latent || status.state === "training") return;
  const r = ev.target.getBoundingClientRect();
  const px = ((ev.clientX - r.left) / r.width) * frame.w;
  const py = ((ev.clientY - r.top) / r.height) * frame.h;
  try {
    const image = await lab.decodePoint(...fromCanvas(px, py));
    drawSamples($("decoded"), image, data.shape, 1, { side: 112, gap: 0 });
    drawLatent();
    const ctx = $("latent").getContext("2d");
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.strokeRect(px - 5, py - 5, 10, 10);
  } catch (e) { fail(e); }
});

$("interpolate").addEventListener("click", async () => {
  const a = Number($("from").value), b = Number($("to").value);
  try {
    const images = await lab.interpolate(a, b);
    const n = images.length / (data.shape.channels * data.shape.height * data.shape.width);
    drawSamples($("strip"), images, data.shape, n, { side: data.shape.layout === "rows" ? 28 : 56, gap: 2 });
  } catch (e) { fail(e); }
});

const pad = $("pad");
const padCtx = pad.getContext("2d");
let drawing = false;
// The pad draws at the data's aspect (one channel of H×W): 224 pixels on its longer side.
function preparePad() {
  const why = data && data.undrawable;
  pad.classList.toggle("off", Boolean(why));
  $("pad-note").hidden = !why;
  $("pad-note").textContent = why ? `Drawing is off for this data: ${why}.` : "";
  $("clear").disabled = Boolean(why);
  if (data && !why) {
    const { height: h, width: w } = data.shape;
    pad.width = w >= h ? 224 : Math.max(16, Math.round((224 * w) / h));
    pad.height = h >= w ? 224 : Math.max(16, Math.round((224 * h) / w));
  }
  clearPad();
}
function clearPad() {
  padCtx.fillStyle = "#000";
  padCtx.fillRect(0, 0, pad.width, pad.height);
}
function padPoint(ev) {
  const r = pad.getBoundingClientRect();
  return [((ev.clientX - r.left) / r.width) * pad.width, ((ev.clientY - r.top) / r.height) * pad.height];
}
pad.addEventListener("pointerdown", (ev) => {
  if (data && data.undrawable) return;
  drawing = true;
  pad.setPointerCapture(ev.pointerId);
  padCtx.strokeStyle = "#fff";
  // MNIST's strokes are about two pixels of 28: the same share of any side.
  padCtx.lineWidth = (18 / 224) * Math.max(pad.width, pad.height);
  padCtx.lineCap = padCtx.lineJoin = "round";
  padCtx.beginPath();
  padCtx.moveTo(...padPoint(ev));
});
pad.addEventListener("pointermove", (ev) => {
  if (!drawing) return;
  padCtx.lineTo(...padPoint(ev));
  padCtx.stroke();
});
pad.addEventListener("pointerup", async () => {
  if (!drawing) return;
  drawing = false;
  await reconstructDrawing();
});
$("clear").addEventListener("click", () => {
  clearPad();
  drawnPoint = null;
  drawnScore = null;
  $("verdict").textContent = "";
  drawLatent();
  drawHistogram();
});

// The pad shrunk to the data's H×W, as its samples are: grey levels 0..255.
function padPixels() {
  const { height: h, width: w } = data.shape;
  const small = document.createElement("canvas");
  small.width = w; small.height = h;
  const ctx = small.getContext("2d");
  ctx.drawImage(pad, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const out = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) out[i] = rgba[i * 4];
  return out;
}

async function reconstructDrawing() {
  if (!["done", "paused"].includes(status.state)) {
    $("drawn-rebuilt").title = "Train or open a model first";
    return;
  }
  try {
    const r = await lab.reconstructDrawn(padPixels());
    drawSamples($("drawn-rebuilt"), r.rebuilt, data.shape, 1, { side: 112, gap: 0 });
    drawnPoint = r.x == null ? null : [r.x, r.y];
    drawnScore = { score: r.score, threshold: r.threshold, anomaly: r.anomaly };
    showVerdict();
    drawLatent();
    drawHistogram();
  } catch (e) { fail(e); }
}

function showVerdict() {
  const v = $("verdict");
  v.innerHTML = "";
  if (!drawnScore) return;
  v.append(`Your drawing scores ${fmt(drawnScore.score)}: `);
  if (drawnScore.anomaly == null) {
    v.append("score the test set (under \u201cFind the odd ones out\u201d) for a verdict.");
    return;
  }
  const word = document.createElement("span");
  word.className = drawnScore.anomaly ? "anomaly" : "normal";
  word.textContent = drawnScore.anomaly ? "an anomaly" : "normal";
  v.append(word, drawnScore.anomaly
    ? ` (above the threshold ${fmt(drawnScore.threshold)}).`
    : ` (at or below the threshold ${fmt(drawnScore.threshold)}).`);
}

// ---------- weights ----------

$("download").addEventListener("click", async () => {
  try {
    const bytes = await lab.weights();
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    const a = Object.assign(document.createElement("a"), { href: url, download: "model.safetensors" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) { fail(e); }
});

$("open").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  ev.target.value = "";
  if (file) await openModel(file);
});

// Opens a model file. The core's rules on its size and first bytes come before it is
// read, so that a file the page cannot hold (2 GB, say) is never read into memory; a
// file refused leaves the model in use as it was.
async function openModel(file) {
  if (!["ready", "done", "paused", "error"].includes(status.state) || !lab || !data) return;
  clearError();
  const before = status.state;
  const chosen = settings();
  setState("starting");
  opening = true;
  generation++;
  let opened;
  try {
    checkWeightsFile(file.name, new Uint8Array(await file.slice(0, 16).arrayBuffer()), file.size);
    const bytes = new Uint8Array(await file.arrayBuffer());
    opened = await lab.openWeights(file.name, bytes, JSON.stringify(chosen));
  } catch (e) {
    opening = false;
    if (lab.deviceLost() || lastPanic()) {
      fail(e);
      return;
    }
    // A file refused leaves the model before; one that failed once read leaves none.
    const kept = await lab.hasModel().catch(() => false);
    if (!kept) resetRun();
    refuse(e, kept ? before : "ready");
    return;
  }
  opening = false;
  resetRun();
  const form = $("settings").elements;
  form.model.value = opened.model;
  form.sizes.value = opened.sizes;
  $("sizes-label").textContent = sizesLabel(opened.model);
  runModel = opened.model;
  runBackend = chosen.backend;
  Object.assign(status, { epoch: opened.epoch, epochs: opened.epoch, test_mse: opened.test_mse, train_loss: null });
  $("opened").textContent = `Opened ${file.name}: ${opened.describe}, epoch ${opened.epoch}, ` +
    `test MSE ${opened.test_mse.toFixed(5)}.`;
  $("s-mse").textContent = opened.test_mse.toFixed(5);
  setState("done");
  try {
    await refreshLatent();
    await refreshExamples();
    setState("done");
  } catch (e) { fail(e); }
}

// ---------- check and profile ----------

async function check() {
  const body = $("check-table").tBodies[0];
  body.innerHTML = "";
  const groups = await lab.checkPlan();
  const rows = [];
  let failed = 0, cases = 0;
  for (let i = 0; i < groups.length; i++) {
    $("check-summary").textContent = `checking ${i + 1} of ${groups.length}: ${groups[i].kernel} ${groups[i].variant}`;
    const r = await lab.checkGroup(i);
    rows.push(r);
    cases += r.cases;
    if (!r.passed) failed++;
    const tr = body.insertRow();
    tr.innerHTML = `<td>${r.kernel}</td><td>${r.variant}</td><td>${r.cases}</td>` +
      `<td>${r.largest_error.toExponential(2)}</td><td>${r.largest_error_of_tolerance.toFixed(3)}</td>` +
      `<td class="${r.passed ? "pass" : "fail"}">${r.passed ? "pass" : "FAIL"}</td>`;
    if (!r.passed) tr.title = r.first_failure || "";
    await nextFrame();
  }
  $("check-summary").textContent = failed
    ? `${failed} of ${groups.length} entry points FAILED (hover a row for the first failure)`
    : `all ${cases} cases of ${groups.length} entry points and variants pass`;
  return rows;
}

$("check").addEventListener("click", async () => {
  $("check").disabled = true;
  try { await check(); } catch (e) { fail(e); }
  setState(status.state);
});

$("profile").addEventListener("click", async () => {
  $("profile").disabled = true;
  $("profile-note").textContent = "profiling…";
  try {
    const r = await lab.profile(JSON.stringify(settings()), 4);
    const p = r.profile;
    const quantum = r.quantum_ms == null ? ""
      : ` The browser quantises timestamps: every time is a multiple of ${(r.quantum_ms * 1000).toFixed(0)} µs, so short dispatches read as 0 or one step.`;
    $("profile-note").textContent =
      `${p.model}, batch ${p.batch}: ${r.images_per_second.toFixed(0)} images/s; ` +
      `${p.step_wall_ms.toFixed(2)} ms a step, of which dispatches ${p.step_busy_ms.toFixed(2)} ms. ` +
      `Timed at ${r.timing}.${quantum}`;
    const body = $("profile-table").tBodies[0];
    body.innerHTML = "";
    for (const d of p.dispatches) {
      body.insertRow().innerHTML = `<td>${d.index}</td><td>${d.kernel}</td><td>${d.shape}</td>` +
        `<td>${d.median_ms.toFixed(3)}</td><td>${(d.share * 100).toFixed(1)}%</td><td>${d.gflops.toFixed(2)}</td>`;
    }
  } catch (e) {
    const msg = describe(e);
    $("profile-note").textContent = msg.includes("timestamp")
      ? `This browser grants no timestamp-query, so dispatches cannot be timed one by one (${msg}). ` +
        "Images per second are shown under Training."
      : msg;
  }
  setState(status.state);
});

// ---------- the kernel ladder ----------

// The bars: each rung's GFLOP/s against the fastest rung's.
function drawLadder(rows) {
  const scale = Math.max(0, ...rows.map((r) => r.gflops || 0)) || 1;
  const list = $("ladder-rungs");
  list.innerHTML = "";
  ladderRungs.forEach((rung, i) => {
    const r = rows[i];
    const li = document.createElement("li");
    let figure = rung.runs ? "waiting" : "not on this adapter (needs subgroups)";
    let failed = false;
    if (r) {
      failed = r.checked === false;
      figure = failed ? `FAILED the check: ${r.failure || ""}`
        : r.gflops == null ? "not on this adapter"
        : `${r.gflops.toFixed(r.gflops < 10 ? 2 : 1)} GFLOP/s · ${r.gpu_ms.toFixed(3)} ms · ` +
          `${(100 * r.best_share).toFixed(0)}% of the best · checked ✓`;
    }
    li.innerHTML = `<div class="rung-head"><a href="#" data-rung="${i}"></a>` +
      `<span class="rung-figure${failed ? " fail" : ""}"></span></div>` +
      `<div class="bar-track"><div class="bar-fill"></div></div><div class="rung-idea"></div>`;
    li.querySelector("a").textContent = `${rung.step} ${rung.rung}`;
    li.querySelector("a").title = rung.file;
    li.querySelector(".rung-figure").textContent = figure;
    li.querySelector(".rung-idea").textContent = rung.idea;
    li.querySelector(".bar-fill").style.width = `${r && r.gflops ? (100 * r.gflops) / scale : 0}%`;
    list.appendChild(li);
  });
}

// Each row's share of the fastest rung, as `bench --ladder` gives it.
function placeRows(rows) {
  const best = Math.max(0, ...rows.map((r) => r.gflops || 0));
  for (const r of rows) r.best_share = r.gflops == null || best === 0 ? null : r.gflops / best;
}

async function climb() {
  if (climbing) return ladderRows;
  climbing = true;
  setState(status.state);
  try {
    const quick = $("ladder-size").value === "quick";
    ladderRungs = await lab.ladderPlan($("ladder-family").value, quick);
    ladderRows = null;
    drawLadder([]);
    const rows = [];
    for (let i = 0; i < ladderRungs.length; i++) {
      const rung = ladderRungs[i];
      $("ladder-summary").textContent =
        `checking, then timing rung ${i + 1} of ${ladderRungs.length} (${rung.rung}) at ${rung.shape}…`;
      rows.push(await lab.ladderRung(i));
      placeRows(rows);
      drawLadder(rows);
      await nextFrame();
    }
    const timed = rows.filter((r) => r.gflops != null);
    const failed = rows.filter((r) => r.checked === false);
    const fastest = timed.reduce((a, r) => (a && a.gflops >= r.gflops ? a : r), null);
    $("ladder-summary").textContent =
      (failed.length ? `${failed.length} rung(s) FAILED the check. ` : "Every rung matches the CPU reference. ") +
      (fastest ? `At ${ladderRungs[0].shape}, the fastest is rung ${fastest.step} ${fastest.rung}: ` +
        `${fastest.gflops.toFixed(1)} GFLOP/s.` : "");
    ladderRows = rows;
    return rows;
  } finally {
    climbing = false;
    setState(status.state);
  }
}

$("ladder-climb").addEventListener("click", async () => {
  try { await climb(); } catch (e) { $("ladder-summary").textContent = describe(e); }
});

$("ladder-rungs").addEventListener("click", (event) => {
  const link = event.target.closest("a[data-rung]");
  if (!link) return;
  event.preventDefault();
  const rung = ladderRungs[Number(link.dataset.rung)];
  $("ladder-source-name").textContent = rung.file;
  $("ladder-source-text").textContent = rung.source;
  $("ladder-source").hidden = false;
});
$("ladder-source-close").addEventListener("click", () => { $("ladder-source").hidden = true; });

// ---------- start-up ----------

$("start").addEventListener("click", start);
$("pause").addEventListener("click", () => setState("paused"));
$("resume").addEventListener("click", () => { setState("training"); trainLoop(); });
$("restart").addEventListener("click", () => location.reload());

window.wgslAutoencoder = {
  status: () => JSON.parse(JSON.stringify(status)),
  // The loss curve's points, in order: each stretch of steps' mean training loss.
  losses: () => history.points.map((p) => p[1]),
  // The last scores of the test set, without their pictures (null before any): the
  // threshold, AUROC, counts, the ten highest, and the last drawing's verdict.
  scores: () => (scored ? JSON.parse(JSON.stringify({
    kind: scored.kind, threshold: scored.threshold, percentile: scored.percentile,
    train_scored: scored.train_scored, trained_classes: scored.trained_classes,
    auroc: scored.auroc, average_precision: scored.average_precision,
    normal: scored.normal, anomalous: scored.anomalous, at_threshold: scored.at_threshold,
    histogram: scored.histogram, top: scored.top, drawn: drawnScore,
  })) : null),
  check: () => check(),
  // The last climb's rows (null before one): each rung's file, idea, time, GFLOP/s,
  // share of the best rung, and whether it matched the reference.
  ladder: () => (ladderRows ? JSON.parse(JSON.stringify(ladderRows)) : null),
  // Climbs a ladder ("matmul" or "conv", size "quick" or "full") and returns its rows.
  climb: (family = "matmul", size = "quick") => {
    $("ladder-family").value = family;
    $("ladder-size").value = size;
    return climb();
  },
  start: () => start(),
  loseDevice: () => lab.loseDevice(),
};

// wgpu does not see a browser adapter's name; the page asks WebGPU for what it tells
// (vendor, architecture, description: often partly blank, by the browser's choice).
async function adapterName(fallback) {
  try {
    const adapter = await navigator.gpu.requestAdapter();
    const info = adapter && adapter.info;
    const parts = info ? [info.vendor, info.architecture, info.device, info.description] : [];
    const name = parts.filter((p) => p && String(p).trim()).join(" ");
    return name || fallback;
  } catch {
    return fallback;
  }
}

async function main() {
  legend();
  clearPad();
  drawLatent();
  showScores(null);
  const autostart = applyUrl();
  await init();
  lab = new Lab();
  watchDevice();
  if (!navigator.gpu) {
    $("adapter").textContent = "No WebGPU in this browser: the CPU reference only.";
    $("settings").elements.backend.value = "cpu";
    $("error-text").textContent =
      `This browser offers no WebGPU, so the GPU kernels cannot run here.\n${WEBGPU_ADVICE}`;
    $("error").hidden = false;
  } else {
    try {
      const a = await lab.openGpu();
      status.adapter = await adapterName(a.name);
      $("adapter").textContent = `GPU: ${status.adapter}. Timestamps: ${a.timestamps}. ` +
        `Largest buffer ${a.max_buffer_mib.toFixed(0)} MiB, storage binding ${a.max_storage_binding_mib.toFixed(0)} MiB.`;
    } catch (e) {
      $("adapter").textContent = "WebGPU is present, but no adapter opened: the CPU reference only.";
      $("settings").elements.backend.value = "cpu";
      // The core's "no adapter" advice is the terminal's (install lavapipe); a page's
      // reader needs the browser's.
      const why = describe(e);
      $("error-text").textContent = /no GPU adapter/.test(why)
        ? `This browser has WebGPU but offers no adapter (it may be disabled, or blocklisted for this GPU).\n${WEBGPU_ADVICE}`
        : `${why}\n${WEBGPU_ADVICE}`;
      $("error").hidden = false;
    }
  }
  try {
    await loadMnist();
  } catch (e) {
    fail(new Error(`MNIST could not be loaded: ${describe(e)}`));
    return;
  }
  setState("ready");
  if (autostart) await start();
}

main().catch(fail);

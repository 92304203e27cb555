// The page: controls, drawing and the automation contract. Everything that computes
// (MNIST's checks, the models, training, the kernel check, the profile) is the Rust core,
// compiled to wasm, behind `Lab` (web/src/lib.rs); this file only asks and draws.
import init, { Lab, lastPanic } from "./wgsl_autoencoder_web.js";

const $ = (id) => document.getElementById(id);
const FILES = [
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
];
// Ten colours a reader tells apart (Tableau 10), one per digit.
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

// What status() reports: the automation contract (README, "Automation").
const status = {
  state: "loading", epoch: 0, step: 0, train_loss: null, test_mse: null,
  images_per_second: null, adapter: null, error: null,
};
const history = { points: [], epochs: [] }; // live loss points; per-epoch metrics
let lab = null;
let latent = null; // { xy, labels } of the last evaluation
let drawnPoint = null;
let lastExamples = 0;
let running = false;
// Each Start begins a new run: an advance of the run before, still in flight, is dropped.
let generation = 0;

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

function clearError() {
  status.error = null;
  $("error").hidden = true;
}

window.addEventListener("unhandledrejection", (ev) => fail(ev.reason));
window.addEventListener("error", (ev) => fail(ev.error || ev.message));

// ---------- state and controls ----------

function setState(state) {
  status.state = state;
  $("s-state").textContent = state;
  const ready = ["ready", "done", "paused", "error"].includes(state) && lab !== null;
  $("start").disabled = !ready || !dataLoaded;
  $("pause").disabled = state !== "training";
  $("resume").disabled = state !== "paused";
  const haveModel = ["done", "paused"].includes(state);
  $("download").disabled = !haveModel;
  $("open").disabled = !ready || !dataLoaded;
  $("check").disabled = !status.adapter || state === "training" || state === "loading";
  $("profile").disabled = !status.adapter || state === "training" || !dataLoaded;
  $("interpolate").disabled = !latent || latent.labels.length === 0 || state === "training";
}

function settings() {
  const f = new FormData($("settings"));
  const limit = Number(f.get("limit"));
  return {
    model: f.get("model"),
    sizes: f.get("sizes"),
    activation: f.get("activation"),
    batch: Number(f.get("batch")),
    lr: Number(f.get("lr")),
    epochs: Number(f.get("epochs")),
    noise: f.get("noise"),
    limit: limit >= 60000 ? null : limit,
    seed: 0,
    backend: f.get("backend"),
  };
}

// URL parameters set the controls: ?model=conv&channels=16,8&batch=64&autostart=1
function applyUrl() {
  const q = new URLSearchParams(location.search);
  const form = $("settings").elements;
  const model = q.get("model");
  if (model) form.model.value = model;
  form.sizes.value = q.get("layers") || q.get("channels") || DEFAULT_SIZES[form.model.value] || form.sizes.value;
  for (const name of ["activation", "batch", "lr", "epochs", "limit", "noise", "backend"]) {
    if (q.has(name)) form[name].value = q.get(name);
  }
  $("sizes-label").textContent = sizesLabel(form.model.value);
  return q.get("autostart") === "1";
}

$("settings").elements.model.addEventListener("change", (ev) => {
  $("settings").elements.sizes.value = DEFAULT_SIZES[ev.target.value] || "";
  $("sizes-label").textContent = sizesLabel(ev.target.value);
});

// ---------- data ----------

let dataLoaded = false;

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

async function loadData() {
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
  const counts = await lab.loadData(files[0], files[1], files[2], files[3]);
  bar.value = 1;
  $("data").textContent = `MNIST: ${counts.train.toLocaleString()} training and ` +
    `${counts.test.toLocaleString()} test images, checked.`;
  dataLoaded = true;
}

// ---------- drawing ----------

const nextFrame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

// Draws 28x28 images (values 0..1, white on black) into a canvas, `cols` a row.
function drawDigits(canvas, images, cols, { scale = 2, gap = 2 } = {}) {
  const n = images.length / 784;
  const ctx = canvas.getContext("2d");
  const rows = Math.ceil(n / cols);
  const side = 28 * scale;
  canvas.width = cols * (side + gap) - gap;
  canvas.height = rows * (side + gap) - gap;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const tile = new ImageData(28, 28);
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const sctx = small.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < 784; i++) {
      const v = Math.max(0, Math.min(255, Math.round(images[k * 784 + i] * 255)));
      tile.data.set([v, v, v, 255], i * 4);
    }
    sctx.putImageData(tile, 0, 0);
    const x = (k % cols) * (side + gap);
    const y = Math.floor(k / cols) * (side + gap);
    ctx.drawImage(small, x, y, side, side);
  }
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
  ctx.globalAlpha = 0.55;
  for (let i = 0; i < labels.length; i++) {
    const [px, py] = toCanvas(xy[2 * i], xy[2 * i + 1]);
    ctx.fillStyle = COLOURS[labels[i]];
    ctx.fillRect(px - 1, py - 1, 2.5, 2.5);
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

function legend() {
  $("legend").innerHTML = COLOURS.map((c, d) => `<span style="--c:${c}">${d}</span>`).join("");
  for (const id of ["from", "to"]) {
    $(id).innerHTML = COLOURS.map((_, d) => `<option>${d}</option>`).join("");
  }
  $("to").value = "1";
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

async function refreshExamples() {
  const ex = await lab.examples();
  if (!ex) return;
  // Pairs: ten digits a row, each above its reconstruction.
  const n = ex.labels.length, cols = 10;
  const merged = new Float32Array(n * 2 * 784);
  for (let k = 0; k < n; k++) {
    const row = Math.floor(k / cols), col = k % cols;
    merged.set(ex.clean.subarray(k * 784, (k + 1) * 784), ((2 * row) * cols + col) * 784);
    merged.set(ex.rebuilt.subarray(k * 784, (k + 1) * 784), ((2 * row + 1) * cols + col) * 784);
  }
  drawDigits($("recon"), merged, cols, { scale: 2, gap: 2 });
  lastExamples = performance.now();
}

async function refreshLatent() {
  latent = await lab.latent();
  drawLatent();
}

async function start() {
  clearError();
  history.points = []; history.epochs = [];
  Object.assign(status, { epoch: 0, step: 0, train_loss: null, test_mse: null, images_per_second: null });
  latent = null; drawnPoint = null; drawLatent();
  setState("starting");
  generation++;
  try {
    await lab.start(JSON.stringify(settings()));
  } catch (e) {
    fail(e);
    return;
  }
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
        break;
      }
      if (u.phase === "epoch") {
        await refreshLatent();
        await refreshExamples();
      } else if (u.phase === "train" && performance.now() - lastExamples > 1000) {
        await refreshExamples();
      }
      await nextFrame();
    }
  } catch (e) {
    fail(e);
  } finally {
    running = false;
  }
}

// ---------- the latent plane, interpolation and drawing ----------

$("latent").addEventListener("click", async (ev) => {
  if (!frame || !latent || status.state === "training") return;
  const r = ev.target.getBoundingClientRect();
  const px = ((ev.clientX - r.left) / r.width) * frame.w;
  const py = ((ev.clientY - r.top) / r.height) * frame.h;
  try {
    const image = await lab.decodePoint(...fromCanvas(px, py));
    drawDigits($("decoded"), image, 1, { scale: 4, gap: 0 });
    drawLatent();
    const ctx = $("latent").getContext("2d");
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.strokeRect(px - 5, py - 5, 10, 10);
  } catch (e) { fail(e); }
});

$("interpolate").addEventListener("click", async () => {
  const first = (d) => latent.labels.findIndex((l) => l === d);
  const a = first(Number($("from").value)), b = first(Number($("to").value));
  try {
    const images = await lab.interpolate(a, b);
    drawDigits($("strip"), images, images.length / 784, { scale: 2, gap: 2 });
  } catch (e) { fail(e); }
});

const pad = $("pad");
const padCtx = pad.getContext("2d");
let drawing = false;
function clearPad() {
  padCtx.fillStyle = "#000";
  padCtx.fillRect(0, 0, pad.width, pad.height);
}
function padPoint(ev) {
  const r = pad.getBoundingClientRect();
  return [((ev.clientX - r.left) / r.width) * pad.width, ((ev.clientY - r.top) / r.height) * pad.height];
}
pad.addEventListener("pointerdown", (ev) => {
  drawing = true;
  pad.setPointerCapture(ev.pointerId);
  padCtx.strokeStyle = "#fff";
  padCtx.lineWidth = 18;
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
  drawLatent();
});

// The pad shrunk to 28x28, as MNIST's digits are: grey levels 0..255.
function padPixels() {
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const ctx = small.getContext("2d");
  ctx.drawImage(pad, 0, 0, 28, 28);
  const rgba = ctx.getImageData(0, 0, 28, 28).data;
  const out = new Uint8Array(784);
  for (let i = 0; i < 784; i++) out[i] = rgba[i * 4];
  return out;
}

async function reconstructDrawing() {
  if (!["done", "paused"].includes(status.state)) {
    $("drawn-rebuilt").title = "Train or open a model first";
    return;
  }
  try {
    const r = await lab.reconstructDrawn(padPixels());
    drawDigits($("drawn-rebuilt"), r.rebuilt, 1, { scale: 4, gap: 0 });
    drawnPoint = r.x == null ? null : [r.x, r.y];
    drawLatent();
  } catch (e) { fail(e); }
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
  if (!file) return;
  clearError();
  setState("starting");
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const opened = await lab.openWeights(bytes, settings().backend);
    const form = $("settings").elements;
    form.model.value = opened.model;
    form.sizes.value = opened.sizes;
    history.points = []; history.epochs = [];
    Object.assign(status, { epoch: opened.epoch, epochs: opened.epoch, test_mse: opened.test_mse, train_loss: null });
    $("data").textContent = `Opened ${file.name}: ${opened.describe}, epoch ${opened.epoch}, ` +
      `test MSE ${opened.test_mse.toFixed(5)}.`;
    $("s-mse").textContent = opened.test_mse.toFixed(5);
    setState("done");
    await refreshLatent();
    await refreshExamples();
    setState("done");
  } catch (e) { fail(e); }
  ev.target.value = "";
});

// ---------- check and profile ----------

async function check() {
  const body = $("check-table").tBodies[0];
  body.innerHTML = "";
  const groups = await lab.checkPlan();
  const rows = [];
  let failed = 0, cases = 0;
  for (let i = 0; i < groups.length; i++) {
    $("check-summary").textContent = `checking ${i + 1} of ${groups.length}: ${groups[i].entry} ${groups[i].variant}`;
    const r = await lab.checkGroup(i);
    rows.push(r);
    cases += r.cases;
    if (!r.passed) failed++;
    const tr = body.insertRow();
    tr.innerHTML = `<td>${r.entry}</td><td>${r.variant}</td><td>${r.cases}</td>` +
      `<td>${r.worst_error.toExponential(2)}</td><td>${r.worst_of_tolerance.toFixed(3)}</td>` +
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

// ---------- start-up ----------

$("start").addEventListener("click", start);
$("pause").addEventListener("click", () => setState("paused"));
$("resume").addEventListener("click", () => { setState("training"); trainLoop(); });
$("restart").addEventListener("click", () => location.reload());

window.wgslAutoencoder = {
  status: () => JSON.parse(JSON.stringify(status)),
  // The loss curve's points, in order: each stretch of steps' mean training loss.
  losses: () => history.points.map((p) => p[1]),
  check: () => check(),
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
  const autostart = applyUrl();
  await init();
  lab = new Lab();
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
    await loadData();
  } catch (e) {
    fail(new Error(`MNIST could not be loaded: ${describe(e)}`));
    return;
  }
  setState("ready");
  if (autostart) await start();
}

main().catch(fail);

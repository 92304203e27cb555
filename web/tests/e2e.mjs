// End to end, in a real browser: serve web/dist, open the page with URL parameters, let
// it train on one digit, then use it as a person would (read the odd ones out, click
// the latent plane, draw a stroke and read its verdict, download the weights, pick a
// folder of images and train on it), then meet bad files and bad timing (model files
// it cannot open, Start twice, the model switched mid-run, a tab closed mid-download,
// the device lost mid-epoch and between runs), and save screenshots. Debian's
// Chromium, driven by playwright-core, runs WebGPU headless on its bundled SwiftShader.
//
//   E2E_FOLDER=DIR node web/tests/e2e.mjs OUT_DIR [QUERY]
//
// E2E_FOLDER is a folder of images in class folders (tests/browser.rs writes 300 MNIST
// digits of three classes, coloured, as PNGs), picked as a person picks a folder.
// Exits non-zero, saying why, when anything the page should do does not happen. OUT_DIR
// receives the screenshots, model.safetensors (the page's download) and result.json.
// tests/browser.rs runs it, and checks the download with the native `eval`.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, "../dist");
const out = path.resolve(process.argv[2] || "target/e2e");
const query = process.argv[3] ||
  "?model=dense&layers=100,200,30&batch=128&lr=0.001&epochs=1&limit=512&classes=0&autostart=1";
const FOLDER = process.env.E2E_FOLDER;
// SwiftShader is slow: the training run gets minutes, each interaction seconds.
const TRAIN_TIMEOUT_MS = Number(process.env.E2E_TRAIN_TIMEOUT_MS || 600_000);
// The mid-run screenshot waits for this many steps (a long run's picture shows more).
const MID_STEP = Number(process.env.E2E_MID_STEP || 1);

const TYPES = {
  ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
  ".wasm": "application/wasm", ".gz": "application/octet-stream",
};

function serve() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const file = path.join(dist, decodeURIComponent(url.pathname === "/" ? "/index.html" : url.pathname));
    if (!file.startsWith(dist) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const began = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - began) / 1000).toFixed(1)}s]`, ...a);
const consoleErrors = [];

async function main() {
  check(fs.existsSync(path.join(dist, "index.html")), `${dist} has no index.html: run scripts/web.sh build`);
  check(FOLDER && fs.existsSync(FOLDER), `E2E_FOLDER (${FOLDER}) names no folder of images to pick`);
  fs.mkdirSync(out, { recursive: true });
  const server = await serve();
  const base = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless=new", "--no-sandbox", "--enable-unsafe-webgpu",
      "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
    ],
  });
  const result = {};
  try {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 1500 } });
    const page = await context.newPage();
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    log("opening", base + query);
    await page.goto(base + query);
    const status = () => page.evaluate(() => window.wgslAutoencoder && window.wgslAutoencoder.status());

    // Training: wait for `done`, keeping a mid-run screenshot.
    const started = Date.now();
    let shotMid = false;
    let s;
    for (;;) {
      s = await status();
      if (s && s.state === "error") throw new Error(`the page says: ${s.error}`);
      if (s && s.state === "done") break;
      if (s && s.state === "training" && s.step >= MID_STEP && !shotMid) {
        await page.screenshot({ path: path.join(out, "page-training.png"), fullPage: true });
        shotMid = true;
        log("mid-run:", JSON.stringify(s));
      }
      check(Date.now() - started < TRAIN_TIMEOUT_MS, `not done after ${TRAIN_TIMEOUT_MS} ms: ${JSON.stringify(s)}`);
      await page.waitForTimeout(250);
    }
    log("done:", JSON.stringify(s));
    result.status = s;
    check(s.adapter, "no WebGPU adapter was opened");
    check(Number.isFinite(s.test_mse) && s.test_mse > 0, `test_mse is ${s.test_mse}`);
    check(s.step > 0 && s.images_per_second > 0, `step ${s.step}, images/s ${s.images_per_second}`);

    // The loss fell: the live curve's first point against the epoch's last logged one.
    const points = await page.evaluate(() => {
      const c = document.getElementById("loss");
      return c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0);
    });
    check(points, "the loss canvas is blank");
    const losses = await page.evaluate(() => window.wgslAutoencoder.losses());
    result.losses = losses;
    check(losses.length >= 2 && losses[losses.length - 1] < losses[0],
      `the loss did not fall: ${JSON.stringify(losses)}`);

    // Reconstructions are drawn: the canvas holds more than its white background.
    const inked = (id) => page.evaluate((id) => {
      const c = document.getElementById(id);
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let dark = 0, light = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] === 0) continue;
        if (d[i] < 60) dark++; else if (d[i] > 180) light++;
      }
      return { dark, light, pixels: d.length / 4 };
    }, id);
    const recon = await inked("recon");
    result.recon = recon;
    check(recon.dark > 1000 && recon.light > 1000, `the reconstructions canvas looks blank: ${JSON.stringify(recon)}`);

    // Trained on the digit 0 alone: the test set is scored when training ends, the
    // other digits being the anomalies.
    await page.waitForFunction(() => {
      const s = window.wgslAutoencoder.status();
      return s.state === "error" || s.error || typeof s.auroc === "number";
    }, null, { timeout: 120_000 });
    const scores = await page.evaluate(() => window.wgslAutoencoder.scores());
    result.scores = { ...scores, histogram: undefined };
    check((await status()).error == null, `scoring failed: ${(await status()).error}`);
    check(scores.auroc >= 0 && scores.auroc <= 1, `AUROC ${scores.auroc}`);
    check(scores.normal === 980 && scores.anomalous === 9020,
      `normal and anomalous test samples: ${scores.normal}, ${scores.anomalous}`);
    check(JSON.stringify(scores.trained_classes) === '["0"]', `trained on ${scores.trained_classes}`);
    check(scores.threshold > 0 && scores.train_scored === 512, `threshold ${scores.threshold} of ${scores.train_scored}`);
    check(scores.top.length === 10 && scores.top[0].score >= scores.top[9].score, "the ten highest scores");
    const bars = await page.evaluate(() => {
      const c = document.getElementById("histogram");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let normal = 0, anomalous = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] < 128) continue;
        if (d[i + 2] > d[i] + 40) normal++; else if (d[i] > d[i + 2] + 40) anomalous++;
      }
      return { normal, anomalous };
    });
    check(bars.normal > 200 && bars.anomalous > 200, `the histogram's bars: ${JSON.stringify(bars)}`);
    const odd = await inked("odd-samples");
    check(odd.dark > 1000 && odd.light > 1000, `the ten odd ones out look blank: ${JSON.stringify(odd)}`);
    log(`scored: AUROC ${scores.auroc.toFixed(3)}, threshold ${scores.threshold.toPrecision(3)}`);

    // Click in the latent plane: a decoded digit appears (ink on its black square).
    await page.click("#latent", { position: { x: 200, y: 200 } });
    await page.waitForFunction(() => {
      const c = document.getElementById("decoded");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 100) lit++;
      return lit > 30;
    }, null, { timeout: 60_000 });
    log("a point of the latent plane decoded");

    // Draw a stroke (a "1"): its reconstruction appears, and a star in the plot.
    const box = await page.locator("#pad").boundingBox();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
    await page.mouse.down();
    for (let k = 1; k <= 12; k++) {
      await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.2 + 0.05 * k));
    }
    await page.mouse.up();
    await page.waitForFunction(() => {
      const c = document.getElementById("drawn-rebuilt");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 100) lit++;
      return lit > 30;
    }, null, { timeout: 60_000 });
    log("a drawn digit was reconstructed");
    // Its verdict, at the threshold: in words, and marked on the histogram.
    await page.waitForFunction(() => /normal|an anomaly/.test(document.getElementById("verdict").textContent),
      null, { timeout: 60_000 });
    const verdict = await page.textContent("#verdict");
    const drawn = (await page.evaluate(() => window.wgslAutoencoder.scores())).drawn;
    check(drawn && drawn.score > 0 && typeof drawn.anomaly === "boolean", `the drawing's score: ${JSON.stringify(drawn)}`);
    check(verdict.includes(drawn.anomaly ? "an anomaly" : "normal"), `the verdict says: ${verdict}`);
    result.drawn = { ...drawn, verdict };
    log("the drawing's verdict:", verdict);

    // An interpolation strip between two digits.
    await page.click("#interpolate");
    await page.waitForFunction(() => document.getElementById("strip").width > 300, null, { timeout: 60_000 });

    // Download the weights.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const model = path.join(out, "model.safetensors");
    await download.saveAs(model);
    result.model_bytes = fs.statSync(model).size;
    check(result.model_bytes > 1000, `the download holds ${result.model_bytes} bytes`);
    log("downloaded", model, result.model_bytes, "bytes");

    const shown = (await status()).error;
    check(!shown, `the page shows an error: ${shown}`);
    await page.screenshot({ path: path.join(out, "page-done.png"), fullPage: true });
    await page.locator(".card.odd").screenshot({ path: path.join(out, "page-odd.png") });

    // Profile a step: per-dispatch times where the browser grants timestamp-query, and
    // a sentence saying why not where it does not.
    await page.click("#profile");
    await page.waitForFunction(() => {
      const t = document.getElementById("profile-note").textContent;
      return t && t !== "profiling…";
    }, null, { timeout: 120_000 });
    const note = await page.textContent("#profile-note");
    const rows = await page.locator("#profile-table tbody tr").count();
    result.profile = { note, rows };
    check((rows > 10 && /images\/s/.test(note)) || /no timestamp-query/.test(note),
      `the profile shows ${rows} rows: ${note}`);
    log("profile:", rows, "dispatches;", note);

    // Climb the matmul ladder at the small size: every rung the browser runs is checked
    // against the wasm reference, then timed; its bars grow and its WGSL can be read.
    await page.selectOption("#ladder-family", "matmul");
    await page.selectOption("#ladder-size", "quick");
    await page.click("#ladder-climb");
    await page.waitForFunction(() => window.wgslAutoencoder.ladder() !== null, null, { timeout: 600_000 });
    const ladder = await page.evaluate(() => window.wgslAutoencoder.ladder());
    check(ladder.length === 5 && ladder.every((r, i) => r.step === i + 1 && r.file.startsWith("shaders/matmul/") && r.idea.length > 20),
      `the ladder's rungs: ${JSON.stringify(ladder.map((r) => r.file))}`);
    const timedRungs = ladder.filter((r) => r.gflops != null);
    check(timedRungs.length >= 4 && timedRungs.every((r) => r.checked === true && r.gflops > 0 && r.best_share <= 1),
      `the climbed rungs: ${JSON.stringify(ladder)}`);
    check(Math.max(...timedRungs.map((r) => r.best_share)) === 1, "the fastest rung is 100% of the best");
    const ladderBars = await page.$$eval("#ladder-rungs .bar-fill", (els) => els.filter((e) => parseFloat(e.style.width) > 0).length);
    check(ladderBars === timedRungs.length, `${ladderBars} bars drawn for ${timedRungs.length} timed rungs`);
    await page.click("#ladder-rungs a[data-rung='0']");
    const wgsl = await page.textContent("#ladder-source-text");
    check(await page.isVisible("#ladder-source") && wgsl.includes("fn matmul_naive("),
      "clicking rung 1 shows its WGSL");
    result.ladder = ladder.map(({ step, rung, gflops, gpu_ms, checked, peak_share }) => ({ step, rung, gflops, gpu_ms, checked, peak_share }));
    await page.locator(".card.ladder").screenshot({ path: path.join(out, "page-ladder.png") });
    log("climbed the matmul ladder:", await page.textContent("#ladder-summary"));

    // Open the downloaded weights again: the page evaluates them to the same test MSE.
    const before = (await status()).test_mse;
    await page.setInputFiles("#open", model);
    await page.waitForFunction(() => document.getElementById("opened").textContent.startsWith("Opened"),
      null, { timeout: 120_000 });
    const reopened = await status();
    check(reopened.state === "done" && Math.abs(reopened.test_mse - before) <= 1e-6 * before,
      `reopened weights: ${JSON.stringify(reopened)} (test mse before: ${before})`);
    log("reopened the weights: test mse", reopened.test_mse);

    // The user's own images. A file that is no image is refused in words naming it, and
    // MNIST stays in use.
    await page.setInputFiles("#pick-files", {
      name: "broken.png", mimeType: "image/png", buffer: Buffer.from("not an image at all"),
    });
    await page.waitForFunction(() => window.wgslAutoencoder.status().state === "error", null, { timeout: 60_000 });
    const refused = await status();
    check(/broken\.png/.test(refused.error) && refused.data.kind === "mnist",
      `a broken file: ${JSON.stringify({ error: refused.error, data: refused.data.kind })}`);
    log("a broken file is refused:", refused.error.split("\n")[0]);

    // A folder of three classes: its classes and shape, then resized by the control.
    await page.setInputFiles("#pick-folder", FOLDER);
    await page.waitForFunction(() => {
      const s = window.wgslAutoencoder.status();
      return s.state === "error" || (s.state === "ready" && s.data.kind === "images");
    }, null, { timeout: 120_000 });
    let picked = await status();
    check(picked.state === "ready", `picking the folder: ${picked.error}`);
    check(JSON.stringify(picked.data.classes) === '["one","two","zero"]' && picked.data.shape === "3×28×28",
      `the folder's data: ${JSON.stringify(picked.data)}`);
    check(picked.data.train + picked.data.test === 300 && picked.data.notes.some((n) => /README/.test(n)),
      `the folder's counts and notes: ${JSON.stringify(picked.data)}`);
    await page.fill("#data-options input[name=image_size]", "16x16");
    await page.press("#data-options input[name=image_size]", "Enter");
    await page.locator("#data").click();
    await page.waitForFunction(() => window.wgslAutoencoder.status().data.shape === "3×16×16",
      null, { timeout: 60_000 });
    picked = await status();
    check((await page.textContent("#data")).includes("3×16×16"), "the data line names the new shape");
    check(await page.isVisible("#pad-note"), "the pad says why RGB images are not drawn");
    log("picked:", picked.data.describe);

    // One epoch on it: pictures in colour at its shape, its classes in the legend.
    await page.click("#start");
    const folderStarted = Date.now();
    for (;;) {
      const f = await status();
      if (f.state === "error") throw new Error(`training on the folder: ${f.error}`);
      if (f.state === "done") break;
      check(Date.now() - folderStarted < TRAIN_TIMEOUT_MS, `the folder's run is not done: ${JSON.stringify(f)}`);
      await page.waitForTimeout(250);
    }
    const folderDone = await status();
    check(Number.isFinite(folderDone.test_mse) && folderDone.test_mse > 0, `test mse ${folderDone.test_mse}`);
    const coloured = await page.evaluate(() => {
      const c = document.getElementById("recon");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 1]) > 60 || Math.abs(d[i + 1] - d[i + 2]) > 60) n++;
      return n;
    });
    check(coloured > 300, `the reconstructions are not in colour (${coloured} coloured pixels)`);
    const legendText = await page.textContent("#legend");
    check(/one/.test(legendText) && /zero/.test(legendText), `the legend: ${legendText}`);
    result.folder = { data: folderDone.data, test_mse: folderDone.test_mse, coloured };
    await page.screenshot({ path: path.join(out, "page-folder.png"), fullPage: true });
    log("trained on the folder: test mse", folderDone.test_mse);

    check(shotMid, "no screenshot was taken mid-run (training finished between two looks)");

    // Bad files and bad timing: each ends in words on the page, Start or Restart working,
    // and no state stuck. The folder's small runs keep them cheap.
    const waitStatus = async (p, done, what, timeout = TRAIN_TIMEOUT_MS) => {
      const from = Date.now();
      for (;;) {
        const now = await p.evaluate(() => window.wgslAutoencoder && window.wgslAutoencoder.status());
        if (now && done(now)) return now;
        check(Date.now() - from < timeout, `${what}: waited ${timeout} ms, the page is at ${JSON.stringify(now)}`);
        await p.waitForTimeout(100);
      }
    };
    const setEpochs = (n) => page.fill("#settings input[name=epochs]", String(n));

    // Model files the page cannot open are refused in one sentence naming them (a 2 GB
    // one by its size, never read), and the model in use stays: still done, downloadable.
    const huge = path.join(out, "huge.safetensors");
    fs.writeFileSync(huge, "");
    fs.truncateSync(huge, 2 ** 31); // sparse: no disk, and no 2 GB in node either
    const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
    const st = (header, data = 0) => {
      const text = Buffer.from(JSON.stringify(header));
      return Buffer.concat([u64(text.length), text, Buffer.alloc(data)]);
    };
    const badFiles = [
      [{ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("not a model at all") },
        /^notes\.txt is not a safetensors file/],
      [{ name: "long.safetensors", mimeType: "application/octet-stream",
        buffer: Buffer.concat([u64(1_000_000), Buffer.from('{"__metadata__":{}}')]) },
      /^long\.safetensors is cut short or corrupt: its safetensors header says it is 1000000 bytes long/],
      [huge, /^huge\.safetensors is 2\.0 GiB: the page opens model files of at most 1\.0 GiB/],
      [{ name: "bert.safetensors", mimeType: "application/octet-stream", buffer: st({
        __metadata__: { format: "pt" }, "embeddings.weight": { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
      }, 16) }, /^bert\.safetensors holds 1 tensor .*"pt".* no wgsl-autoencoder model/],
      // The MNIST model downloaded above, while the folder's 3×16×16 images are in use.
      [model, /^model\.safetensors holds a dense model .* of 1×28×28 samples, but the data in use .* is 3×16×16/],
    ];
    for (const [file, words] of badFiles) {
      await page.setInputFiles("#open", file);
      await page.waitForFunction((source) => new RegExp(source).test(window.wgslAutoencoder.status().error || ""),
        words.source, { timeout: 60_000 });
      const s = await status();
      const shownText = await page.textContent("#error-text");
      check(s.state === "done" && shownText === s.error && await page.isVisible("#error-text"),
        `refusing ${file.name || file}: ${JSON.stringify({ state: s.state, error: s.error, shownText })}`);
      check(!(await page.isDisabled("#start")) && !(await page.isDisabled("#download")) && !(await page.isDisabled("#open")),
        `after refusing ${file.name || file}, Start, Download or Open is disabled`);
      if (file === huge) await page.screenshot({ path: path.join(out, "page-bad-file.png") });
      log("refused:", s.error);
    }
    fs.rmSync(huge);

    // Start pressed twice (and asked once more): one run, started once, trains to its end.
    await setEpochs(1);
    await page.evaluate(() => {
      const shown = document.getElementById("s-state");
      window.e2eStates = [];
      new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => window.e2eStates.push(n.textContent))))
        .observe(shown, { childList: true });
      const start = document.getElementById("start");
      start.click();
      start.click();
      window.wgslAutoencoder.start();
    });
    const twice = await waitStatus(page, (s) => s.state === "done" || s.state === "error", "Start twice");
    const states = await page.evaluate(() => window.e2eStates);
    check(twice.state === "done" && twice.error == null && twice.epoch === 1 && twice.step === 3 &&
      states.filter((v) => v === "starting").length === 1,
    `Start twice: ${JSON.stringify({ state: twice.state, error: twice.error, epoch: twice.epoch, step: twice.step, states })}`);
    log("Start twice: one run,", twice.step, "steps");

    // The model switched while a run trains: the run stops (an advance in flight is
    // dropped), the page says so, and Start trains the new model.
    await setEpochs(50);
    await page.click("#start");
    await waitStatus(page, (s) => s.state === "error" || (s.state === "training" && s.step >= 1), "a long run");
    await page.selectOption("#settings select[name=model]", "vae");
    await page.waitForTimeout(1000);
    const switched = await status();
    check(switched.state === "ready" && /^The model changed to vae/.test(switched.error) && switched.step === 0 &&
      await page.isVisible("#error-text") && await page.isDisabled("#pause") && !(await page.isDisabled("#start")) &&
      (await page.textContent("#s-step")) === "–",
    `switching the model mid-run: ${JSON.stringify({ state: switched.state, error: switched.error, step: switched.step })}`);
    await page.screenshot({ path: path.join(out, "page-model-switched.png") });
    log("switched mid-run:", switched.error);
    await setEpochs(1);
    await page.click("#start");
    const vaeDone = await waitStatus(page, (s) => s.state === "done" || s.state === "error", "the VAE run");
    check(vaeDone.state === "done" && vaeDone.error == null, `the VAE run: ${vaeDone.error}`);
    const [vaeDownload] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const vaeFile = path.join(out, "vae.safetensors");
    await vaeDownload.saveAs(vaeFile);
    const vaeBytes = fs.readFileSync(vaeFile);
    const vaeArch = JSON.parse(vaeBytes.subarray(8, 8 + Number(vaeBytes.readBigUInt64LE(0))).toString()).__metadata__.arch;
    check(vaeArch.startsWith("vae:400,20"), `the run after the switch trained ${vaeArch}`);
    log("then Start trained", vaeArch);

    // The tab closed while its download is under way; a new one works as ever.
    await page.click("#download");
    await page.close();
    const again = await context.newPage();
    const againErrors = [];
    again.on("console", (m) => m.type() === "error" && againErrors.push(m.text()));
    again.on("pageerror", (e) => againErrors.push(String(e)));
    await again.goto(base + query);
    const fresh = await waitStatus(again, (s) => s.state === "error" || (s.state === "training" && s.step >= 1),
      "a new tab's run");
    check(fresh.state === "training" && againErrors.length === 0,
      `a new tab after one closed mid-download: ${JSON.stringify({ state: fresh.state, error: fresh.error, againErrors })}`);
    log("a tab closed mid-download; a new one trains");

    // The device lost in the middle of an epoch: said at once, a Start says it again,
    // and Restart trains again.
    await again.evaluate(() => window.wgslAutoencoder.loseDevice());
    const lostMid = await waitStatus(again, (s) => s.state !== "training", "the device lost mid-epoch", 30_000);
    check(lostMid.state === "error" && /device was lost/.test(lostMid.error) && lostMid.step >= 1 &&
      await again.isVisible("#restart"), `after losing the device mid-epoch: ${JSON.stringify(lostMid)}`);
    await again.evaluate(() => window.wgslAutoencoder.start());
    const lostStart = await waitStatus(again, (s) => s.state === "error", "a Start after the loss", 30_000);
    check(/device was lost/.test(lostStart.error), `a Start after the loss: ${lostStart.error}`);
    log("the device lost mid-epoch:", lostMid.error);
    againErrors.length = 0;
    await Promise.all([again.waitForEvent("load"), again.click("#restart")]);
    const restarted = await waitStatus(again, (s) => s.state === "error" || (s.state === "training" && s.step >= 1),
      "the run after Restart");
    check(restarted.state === "training" && againErrors.length === 0,
      `after Restart: ${JSON.stringify({ state: restarted.state, error: restarted.error, againErrors })}`);
    log("Restart trains again");

    // A lost device (a driver reset, say) between runs: the page says so and offers a
    // restart, and a Start says so again.
    await again.click("#pause");
    await waitStatus(again, (s) => s.state === "paused", "pausing");
    await again.evaluate(() => window.wgslAutoencoder.loseDevice());
    await waitStatus(again, (s) => s.state === "error", "the device lost between runs", 30_000);
    await again.evaluate(() => window.wgslAutoencoder.start());
    const lost = await again.evaluate(() => window.wgslAutoencoder.status());
    check(lost.state === "error" && /lost/.test(lost.error), `after losing the device: ${JSON.stringify(lost)}`);
    check(await again.isVisible("#restart"), "no Restart button after the device was lost");
    await again.screenshot({ path: path.join(out, "page-device-lost.png") });
    log("a lost device is reported:", lost.error);
    result.console_errors = consoleErrors;

    // A browser without WebGPU: the page says which browsers and flags give it, and
    // offers the CPU reference.
    const plain = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: ["--headless=new", "--no-sandbox", "--disable-webgpu", "--disable-background-networking"],
    });
    try {
      const bare = await plain.newPage();
      await bare.goto(base);
      await bare.waitForFunction(() => !document.getElementById("error").hidden, null, { timeout: 60_000 });
      const said = await bare.textContent("#error-text");
      check(/WebGPU/.test(said) && /Chrome/.test(said) && /CPU reference/.test(said),
        `without WebGPU the page says: ${said}`);
      await bare.screenshot({ path: path.join(out, "page-no-webgpu.png") });
      log("without WebGPU:", said.split("\n")[0]);
    } finally {
      await plain.close();
    }
  } finally {
    fs.writeFileSync(path.join(out, "result.json"), JSON.stringify(result, null, 2));
    await browser.close();
    server.close();
  }
  log("passed; screenshots in", out);
}

main().catch((e) => {
  console.error("[e2e] FAILED:", e.message);
  if (consoleErrors.length) console.error("[e2e] the page's console:", consoleErrors.join("\n"));
  process.exit(1);
});

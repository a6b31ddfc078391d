// The HTML report of `doubt inspect` in a real browser: Debian's chromium, headless, driven by
// puppeteer-core. Makes tiny predictions with the built doubt, opens the report from file://
// with every non-file request refused, moves the pointer to known pixels and checks the
// read-out against the .npy values within the stated precision, toggles maps, sorts the
// table, steps to the next image, compares two folders, and saves a screenshot.
//
//   node tests/browser/report_test.mjs BUILD/apps/doubt [SCREENSHOT.png]
//
// Exit 0 pass, 1 fail, 77 skipped (no chromium, no node_modules/puppeteer-core: run
// `npm ci` in tests/browser).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SKIP = 77;
const here = path.dirname(fileURLToPath(import.meta.url));
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromium)) {
  console.log(`SKIP: no ${chromium} (apt-get install -y chromium)`);
  process.exit(SKIP);
}
let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch (e) {
  console.log(`SKIP: puppeteer-core not installed (cd ${here} && npm ci): ${e.code || e.message}`);
  process.exit(SKIP);
}
const doubt = process.argv[2];
const shot = process.argv[3];
if (!doubt || !fs.existsSync(doubt)) {
  console.log(`usage: node report_test.mjs BUILD/apps/doubt [SCREENSHOT.png] (got ${doubt})`);
  process.exit(1);
}

let failures = 0;
function check(ok, what) {
  if (!ok) {
    failures++;
    console.log(`FAIL: ${what}`);
  }
}

// ---- tiny predictions -------------------------------------------------------------------
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'doubt_browser_'));
const run = (...args) => execFileSync(doubt, args, { stdio: ['ignore', 'pipe', 'pipe'] });
const weights = path.join(here, '..', '..', 'weights', 'unet-small.safetensors');
const W = 48, H = 40; // not square: a swapped x and y would read the wrong pixel
run('synth', `${work}/scenes`, '--count', '3', '--size', `${W}x${H}`, '--seed', '3');
for (const [dir, seed] of [['a', '0'], ['b', '1']]) {
  const out = run('predict', '--weights', weights, `${work}/scenes/images`, '-o', `${work}/${dir}`, '--samples', '2',
    '--npy', '--seed', seed);
  fs.writeFileSync(`${work}/${dir}.jsonl`, out);
}
const WW = 300; // two tiles across: 256 + 44
run('synth', `${work}/widescenes`, '--count', '1', '--size', `${WW}x32`, '--seed', '5');
run('predict', '--weights', weights, `${work}/widescenes/images`, '-o', `${work}/wide`,
  '--samples', '2', '--npy');
run('inspect', `${work}/wide`, '--images', `${work}/widescenes/images`, '--html',
  `${work}/report/wide.html`);
run('eval', '--weights', weights, '--data', `${work}/scenes`, '--samples', '2', '--json', `${work}/eval.json`,
  '--plots', `${work}/plots`);
run('inspect', `${work}/a`, '--images', `${work}/scenes/images`, '--summary', `${work}/a.jsonl`,
  '--eval', `${work}/eval.json`, '--eval-plots', `${work}/plots`,
  '--html', `${work}/report/index.html`);
const evalJson = JSON.parse(fs.readFileSync(`${work}/eval.json`, 'utf8'));
run('inspect', `${work}/a`, `${work}/b`, '--images', `${work}/scenes/images`,
  '--html', `${work}/report/compare 100%.html`);
const summary = fs.readFileSync(`${work}/a.jsonl`, 'utf8').trim().split('\n').map(JSON.parse);
const names = summary.map((s) => s.name).sort();

// .npy v1.0 '<f4' C order, as doubt writes it
function npy(file) {
  const b = fs.readFileSync(file);
  const hlen = b.readUInt16LE(8), header = b.subarray(10, 10 + hlen).toString('latin1');
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True"))
    throw new Error(`${file}: not <f4 C order`);
  const shape = /'shape': \(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + hlen, b.byteOffset + b.length));
  return { shape, data };
}
const FLOATS = ['depth_mean', 'depth_epistemic', 'depth_aleatoric', 'depth_total', 'seg_entropy',
  'seg_aleatoric', 'seg_mutual_info', 'seg_logit_var'];
function truth(dir, name, x, y, w = W) {
  const t = {}, i = y * w + x;
  for (const k of FLOATS) t[k] = npy(`${work}/${dir}/${name}.${k}.npy`).data[i];
  const p = npy(`${work}/${dir}/${name}.seg_prob.npy`), n = p.shape[1] * p.shape[2];
  let best = 0;
  for (let c = 1; c < p.shape[0]; c++) if (p.data[c * n + i] > p.data[best * n + i]) best = c;
  t.cls = best;
  t.seg_prob = p.data[best * n + i];
  return t;
}
// The stated precision: binary16 (2^-11 relative, 2^-25 absolute below 2^-14) for the exact
// value in data-v; the shown text adds 4-digit rounding (5e-4 relative).
const f16ok = (got, want) => Math.abs(got - want) <= Math.max(Math.abs(want) * 2 ** -11, 2 ** -25);
const textOk = (got, want) => Math.abs(got - want) <= Math.abs(want) * 1e-3 + 2 ** -25;

// ---- the browser ------------------------------------------------------------------------
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  defaultViewport: { width: 1400, height: 900 },
});
const errors = [];
try {
  const page = await browser.newPage(), mainPage = page;
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  await page.setRequestInterception(true);
  const mainRequests = [];
  page.on('request', (r) => {
    mainRequests.push(r.url());
    if (r.url().startsWith('file://') || r.url().startsWith('data:')) return r.continue();
    errors.push(`network request: ${r.url()}`);
    r.abort();
  });
  const url = pathToFileURL(`${work}/report/index.html`).href;
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'load' });
  console.log(`report of ${names.length} images loaded in ${Date.now() - t0} ms`);
  check((await page.$$('#gallery tbody tr')).length === names.length, 'one table row per image');
  // no float data before an image is shown
  check(!mainRequests.some((u) => u.includes('/data/')), 'no float data before the viewer');

  // doubt eval: headline figures, the reliability diagram from the JSON, the plots
  for (const k of ['seg.miou', 'seg.ece', 'depth.rmse', 'uncertainty.ause_seg_error']) {
    const [g, f] = k.split('.'), want = evalJson[g][f];
    const text = await page.$eval(`#headline td[data-key="${k}"]`, (td) => td.textContent).catch(() => null);
    check(text !== null && textOk(parseFloat(text), want), `eval ${k} shown ${text}, JSON ${want}`);
  }
  const bins = evalJson.seg.reliability.count.filter((c) => c > 0).length;
  check((await page.$$('#reliability rect')).length === bins, `reliability diagram: ${bins} bars`);
  const plots = await page.$$eval('.plots img', (imgs) => imgs.map((i) => [i.alt, i.naturalWidth]));
  check(plots.length === 5 && plots.every((p) => p[1] > 0) &&
    plots.some((p) => p[0] === 'sparsification_seg.png'), `eval plots shown: ${plots}`);

  // sort: click seg_mutual_info twice (ascending, then descending) and compare to the summary
  const mi = Object.fromEntries(summary.map((s) => [s.name, s.maps.seg_mutual_info.mean]));
  const col = await page.$$eval('#gallery thead th', (ths) =>
    ths.findIndex((th) => th.dataset.key === 'seg_mutual_info'));
  check(col > 0, 'a seg_mutual_info column');
  const column = () => page.$$eval('#gallery tbody tr', (rows, c) =>
    rows.map((r) => [r.cells[2].textContent, +r.cells[c].dataset.v]), col);
  await page.click('#gallery thead th[data-key="seg_mutual_info"]');
  let rows = await column();
  const asc = [...names].sort((p, q) => mi[p] - mi[q]);
  check(JSON.stringify(rows.map((r) => r[0])) === JSON.stringify(asc), `sorted ascending: ${rows}`);
  check(rows.every((r) => Math.abs(r[1] - mi[r[0]]) <= 1e-12 * Math.abs(mi[r[0]])),
    'table values are the summary means');
  await page.click('#gallery thead th[data-key="seg_mutual_info"]');
  rows = await column();
  check(JSON.stringify(rows.map((r) => r[0])) === JSON.stringify([...asc].reverse()),
    `sorted descending: ${rows}`);
  check(page.url().includes('#sort=seg_mutual_info:desc'), `sort in the address: ${page.url()}`);

  // open the first row (highest MI) in the viewer
  const first = rows[0][0];
  await page.click('#gallery tbody tr');
  const ready = (name) => page.waitForFunction((n) =>
    document.getElementById('viewer').dataset.ready === n, { timeout: 10000 }, name);
  await ready(first);
  check(!(await page.$eval('#viewer', (v) => v.hidden)), 'viewer open');

  // pointer at known pixels: corners, centre, and a pixel with and without depth
  const dm = npy(`${work}/a/${first}.depth_mean.npy`).data;
  const noDepth = dm.findIndex((v) => Number.isNaN(v)), withDepth = dm.findIndex((v) => v > 0);
  const pixels = [[0, 0], [W - 1, 0], [0, H - 1], [W - 1, H - 1], [23, 17], [31, 5]];
  if (noDepth >= 0) pixels.push([noDepth % W, Math.floor(noDepth / W)]);
  pixels.push([withDepth % W, Math.floor(withDepth / W)]);
  async function pointAt(x, y, stage = 0, page = mainPage) {
    const r = await page.$eval(`.stage[data-side="${stage}"] .photo`, (e) => {
      const b = e.getBoundingClientRect();
      return { left: b.left, top: b.top, width: b.width, height: b.height };
    });
    const [w, h] = await page.$eval(`.stage[data-side="${stage}"] .photo`, (e) =>
      [parseFloat(e.style.width), parseFloat(e.style.height)]);
    await page.mouse.move(r.left + (x + 0.5) * r.width / w, r.top + (y + 0.5) * r.height / h);
    await page.waitForFunction((x, y) => document.querySelector('.readout').dataset.complete ===
      `${x},${y}`, { timeout: 5000 }, x, y);
    return page.$$eval('.readout tr[data-key]', (trs) => Object.fromEntries(trs.map((tr) => [
      tr.dataset.key, [...tr.querySelectorAll('td[data-side]')].map((td) =>
        ({ v: td.dataset.v, text: td.textContent }))])));
  }
  async function checkPixels(dir, name, list, side = 0, page = mainPage, w = W) {
    for (const [x, y] of list) {
      const got = await pointAt(x, y, 0, page), want = truth(dir, name, x, y, w);
      for (const k of ['cls', 'seg_prob', ...FLOATS]) {
        const cell = got[k] && got[k][side];
        if (!cell) { check(false, `${name} (${x}, ${y}) ${k}: no read-out`); continue; }
        const w = want[k];
        if (k === 'cls') check(+cell.v === w && cell.text === String(w), `${name} (${x}, ${y}) class ${cell.text}, want ${w}`);
        else if (Number.isNaN(w))
          check(cell.v === 'NaN' && cell.text === 'no depth', `${name} (${x}, ${y}) ${k}: ${cell.text}, want no depth`);
        else {
          check(f16ok(+cell.v, w), `${name} (${x}, ${y}) ${k} = ${cell.v}, npy ${w}`);
          check(textOk(parseFloat(cell.text), w), `${name} (${x}, ${y}) ${k} shown ${cell.text}, npy ${w}`);
        }
      }
    }
  }
  await checkPixels('a', first, pixels);
  check(noDepth >= 0, `${first} has pixels without depth (sky), so "no depth" was checked`);

  // maps: key 8 selects mutual information, a click selects depth; the overlay follows
  const overlay = () => page.$eval('.stage[data-side="0"] .ov', (e) =>
    [e.style.backgroundImage, e.style.opacity]);
  await page.keyboard.press('8');
  check(await page.$eval('.maps button[data-map="seg_mutual_info"]', (b) =>
    b.getAttribute('aria-pressed')) === 'true', 'key 8 selects seg_mutual_info');
  check((await overlay())[0].includes('.seg_mutual_info.png'), 'overlay is the MI heatmap');
  check((await page.$eval('.legend', (e) => e.textContent)).includes('0.25'),
    'legend states the fixed MI range 0 .. 0.25');
  await page.click('.maps button[data-map="depth_color"]');
  check((await overlay())[0].includes('.depth_color.png'), 'click selects the depth overlay');
  check(await page.$eval('.readout tr.sel', (tr) => tr.dataset.key) === 'depth_mean',
    'the read-out highlights the shown map');
  await page.$eval('#opacity', (e) => { e.value = 25; e.dispatchEvent(new Event('input')); });
  check((await overlay())[1] === '0.25', `opacity slider sets the overlay opacity: ${(await overlay())[1]}`);

  // zoom to the pixels: the mapping stays right
  const before = await page.$eval('.stage[data-side="0"] .photo', (e) => e.getBoundingClientRect().width);
  for (let k = 0; k < 3; k++) await page.keyboard.press('+');
  const after = await page.$eval('.stage[data-side="0"] .photo', (e) => e.getBoundingClientRect().width);
  check(after > 3 * before, `zoom: ${before} -> ${after} px`);
  await checkPixels('a', first, [[24, 20]]);
  await page.keyboard.press('0');

  // next image by keyboard, in the table's order
  await page.keyboard.press('ArrowRight');
  await ready(rows[1][0]);
  check((await page.$eval('.vbar .title', (e) => e.textContent)).startsWith(rows[1][0]),
    'ArrowRight opens the next row');
  await checkPixels('a', rows[1][0], [[5, 30]]);
  await page.keyboard.press('ArrowLeft');
  await ready(first);

  await page.keyboard.press('3');
  await pointAt(23, 17);
  if (shot) {
    await page.screenshot({ path: shot });
    check(fs.statSync(shot).size > 1000, `screenshot ${shot}`);
    console.log(`screenshot ${shot}`);
  }
  await page.keyboard.press('Escape');
  check(await page.$eval('#viewer', (v) => v.hidden), 'Esc closes the viewer');

  // comparison: A, B and B - A stages; the read-out gives both values and their difference
  const cmp = await browser.newPage();
  cmp.on('pageerror', (e) => errors.push(`compare page error: ${e.message}`));
  await cmp.setViewport({ width: 1400, height: 900 });
  await cmp.goto(pathToFileURL(`${work}/report/compare 100%.html`).href +
    `#view=${encodeURIComponent(names[0])}&map=depth_epistemic`, { waitUntil: 'load' });
  await cmp.waitForFunction((n) => document.getElementById('viewer').dataset.ready === n,
    { timeout: 10000 }, names[0]);
  check((await cmp.$$('.stage')).length === 3, 'three stages when comparing');
  const r = await cmp.$eval('.stage[data-side="0"] .photo', (e) => {
    const b = e.getBoundingClientRect();
    return { left: b.left, top: b.top, width: b.width, height: b.height };
  });
  const [x, y] = [20, 30];
  await cmp.mouse.move(r.left + (x + 0.5) * r.width / W, r.top + (y + 0.5) * r.height / H);
  await cmp.waitForFunction((x, y) => document.querySelector('.readout').dataset.complete ===
    `${x},${y}`, { timeout: 5000 }, x, y);
  const cells = await cmp.$$eval('.readout tr[data-key="depth_epistemic"] td', (tds) =>
    tds.map((td) => [td.dataset.side, td.dataset.v, td.textContent]));
  const ta = truth('a', names[0], x, y).depth_epistemic, tb = truth('b', names[0], x, y).depth_epistemic;
  check(cells.length === 3 && f16ok(+cells[0][1], ta) && f16ok(+cells[1][1], tb),
    `compare read-out A ${cells[0] && cells[0][1]} (npy ${ta}), B ${cells[1] && cells[1][1]} (npy ${tb})`);
  check(cells.length === 3 && Math.abs(parseFloat(cells[2][2]) - (tb - ta)) <=
    Math.abs(tb - ta) * 1e-3 + Math.max(Math.abs(ta), Math.abs(tb)) * 2 ** -10 + 2 ** -24,
    `compare difference ${cells[2] && cells[2][2]}, want ${tb - ta}`);
  const diffBg = await cmp.$eval('.stage[data-side="diff"] .ov', (e) => e.style.backgroundImage);
  check(diffBg.includes('.diff.depth_epistemic.png'), `the difference stage shows B - A: ${diffBg}`);
  const diffOk = await cmp.evaluate((u) => new Promise((res) => {
    const im = new Image(); im.onload = () => res(im.naturalWidth); im.onerror = () => res(0);
    im.src = u;
  }), /url\("(.*)"\)/.exec(diffBg)[1]);
  check(diffOk === W, `the difference PNG loads (${diffOk} px wide)`);

  // a photo wider than one tile: the read-out loads the tile under the pointer only
  const wide = await browser.newPage(), wideData = [];
  wide.on('pageerror', (e) => errors.push(`wide page error: ${e.message}`));
  wide.on('request', (r) => { if (r.url().includes('/data/')) wideData.push(r.url().replace(/.*\//, '')); });
  await wide.setViewport({ width: 1400, height: 900 });
  await wide.goto(pathToFileURL(`${work}/report/wide.html`).href + '#view=scene_000000',
    { waitUntil: 'load' });
  await wide.waitForFunction(() => document.getElementById('viewer').dataset.ready === 'scene_000000',
    { timeout: 10000 });
  const tiles = async () => [...wideData].sort();
  check(JSON.stringify(await tiles()) === '["0_0.js"]', `wide: the centre tile first: ${await tiles()}`);
  await checkPixels('wide', 'scene_000000', [[3, 4], [255, 31], [256, 0], [WW - 1, 31]], 0, wide, WW);
  check(JSON.stringify(await tiles()) === '["0_0.js","0_1.js"]', `wide: both tiles once: ${await tiles()}`);

  // 1000 images (hard links to the three above): the page is ready in under 2 s and loads no
  // float data until an image is shown
  fs.mkdirSync(`${work}/big`);
  const files = fs.readdirSync(`${work}/a`);
  for (let k = 0; k < 1000; k++) {
    const src = names[k % names.length];
    for (const f of files.filter((f) => f.startsWith(src + '.')))
      fs.linkSync(`${work}/a/${f}`, `${work}/big/img_${String(k).padStart(4, '0')}${f.slice(src.length)}`);
  }
  run('inspect', `${work}/big`, '--html', `${work}/report/big.html`);
  const loads = [];
  for (let k = 0; k < 3; k++) {
    const p = await browser.newPage();
    let data = 0;
    p.on('request', (r) => { data += r.url().includes('/data/'); });
    await p.goto(pathToFileURL(`${work}/report/big.html`).href, { waitUntil: 'load' });
    const t = await p.evaluate(() => ({
      load: performance.getEntriesByType('navigation')[0].loadEventEnd,
      rows: document.querySelectorAll('#gallery tbody tr').length,
    }));
    t.data = data;
    check(t.rows === 1000 && t.data === 0, `1000-row report: ${t.rows} rows, ${t.data} data scripts`);
    loads.push(t.load);
    await p.close();
  }
  const median = loads.sort((p, q) => p - q)[1];
  console.log(`1000-image report: load event after ${median.toFixed(0)} ms (median of 3)`);
  check(median < 2000, `1000-image report opens in under 2 s: ${median.toFixed(0)} ms`);

  for (const e of errors) check(false, e);
} catch (e) {
  check(false, `${e.message}${errors.length ? ' after ' + errors.join('; ') : ''}`);
} finally {
  await browser.close();
  if (!failures) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`work files kept in ${work}`);
}
console.log(failures ? `${failures} check(s) failed` : 'all browser checks passed');
process.exit(failures ? 1 : 0);

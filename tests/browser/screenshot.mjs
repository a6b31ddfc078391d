// A screenshot of the report's viewer for the README: one image, one map, the pointer on
// one pixel so the read-out is filled in.
//
//   node tests/browser/screenshot.mjs REPORT.html OUT.png NAME MAP X Y [WIDTHxHEIGHT]
import puppeteer from 'puppeteer-core';
import { pathToFileURL } from 'node:url';

const [file, out, name, map, x, y, size = '1200x640'] = process.argv.slice(2);
const [vw, vh] = size.split('x').map(Number);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu'], defaultViewport: { width: vw, height: vh },
});
const page = await browser.newPage();
await page.goto(pathToFileURL(file).href + `#view=${encodeURIComponent(name)}&map=${map}`,
  { waitUntil: 'load' });
await page.waitForFunction((n) => document.getElementById('viewer').dataset.ready === n, {}, name);
const r = await page.$eval('.stage[data-side="0"] .photo', (e) => {
  const b = e.getBoundingClientRect();
  return { left: b.left, top: b.top, width: b.width, height: b.height,
    w: +e.style.width.replace('px', ''), h: +e.style.height.replace('px', '') };
});
await page.mouse.move(r.left + (+x + 0.5) * r.width / r.w, r.top + (+y + 0.5) * r.height / r.h);
await new Promise((f) => setTimeout(f, 300));
await page.screenshot({ path: out });
await browser.close();
console.log(`wrote ${out}`);

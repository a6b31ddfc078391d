// How long a report takes to open in headless chromium: from navigation start to the end of
// the page's script (table, histograms and check-first list built) and to the load event,
// the median of RUNS fresh loads. Not part of the test suite.
//
//   node tests/browser/load_time.mjs REPORT.html [RUNS]
import puppeteer from 'puppeteer-core';
import { pathToFileURL } from 'node:url';

const [file, runs = '5'] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu'], defaultViewport: { width: 1400, height: 900 },
});
const script = [], load = [];
let rows = 0, dataScripts = 0;
for (let r = 0; r < +runs; r++) {
  const page = await browser.newPage();
  let data = 0;
  page.on('request', (r) => { data += r.url().includes('/data/'); });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  const t = await page.evaluate(() => ({
    script: window.doubtReport.readyMs,
    load: performance.getEntriesByType('navigation')[0].loadEventEnd,
    rows: document.querySelectorAll('#gallery tbody tr').length,
  }));
  t.data = data;
  script.push(t.script);
  load.push(t.load);
  rows = t.rows;
  dataScripts = Math.max(dataScripts, t.data);
  await page.close();
}
await browser.close();
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)].toFixed(0);
console.log(`${rows} rows: script done ${median(script)} ms, load event ${median(load)} ms ` +
  `(median of ${runs}; ${dataScripts} data scripts loaded before any image is shown)`);

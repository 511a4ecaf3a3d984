/**
 * The dashboard's size and first paint, in headless Chromium (Debian's package):
 *
 *   npm run bench:dashboard [-- --loads 20]
 *
 * Builds web/, serves it with the local dashboard server (scripts/local/dashboard.ts), and
 * loads the page `--loads` times with the browser cache off (every load fetches and parses
 * the bundle again). Prints the files' sizes (raw and gzip) and, from the Performance API,
 * `first-paint` and `first-contentful-paint`, plus the time until the sign-in form is on
 * screen (it needs config.json and the bundle): median and worst. No API is needed for
 * what the page shows before sign-in, and none is started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSizes } from '../../web/build.ts';
import { launchChromium } from '../chromium.ts';
import { startDashboard } from '../local/dashboard.ts';

const { values } = parseArgs({ options: { loads: { type: 'string', default: '20' } } });
const loads = Number(values.loads);
if (!Number.isInteger(loads) || loads < 1) throw new Error(`--loads must be a positive whole number, got "${values.loads}"`);

const work = mkdtempSync(join(tmpdir(), 'dashboard-bench-'));
const dashboard = await startDashboard({
  port: 0,
  // The page is measured up to its sign-in form, which calls no API.
  apiUrl: 'http://127.0.0.1:3000',
  outDir: join(work, 'web'),
});
const browser = await launchChromium();
try {
  console.log(formatSizes(dashboard.files));
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const samples: Array<{ fp: number; fcp: number; signIn: number }> = [];
  for (let i = 0; i < loads; i++) {
    await page.goto('about:blank');
    await page.goto(dashboard.url);
    await page.locator('main[data-state=sign-in]').waitFor();
    const signIn = await page.evaluate(() => performance.now());
    // Paint entries are reported once the frame is presented, which can be after the form is in the DOM.
    await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
    samples.push({
      signIn,
      // No helper functions inside: tsx would name them with a helper the page does not have.
      ...(await page.evaluate(() => ({
        fp: performance.getEntriesByName('first-paint')[0]?.startTime ?? Number.NaN,
        fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
      }))),
    });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const row = (label: string, xs: number[]) => `${label.padEnd(34)}${`${median(xs).toFixed(0)} ms`.padStart(10)}${`${Math.max(...xs).toFixed(0)} ms`.padStart(10)}`;
  console.log(`\n${`headless Chromium, ${loads} loads, cache off`.padEnd(34)}${'median'.padStart(10)}${'worst'.padStart(10)}`);
  console.log(row('first-paint', samples.map((s) => s.fp)));
  console.log(row('first-contentful-paint', samples.map((s) => s.fcp)));
  console.log(row('sign-in form in the page', samples.map((s) => s.signIn)));
} finally {
  await browser.close();
  await dashboard.close();
  rmSync(work, { recursive: true, force: true });
}

// @ts-check
// Drives Debian's headless Chromium (puppeteer-core) through the admin UI's penalty preview (issue 26):
// a race-director opens a formula's item page, edits its brackets in the preview field, presses
// Preview and sees the before/after table; then a viewer of the same organisation, logged in to the
// admin UI, calls POST /penalty-preview from the page with their session and is refused. Used by
// tests/penalty_preview.rs; runnable by hand against any stack.
//
// Env: DIRECTUS_URL, DIRECTOR_EMAIL, VIEWER_EMAIL, PASSWORD (both users'), FORMULA (a penalty_formulas
//      id), BRACKETS (the proposed brackets, JSON), SCREENSHOT (PNG path), CHROMIUM (/usr/bin/chromium).
// Prints one line per step (`row: ...` per line of the table, `viewer: <status>`); exit 0 when every
// step passed, 1 otherwise (the reason on stderr, and a screenshot next to SCREENSHOT with `.failed.png`).
import { TIMEOUT, launch, logIn } from './chromium.mjs';

const env = process.env;
const url = (env.DIRECTUS_URL ?? '').replace(/\/$/, '');
const { DIRECTOR_EMAIL: director = '', VIEWER_EMAIL: viewer = '', PASSWORD: password = '', FORMULA: formula = '', BRACKETS: brackets = '' } = env;
const screenshot = env.SCREENSHOT ?? '';
if (!url || !director || !viewer || !password || !formula || !brackets || !screenshot) {
  console.error('penalty-preview.mjs: set DIRECTUS_URL, DIRECTOR_EMAIL, VIEWER_EMAIL, PASSWORD, FORMULA, BRACKETS and SCREENSHOT');
  process.exit(64);
}
const browser = await launch(1200);
/** @type {import('puppeteer-core').Page | null} */
let current = null;
/** @type {string[]} */
const pageErrors = [];

/** @param {string} what @param {() => Promise<unknown>} step */
async function step(what, step) {
  try {
    await step();
    console.log(`ok: ${what}`);
  } catch (e) {
    console.error(`FAILED: ${what}: ${/** @type {Error} */ (e).message}`);
    if (pageErrors.length) console.error(`page errors: ${pageErrors.join(' | ')}`);
    if (current) {
      console.error(`page: ${current.url()}`);
      const shown = await current
        .evaluate(() => {
          const field = document.querySelector('.trm-penalty-preview');
          const area = /** @type {HTMLTextAreaElement | null} */ (document.querySelector('.trm-penalty-preview textarea'));
          return `${field?.textContent ?? '(no preview field)'} [textarea: ${area ? JSON.stringify(area.value.slice(0, 200)) : 'none'}]`;
        })
        .catch(() => '');
      console.error(`preview field: ${shown.slice(0, 500)}`);
      const bundle = await current
        .evaluate(async () => {
          const res = await fetch('/extensions/sources/index.js', { credentials: 'include' });
          const text = await res.text();
          return `${res.status}, ${text.length} bytes, ${text.includes('trm-penalty-preview') ? 'has' : 'lacks'} the interface`;
        })
        .catch((e) => String(e));
      console.error(`the admin app's extension bundle: ${bundle}`);
      await current.screenshot({ path: screenshot.replace(/\.png$/, '') + '.failed.png', fullPage: true }).catch(() => {});
    }
    await browser.close();
    process.exit(1);
  }
}

/** A fresh browser context (its own cookies) logged in as `email`. */
async function loggedIn(/** @type {string} */ email) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => pageErrors.push(String(/** @type {Error} */ (e).message ?? e)));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') pageErrors.push(`console ${m.type()}: ${m.text().slice(0, 300)}`);
  });
  page.on('response', (r) => {
    const path = r.url().replace(url, '');
    if (r.status() >= 400 || path.includes('/penalty')) pageErrors.push(`${r.request().method()} ${decodeURIComponent(path).slice(0, 300)} -> ${r.status()}`);
  });
  current = page;
  await logIn(page, url, email, password);
  return page;
}

/** @type {import('puppeteer-core').Page} */
let page;
await step(`${director} logs in`, async () => {
  page = await loggedIn(director);
});

await step(`the item page of formula ${formula} shows the preview field with its brackets`, async () => {
  await page.goto(`${url}/admin/content/penalty_formulas/${formula}`, { waitUntil: 'networkidle0' });
  await page.waitForFunction(() => {
    const area = /** @type {HTMLTextAreaElement | null} */ (document.querySelector('.trm-penalty-preview textarea.trm-brackets'));
    return area !== null && area.value.includes('offence_min');
  });
});

await step('the race-director proposes new brackets and presses Preview', async () => {
  await page.evaluate((text) => {
    const area = /** @type {HTMLTextAreaElement} */ (document.querySelector('.trm-penalty-preview textarea.trm-brackets'));
    area.value = text;
    area.dispatchEvent(new Event('input', { bubbles: true }));
  }, brackets);
  await page.click('.trm-penalty-preview .trm-preview-button');
  await page.waitForFunction(() => document.querySelectorAll('.trm-penalty-preview tr.trm-preview-row').length > 0 || document.querySelector('.trm-penalty-preview .trm-error'));
  const error = await page.evaluate(() => document.querySelector('.trm-penalty-preview .trm-error')?.textContent ?? '');
  if (error) throw new Error(`the preview answered: ${error}`);
});

await step('the before/after table lists the entries that change and the next stage\'s start order', async () => {
  const read = (/** @type {string} */ selector) =>
    page.evaluate(
      (sel) =>
        [...document.querySelectorAll(sel)].map((row) =>
          [...row.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim()).join(' | '),
        ),
      selector,
    );
  for (const row of await read('.trm-penalty-preview tr.trm-preview-row')) console.log(`row: ${row}`);
  for (const row of await read('.trm-penalty-preview tr.trm-start-row')) console.log(`start: ${row}`);
  const summary = await page.evaluate(() => document.querySelector('.trm-penalty-preview .trm-summary')?.textContent ?? '');
  console.log(`summary: ${summary}`);
  await page.screenshot({ path: screenshot, fullPage: true });
});

await step(`${viewer} (a viewer) calls POST /penalty-preview from the admin UI and is refused`, async () => {
  const other = await loggedIn(viewer);
  const status = await other.evaluate(
    async (id, text) => {
      const res = await fetch('/penalty-preview', {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ formula: Number(id), brackets: JSON.parse(text) }),
      });
      return `${res.status} ${(await res.text()).slice(0, 200)}`;
    },
    formula,
    brackets,
  );
  console.log(`viewer: ${status}`);
  if (!status.startsWith('403')) throw new Error(`the viewer's call answered ${status}`);
});
await browser.close();

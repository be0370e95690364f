// @ts-check
// Drives Debian's headless Chromium (puppeteer-core) through the Directus admin UI as an operator (a race
// director, no admin): a published result version shows its reason and, per entry, the difference from
// the version before; an official result's form asks for the amendment's reason once its status is set
// back to provisional (the field is hidden before: db-init-post/018, scripts/schema/phase6.mjs). Nothing
// is saved. Used by tests/ledger.rs.
//
// Env: DIRECTUS_URL, EMAIL, PASSWORD, VERSION_ID, EXPECT_DIFFERENCE, EXPECT_REASON, RESULT_ID (an
//      official stage result), SCREENSHOT (PNG path), CHROMIUM (default /usr/bin/chromium).
// Prints one line per step; exit 0 when every step passed, 1 otherwise (the reason on stderr, and a
// screenshot of the failing page next to SCREENSHOT with `.failed.png`), 64 on missing settings.
import { TIMEOUT, launch, logIn } from './chromium.mjs';

const env = process.env;
const url = (env.DIRECTUS_URL ?? '').replace(/\/$/, '');
const need = ['DIRECTUS_URL', 'EMAIL', 'PASSWORD', 'VERSION_ID', 'EXPECT_DIFFERENCE', 'EXPECT_REASON', 'RESULT_ID', 'SCREENSHOT'];
const missing = need.filter((k) => !env[k]);
if (missing.length) {
  console.error(`result-versions.mjs: set ${missing.join(', ')}`);
  process.exit(64);
}
const screenshot = /** @type {string} */ (env.SCREENSHOT);
const browser = await launch(1000);
const page = await browser.newPage();
page.setDefaultTimeout(TIMEOUT);

/** @param {string} what @param {() => Promise<unknown>} run */
async function step(what, run) {
  try {
    await run();
    console.log(`ok: ${what}`);
  } catch (e) {
    console.error(`FAILED: ${what}: ${/** @type {Error} */ (e).message}`);
    console.error(`page: ${page.url()}`);
    await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '.failed.png' }).catch(() => {});
    await browser.close();
    process.exit(1);
  }
}

/** Waits until the page's visible text contains `text`. @param {string} text */
const shows = (text) => page.waitForFunction((t) => document.body.innerText.includes(t), { timeout: TIMEOUT }, text);
/** Whether a form field labelled `label` is on the page now. @param {string} label */
const hasField = (label) =>
  page.evaluate((l) => [...document.querySelectorAll('.field-label, .field-name')].some((e) => (e.textContent ?? '').trim().startsWith(l)), label);

await step(`${env.EMAIL} logs in`, () => logIn(page, url, /** @type {string} */ (env.EMAIL), /** @type {string} */ (env.PASSWORD)));

await step(`version ${env.VERSION_ID} shows its reason and the difference "${env.EXPECT_DIFFERENCE}"`, async () => {
  await page.goto(`${url}/admin/content/result_versions/${env.VERSION_ID}`, { waitUntil: 'networkidle0' });
  await shows(/** @type {string} */ (env.EXPECT_DIFFERENCE));
  const reason = await page.evaluate(
    (r) => [...document.querySelectorAll('textarea, input')].some((e) => /** @type {HTMLInputElement} */ (e).value.includes(r)) || document.body.innerText.includes(r),
    /** @type {string} */ (env.EXPECT_REASON),
  );
  if (!reason) throw new Error(`the reason "${env.EXPECT_REASON}" is not on the page`);
  await page.screenshot({ path: screenshot });
});

await step(`official result ${env.RESULT_ID}: no amendment reason until the status goes back to provisional, then a required one`, async () => {
  await page.goto(`${url}/admin/content/stage_results/${env.RESULT_ID}`, { waitUntil: 'networkidle0' });
  await page.waitForFunction(() => [...document.querySelectorAll('.field-label, .field-name')].some((e) => (e.textContent ?? '').trim().startsWith('Status')));
  if (await hasField('Amendment Reason')) throw new Error('the amendment reason is shown on an official result before any change');
  // The status dropdown (a real click on its input), then its choice "provisional".
  const box = await page.evaluate(() => {
    const label = [...document.querySelectorAll('.field-label')].find((e) => (e.textContent ?? '').trim().startsWith('Status'));
    let field = label?.parentElement ?? null;
    while (field && !field.querySelector('.v-input, .v-select, input')) field = field.parentElement;
    const candidates = field ? [...field.querySelectorAll('.v-input .input, .v-input, .v-select, input')] : [];
    const shown = candidates.map((e) => e.getBoundingClientRect()).find((r) => r.width > 0 && r.height > 0);
    return shown ? { x: shown.x, y: shown.y, width: shown.width, height: shown.height } : null;
  });
  if (!box) throw new Error('no status dropdown in the form');
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const option = await page
    .waitForFunction(
      () => [...document.querySelectorAll('.v-list-item')].find((e) => (e.textContent ?? '').trim().toLowerCase() === 'provisional'),
      { timeout: 15_000 },
    )
    .catch(async () => {
      const items = await page.evaluate(() => [...document.querySelectorAll('.v-list-item')].map((e) => (e.textContent ?? '').trim()));
      throw new Error(`the status dropdown offers no "provisional" (items: ${JSON.stringify(items)})`);
    });
  const at = await /** @type {import('puppeteer-core').ElementHandle<Element>} */ (option).boundingBox();
  if (!at) throw new Error('the "provisional" choice is not visible');
  await page.mouse.click(at.x + at.width / 2, at.y + at.height / 2);
  await page
    .waitForFunction(
      () => [...document.querySelectorAll('.field-label, .field-name')].some((e) => (e.textContent ?? '').trim().startsWith('Amendment Reason')),
      { timeout: 15_000 },
    )
    .catch(async () => {
      const labels = await page.evaluate(() => [...document.querySelectorAll('.field-label')].map((e) => (e.textContent ?? '').trim()));
      throw new Error(`no Amendment Reason field after choosing provisional (fields: ${JSON.stringify(labels)})`);
    });
  const required = await page.evaluate(() => {
    const label = [...document.querySelectorAll('.field-label')].find((e) => (e.textContent ?? '').trim().startsWith('Amendment Reason'));
    return Boolean(label?.querySelector('.required')) || (label?.textContent ?? '').includes('*');
  });
  if (!required) throw new Error('the amendment reason is shown but not marked required');
  await page.screenshot({ path: screenshot.replace(/\.png$/, '') + '-amendment.png' });
});
await browser.close();

// @ts-check
// What every browser script here shares: Debian's headless Chromium started one way (puppeteer-core),
// the one wait for a page, and the admin app's login form filled the way a person fills it. Owns the
// browser's launch options and the login flow; never a script's own steps or what they check.
import puppeteer from 'puppeteer-core';

/** How long a step waits for the page (a loaded 2-core machine renders the admin app slowly). */
export const TIMEOUT = 60_000;

/**
 * Starts headless Chromium (CHROMIUM, default Debian's /usr/bin/chromium) with a window `height`
 * pixels high, 1680 wide.
 * @param {number} height
 */
export function launch(height) {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--lang=en-US'],
    defaultViewport: { width: 1680, height },
  });
}

/**
 * Opens `url`/admin/login on `page`: resolves once the form shows; throws when the page does not answer.
 * @param {import('puppeteer-core').Page} page @param {string} url
 */
export async function openLogin(page, url) {
  const res = await page.goto(`${url}/admin/login`, { waitUntil: 'networkidle0' });
  if (!res || !res.ok()) throw new Error(`GET /admin/login answered ${res?.status()}`);
  await page.waitForSelector('input[type="email"]', { visible: true });
  await page.waitForSelector('input[type="password"]', { visible: true });
}

/**
 * Fills the open login form as `email` and submits it: resolves once the app has left the login route.
 * @param {import('puppeteer-core').Page} page @param {string} email @param {string} password
 */
export async function submitLogin(page, email, password) {
  await page.type('input[type="email"]', email);
  await page.type('input[type="password"]', password);
  await Promise.all([
    page.waitForFunction(() => !location.pathname.startsWith('/admin/login'), { timeout: TIMEOUT }),
    page.click('button[type="submit"]'),
  ]);
}

/**
 * Logs in as `email` from the login page of `url` (openLogin, then submitLogin).
 * @param {import('puppeteer-core').Page} page @param {string} url @param {string} email @param {string} password
 */
export async function logIn(page, url, email, password) {
  await openLogin(page, url);
  await submitLogin(page, email, password);
}

// @ts-check
// The one reading of the seed tools' credentials (load.mjs, import-course.mjs, export-course.mjs): the
// Directus URL and the first set found of DIRECTUS_TOKEN, SEED_EMAIL + SEED_PASSWORD, ADMIN_EMAIL +
// ADMIN_PASSWORD. Owns logging in; never prints a secret.
import { authentication, createDirectus, rest, staticToken } from '@directus/sdk';
import { describeError, SeedApiError } from './upsert.mjs';

/**
 * Logs in; returns the SDK client and the URL. Exits 64 when no credentials are set.
 * @param {string} tool the name messages start with
 */
export async function connect(tool) {
  const env = process.env;
  const url = env.DIRECTUS_URL || `http://127.0.0.1:${env.PORT || 8055}`;
  if (env.DIRECTUS_TOKEN) return { url, client: createDirectus(url).with(rest()).with(staticToken(env.DIRECTUS_TOKEN)) };
  const email = env.SEED_EMAIL || env.ADMIN_EMAIL;
  const password = env.SEED_EMAIL ? env.SEED_PASSWORD : env.ADMIN_PASSWORD;
  if (!email || !password) {
    console.error(`${tool}: set DIRECTUS_TOKEN, or SEED_EMAIL and SEED_PASSWORD, or ADMIN_EMAIL and ADMIN_PASSWORD (a user of the Directus at DIRECTUS_URL)`);
    process.exit(64);
  }
  const client = createDirectus(url).with(rest()).with(authentication('json', { autoRefresh: false }));
  try {
    await client.login({ email, password });
  } catch (e) {
    throw new SeedApiError(`cannot log in to ${url} as ${email}: ${describeError(e)}`);
  }
  return { url, client };
}

// Creates the whole data model in a running Directus through its REST API: every `phaseN.mjs` of
// this folder, in numeric order (phase1, phase2, ..., phase10). Used by scripts/make-snapshot.sh,
// which then takes the snapshot with `directus schema snapshot`.
// Env: DIRECTUS_URL (default http://127.0.0.1:8055), ADMIN_EMAIL, ADMIN_PASSWORD.
import { readdir } from 'node:fs/promises';
import { applyPhase, connect } from './lib.mjs';

const here = new URL('.', import.meta.url);
const base = process.env.DIRECTUS_URL ?? 'http://127.0.0.1:8055';
const { ADMIN_EMAIL: email, ADMIN_PASSWORD: password } = process.env;
if (!email || !password) {
  console.error('run.mjs: set ADMIN_EMAIL and ADMIN_PASSWORD (the admin of the Directus at DIRECTUS_URL)');
  process.exit(64);
}

const phases = (await readdir(here))
  .map((name) => ({ name, n: /^phase(\d+)\.mjs$/.exec(name)?.[1] }))
  .filter((p) => p.n !== undefined)
  .sort((a, b) => Number(a.n) - Number(b.n));

const call = await connect(base, email, password);
for (const { name } of phases) {
  const mod = await import(new URL(name, here));
  if (!mod.default?.name) throw new Error(`${name}: the default export must be a phase ({ name, collections, ... })`);
  await applyPhase(call, mod.default);
  console.log(`[${mod.default.name}] done (${name})`);
}

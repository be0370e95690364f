#!/usr/bin/env node
// @ts-check
// Loads a seed file into a running Directus through its REST API (@directus/sdk), as an admin.
// Idempotent: rows are found by their natural keys; a second run prints "0 created, N unchanged".
//
// Usage: node seed/load.mjs [--update] [--quiet] [FILE]     (default FILE: rally-albania-2026.yaml here)
// Env:   DIRECTUS_URL  (default http://127.0.0.1:$PORT, PORT defaulting to 8055: right inside the container)
//        DIRECTUS_TOKEN, or SEED_EMAIL + SEED_PASSWORD, or ADMIN_EMAIL + ADMIN_PASSWORD (the first set wins)
// Exit:  0 done; 2 done, but conflicting rows were left alone; 1 Directus refused a request or could
//        not be reached; 64 usage; 65 the seed file is invalid.
import { fileURLToPath } from 'node:url';
import { readSeed, SeedFileError, toBeConfirmed } from './lib/data.mjs';
import { connect } from './lib/connect.mjs';
import { writeSeed } from './lib/seed.mjs';
import { describeError, SeedApiError, Tally } from './lib/upsert.mjs';

const USAGE = 'usage: node load.mjs [--update] [--quiet] [FILE]';

/** @param {string[]} argv */
function parseArgs(argv) {
  let update = false;
  let quiet = false;
  /** @type {string | undefined} */
  let file;
  for (const a of argv) {
    if (a === '--update') update = true;
    else if (a === '--quiet') quiet = true;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith('-') || file !== undefined) {
      console.error(`seed: unexpected argument ${a}\n${USAGE}`);
      process.exit(64);
    } else file = a;
  }
  return { update, quiet, file: file ?? fileURLToPath(new URL('rally-albania-2026.yaml', import.meta.url)) };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const seed = await readSeed(args.file);
  const { url, client } = await connect('seed');
  const tally = new Tally();
  const log = (/** @type {string} */ line) => { if (!args.quiet || !line.startsWith('created')) console.log(line); };
  console.log(`seed: ${args.file} -> ${url}${args.update ? ' (--update)' : ''}`);
  await writeSeed({ client, update: args.update, tally, log }, seed);
  const tbc = toBeConfirmed(seed);
  if (tbc) console.log(`seed: note: ${tbc} items are marked tbc (to be confirmed) in the file`);
  console.log(`seed: ${tally.summary()}`);
  return tally.counts.conflicting > 0 ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof SeedFileError) {
      console.error(`seed: ${e.message}`);
      process.exit(65);
    }
    console.error(`seed: ${e instanceof SeedApiError ? e.message : describeError(e)}`);
    process.exit(1);
  },
);

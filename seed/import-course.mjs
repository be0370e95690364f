#!/usr/bin/env node
// @ts-check
// Imports one stage's course from a roadbook's OpenRally GPX into an event, through the course-gpx
// endpoint (extensions/src/course-gpx): the file is read and checked there, by the one parser, and
// written in one transaction. Importing the same file again changes nothing.
//
// Usage: node seed/import-course.mjs FILE --event SLUG [--organization SLUG]
// Env:   DIRECTUS_URL, and DIRECTUS_TOKEN or SEED_EMAIL + SEED_PASSWORD or ADMIN_EMAIL + ADMIN_PASSWORD
//        (an org-admin or race-director of the event's organisation, or an admin)
// Exit:  0 imported (or already identical); 1 Directus refused the request (not allowed, unknown event:
//        the same answer) or could not be reached; 64 usage; 65 the GPX is refused (each problem printed
//        as FILE:LINE: <element>: reason); 66 the file cannot be read.
import { customEndpoint, isDirectusError } from '@directus/sdk';
import { readFile } from 'node:fs/promises';
import { connect } from './lib/connect.mjs';
import { describeError, SeedApiError } from './lib/upsert.mjs';
import { courseArgs } from './lib/course-args.mjs';

const USAGE = 'usage: node import-course.mjs FILE --event SLUG [--organization SLUG]';

async function main() {
  const args = courseArgs('import-course', USAGE, process.argv.slice(2), { file: true });
  let gpx;
  try {
    gpx = await readFile(/** @type {string} */ (args.file), 'utf8');
  } catch (e) {
    console.error(`import-course: cannot read ${args.file}: ${describeError(e)}`);
    return 66;
  }
  const { url, client } = await connect('import-course');
  try {
    const result = /** @type {Record<string, unknown>} */ (
      await client.request(customEndpoint({ method: 'POST', path: '/course-gpx/import', body: JSON.stringify({ event: args.event, organization: args.organization, gpx }) }))
    );
    console.log(
      `import-course: ${args.file} -> ${url}, event ${args.event}: stage "${result.stage}" (id ${result.stage_id}), ${result.points} points ` +
        `(${result.ignored_points} roadbook notes left out); ${result.created} created, ${result.updated} updated, ${result.deleted} deleted, ${result.unchanged} unchanged`,
    );
    return 0;
  } catch (e) {
    const first = /** @type {{ extensions?: { code?: string, problems?: { line: number, element: string, reason: string }[] } } | undefined} */ (
      isDirectusError(e) ? e.errors?.[0] : undefined
    );
    const problems = first?.extensions?.problems;
    if (first?.extensions?.code === 'INVALID_GPX' && problems) {
      for (const p of problems) console.error(`${args.file}:${p.line}: <${p.element}>: ${p.reason}`);
      console.error(`import-course: ${args.file} refused (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was written`);
      return 65;
    }
    throw new SeedApiError(`import-course: ${describeError(e)}`);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof SeedApiError ? e.message : `import-course: ${describeError(e)}`);
    process.exit(1);
  },
);

#!/usr/bin/env node
// @ts-check
// Writes one stage's course back to OpenRally GPX (metric), through the course-gpx endpoint: importing
// the file it writes gives the same course.
//
// Usage: node seed/export-course.mjs --event SLUG --stage NAME [--organization SLUG] [--output FILE]
// Env:   as import-course.mjs (an org-admin or race-director of the event's organisation, or an admin)
// Exit:  0 written (to FILE, or to standard output); 1 Directus refused the request or could not be
//        reached; 64 usage; 73 the output file cannot be written.
import { customEndpoint } from '@directus/sdk';
import { writeFile } from 'node:fs/promises';
import { connect } from './lib/connect.mjs';
import { describeError, SeedApiError } from './lib/upsert.mjs';
import { courseArgs } from './lib/course-args.mjs';

const USAGE = 'usage: node export-course.mjs --event SLUG --stage NAME [--organization SLUG] [--output FILE]';

async function main() {
  const args = courseArgs('export-course', USAGE, process.argv.slice(2), { stage: true });
  const { client } = await connect('export-course');
  /** @type {Record<string, string>} */
  const params = { event: args.event, stage: /** @type {string} */ (args.stage) };
  if (args.organization) params.organization = args.organization;
  let gpx;
  try {
    // The SDK hands back the fetch Response itself for a body that is neither JSON nor text/plain.
    const answer = /** @type {unknown} */ (await client.request(customEndpoint({ method: 'GET', path: `/course-gpx/export?${new URLSearchParams(params)}` })));
    gpx = answer instanceof Response && answer.ok ? await answer.text() : answer;
  } catch (e) {
    throw new SeedApiError(`export-course: ${describeError(e)}`);
  }
  if (typeof gpx !== 'string' || !gpx.startsWith('<?xml')) throw new SeedApiError('export-course: Directus answered something else than GPX');
  if (!args.output) {
    process.stdout.write(gpx);
    return 0;
  }
  try {
    await writeFile(args.output, gpx);
  } catch (e) {
    console.error(`export-course: cannot write ${args.output}: ${describeError(e)}`);
    return 73;
  }
  console.error(`export-course: stage "${args.stage}" of ${args.event} written to ${args.output}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof SeedApiError ? e.message : `export-course: ${describeError(e)}`);
    process.exit(1);
  },
);

// @ts-check
// The arguments of import-course.mjs and export-course.mjs (one reading for both). Exits 64 on bad usage.

/**
 * @param {string} tool
 * @param {string} usage
 * @param {string[]} argv
 * @param {{ file?: boolean, stage?: boolean }} need
 * @returns {{ event: string, organization?: string, stage?: string, output?: string, file?: string }}
 */
export function courseArgs(tool, usage, argv, need) {
  /** @type {Record<string, string>} */
  const named = {};
  /** @type {string[]} */
  const files = [];
  const options = { '--event': 'event', '--organization': 'organization', ...(need.stage ? { '--stage': 'stage', '--output': 'output' } : {}) };
  for (let i = 0; i < argv.length; i++) {
    const a = /** @type {string} */ (argv[i]);
    if (a === '-h' || a === '--help') {
      console.log(usage);
      process.exit(0);
    }
    const key = /** @type {Record<string, string>} */ (options)[a];
    if (key) {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) return usageError(tool, usage, `${a} needs a value`);
      named[key] = v;
    } else if (a.startsWith('-') || !need.file) return usageError(tool, usage, `unexpected argument ${a}`);
    else files.push(a);
  }
  if (!named.event) return usageError(tool, usage, '--event SLUG is required');
  if (need.stage && !named.stage) return usageError(tool, usage, '--stage NAME is required');
  if (need.file && files.length !== 1) return usageError(tool, usage, 'give exactly one GPX file');
  return { event: named.event, organization: named.organization, stage: named.stage, output: named.output, file: files[0] };
}

/**
 * @param {string} tool
 * @param {string} usage
 * @param {string} message
 * @returns {never}
 */
function usageError(tool, usage, message) {
  console.error(`${tool}: ${message}\n${usage}`);
  process.exit(64);
}

// @ts-check
// Idempotent writes through Directus's REST API (@directus/sdk): find a row by its natural key, create
// it when missing, compare it when present. Owns the comparison rules and the tally; knows nothing of
// what the rows mean (lib/seed.mjs decides that).
import { createItem, createUser, isDirectusError, readItems, readUsers, updateItem, updateUser } from '@directus/sdk';

/** @typedef {'created' | 'unchanged' | 'conflicting' | 'updated'} Outcome */
/** @typedef {string | number | boolean | null} Scalar */
/** @typedef {{ field: string, have: unknown, want: Scalar }} Difference */

/** A request Directus refused, or Directus unreachable: the message says which row and why. */
export class SeedApiError extends Error {}

/**
 * Whether a value read from Directus equals the value the seed wants. Timestamps compare as instants
 * (Directus answers `2026-06-06T00:00:00.000Z` for `2026-06-06T00:00:00Z`), numbers as numbers (a
 * bigInteger arrives as text), everything else strictly.
 * @param {unknown} have
 * @param {Scalar} want
 */
export function sameValue(have, want) {
  if (have === want) return true;
  if (have === null || have === undefined || want === null) return (have ?? null) === want;
  if (typeof want === 'number') return Number(have) === want;
  if (typeof want === 'string' && typeof have === 'string') {
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
    if (iso.test(want) && iso.test(have)) return Date.parse(want) === Date.parse(have);
  }
  return false;
}

/**
 * The fields whose value in Directus differs from the seed's.
 * @param {Record<string, unknown>} row
 * @param {Record<string, Scalar>} want
 * @returns {Difference[]}
 */
export function differences(row, want) {
  return Object.entries(want)
    .filter(([field, value]) => !sameValue(row[field], value))
    .map(([field, value]) => ({ field, have: row[field], want: value }));
}

/** Counts per outcome, and the lines worth printing. */
export class Tally {
  constructor() {
    /** @type {Record<Outcome, number>} */
    this.counts = { created: 0, unchanged: 0, conflicting: 0, updated: 0 };
  }

  /** @param {Outcome} outcome */
  add(outcome) {
    this.counts[outcome] += 1;
  }

  /** "3 created, 32 unchanged" (+ conflicting / updated when there are any). */
  summary() {
    const { created, unchanged, conflicting, updated } = this.counts;
    let text = `${created} created, ${unchanged} unchanged`;
    if (updated) text += `, ${updated} updated`;
    if (conflicting) text += `, ${conflicting} conflicting (left alone; --update overwrites them)`;
    return text;
  }
}

/**
 * @typedef {object} Context
 * @property {any} client    the SDK client (with rest())
 * @property {boolean} update overwrite conflicting fields instead of leaving the row alone
 * @property {Tally} tally
 * @property {(line: string) => void} log
 */

/**
 * Finds the row of `collection` whose natural `key` matches, creating it (key + values) when there is
 * none. A row that differs in `values` is reported, and updated only with `ctx.update`.
 * Returns the row's primary key.
 * @param {Context} ctx
 * @param {{ collection: string, label: string, key: Record<string, Scalar>, values: Record<string, Scalar> }} spec
 * @returns {Promise<string | number>}
 */
export async function ensure(ctx, { collection, label, key, values }) {
  const users = collection === 'directus_users';
  const filter = { _and: Object.entries(key).map(([field, value]) => ({ [field]: { _eq: value } })) };
  const query = { filter, limit: 2, fields: ['id', ...Object.keys(values)] };
  const what = `${collection} ${label}`;
  /** @type {Record<string, unknown>[]} */
  const found = await request(ctx, what, users ? readUsers(query) : readItems(collection, query));
  if (found.length > 1) throw new SeedApiError(`${what}: more than one row has this natural key (${JSON.stringify(key)})`);
  if (found.length === 0) {
    const payload = { ...key, ...values };
    /** @type {Record<string, unknown>} */
    const created = await request(ctx, what, users ? createUser(payload, { fields: ['id'] }) : createItem(collection, payload, { fields: ['id'] }));
    ctx.tally.add('created');
    ctx.log(`created    ${what}`);
    return /** @type {string | number} */ (created.id);
  }
  const row = found[0];
  const id = /** @type {string | number} */ (row.id);
  const diffs = differences(row, values);
  if (diffs.length === 0) {
    ctx.tally.add('unchanged');
    return id;
  }
  const described = diffs.map((d) => `${d.field} is ${JSON.stringify(d.have)} in Directus, ${JSON.stringify(d.want)} in the seed`).join('; ');
  if (!ctx.update) {
    ctx.tally.add('conflicting');
    ctx.log(`CONFLICT   ${what}: ${described}; left alone (--update overwrites)`);
    return id;
  }
  const patch = Object.fromEntries(diffs.map((d) => [d.field, d.want]));
  await request(ctx, what, users ? updateUser(String(id), patch, { fields: ['id'] }) : updateItem(collection, id, patch, { fields: ['id'] }));
  ctx.tally.add('updated');
  ctx.log(`updated    ${what}: ${described}`);
  return id;
}

/**
 * Sends one SDK command; turns Directus's error answer (or a network failure) into a SeedApiError
 * that names the row.
 * @param {Context} ctx
 * @param {string} what
 * @param {any} command
 * @returns {Promise<any>}
 */
async function request(ctx, what, command) {
  try {
    return await ctx.client.request(command);
  } catch (e) {
    throw new SeedApiError(`${what}: ${describeError(e)}`);
  }
}

/**
 * One line for an error thrown by @directus/sdk: Directus's own messages and codes, or the network error.
 * @param {unknown} e
 */
export function describeError(e) {
  if (isDirectusError(e)) {
    const errors = /** @type {{ message: string, extensions?: { code?: string } }[]} */ (e.errors ?? []);
    const status = e.response?.status ? `HTTP ${e.response.status}: ` : '';
    return status + errors.map((x) => `${x.message}${x.extensions?.code ? ` (${x.extensions.code})` : ''}`).join('; ');
  }
  const err = /** @type {Error & { cause?: Error }} */ (e);
  return err.cause ? `${err.message} (${err.cause.message})` : String(err?.message ?? e);
}

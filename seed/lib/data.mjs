// @ts-check
// Reads and checks a seed file (YAML). Owns the file's shape and its internal references (an entry's
// class, vehicle, devices and crew must be declared in the same file); knows nothing of Directus.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/**
 * @typedef {{ slug: string, name: string }} Organization
 * @typedef {{ email: string, first_name?: string, last_name?: string, phone?: string, birth_date?: string,
 *   nationality?: string, membership?: string }} User
 * @typedef {{ slug: string, name: string, discipline: string, starts_at: string, ends_at: string,
 *   timezone?: string, regulation_doc_url?: string, notes?: string }} Event
 * @typedef {{ code: string, name: string, sort_order?: number, vehicle_kind?: string, description?: string,
 *   tbc?: boolean }} Class
 * @typedef {{ plate: string, make: string, model: string, year?: number, cc?: number, vin?: string,
 *   tbc?: boolean }} Vehicle
 * @typedef {{ imei: string, model: string, tbc?: boolean }} Device
 * @typedef {{ user: string, role: string }} CrewMember
 * @typedef {{ imei: string, assigned_user?: string }} EntryDevice
 * @typedef {{ race_number: number, class: string, vehicle?: string, status?: string, crew?: CrewMember[],
 *   devices?: EntryDevice[] }} Entry
 * @typedef {{ organization: Organization, users: User[], event: Event, classes: Class[], vehicles: Vehicle[],
 *   devices: Device[], entries: Entry[] }} Seed
 */

/** A seed file that cannot be loaded: the message names the file and the item. */
export class SeedFileError extends Error {}

/**
 * Reads `path` and checks it; throws SeedFileError naming the file and what is wrong.
 * @param {string} path
 * @returns {Promise<Seed>}
 */
export async function readSeed(path) {
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new SeedFileError(`${path}: cannot read (${/** @type {Error} */ (e).message})`);
  }
  let doc;
  try {
    doc = parse(text);
  } catch (e) {
    throw new SeedFileError(`${path}: not valid YAML (${/** @type {Error} */ (e).message})`);
  }
  return checkSeed(doc, path);
}

/**
 * Checks a parsed seed document.
 * @param {unknown} doc
 * @param {string} where  the file name, for messages
 * @returns {Seed}
 */
export function checkSeed(doc, where) {
  /** @param {string} msg @returns {never} */
  const fail = (msg) => {
    throw new SeedFileError(`${where}: ${msg}`);
  };
  /** @param {unknown} v @param {string} path @returns {Record<string, unknown>} */
  const obj = (v, path) => (v && typeof v === 'object' && !Array.isArray(v) ? /** @type {Record<string, unknown>} */ (v) : fail(`${path} must be a mapping`));
  /** @param {unknown} v @param {string} path @returns {unknown[]} */
  const list = (v, path) => (v === undefined ? [] : Array.isArray(v) ? v : fail(`${path} must be a list`));
  /** @param {Record<string, unknown>} o @param {string} key @param {string} path */
  const text = (o, key, path) => {
    const v = o[key];
    if (typeof v !== 'string' || v.trim() === '') fail(`${path}.${key} is missing or not a text`);
    return /** @type {string} */ (v);
  };
  /** @param {Record<string, unknown>} o @param {string} key @param {string} path */
  const number = (o, key, path) => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${path}.${key} is missing or not a whole number`);
    return /** @type {number} */ (v);
  };
  /** @param {unknown[]} items @param {(x: any) => string} keyOf @param {string} path */
  const unique = (items, keyOf, path) => {
    const seen = new Set();
    for (const item of items) {
      const k = keyOf(item);
      if (seen.has(k)) fail(`${path}: ${k} appears twice`);
      seen.add(k);
    }
  };

  const root = obj(doc, 'the file');
  const organization = obj(root.organization, 'organization');
  text(organization, 'slug', 'organization');
  text(organization, 'name', 'organization');
  const event = obj(root.event, 'event');
  for (const k of ['slug', 'name', 'discipline', 'starts_at', 'ends_at']) text(event, k, 'event');
  for (const k of ['starts_at', 'ends_at']) {
    if (Number.isNaN(Date.parse(/** @type {string} */ (event[k])))) fail(`event.${k} is not a date and time: ${event[k]}`);
  }

  const users = list(root.users, 'users').map((u, i) => obj(u, `users[${i}]`));
  users.forEach((u, i) => {
    text(u, 'email', `users[${i}]`);
    if (u.birth_date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(String(u.birth_date))) fail(`users[${i}].birth_date must be YYYY-MM-DD (quoted): ${u.birth_date}`);
  });
  unique(users, (u) => String(u.email).toLowerCase(), 'users');
  const classes = list(root.classes, 'classes').map((c, i) => obj(c, `classes[${i}]`));
  classes.forEach((c, i) => { text(c, 'code', `classes[${i}]`); text(c, 'name', `classes[${i}]`); });
  unique(classes, (c) => c.code, 'classes');
  const vehicles = list(root.vehicles, 'vehicles').map((v, i) => obj(v, `vehicles[${i}]`));
  vehicles.forEach((v, i) => { for (const k of ['plate', 'make', 'model']) text(v, k, `vehicles[${i}]`); });
  unique(vehicles, (v) => v.plate, 'vehicles');
  const devices = list(root.devices, 'devices').map((d, i) => obj(d, `devices[${i}]`));
  devices.forEach((d, i) => {
    text(d, 'imei', `devices[${i}]`);
    text(d, 'model', `devices[${i}]`);
    if (!/^\d{15}$/.test(/** @type {string} */ (d.imei))) fail(`devices[${i}].imei must be 15 digits (quoted): ${d.imei}`);
  });
  unique(devices, (d) => d.imei, 'devices');

  const emails = new Set(users.map((u) => String(u.email).toLowerCase()));
  const entries = list(root.entries, 'entries').map((e, i) => obj(e, `entries[${i}]`));
  entries.forEach((e, i) => {
    const at = `entries[${i}]`;
    number(e, 'race_number', at);
    const cls = text(e, 'class', at);
    if (!classes.some((c) => c.code === cls)) fail(`${at}.class ${cls} is not one of the classes above`);
    if (e.vehicle !== undefined && !vehicles.some((v) => v.plate === e.vehicle)) fail(`${at}.vehicle ${e.vehicle} is not one of the vehicles above`);
    list(e.crew, `${at}.crew`).forEach((m, j) => {
      const member = obj(m, `${at}.crew[${j}]`);
      const user = text(member, 'user', `${at}.crew[${j}]`);
      text(member, 'role', `${at}.crew[${j}]`);
      if (!emails.has(user.toLowerCase())) fail(`${at}.crew[${j}].user ${user} is not one of the users above`);
    });
    list(e.devices, `${at}.devices`).forEach((d, j) => {
      const device = obj(d, `${at}.devices[${j}]`);
      const imei = text(device, 'imei', `${at}.devices[${j}]`);
      if (!devices.some((x) => x.imei === imei)) fail(`${at}.devices[${j}].imei ${imei} is not one of the devices above`);
      if (device.assigned_user !== undefined && !emails.has(String(device.assigned_user).toLowerCase())) {
        fail(`${at}.devices[${j}].assigned_user ${device.assigned_user} is not one of the users above`);
      }
    });
  });
  unique(entries, (e) => e.race_number, 'entries');
  return /** @type {Seed} */ (/** @type {unknown} */ ({ organization, users, event, classes, vehicles, devices, entries }));
}

/**
 * How many values are marked `tbc: true` (to be confirmed).
 * @param {Seed} seed
 */
export function toBeConfirmed(seed) {
  return [...seed.classes, ...seed.vehicles, ...seed.devices].filter((x) => x.tbc === true).length;
}

// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkSeed, readSeed, SeedFileError, toBeConfirmed } from '../lib/data.mjs';

const dogfood = fileURLToPath(new URL('../rally-albania-2026.yaml', import.meta.url));

test('the dogfood file is Rally Albania 2026 as published', async () => {
  const seed = await readSeed(dogfood);
  assert.equal(seed.organization.slug, 'msc-albania');
  assert.equal(seed.organization.name, 'Motorsport Club Albania');
  assert.equal(seed.event.slug, 'rally-albania-2026');
  assert.equal(seed.event.discipline, 'rally');
  assert.equal(Date.parse(seed.event.starts_at), Date.parse('2026-06-06T00:00:00Z'));
  assert.equal(Date.parse(seed.event.ends_at), Date.parse('2026-06-13T23:59:59Z'));
  assert.equal(seed.event.regulation_doc_url, 'https://www.rallyalbania.org');
  const codes = seed.classes.map((c) => c.code);
  assert.deepEqual(codes, ['M-1', 'M-2', 'M-3', 'M-4', 'M-5', 'M-6', 'M-7', 'M-8', 'Q-1', 'Q-2', 'Q-3', 'C-1', 'C-2', 'C-A', 'C-3', 'S-1', 'S-2', 'S-3']);
  assert.deepEqual(seed.classes.map((c) => c.sort_order), codes.map((_, i) => (i + 1) * 10), 'sort order in steps of 10');
  assert.equal(seed.classes.find((c) => c.code === 'M-1')?.name, 'MOTO under 450cc');
  assert.equal(seed.classes.find((c) => c.code === 'Q-3')?.name, 'QUAD Female pilot');
  const unpublished = seed.classes.filter((c) => /^[CS]-/.test(c.code));
  assert.equal(unpublished.length, 7);
  assert.ok(unpublished.every((c) => c.tbc === true), 'car and SSV names are marked to be confirmed');
  assert.ok(seed.classes.filter((c) => /^[MQ]-/.test(c.code)).every((c) => c.tbc === undefined), 'published names are not');
  assert.deepEqual(seed.vehicles, [{ plate: 'AA-001-AA', make: 'Toyota', model: 'Land Cruiser 70', year: 1998, cc: 4500 }]);
  assert.deepEqual(seed.devices.map((d) => d.model), ['Teltonika FMB920', 'Teltonika FMB920', 'Teltonika FMB003']);
  const [entry] = seed.entries;
  assert.equal(seed.entries.length, 1);
  assert.equal(entry.race_number, 301);
  assert.equal(entry.class, 'C-2');
  assert.equal(entry.status, 'registered');
  assert.deepEqual(entry.crew?.map((m) => m.role), ['pilot']);
  const worn = entry.devices?.filter((d) => d.assigned_user) ?? [];
  assert.equal(worn.length, 1);
  assert.equal(seed.devices.find((d) => d.imei === worn[0].imei)?.model, 'Teltonika FMB003', 'the body-worn one is assigned');
  assert.equal(worn[0].assigned_user, entry.crew?.[0].user);
  const pilot = seed.users.find((u) => u.email === entry.crew?.[0].user);
  assert.equal(pilot?.membership, 'race-director');
  assert.ok(pilot?.phone && pilot.birth_date && pilot.nationality, 'the crew user has phone, birth date and nationality');
  assert.equal(toBeConfirmed(seed), 10);
});

/** The smallest valid document, with `patch` applied. */
function doc(patch = {}) {
  return {
    organization: { slug: 'o', name: 'O' },
    users: [{ email: 'a@b.invalid' }],
    event: { slug: 'e', name: 'E', discipline: 'rally', starts_at: '2026-01-01T00:00:00Z', ends_at: '2026-01-02T00:00:00Z' },
    classes: [{ code: 'X-1', name: 'X' }],
    vehicles: [{ plate: 'P', make: 'M', model: 'N' }],
    devices: [{ imei: '350000000000014', model: 'FMB920' }],
    entries: [{ race_number: 1, class: 'X-1', vehicle: 'P', crew: [{ user: 'a@b.invalid', role: 'pilot' }], devices: [{ imei: '350000000000014' }] }],
    ...patch,
  };
}

test('a minimal document passes', () => {
  assert.equal(checkSeed(doc(), 'f.yaml').entries.length, 1);
});

test('errors name the file, the item and the value', () => {
  /** @type {[object, string][]} */
  const cases = [
    [{ organization: { name: 'O' } }, 'f.yaml: organization.slug is missing'],
    [{ classes: [{ code: 'X-1', name: 'X' }, { code: 'X-1', name: 'Y' }] }, 'classes: X-1 appears twice'],
    [{ devices: [{ imei: '12345', model: 'M' }] }, 'devices[0].imei must be 15 digits'],
    [{ entries: [{ race_number: 1, class: 'Z-9' }] }, 'entries[0].class Z-9 is not one of the classes above'],
    [{ entries: [{ race_number: 1, class: 'X-1', vehicle: 'NOPE' }] }, 'entries[0].vehicle NOPE is not one of the vehicles'],
    [{ entries: [{ race_number: 1, class: 'X-1', crew: [{ user: 'x@y.invalid', role: 'pilot' }] }] }, 'entries[0].crew[0].user x@y.invalid is not one of the users'],
    [{ entries: [{ race_number: '1', class: 'X-1' }] }, 'entries[0].race_number is missing or not a whole number'],
    [{ event: { slug: 'e', name: 'E', discipline: 'rally', starts_at: 'soon', ends_at: '2026-01-02T00:00:00Z' } }, 'event.starts_at is not a date and time: soon'],
    [{ users: [{ email: 'a@b.invalid', birth_date: '17/05/1980' }] }, 'users[0].birth_date must be YYYY-MM-DD'],
  ];
  for (const [patch, message] of cases) {
    assert.throws(() => checkSeed(doc(patch), 'f.yaml'), (e) => e instanceof SeedFileError && e.message.includes(message), message);
  }
});

test('an unreadable or invalid file is a SeedFileError naming it', async () => {
  await assert.rejects(readSeed('/nonexistent/seed.yaml'), (e) => e instanceof SeedFileError && e.message.startsWith('/nonexistent/seed.yaml: cannot read'));
});

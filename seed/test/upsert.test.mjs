// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differences, sameValue, Tally } from '../lib/upsert.mjs';

test('values compare the way Directus answers them', () => {
  assert.ok(sameValue('2026-06-06T00:00:00.000Z', '2026-06-06T00:00:00Z'), 'timestamps as instants');
  assert.ok(!sameValue('2026-06-06T00:00:01.000Z', '2026-06-06T00:00:00Z'));
  assert.ok(sameValue('4500', 4500), 'a bigInteger arrives as text');
  assert.ok(sameValue(null, null));
  assert.ok(sameValue(undefined, null), 'a missing field is null');
  assert.ok(!sameValue(null, 'x'));
  assert.ok(!sameValue('C-2', 'C-1'));
  assert.ok(sameValue('1980-05-17', '1980-05-17'));
  assert.ok(!sameValue('', null), 'an empty text is not null');
});

test('differences lists only the fields the seed sets that differ', () => {
  const row = { id: 1, name: 'Rally Albania 2026', notes: 'edited in the admin UI', starts_at: '2026-06-06T00:00:00.000Z' };
  assert.deepEqual(differences(row, { name: 'Rally Albania 2026', starts_at: '2026-06-06T00:00:00Z' }), []);
  assert.deepEqual(differences(row, { name: 'Rally Albania' }), [{ field: 'name', have: 'Rally Albania 2026', want: 'Rally Albania' }]);
});

test('the summary says what a second run did', () => {
  const t = new Tally();
  for (let i = 0; i < 35; i++) t.add('unchanged');
  assert.equal(t.summary(), '0 created, 35 unchanged');
  t.add('conflicting');
  assert.equal(t.summary(), '0 created, 35 unchanged, 1 conflicting (left alone; --update overwrites them)');
});

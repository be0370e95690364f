import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCESS_MODEL } from '../src/shared/access-model.ts';
import { checkQuery, RefusedPath, relationsOf, type QueryParts } from '../src/tenant-guard/paths.ts';
import { reorder } from '../src/tenant-guard/sort.ts';
import { existingKey } from '../src/tenant-guard/consent.ts';
import { namesKey } from '../src/tenant-guard/keys.ts';

const relations = relationsOf([
	{ collection: 'entries', field: 'event_id', related_collection: 'events', meta: { one_field: 'entries' } },
	{ collection: 'entries', field: 'vehicle_id', related_collection: 'vehicles', meta: null },
	{ collection: 'events', field: 'organization_id', related_collection: 'organizations', meta: null },
	{ collection: 'entry_crew', field: 'entry_id', related_collection: 'entries', meta: { one_field: 'crew' } },
	{ collection: 'entry_crew', field: 'user_id', related_collection: 'directus_users', meta: { one_field: 'crews' } },
	{ collection: 'directus_users', field: 'role', related_collection: 'directus_roles', meta: { one_field: 'users' } },
	{ collection: 'directus_activity', field: 'item', related_collection: null, meta: null },
]);
const allow = ACCESS_MODEL.filter_relations;
const ok = (collection: string, query: QueryParts) => assert.doesNotThrow(() => checkQuery(collection, query, relations, allow), JSON.stringify(query));
const refused = (collection: string, query: QueryParts, why: RegExp) =>
	assert.throws(() => checkQuery(collection, query, relations, allow), (e: unknown) => e instanceof RefusedPath && why.test(e.message), JSON.stringify(query));

test('own fields, foreign key values and listed many-to-one hops are allowed', () => {
	ok('entries', { filter: { race_number: { _eq: 301 } }, sort: ['-race_number'] });
	ok('entries', { filter: { vehicle_id: { _eq: 'x' } } });
	ok('entries', { filter: { _and: [{ event_id: { organization_id: { name: { _eq: 'A' } } } }, { status: { _neq: 'withdrawn' } }] } });
	ok('entries', { sort: ['event_id.name', 'vehicle_id'] });
	ok('entry_crew', { filter: { user_id: { _eq: '$CURRENT_USER' } } });
	ok('events', { filter: { starts_at: { _lte: '$NOW(-1 day)' } }, aggregate: { count: ['*'], max: ['starts_at'] }, groupBy: ['year(starts_at)'] });
	ok('events', { deep: { entries: { _filter: { race_number: { _gt: 1 } }, _sort: ['race_number'] } } });
});

test('relations outside the allowlist, one-to-many aliases, $FOLLOW and variable paths are refused', () => {
	refused('entries', { filter: { vehicle_id: { vin: { _starts_with: 'W' } } } }, /entries filter vehicle_id/);
	refused('directus_users', { filter: { role: { users: { email: { _eq: 'b@example.com' } } } } }, /relation outside/);
	refused('events', { filter: { entries: { _some: { notes: { _contains: 'a' } } } } }, /one-to-many/);
	refused('events', { filter: { entries: { _none: { notes: { _contains: 'a' } } } } }, /one-to-many/);
	refused('events', { filter: { '$FOLLOW(entries, event_id)': { notes: { _contains: 'a' } } } }, /reverse hop/);
	refused('entries', { filter: { notes: { _in: '$CURRENT_USER.role.users.email' } } }, /dynamic variable/);
	refused('entries', { filter: { _or: [{ id: { _eq: 1 } }, { 'count(crew)': { _gt: 0 } }] } }, /function over a relation/);
	refused('entry_crew', { sort: ['user_id.email'] }, /sort/);
	refused('entry_crew', { groupBy: ['user_id.email'] }, /groupBy/);
	refused('entry_crew', { aggregate: { countDistinct: ['user_id.email'] } }, /aggregate/);
	refused('events', { deep: { entries: { _filter: { vehicle_id: { plate: { _eq: 'AA' } } } } } }, /deep/);
	refused('directus_activity', { deep: { item: { _filter: {} } } }, /not a relation/);
});

test('a move within a group keeps its values and changes only what moves', () => {
	const rows = [10, 20, 30, 40].map((sort, i) => ({ key: i + 1, sort }));
	assert.deepEqual(reorder(rows, 1, 3), [
		{ key: 2, sort: 10 },
		{ key: 3, sort: 20 },
		{ key: 1, sort: 30 },
	]);
	assert.deepEqual(reorder(rows, 4, 2), [
		{ key: 4, sort: 20 },
		{ key: 2, sort: 30 },
		{ key: 3, sort: 40 },
	]);
	assert.deepEqual(reorder(rows, 2, 2), []);
	assert.deepEqual(reorder([{ key: 'a', sort: null }, { key: 'b', sort: 5 }], 'b', 'a'), [
		{ key: 'b', sort: 10 },
		{ key: 'a', sort: 20 },
	]);
	assert.throws(() => reorder(rows, 1, 99));
});

test('a junction payload names an existing row by key or nested id; a nested new row is none', () => {
	assert.equal(existingKey('u-1'), 'u-1');
	assert.equal(existingKey(7), 7);
	assert.equal(existingKey({ id: 'd-1', imei: '1' }), 'd-1');
	assert.equal(existingKey({ imei: '1', model: 'FMB920' }), null);
});

test('a create that names its primary key is told apart; one without, or with an empty key, is not', () => {
	assert.equal(namesKey({ id: 7, notes: 'x' }, 'id'), true);
	assert.equal(namesKey({ id: '00000000-0000-4000-8000-000000000001' }, 'id'), true);
	assert.equal(namesKey({ notes: 'x' }, 'id'), false);
	assert.equal(namesKey({ id: null }, 'id'), false);
	assert.equal(namesKey({ id: '' }, 'id'), false);
	assert.equal(namesKey([{ id: 1 }], 'id'), false);
});

test('deep through an alias follows the rule of the field it names, and a deep _group (sanitized groupBy) is checked', () => {
	const rel = relationsOf([
		{ collection: 'entries', field: 'event_id', related_collection: 'events', meta: { one_field: 'entries' } },
		{ collection: 'entries', field: 'vehicle_id', related_collection: 'vehicles', meta: null },
	]);
	const allow = { entries: ['event_id'] };
	assert.throws(
		() => checkQuery('events', { alias: { x: 'entries' }, deep: { x: { _filter: { vehicle_id: { vin: { _eq: 'v' } } } } } }, rel, allow),
		RefusedPath,
	);
	assert.throws(() => checkQuery('events', { deep: { entries: { _group: ['vehicle_id.vin'] } } }, rel, allow), RefusedPath);
	assert.doesNotThrow(() => checkQuery('events', { alias: { x: 'entries' }, deep: { x: { _filter: { event_id: { _eq: 1 } } } } }, rel, allow));
});

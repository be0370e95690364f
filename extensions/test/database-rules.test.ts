import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ruleRefusal, withoutStatement } from '../src/database-rules/translate.ts';

/** A PostgreSQL error as knex hands it over (pg's DatabaseError fields, knex's message). */
const pgError = (code: string, message: string, extra: Record<string, unknown> = {}) =>
	Object.assign(new Error(message), { code, ...extra });

test('a trigger rule: the sentence without the statement, with the collection, field and rule', () => {
	const error = pgError(
		'23514',
		'update "entries" set "class_id" = $1 where "id" in ($2) - entries.class_id: class 3 is not in event 1, the entry\'s event (rule entries_same_event)',
		{ table: 'entries', column: 'class_id', constraint: 'entries_same_event' },
	);
	assert.deepEqual(ruleRefusal(error), {
		message: "entries.class_id: class 3 is not in event 1, the entry's event (rule entries_same_event)",
		collection: 'entries',
		field: 'class_id',
		rule: 'entries_same_event',
	});
});

test('a CHECK constraint and an exclusion constraint are rule refusals too', () => {
	const check = ruleRefusal(
		pgError('23514', 'insert into "entry_penalties" ("seconds") values ($1) - new row for relation "entry_penalties" violates check constraint "entry_penalties_seconds_check"', {
			table: 'entry_penalties',
			constraint: 'entry_penalties_seconds_check',
		}),
	);
	assert.equal(check?.message, 'new row for relation "entry_penalties" violates check constraint "entry_penalties_seconds_check"');
	assert.equal(check?.field, null);
	assert.equal(ruleRefusal(pgError('23P01', 'conflicting key value violates exclusion constraint "x"'))?.rule, null);
});

test('other errors are not touched: unique, not-null, foreign key, no code, not an object', () => {
	for (const code of ['23505', '23502', '23503', '42P01']) assert.equal(ruleRefusal(pgError(code, 'x')), null, code);
	assert.equal(ruleRefusal(new Error('boom')), null);
	assert.equal(ruleRefusal('23514'), null);
	assert.equal(ruleRefusal(null), null);
	assert.equal(ruleRefusal([pgError('23514', 'x')]), null);
});

test('only a leading SQL statement is cut', () => {
	assert.equal(withoutStatement('delete from "x" where "id" in ($1) - rule says no'), 'rule says no');
	assert.equal(withoutStatement('geofences.geometry: a - b (rule polygon_valid)'), 'geofences.geometry: a - b (rule polygon_valid)');
	assert.equal(withoutStatement('WITH q AS (select 1) select * from q - refused'), 'refused');
});

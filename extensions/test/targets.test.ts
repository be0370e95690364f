import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PlanError, startRows } from '../src/stage-start-list/targets.ts';

const at = new Date('2026-06-07T08:00:00Z');

test('first starter leaves at the stage start, each next one an interval later', () => {
	const rows = startRows([7, 3], [{ id: 1, sort_order: 1, target_duration_seconds: null }], at, 120);
	assert.deepEqual(
		rows.map((r) => [r.entry_id, r.start_position, r.target_at.toISOString()]),
		[
			[7, 1, '2026-06-07T08:00:00.000Z'],
			[3, 2, '2026-06-07T08:02:00.000Z'],
		],
	);
});

test('later segments: plus the target durations of the segments before them, in sort order', () => {
	const segments = [
		{ id: 'ss', sort_order: 20, target_duration_seconds: 3600 },
		{ id: 'liaison', sort_order: 10, target_duration_seconds: 1800 },
		{ id: 'parc', sort_order: 30, target_duration_seconds: null },
	];
	const rows = startRows([5, 6], segments, at, 60);
	const of = (e: number, s: string) => rows.find((r) => r.entry_id === e && r.segment_id === s)?.target_at.toISOString();
	assert.equal(of(5, 'liaison'), '2026-06-07T08:00:00.000Z');
	assert.equal(of(5, 'ss'), '2026-06-07T08:30:00.000Z');
	assert.equal(of(5, 'parc'), '2026-06-07T09:30:00.000Z');
	assert.equal(of(6, 'parc'), '2026-06-07T09:31:00.000Z');
	assert.equal(rows.length, 6);
});

test('a stage without starts_at or interval cannot be planned', () => {
	assert.throws(() => startRows([1], [], null, 60), PlanError);
	assert.throws(() => startRows([1], [], at, null), /start_interval_seconds/);
});

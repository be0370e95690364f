import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangeError, parseChange, parseConfirmation } from '../src/penalty-preview/change.ts';
import { deltas, effectiveSeconds, positions, previewStages, resultKey, startOrderChange, type PenaltyChange } from '../src/penalty-preview/compute.ts';
import { PREVIEW_ROLES } from '../src/penalty-preview/load.ts';

const penalty = (over: Partial<PenaltyChange>): PenaltyChange => ({
	id: 1,
	entry_id: 1,
	stage_id: 10,
	review_state: 'computed',
	seconds: 60,
	override_seconds: null,
	after_review_state: 'computed',
	after_seconds: 60,
	after_override_seconds: null,
	disqualified_before: false,
	disqualified_after: false,
	...over,
});

test('a change is exactly one of formula, penalty, neutralise, each checked', () => {
	assert.deepEqual(parseChange({ formula: 7, brackets: [{ offence_min: 0, offence_max: 10, operator: 'fixed', penalty_seconds: 60 }] }), {
		kind: 'brackets',
		formula: 7,
		brackets: [{ offence_min: 0, offence_max: 10, operator: 'fixed', penalty_seconds: 60 }],
	});
	assert.deepEqual(parseChange({ penalty: '3', review_state: 'overridden', override_seconds: 30 }), {
		kind: 'review',
		penalty: 3,
		review_state: 'overridden',
		override_seconds: 30,
	});
	assert.deepEqual(parseChange({ neutralise: { speed_limit_zone: 4 } }), { kind: 'neutralise', target: 'speed_limit_zone', id: 4 });
	assert.deepEqual(parseChange({ neutralise: { waypoint: 5 } }), { kind: 'neutralise', target: 'waypoint', id: 5 });
	for (const [body, needle] of [
		[{}, /exactly one change/],
		[{ formula: 1, penalty: 2 }, /formula and penalty/],
		[{ formula: 1 }, /brackets must be a list/],
		[{ formula: 0, brackets: [] }, /formula must be a row id/],
		[{ formula: 1, brackets: [{ offence_min: 'x', operator: 'fixed', penalty_seconds: 1 }] }, /brackets\[0\]\.offence_min must be a number/],
		[{ formula: 1, brackets: [{ offence_min: 0, operator: 'fixed', penalty_seconds: 1, colour: 'red' }] }, /unknown key\(s\) colour/],
		[{ formula: 1, brackets: [{ id: 2, offence_min: 0, operator: 'fixed', penalty_seconds: 1 }, { id: 2, offence_min: 5, operator: 'fixed', penalty_seconds: 1 }] }, /listed twice/],
		[{ penalty: 1, review_state: 'forgiven' }, /review_state must be computed, overridden or void/],
		[{ penalty: 1, review_state: 'overridden', override_seconds: -5 }, /override_seconds must be a whole number/],
		[{ neutralise: { speed_limit_zone: 1, waypoint: 2 } }, /one speed_limit_zone or one waypoint/],
	] as const) {
		assert.throws(() => parseChange(body), (e: unknown) => e instanceof ChangeError && needle.test(e.message), JSON.stringify(body));
	}
});

test('a confirmation says why; the effective time is a time', () => {
	assert.deepEqual(parseConfirmation({ reason: ' SR amended ', regulation_article: 'SR 12.3', effective_from: '2026-06-07T00:00:00Z' }), {
		reason: 'SR amended',
		regulation_article: 'SR 12.3',
		regulation_document: null,
		effective_from: '2026-06-07T00:00:00Z',
	});
	assert.throws(() => parseConfirmation({}), /says why: give reason/);
	assert.throws(() => parseConfirmation({ reason: 'x', effective_from: 'next tuesday' }), /ISO 8601/);
});

test('effective seconds: the operator\'s when reviewed', () => {
	assert.equal(effectiveSeconds('computed', 60, null), 60);
	assert.equal(effectiveSeconds('overridden', 60, 15), 15);
	assert.equal(effectiveSeconds('void', 60, null), 0);
	const d = deltas([
		penalty({ id: 1, after_seconds: 90 }),
		penalty({ id: 2, seconds: 30, after_review_state: 'void', after_seconds: 30 }),
		penalty({ id: 3, stage_id: null, after_seconds: 1000 }),
	]);
	assert.equal(d.get(resultKey(1, 10))?.delta, 0); // +30 and -30
	assert.equal(d.size, 1, 'a penalty of no stage moves no stage result');
});

test('positions: by time, equal times share a position, no time or disqualified: none', () => {
	const p = positions([
		{ entry: { id: 1, race_number: 101 }, total: 100, disqualified: false },
		{ entry: { id: 2, race_number: 102 }, total: 90, disqualified: false },
		{ entry: { id: 3, race_number: 103 }, total: 100, disqualified: false },
		{ entry: { id: 4, race_number: 104 }, total: 120, disqualified: false },
		{ entry: { id: 5, race_number: 105 }, total: null, disqualified: false },
		{ entry: { id: 6, race_number: 106 }, total: 10, disqualified: true },
	]);
	assert.deepEqual([...p.entries()], [['1', 2], ['2', 1], ['3', 2], ['4', 4], ['5', null], ['6', null]]);
});

test('the preview of a stage: penalty seconds, total and position before and after', () => {
	const stages = previewStages({
		stages: [{ id: 10, name: 'SS1', sort_order: 1 }, { id: 20, name: 'SS2', sort_order: 2 }],
		entries: [{ id: 1, race_number: 101 }, { id: 2, race_number: 102 }, { id: 3, race_number: 103 }],
		results: [
			{ entry_id: 1, stage_id: 10, elapsed_seconds: 1000, total_seconds: 1060 },
			{ entry_id: 2, stage_id: 10, elapsed_seconds: 1070, total_seconds: 1070 },
			{ entry_id: 3, stage_id: 10, elapsed_seconds: 1200, total_seconds: 1200 },
			{ entry_id: 1, stage_id: 20, elapsed_seconds: 500, total_seconds: 500 },
		],
		penaltySeconds: new Map([[resultKey(1, 10), 60]]),
		changes: [penalty({ id: 1, entry_id: 1, stage_id: 10, seconds: 60, after_seconds: 240 })],
	});
	assert.equal(stages.length, 1, 'only the stage whose penalties change');
	const s = stages[0]!;
	assert.equal(s.changed_entries, 3, 'entry 1 drops to third, entries 2 and 3 move up');
	const e1 = s.entries.find((e) => e.entry_id === 1)!;
	assert.deepEqual(e1.penalty_seconds, { before: 60, after: 240 });
	assert.deepEqual(e1.total_seconds, { before: 1060, after: 1240 });
	assert.deepEqual(e1.position, { before: 1, after: 3 });
	assert.deepEqual(s.entries.map((e) => e.entry_id), [2, 3, 1], 'listed in the order after the change');
	const e3 = s.entries.find((e) => e.entry_id === 3)!;
	assert.deepEqual([e3.penalty_seconds, e3.total_seconds, e3.position], [{ before: 0, after: 0 }, { before: 1200, after: 1200 }, { before: 3, after: 2 }]);
});

test('the next stage\'s start order: the materializer\'s ordering run before and after', () => {
	const entries = [{ id: 1, race_number: 101 }, { id: 2, race_number: 102 }, { id: 3, race_number: 103 }];
	const input = {
		strategy: 'inverse_top_n_then_natural',
		params: { top_n: 3 },
		entries,
		results: [
			{ entry_id: 1, stage_id: 10, elapsed_seconds: 1000, total_seconds: 1060 },
			{ entry_id: 2, stage_id: 10, elapsed_seconds: 1070, total_seconds: 1070 },
			{ entry_id: 3, stage_id: 10, elapsed_seconds: 1200, total_seconds: 1200 },
		],
		inputStageId: 10,
		overallStageIds: [10],
	};
	const change = startOrderChange({ id: 20, name: 'SS2', sort_order: 2 }, input, [penalty({ entry_id: 1, stage_id: 10, after_seconds: 240 })], entries);
	// before: ranking 1, 2, 3 reversed -> 3, 2, 1; after: 2, 3, 1 reversed -> 1, 3, 2
	assert.deepEqual(change.order.map((r) => [r.entry_id, r.before, r.after]), [[3, 1, 2], [2, 2, 3], [1, 3, 1]]);
	assert.equal(change.changed, true);
	const dq = startOrderChange({ id: 20, name: 'SS2', sort_order: 2 }, input, [penalty({ entry_id: 3, stage_id: 10, disqualified_after: true })], entries);
	assert.deepEqual(dq.order.find((r) => r.entry_id === 3), { entry_id: 3, race_number: 103, before: 1, after: null }, 'a disqualified entry does not start');
	const bad = startOrderChange({ id: 20, name: 'SS2', sort_order: 2 }, { ...input, strategy: 'coin_toss' }, [], entries);
	assert.match(bad.error ?? '', /unknown start_order_strategy/);
});

test('who may preview: the access file\'s capability', () => {
	assert.deepEqual([...PREVIEW_ROLES].sort(), ['org-admin', 'race-director']);
});

test('the admin UI\'s table: the lines that change, before -> after', async () => {
	const { entryLines, startLines, summary } = await import('../src/penalty-preview/table.ts');
	const stages = previewStages({
		stages: [{ id: 10, name: 'SS1', sort_order: 1 }],
		entries: [{ id: 1, race_number: 101 }, { id: 2, race_number: 102 }],
		results: [
			{ entry_id: 1, stage_id: 10, elapsed_seconds: 1000, total_seconds: 1060 },
			{ entry_id: 2, stage_id: 10, elapsed_seconds: 1070, total_seconds: 1070 },
		],
		penaltySeconds: new Map([[resultKey(1, 10), 60]]),
		changes: [penalty({ entry_id: 1, stage_id: 10, after_seconds: 240 })],
	});
	stages[0]!.next_stage = {
		stage_id: 20,
		name: 'SS2',
		strategy: 'inverse_of_overall',
		changed: true,
		order: [
			{ entry_id: 2, race_number: 102, before: 1, after: 2 },
			{ entry_id: 1, race_number: 101, before: 2, after: 1 },
		],
	};
	assert.deepEqual(entryLines(stages), [
		{ stage: 'SS1', race_number: '102', penalty: '0', total: '1070', position: '2 → 1' },
		{ stage: 'SS1', race_number: '101', penalty: '60 → 240', total: '1060 → 1240', position: '1 → 2' },
	]);
	assert.deepEqual(startLines(stages).map((l) => `${l.race_number}: ${l.before} -> ${l.after}`), ['102: 1 -> 2', '101: 2 -> 1']);
	assert.equal(summary(stages, 1, 2), '1 penalty affected; 2 result line(s) change in 1 stage(s); 2 start position(s) move; 2 penalties have no inputs.offence and keep their seconds');
});

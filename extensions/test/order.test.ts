import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOrder, StrategyError, type OrderInput, type StageResult, type StartEntry } from '../src/stage-start-list/order.ts';

// Entries 1..5 with race numbers; ids deliberately not in race-number order.
const entries: StartEntry[] = [
	{ id: 1, race_number: 301 },
	{ id: 2, race_number: 12 },
	{ id: 3, race_number: 7 },
	{ id: 4, race_number: 100 },
	{ id: 5, race_number: 55 },
];
const S1 = 10;
const S2 = 11;

function run(over: Partial<OrderInput>) {
	return startOrder({ strategy: 'manual', params: null, entries, results: [], inputStageId: S1, overallStageIds: [S1], ...over });
}

const r = (entry_id: number, stage_id: number, elapsed: number | null, total: number | null): StageResult => ({
	entry_id,
	stage_id,
	elapsed_seconds: elapsed,
	total_seconds: total,
});

test('manual without a list: race-number order', () => {
	assert.deepEqual(run({}).order, [3, 2, 5, 4, 1]);
});

test('manual with an explicit list: listed first in that order, the rest by race number', () => {
	const out = run({ params: { race_numbers: [301, 7] } });
	assert.deepEqual(out.order, [1, 3, 2, 5, 4]);
	assert.deepEqual(out.warnings, []);
});

test('manual list naming a race number that does not start: skipped with a warning', () => {
	const out = run({ params: { race_numbers: [999, 55] } });
	assert.deepEqual(out.order, [5, 3, 2, 4, 1]);
	assert.equal(out.warnings.length, 1);
	assert.match(out.warnings[0] ?? '', /999/);
});

test('manual params given as JSON text are read', () => {
	assert.deepEqual(run({ params: '{"race_numbers":[100]}' }).order, [4, 3, 2, 5, 1]);
});

test('manual list with a duplicate is refused', () => {
	assert.throws(() => run({ params: { race_numbers: [7, 7] } }), StrategyError);
});

test('previous_stage_clean_result: elapsed time ascending, penalties ignored', () => {
	const results = [r(1, S1, 300, 900), r(2, S1, 100, 100), r(3, S1, 200, 200), r(4, S1, 400, 400), r(5, S1, 500, 500)];
	assert.deepEqual(run({ strategy: 'previous_stage_clean_result', results }).order, [2, 3, 1, 4, 5]);
});

test('previous_stage_clean_result: ties by race number, entries without a result last by race number', () => {
	// 1 (#301) and 5 (#55) tie; 3 and 4 have no result (4 has a row with a null time).
	const results = [r(1, S1, 200, 200), r(5, S1, 200, 200), r(2, S1, 100, 100), r(4, S1, null, null)];
	assert.deepEqual(run({ strategy: 'previous_stage_clean_result', results }).order, [2, 5, 1, 3, 4]);
});

test('previous_stage_clean_result reads only the input stage', () => {
	const results = [r(1, S2, 1, 1), r(2, S1, 100, 100)];
	assert.deepEqual(run({ strategy: 'previous_stage_clean_result', results }).order, [2, 3, 5, 4, 1]);
});

test('previous_stage_clean_result without an input stage: race-number order', () => {
	const results = [r(1, S1, 1, 1)];
	assert.deepEqual(run({ strategy: 'previous_stage_clean_result', results, inputStageId: null }).order, [3, 2, 5, 4, 1]);
});

test('inverse_top_n_then_natural: top N reversed, then the rest in result order, then no result', () => {
	// Ranking by total: 2 (100), 3 (200), 1 (300), 5 (400); 4 has none.
	const results = [r(1, S1, 1, 300), r(2, S1, 1, 100), r(3, S1, 1, 200), r(5, S1, 1, 400)];
	assert.deepEqual(run({ strategy: 'inverse_top_n_then_natural', params: { top_n: 3 }, results }).order, [1, 3, 2, 5, 4]);
});

test('inverse_top_n_then_natural: N larger than the ranked entries reverses them all', () => {
	const results = [r(1, S1, 1, 300), r(2, S1, 1, 100)];
	assert.deepEqual(run({ strategy: 'inverse_top_n_then_natural', params: { top_n: 10 }, results }).order, [1, 2, 3, 5, 4]);
});

test('inverse_top_n_then_natural: ties are ranked by race number before reversing', () => {
	const results = [r(1, S1, 1, 100), r(3, S1, 1, 100), r(2, S1, 1, 300)];
	// Ranking: 3 (#7), 1 (#301), 2; top 2 reversed: 1, 3.
	assert.deepEqual(run({ strategy: 'inverse_top_n_then_natural', params: { top_n: 2 }, results }).order, [1, 3, 2, 5, 4]);
});

test('inverse_top_n_then_natural needs n', () => {
	assert.throws(() => run({ strategy: 'inverse_top_n_then_natural', params: {} }), /needs \{"top_n"/);
	assert.throws(() => run({ strategy: 'inverse_top_n_then_natural', params: { top_n: 0 } }), StrategyError);
	assert.throws(() => run({ strategy: 'inverse_top_n_then_natural', params: { n: 3 } }), /unknown: n/);
});

test('inverse_of_overall: reverse of the cumulative classification', () => {
	const results = [
		r(1, S1, 0, 100), r(1, S2, 0, 100), // 200
		r(2, S1, 0, 50), r(2, S2, 0, 60), // 110
		r(3, S1, 0, 300), r(3, S2, 0, 10), // 310
		r(5, S1, 0, 80), // misses S2: no overall result
	];
	assert.deepEqual(run({ strategy: 'inverse_of_overall', results, overallStageIds: [S1, S2] }).order, [3, 1, 2, 5, 4]);
});

test('inverse_of_overall: ties reversed with the ranking (higher race number first)', () => {
	const results = [r(1, S1, 0, 100), r(3, S1, 0, 100), r(2, S1, 0, 50)];
	// Ranking: 2, 3 (#7), 1 (#301); reversed: 1, 3, 2.
	assert.deepEqual(run({ strategy: 'inverse_of_overall', results }).order, [1, 3, 2, 5, 4]);
});

test('inverse_of_overall with no earlier stage: race-number order', () => {
	assert.deepEqual(run({ strategy: 'inverse_of_overall', overallStageIds: [] }).order, [3, 2, 5, 4, 1]);
});

test('an unknown strategy or unknown params are refused', () => {
	assert.throws(() => run({ strategy: 'fastest_first' }), /unknown start_order_strategy/);
	assert.throws(() => run({ strategy: 'inverse_of_overall', params: { top_n: 3 } }), /unknown: top_n/);
	assert.throws(() => run({ params: '{not json' }), /not JSON/);
});

test('race numbers: numeric by value, text naturally, missing last', () => {
	const mixed: StartEntry[] = [
		{ id: 'a', race_number: 'B2' },
		{ id: 'b', race_number: '10' },
		{ id: 'c', race_number: null },
		{ id: 'd', race_number: '9' },
		{ id: 'e', race_number: 'B10' },
	];
	assert.deepEqual(run({ entries: mixed }).order, ['d', 'b', 'a', 'e', 'c']);
});

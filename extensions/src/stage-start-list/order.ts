/**
 * The start order of a stage: a pure function of the event's entries, the stage's strategy and its
 * parameters, and the results it ranks by. Owns the four strategies, their parameters, ties and entries
 * without a result. Must not read or write anything.
 *
 * Shared rules:
 * - Only the entries given (the event's entries that are not withdrawn) are ordered.
 * - A ranking is by time ascending; equal times are ranked by race number ascending (numeric when both are
 *   numbers, otherwise text with numbers compared by value), then by entry id. "Reverse" reverses the whole
 *   ranking, ties included.
 * - Entries without a result always start after the ranked ones, in race-number order.
 */

export type EntryId = number | string;

export const STRATEGIES = [
	'manual',
	'previous_stage_clean_result',
	'inverse_top_n_then_natural',
	'inverse_of_overall',
] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface StartEntry {
	id: EntryId;
	race_number: number | string | null;
}

export interface StageResult {
	entry_id: EntryId;
	stage_id: EntryId;
	/** Time without penalties. */
	elapsed_seconds: number | null;
	/** Time with penalties (the stage's result). */
	total_seconds: number | null;
}

export interface OrderInput {
	strategy: string | null;
	params: unknown;
	entries: StartEntry[];
	/** Results of the stages named below (others are ignored). */
	results: StageResult[];
	/** The stage ranked by previous_stage_clean_result and inverse_top_n_then_natural (null: none). */
	inputStageId: EntryId | null;
	/** The stages summed by inverse_of_overall (the cumulative classification). */
	overallStageIds: EntryId[];
}

export interface StartOrder {
	/** Entry ids, first starter first. */
	order: EntryId[];
	/** Things an operator should know (e.g. a listed race number that is not a starter). */
	warnings: string[];
}

export class StrategyError extends Error {}

export function startOrder(input: OrderInput): StartOrder {
	const strategy = input.strategy ?? 'manual';
	const params = parseParams(strategy, input.params);
	const natural = [...input.entries].sort(byRaceNumber);
	const warnings: string[] = [];
	switch (strategy) {
		case 'manual': {
			const listed = params.race_numbers;
			if (!listed) return { order: natural.map((e) => e.id), warnings };
			const byNumber = new Map(natural.map((e) => [String(e.race_number), e]));
			const first: StartEntry[] = [];
			for (const n of listed) {
				const entry = byNumber.get(String(n));
				if (entry) {
					first.push(entry);
					byNumber.delete(String(n));
				} else {
					warnings.push(`race number ${n} in start_order_strategy_params is not a starter of this event; skipped`);
				}
			}
			const rest = natural.filter((e) => !first.includes(e));
			return { order: [...first, ...rest].map((e) => e.id), warnings };
		}
		case 'previous_stage_clean_result': {
			const { ranked, unranked } = rank(natural, timesOf(input, 'elapsed_seconds'));
			return { order: [...ranked, ...unranked].map((e) => e.id), warnings };
		}
		case 'inverse_top_n_then_natural': {
			const n = params.top_n as number;
			const { ranked, unranked } = rank(natural, timesOf(input, 'total_seconds'));
			const top = ranked.slice(0, n).reverse();
			return { order: [...top, ...ranked.slice(n), ...unranked].map((e) => e.id), warnings };
		}
		case 'inverse_of_overall': {
			const { ranked, unranked } = rank(natural, overallTimes(input));
			return { order: [...ranked.reverse(), ...unranked].map((e) => e.id), warnings };
		}
		default:
			throw new StrategyError(
				`unknown start_order_strategy ${JSON.stringify(strategy)}; one of ${STRATEGIES.join(', ')}`,
			);
	}
}

interface Params {
	race_numbers?: Array<number | string>;
	top_n?: number;
}

/** Validates start_order_strategy_params for `strategy` (a JSON object, or a JSON text of one). */
export function parseParams(strategy: string, raw: unknown): Params {
	let value = raw;
	if (typeof value === 'string') {
		try {
			value = value.trim() === '' ? null : JSON.parse(value);
		} catch {
			throw new StrategyError(`start_order_strategy_params is not JSON: ${value}`);
		}
	}
	if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
		throw new StrategyError(`start_order_strategy_params must be a JSON object, got ${JSON.stringify(value)}`);
	}
	const p = (value ?? {}) as Record<string, unknown>;
	const allowed: Record<string, string[]> = {
		manual: ['race_numbers'],
		previous_stage_clean_result: [],
		inverse_top_n_then_natural: ['top_n'],
		inverse_of_overall: [],
	};
	const keys = allowed[strategy];
	if (!keys) {
		throw new StrategyError(`unknown start_order_strategy ${JSON.stringify(strategy)}; one of ${STRATEGIES.join(', ')}`);
	}
	const extra = Object.keys(p).filter((k) => !keys.includes(k));
	if (extra.length > 0) {
		throw new StrategyError(
			`start_order_strategy_params for ${strategy} takes ${keys.length ? keys.join(', ') : 'no keys'}; unknown: ${extra.join(', ')}`,
		);
	}
	const out: Params = {};
	if ('race_numbers' in p) {
		const list = p['race_numbers'];
		if (!Array.isArray(list) || !list.every((n) => typeof n === 'number' || typeof n === 'string')) {
			throw new StrategyError(`race_numbers must be a list of race numbers, got ${JSON.stringify(list)}`);
		}
		const seen = new Set<string>();
		for (const n of list) {
			if (seen.has(String(n))) throw new StrategyError(`race number ${n} is listed twice in race_numbers`);
			seen.add(String(n));
		}
		out.race_numbers = list as Array<number | string>;
	}
	if (strategy === 'inverse_top_n_then_natural') {
		const n = p['top_n'];
		if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
			throw new StrategyError(`inverse_top_n_then_natural needs {"top_n": <a whole number >= 1>}, got ${JSON.stringify(p)}`);
		}
		out.top_n = n;
	}
	return out;
}

function timesOf(input: OrderInput, field: 'elapsed_seconds' | 'total_seconds'): Map<string, number> {
	const times = new Map<string, number>();
	if (input.inputStageId === null) return times;
	for (const r of input.results) {
		const t = r[field];
		if (String(r.stage_id) === String(input.inputStageId) && isTime(t)) times.set(String(r.entry_id), Number(t));
	}
	return times;
}

/** Sum of total_seconds over every overall stage; an entry missing any of them has no overall result. */
function overallTimes(input: OrderInput): Map<string, number> {
	const stages = new Set(input.overallStageIds.map(String));
	const sums = new Map<string, { sum: number; stages: Set<string> }>();
	for (const r of input.results) {
		if (!stages.has(String(r.stage_id)) || !isTime(r.total_seconds)) continue;
		const key = String(r.entry_id);
		const acc = sums.get(key) ?? { sum: 0, stages: new Set<string>() };
		if (!acc.stages.has(String(r.stage_id))) {
			acc.sum += Number(r.total_seconds);
			acc.stages.add(String(r.stage_id));
		}
		sums.set(key, acc);
	}
	const times = new Map<string, number>();
	if (stages.size === 0) return times;
	for (const [entry, acc] of sums) if (acc.stages.size === stages.size) times.set(entry, acc.sum);
	return times;
}

function isTime(t: unknown): boolean {
	return t !== null && t !== undefined && t !== '' && Number.isFinite(Number(t));
}

function rank(natural: StartEntry[], times: Map<string, number>): { ranked: StartEntry[]; unranked: StartEntry[] } {
	const ranked = natural.filter((e) => times.has(String(e.id)));
	ranked.sort((a, b) => (times.get(String(a.id)) as number) - (times.get(String(b.id)) as number) || byRaceNumber(a, b));
	return { ranked, unranked: natural.filter((e) => !times.has(String(e.id))) };
}

const collator = new Intl.Collator('en', { numeric: true });

/** Race number ascending (entries without one last), then entry id. */
export function byRaceNumber(a: StartEntry, b: StartEntry): number {
	const x = a.race_number;
	const y = b.race_number;
	if (x === null || x === '') {
		if (!(y === null || y === '')) return 1;
	} else if (y === null || y === '') {
		return -1;
	} else {
		const nx = Number(x);
		const ny = Number(y);
		const c = Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : collator.compare(String(x), String(y));
		if (c !== 0) return c;
	}
	return collator.compare(String(a.id), String(b.id));
}

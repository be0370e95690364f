/**
 * What a proposed change would do to an event's results: per affected stage and entry, the penalty
 * seconds, the stage time and the position before and after, and how the next stage's start order
 * would change. Owns the arithmetic of the preview (effective seconds of a reviewed penalty, the
 * results' deltas, positions) and the dry run of the start order through the materializer's own
 * ordering (stage-start-list/order.ts `startOrder`, never a copy). Pure: never reads or writes
 * anything; the penalty seconds themselves come from the database's evaluator (trm_penalty) through
 * load.ts. Never computes a penalty from brackets itself.
 */
import { byRaceNumber, startOrder, StrategyError, type EntryId, type OrderInput, type StageResult } from '../stage-start-list/order.ts';

export type ReviewState = 'computed' | 'overridden' | 'void';

/** One penalty as it is and as the change would leave it (the `after_*` seconds come from trm_penalty). */
export interface PenaltyChange {
	id: EntryId;
	entry_id: EntryId;
	stage_id: EntryId | null;
	review_state: ReviewState;
	seconds: number;
	override_seconds: number | null;
	after_review_state: ReviewState;
	after_seconds: number;
	after_override_seconds: number | null;
	disqualified_before: boolean;
	disqualified_after: boolean;
}

export interface EntryInfo {
	id: EntryId;
	race_number: number | string | null;
}

export interface StageInfo {
	id: EntryId;
	name: string;
	sort_order: number;
}

export interface Pair<T> {
	before: T;
	after: T;
}

export interface EntryPreview {
	entry_id: EntryId;
	race_number: number | string | null;
	penalty_seconds: Pair<number>;
	total_seconds: Pair<number | null>;
	position: Pair<number | null>;
	disqualified: Pair<boolean>;
	changed: boolean;
}

export interface StartOrderPreview {
	stage_id: EntryId;
	name: string;
	strategy: string | null;
	/** One row per starter: the start position before and after (null: does not start). */
	order: Array<{ entry_id: EntryId; race_number: number | string | null; before: number | null; after: number | null }>;
	changed: boolean;
	/** The strategy cannot order this stage (StrategyError's sentence); no order then. */
	error?: string;
}

export interface StagePreview {
	stage_id: EntryId;
	name: string;
	entries: EntryPreview[];
	changed_entries: number;
	next_stage: StartOrderPreview | null;
}

/** The seconds a penalty adds to its stage: the operator's when reviewed. */
export function effectiveSeconds(state: ReviewState, seconds: number, override: number | null): number {
	if (state === 'void') return 0;
	if (state === 'overridden') return Number(override ?? 0);
	return Number(seconds);
}

const key = (entry: EntryId, stage: EntryId) => `${entry}\u0000${stage}`;

/** Per (entry, stage): the change of penalty seconds, and whether the entry becomes / was disqualified. */
export function deltas(changes: PenaltyChange[]): Map<string, { entry_id: EntryId; stage_id: EntryId; delta: number; dqBefore: boolean; dqAfter: boolean }> {
	const out = new Map<string, { entry_id: EntryId; stage_id: EntryId; delta: number; dqBefore: boolean; dqAfter: boolean }>();
	for (const p of changes) {
		if (p.stage_id === null || p.stage_id === undefined) continue;
		const k = key(p.entry_id, p.stage_id);
		const acc = out.get(k) ?? { entry_id: p.entry_id, stage_id: p.stage_id, delta: 0, dqBefore: false, dqAfter: false };
		acc.delta +=
			effectiveSeconds(p.after_review_state, p.after_seconds, p.after_override_seconds) - effectiveSeconds(p.review_state, p.seconds, p.override_seconds);
		// A reviewed (void / overridden) disqualification is the operator's: it no longer disqualifies.
		acc.dqBefore ||= p.disqualified_before && p.review_state === 'computed';
		acc.dqAfter ||= p.disqualified_after && p.after_review_state === 'computed';
		out.set(k, acc);
	}
	return out;
}

/**
 * Positions by total time ascending; equal times share a position (1, 2, 2, 4); entries without a time
 * or disqualified have none. Ties are listed by race number (the materializer's rule).
 */
export function positions(rows: Array<{ entry: EntryInfo; total: number | null; disqualified: boolean }>): Map<string, number | null> {
	const ranked = rows.filter((r) => r.total !== null && !r.disqualified);
	ranked.sort((a, b) => (a.total as number) - (b.total as number) || byRaceNumber(a.entry, b.entry));
	const out = new Map<string, number | null>();
	for (const r of rows) out.set(String(r.entry.id), null);
	ranked.forEach((r, i) => {
		const prev = ranked[i - 1];
		const pos = prev !== undefined && prev.total === r.total ? (out.get(String(prev.entry.id)) as number) : i + 1;
		out.set(String(r.entry.id), pos);
	});
	return out;
}

/** Each affected stage's entries before and after (results as stored, moved by the penalties' deltas). */
export function previewStages(input: {
	stages: StageInfo[];
	entries: EntryInfo[];
	results: StageResult[];
	/** stage_results.penalty_seconds by entry and stage (missing: 0). */
	penaltySeconds: Map<string, number>;
	changes: PenaltyChange[];
}): StagePreview[] {
	const d = deltas(input.changes);
	const affected = new Set([...d.values()].map((x) => String(x.stage_id)));
	const entries = new Map(input.entries.map((e) => [String(e.id), e]));
	const out: StagePreview[] = [];
	for (const stage of [...input.stages].sort((a, b) => a.sort_order - b.sort_order)) {
		if (!affected.has(String(stage.id))) continue;
		const ids = new Set<string>();
		for (const r of input.results) if (String(r.stage_id) === String(stage.id)) ids.add(String(r.entry_id));
		for (const x of d.values()) if (String(x.stage_id) === String(stage.id)) ids.add(String(x.entry_id));
		const totals = new Map(
			input.results.filter((r) => String(r.stage_id) === String(stage.id)).map((r) => [String(r.entry_id), r.total_seconds]),
		);
		const rows = [...ids].map((id) => {
			const entry = entries.get(id) ?? { id, race_number: null };
			const x = d.get(key(id, stage.id));
			const before = totals.get(id);
			const beforeTotal = before === null || before === undefined ? null : Number(before);
			const delta = x?.delta ?? 0;
			const pen = input.penaltySeconds.get(key(id, stage.id)) ?? 0;
			return {
				entry,
				pen: { before: pen, after: Math.max(0, pen + delta) },
				total: { before: beforeTotal, after: beforeTotal === null ? null : Math.max(0, beforeTotal + delta) },
				dq: { before: x?.dqBefore ?? false, after: x?.dqAfter ?? false },
			};
		});
		const posBefore = positions(rows.map((r) => ({ entry: r.entry, total: r.total.before, disqualified: r.dq.before })));
		const posAfter = positions(rows.map((r) => ({ entry: r.entry, total: r.total.after, disqualified: r.dq.after })));
		const list: EntryPreview[] = rows
			.map((r) => {
				const position = { before: posBefore.get(String(r.entry.id)) ?? null, after: posAfter.get(String(r.entry.id)) ?? null };
				const changed =
					r.pen.before !== r.pen.after || r.total.before !== r.total.after || position.before !== position.after || r.dq.before !== r.dq.after;
				return {
					entry_id: r.entry.id,
					race_number: r.entry.race_number,
					penalty_seconds: r.pen,
					total_seconds: r.total,
					position,
					disqualified: r.dq,
					changed,
				};
			})
			.sort((a, b) => (a.position.after ?? Infinity) - (b.position.after ?? Infinity) || byRaceNumber(
				{ id: a.entry_id, race_number: a.race_number },
				{ id: b.entry_id, race_number: b.race_number },
			));
		out.push({ stage_id: stage.id, name: stage.name, entries: list, changed_entries: list.filter((e) => e.changed).length, next_stage: null });
	}
	return out;
}

/**
 * The next stage's start order as the materializer would write it now and after the change: its own
 * ordering (`startOrder`) run twice, on the results as stored and moved by the deltas; entries the
 * change disqualifies do not start.
 */
export function startOrderChange(stage: StageInfo, input: OrderInput, changes: PenaltyChange[], entries: EntryInfo[]): StartOrderPreview {
	const d = deltas(changes);
	const moved: StageResult[] = input.results.map((r) => {
		const x = d.get(key(r.entry_id, r.stage_id));
		if (!x || r.total_seconds === null || r.total_seconds === undefined) return r;
		return { ...r, total_seconds: Math.max(0, Number(r.total_seconds) + x.delta) };
	});
	const out: StartOrderPreview = { stage_id: stage.id, name: stage.name, strategy: input.strategy, order: [], changed: false };
	const disqualified = new Set([...d.values()].filter((x) => x.dqAfter && !x.dqBefore).map((x) => String(x.entry_id)));
	let before: EntryId[];
	let after: EntryId[];
	try {
		before = startOrder(input).order;
		after = startOrder({ ...input, results: moved, entries: input.entries.filter((e) => !disqualified.has(String(e.id))) }).order;
	} catch (err) {
		if (err instanceof StrategyError) return { ...out, error: err.message };
		throw err;
	}
	const numbers = new Map(entries.map((e) => [String(e.id), e.race_number]));
	const posAfter = new Map(after.map((id, i) => [String(id), i + 1]));
	const seen = new Set<string>();
	for (const [i, id] of before.entries()) {
		seen.add(String(id));
		out.order.push({ entry_id: id, race_number: numbers.get(String(id)) ?? null, before: i + 1, after: posAfter.get(String(id)) ?? null });
	}
	for (const [i, id] of after.entries()) {
		if (!seen.has(String(id))) out.order.push({ entry_id: id, race_number: numbers.get(String(id)) ?? null, before: null, after: i + 1 });
	}
	out.changed = out.order.some((r) => r.before !== r.after);
	return out;
}

/** The key of penaltySeconds' map. */
export const resultKey = key;

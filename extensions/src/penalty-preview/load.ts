/**
 * The preview's reads: the change's target and who may change it, the penalties it touches evaluated
 * by the database's one bracket evaluator (trm_penalty, db-init-post/016), the affected stages'
 * results, and the next stage's ordering input (stage-start-list's `orderInput`). Owns these queries
 * and nothing else: the arithmetic is compute.ts's. Never writes: every read runs in the caller's
 * transaction (a READ ONLY one for a preview, the confirmation's own for a confirmation).
 */
import type { Knex } from 'knex';
import type { Change } from './change.ts';
import { previewStages, resultKey, startOrderChange, type EntryInfo, type PenaltyChange, type StageInfo, type StagePreview } from './compute.ts';
import { loadStage, orderInput } from '../stage-start-list/materialize.ts';
import type { StageResult } from '../stage-start-list/order.ts';
import { rolesWith } from '../shared/access-model.ts';

/** The organisation roles that may preview, version and confirm (access.yaml membership.capabilities). */
export const PREVIEW_ROLES = rolesWith('preview-penalties');

export interface Accountability {
	user?: string | null;
	admin?: boolean;
}

/** The change's target, once the caller may change it. */
export interface Target {
	event_id: number;
	/** brackets: the formula's owner and penalty type, and its rows' ids. */
	formula?: { belongs_to_type: string; belongs_to_id: number; type: string; ids: number[] };
}

/**
 * The target of `change` when the caller may change it (a Directus admin, or an org-admin or
 * race-director of the event's organisation); null otherwise, and null when it does not exist: the
 * caller cannot tell the two apart.
 */
export async function targetFor(db: Knex, accountability: Accountability, change: Change): Promise<Target | null> {
	const owner = {
		brackets: `SELECT f.event_id, e.organization_id FROM penalty_formulas f JOIN events e ON e.id = f.event_id WHERE f.id = ?`,
		review: `SELECT en.event_id, e.organization_id FROM entry_penalties p JOIN entries en ON en.id = p.entry_id JOIN events e ON e.id = en.event_id WHERE p.id = ?`,
		neutralise:
			change.kind === 'neutralise' && change.target === 'waypoint'
				? `SELECT s.event_id, e.organization_id FROM waypoints w JOIN segments g ON g.id = w.segment_id JOIN stages s ON s.id = g.stage_id JOIN events e ON e.id = s.event_id WHERE w.id = ?`
				: `SELECT s.event_id, e.organization_id FROM speed_limit_zones z JOIN segments g ON g.id = z.segment_id JOIN stages s ON s.id = g.stage_id JOIN events e ON e.id = s.event_id WHERE z.id = ?`,
	}[change.kind];
	const key = change.kind === 'brackets' ? change.formula : change.kind === 'review' ? change.penalty : change.id;
	const rows = await db.raw(
		`SELECT o.event_id FROM (${owner}) o
		  WHERE ?::boolean OR EXISTS (SELECT 1 FROM organization_users m
		                               WHERE m.organization_id = o.organization_id AND m.user_id = ?::uuid AND m.role = ANY (?::text[]))`,
		[key, accountability.admin === true, accountability.user ?? null, [...PREVIEW_ROLES]],
	);
	const found = rows.rows[0] as { event_id: number } | undefined;
	if (!found) return null;
	const target: Target = { event_id: Number(found.event_id) };
	if (change.kind === 'brackets') {
		const f = (
			await db.raw(
				`SELECT g.belongs_to_type, g.belongs_to_id, g.type, array_agg(o.id ORDER BY o.offence_min) AS ids
				   FROM penalty_formulas g JOIN penalty_formulas o
				     ON o.belongs_to_type = g.belongs_to_type AND o.belongs_to_id = g.belongs_to_id AND o.type = g.type
				  WHERE g.id = ? GROUP BY 1, 2, 3`,
				[change.formula],
			)
		).rows[0] as { belongs_to_type: string; belongs_to_id: number; type: string; ids: number[] };
		target.formula = { ...f, belongs_to_id: Number(f.belongs_to_id), ids: f.ids.map(Number) };
	}
	return target;
}

interface Row {
	id: number;
	entry_id: number;
	stage_id: number | null;
	review_state: 'computed' | 'overridden' | 'void';
	seconds: number;
	override_seconds: number | null;
	after_review_state: 'computed' | 'overridden' | 'void';
	after_seconds: number;
	after_override_seconds: number | null;
	disqualified_before: boolean;
	disqualified_after: boolean;
}

const PENALTY = `p.id, p.entry_id, p.stage_id, p.review_state, p.seconds, p.override_seconds`;

/**
 * The penalties the change touches, before and after. New brackets re-evaluate every penalty of the
 * formula whose `inputs.offence` is a number with trm_penalty (the current brackets for "before", the
 * proposal for "after"); the others keep their seconds and are counted in `not_reevaluated`.
 */
export async function penaltyChanges(db: Knex, change: Change, target: Target): Promise<{ changes: PenaltyChange[]; not_reevaluated: number }> {
	if (change.kind === 'brackets') {
		const f = target.formula as NonNullable<Target['formula']>;
		const proposal = JSON.stringify(change.brackets);
		// Every bracket's start evaluated once: trm_penalty refuses an invalid or overlapping proposal
		// (two brackets overlap exactly when one's start lies in the other) before anything else.
		await db.raw(`SELECT count(*) FROM jsonb_array_elements(?::jsonb) b, LATERAL trm_penalty(?::jsonb, (b ->> 'offence_min')::numeric)`, [
			proposal,
			proposal,
		]);
		const rows = (
			await db.raw(
				`WITH cur AS (SELECT trm_formula_brackets(?, ?, ?) AS brackets),
				      p AS (SELECT ${PENALTY}, (p.inputs::jsonb ->> 'offence')::numeric AS offence
				              FROM entry_penalties p
				             WHERE p.formula_id = ANY (?::integer[]) AND jsonb_typeof(p.inputs::jsonb -> 'offence') = 'number' OFFSET 0)
				 SELECT p.id, p.entry_id, p.stage_id, p.review_state, p.seconds, p.override_seconds,
				        p.review_state AS after_review_state, coalesce(a.seconds, 0) AS after_seconds, p.override_seconds AS after_override_seconds,
				        coalesce(b.disqualified, false) AS disqualified_before, coalesce(a.disqualified, false) AS disqualified_after
				   FROM p CROSS JOIN cur
				   LEFT JOIN LATERAL trm_penalty(cur.brackets, p.offence) b ON true
				   LEFT JOIN LATERAL trm_penalty(?::jsonb, p.offence) a ON true`,
				[f.belongs_to_type, f.belongs_to_id, f.type, f.ids, proposal],
			)
		).rows as Row[];
		const rest = await db.raw(
			`SELECT count(*)::int AS n FROM entry_penalties p WHERE p.formula_id = ANY (?::integer[]) AND jsonb_typeof(p.inputs::jsonb -> 'offence') IS DISTINCT FROM 'number'`,
			[f.ids],
		);
		// A reviewed penalty is the operator's: new brackets change only computed ones.
		const changes = rows.map((r) => (r.review_state === 'computed' ? r : { ...r, after_seconds: r.seconds }));
		return { changes: changes.map(numeric), not_reevaluated: Number(rest.rows[0]?.n ?? 0) };
	}
	if (change.kind === 'review') {
		const rows = (
			await db.raw(
				`SELECT ${PENALTY}, ?::text AS after_review_state, p.seconds AS after_seconds, ?::integer AS after_override_seconds,
				        false AS disqualified_before, false AS disqualified_after
				   FROM entry_penalties p WHERE p.id = ?`,
				[change.review_state, change.override_seconds, change.penalty],
			)
		).rows as Row[];
		return { changes: rows.map(numeric), not_reevaluated: 0 };
	}
	const rows = (
		await db.raw(
			change.target === 'speed_limit_zone'
				? `SELECT ${PENALTY}, 'void' AS after_review_state, p.seconds AS after_seconds, NULL::integer AS after_override_seconds,
				          false AS disqualified_before, false AS disqualified_after
				     FROM entry_penalties p LEFT JOIN penalty_formulas f ON f.id = p.formula_id
				    WHERE (f.belongs_to_type = 'speed_limit_zone' AND f.belongs_to_id = ?)
				       OR p.inputs::jsonb -> 'speed_limit_zone_id' = to_jsonb(?::integer)`
				: `SELECT ${PENALTY}, 'void' AS after_review_state, p.seconds AS after_seconds, NULL::integer AS after_override_seconds,
				          false AS disqualified_before, false AS disqualified_after
				     FROM entry_penalties p
				    WHERE p.inputs::jsonb -> 'waypoint_id' = to_jsonb(?::integer)
				       OR coalesce(p.inputs::jsonb -> 'waypoint_ids', '[]'::jsonb) @> jsonb_build_array(?::integer)`,
			[change.id, change.id],
		)
	).rows as Row[];
	return { changes: rows.map(numeric), not_reevaluated: 0 };
}

const numeric = (r: Row): PenaltyChange => ({
	...r,
	seconds: Number(r.seconds),
	override_seconds: r.override_seconds === null ? null : Number(r.override_seconds),
	after_seconds: Number(r.after_seconds),
	after_override_seconds: r.after_override_seconds === null ? null : Number(r.after_override_seconds),
});

export interface Preview {
	event_id: number;
	penalties: number;
	not_reevaluated: number;
	stages: StagePreview[];
}

/** The whole preview of `change` on `target`'s event, read through `db`. */
export async function preview(db: Knex, change: Change, target: Target): Promise<Preview> {
	const { changes, not_reevaluated } = await penaltyChanges(db, change, target);
	const stages = (await db.raw(`SELECT id, name, sort_order FROM stages WHERE event_id = ? ORDER BY sort_order`, [target.event_id])).rows as StageInfo[];
	const affected = [...new Set(changes.map((c) => c.stage_id).filter((s) => s !== null))];
	const entries = (await db.raw(`SELECT id, race_number FROM entries WHERE event_id = ?`, [target.event_id])).rows as EntryInfo[];
	const results = (
		await db.raw(`SELECT entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds FROM stage_results WHERE stage_id = ANY (?::integer[])`, [
			affected,
		])
	).rows as Array<StageResult & { penalty_seconds: number | null }>;
	const penaltySeconds = new Map(results.map((r) => [resultKey(r.entry_id, r.stage_id), Number(r.penalty_seconds ?? 0)]));
	const out = previewStages({ stages, entries, results, penaltySeconds, changes });
	for (const s of out) {
		const info = stages.find((x) => String(x.id) === String(s.stage_id)) as StageInfo;
		const next = stages.find((x) => x.sort_order > info.sort_order);
		if (!next) continue;
		const row = await loadStage(db, next.id);
		if (!row) continue;
		s.next_stage = startOrderChange(next, await orderInput(db, row), changes, entries);
	}
	return { event_id: target.event_id, penalties: changes.length, not_reevaluated, stages: out };
}

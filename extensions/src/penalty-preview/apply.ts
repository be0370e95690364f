/**
 * The confirmation's writes, inside the one transaction the endpoint opens: the reason (and for
 * brackets the regulation reference and effective time) set for the transaction, so the timing
 * ledger (db-init-post/010) and the formula's new version (020) carry them, then the change itself.
 * Owns these statements; the rules are the database's (overlapping brackets, reasons, reviewed
 * penalties), and a refusal rolls everything back. Never computes a penalty.
 */
import type { Knex } from 'knex';
import type { Change, Confirmation } from './change.ts';
import type { Target } from './load.ts';

export interface Applied {
	/** brackets: the formula's version after the change (null: the math did not change). */
	formula_version?: { id: number; version: number } | null;
	rows_changed: number;
}

/** Offences of parked brackets: far below any real offence, so moving brackets never overlap midway. */
const PARK = -900000000;

export async function apply(trx: Knex.Transaction, change: Change, target: Target, confirmation: Confirmation, user: string | null): Promise<Applied> {
	await trx.raw(
		`SELECT set_config('trm.reason', ?, true), set_config('trm.regulation_article', coalesce(?, current_setting('trm.regulation_article', true), ''), true),
		        set_config('trm.regulation_document', coalesce(?, current_setting('trm.regulation_document', true), ''), true),
		        set_config('trm.effective_from', coalesce(?, current_setting('trm.effective_from', true), ''), true)`,
		[confirmation.reason, confirmation.regulation_article, confirmation.regulation_document, confirmation.effective_from],
	);
	if (change.kind === 'brackets') {
		const f = target.formula as NonNullable<Target['formula']>;
		const unknown = change.brackets.filter((b) => b.id !== undefined && !f.ids.includes(b.id));
		if (unknown.length) {
			throw Object.assign(new Error(`bracket id(s) ${unknown.map((b) => b.id).join(', ')} are not rows of this formula`), { code: '22023' });
		}
		const keep = change.brackets.filter((b) => b.id !== undefined).map((b) => b.id as number);
		let n = 0;
		const removed = f.ids.filter((x) => !keep.includes(x));
		if (removed.length) n += (await trx.raw(`DELETE FROM penalty_formulas WHERE id = ANY (?::integer[])`, [removed])).rowCount ?? 0;
		// Park the kept rows (one unit each, in order) so that writing them one by one never overlaps.
		if (keep.length) {
			await trx.raw(
				`UPDATE penalty_formulas f SET offence_min = ? - k.n * 2, offence_max = ? - k.n * 2 + 1
				   FROM unnest(?::integer[]) WITH ORDINALITY AS k(id, n) WHERE f.id = k.id`,
				[PARK, PARK, keep],
			);
		}
		for (const b of change.brackets) {
			if (b.id !== undefined) {
				n += (
					await trx.raw(
						`UPDATE penalty_formulas SET offence_min = ?, offence_max = ?, operator = ?, penalty_seconds = ?,
						        enabled = coalesce(?, enabled), retroactive = coalesce(?, retroactive) WHERE id = ?`,
						[b.offence_min, b.offence_max, b.operator, b.penalty_seconds, b.enabled ?? null, b.retroactive ?? null, b.id],
					)
				).rowCount ?? 0;
			} else {
				n += (
					await trx.raw(
						`INSERT INTO penalty_formulas (event_id, belongs_to_type, belongs_to_id, segment_id, speed_limit_zone_id, stage_id, type,
						                              offence_min, offence_max, operator, penalty_seconds, enabled, retroactive)
						 VALUES (?, ?, ?, NULL, NULL, NULL, ?, ?, ?, ?, ?, coalesce(?, true), coalesce(?, false))`,
						[target.event_id, f.belongs_to_type, f.belongs_to_id, f.type, b.offence_min, b.offence_max, b.operator, b.penalty_seconds, b.enabled ?? null, b.retroactive ?? null],
					)
				).rowCount ?? 0;
			}
		}
		// Recorded now (the commit's deferred trigger then finds it made), in a statement of its own: the
		// new row is seen by the next statement only.
		const made = (await trx.raw(`SELECT trm_formula_version_record(?, ?, ?, ?) AS id`, [target.event_id, f.belongs_to_type, f.belongs_to_id, f.type]))
			.rows[0]?.id as number | null | undefined;
		const v =
			made === null || made === undefined
				? undefined
				: ((await trx.raw(`SELECT id, version FROM penalty_formula_versions WHERE id = ?`, [made])).rows[0] as { id: number; version: number } | undefined);
		return { formula_version: v ? { id: Number(v.id), version: Number(v.version) } : null, rows_changed: n };
	}
	if (change.kind === 'review') {
		const r = await trx.raw(
			`UPDATE entry_penalties SET review_state = ?, override_seconds = ?, override_reason = ?, overridden_by = ?::uuid WHERE id = ?`,
			[change.review_state, change.override_seconds, change.review_state === 'computed' ? null : confirmation.reason, user, change.penalty],
		);
		return { rows_changed: r.rowCount ?? 0 };
	}
	let n = 0;
	if (change.target === 'speed_limit_zone') {
		n += (await trx.raw(`UPDATE speed_limit_zones SET active = false WHERE id = ? AND active IS DISTINCT FROM false`, [change.id])).rowCount ?? 0;
	}
	const ids = (
		await trx.raw(
			change.target === 'speed_limit_zone'
				? `SELECT p.id FROM entry_penalties p LEFT JOIN penalty_formulas f ON f.id = p.formula_id
				    WHERE (f.belongs_to_type = 'speed_limit_zone' AND f.belongs_to_id = ?) OR p.inputs::jsonb -> 'speed_limit_zone_id' = to_jsonb(?::integer)`
				: `SELECT p.id FROM entry_penalties p
				    WHERE p.inputs::jsonb -> 'waypoint_id' = to_jsonb(?::integer) OR coalesce(p.inputs::jsonb -> 'waypoint_ids', '[]'::jsonb) @> jsonb_build_array(?::integer)`,
			[change.id, change.id],
		)
	).rows.map((r: { id: number }) => r.id);
	if (ids.length) {
		n += (
			await trx.raw(
				`UPDATE entry_penalties SET review_state = 'void', override_seconds = NULL, override_reason = ?, overridden_by = ?::uuid
				  WHERE id = ANY (?::integer[]) AND review_state <> 'void'`,
				[confirmation.reason, user, ids],
			)
		).rowCount ?? 0;
	}
	return { rows_changed: n };
}

/**
 * Writes a stage's start list into `entry_segment_starts`. Owns the reads the ordering needs and the one
 * transaction that replaces the stage's rows; the order itself is order.ts's, the times targets.ts's.
 *
 * Re-running (a stage reopened) updates rows in place (unique (entry_id, segment_id)), never duplicates
 * them, leaves every row with manual_override untouched, and removes the non-overridden rows of entries
 * that no longer start (withdrawn since).
 */
import type { Knex } from 'knex';
import { startOrder, type EntryId, type OrderInput, type StageResult, type StartEntry } from './order.ts';
import { startRows, type SegmentPlan } from './targets.ts';

export interface StageRow {
	id: EntryId;
	event_id: EntryId;
	sort_order: number;
	status: string | null;
	starts_at: Date | string | null;
	start_interval_seconds: number | null;
	start_order_strategy: string | null;
	start_order_strategy_params: unknown;
	start_order_input_stage_id: EntryId | null;
}

export interface Materialized {
	rows: number;
	warnings: string[];
	skipped?: string;
}

const STAGE_COLUMNS = `id, event_id, sort_order, status, starts_at, start_interval_seconds, start_order_strategy,
	start_order_strategy_params, start_order_input_stage_id`;

export async function loadStage(db: Knex, stageId: EntryId, lock = false): Promise<StageRow | null> {
	const rows = await db.raw(`SELECT ${STAGE_COLUMNS} FROM stages WHERE id = ?${lock ? ' FOR UPDATE' : ''}`, [stageId]);
	return (rows.rows[0] as StageRow | undefined) ?? null;
}

/** The start order of `stage`, read through `db`. */
export async function planOrder(db: Knex, stage: StageRow) {
	return startOrder(await orderInput(db, stage));
}

/**
 * What the ordering of `stage` reads (entries, the input stage, the overall stages and their results),
 * read through `db`: the materializer orders it, a dry run (extensions/src/penalty-preview) orders it
 * as it is and with changed results.
 */
export async function orderInput(db: Knex, stage: StageRow): Promise<OrderInput> {
	const entries = (
		await db.raw(
			`SELECT id, race_number FROM entries WHERE event_id = ? AND status IS DISTINCT FROM 'withdrawn' ORDER BY id`,
			[stage.event_id],
		)
	).rows as StartEntry[];
	// The input stage: the one named, else the stage just before this one in the event.
	let input: { id: EntryId; sort_order: number } | null = null;
	if (stage.start_order_input_stage_id !== null && stage.start_order_input_stage_id !== undefined) {
		input = (await db.raw(`SELECT id, sort_order FROM stages WHERE id = ?`, [stage.start_order_input_stage_id])).rows[0] ?? null;
	} else {
		input =
			(
				await db.raw(`SELECT id, sort_order FROM stages WHERE event_id = ? AND sort_order < ? ORDER BY sort_order DESC LIMIT 1`, [
					stage.event_id,
					stage.sort_order,
				])
			).rows[0] ?? null;
	}
	// The overall classification: every stage of the event up to and including the input stage.
	const overall = input
		? ((await db.raw(`SELECT id FROM stages WHERE event_id = ? AND sort_order <= ? ORDER BY sort_order`, [stage.event_id, input.sort_order]))
				.rows as Array<{ id: EntryId }>)
		: [];
	const stageIds = overall.map((s) => s.id);
	if (input && !stageIds.map(String).includes(String(input.id))) stageIds.push(input.id);
	const results = stageIds.length
		? ((
				await db.raw(
					`SELECT entry_id, stage_id, elapsed_seconds, total_seconds FROM stage_results WHERE stage_id = ANY(?)`,
					[stageIds],
				)
			).rows as StageResult[])
		: [];
	return {
		strategy: stage.start_order_strategy,
		params: stage.start_order_strategy_params,
		entries,
		results,
		inputStageId: input ? input.id : null,
		overallStageIds: overall.map((s) => s.id),
	};
}

/** Materializes the start list of `stageId` if it is open; one transaction. */
export async function materialize(database: Knex, stageId: EntryId): Promise<Materialized> {
	return database.transaction(async (trx) => {
		// The stage row lock serializes two openings of the same stage (two replicas, two clicks).
		const stage = await loadStage(trx, stageId, true);
		if (stage === null) return { rows: 0, warnings: [], skipped: 'the stage no longer exists' };
		if (stage.status !== 'open') return { rows: 0, warnings: [], skipped: `the stage is ${stage.status}, not open` };
		const { order, warnings } = await planOrder(trx, stage);
		const segments = (
			await trx.raw(`SELECT id, sort_order, target_duration_seconds FROM segments WHERE stage_id = ? ORDER BY sort_order`, [stage.id])
		).rows as SegmentPlan[];
		const startsAt = stage.starts_at === null ? null : new Date(stage.starts_at);
		const interval = stage.start_interval_seconds === null ? null : Number(stage.start_interval_seconds);
		const rows = startRows(order, segments, startsAt, interval);
		const segmentIds = segments.map((s) => s.id);
		if (segmentIds.length > 0) {
			await trx.raw(
				`DELETE FROM entry_segment_starts WHERE segment_id = ANY(?) AND manual_override IS NOT TRUE
				   AND NOT (entry_id = ANY(?))`,
				[segmentIds, order.length ? order : [null]],
			);
		}
		for (let i = 0; i < rows.length; i += 500) {
			const chunk = rows.slice(i, i + 500);
			const values = chunk.map(() => '(?, ?, ?, ?, false)').join(', ');
			await trx.raw(
				`INSERT INTO entry_segment_starts (entry_id, segment_id, start_position, target_at, manual_override)
				 VALUES ${values}
				 ON CONFLICT (entry_id, segment_id) DO UPDATE
				    SET start_position = EXCLUDED.start_position, target_at = EXCLUDED.target_at
				  WHERE entry_segment_starts.manual_override IS NOT TRUE`,
				chunk.flatMap((r) => [r.entry_id, r.segment_id, r.start_position, r.target_at]),
			);
		}
		return { rows: rows.length, warnings };
	});
}

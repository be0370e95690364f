/**
 * When a stage's status becomes `open` (created open, or updated to open: reopening included), its start
 * list is materialized into `entry_segment_starts`. Owns the wiring to Directus's events:
 * - a filter on stages.items.create/update checks, before the change is written, that the stage can be
 *   opened (known strategy, valid parameters, starts_at and start_interval_seconds set) and refuses the
 *   change with the reason otherwise;
 * - an action, after the change is committed, writes the list in its own transaction (materialize.ts).
 */
import { defineHook } from '@directus/extensions-sdk';
import { createError } from '@directus/errors';
import type { Knex } from 'knex';
import { loadStage, materialize, planOrder, type StageRow } from './materialize.ts';
import { StrategyError } from './order.ts';
import { PlanError, startRows } from './targets.ts';
import { mayWrite, type ItemsServiceClass } from '../shared/permission.ts';

const CannotOpen = createError('INVALID_PAYLOAD', (ext: { reason: string }) => `The stage cannot be opened: ${ext.reason}`, 400);

export default defineHook(({ filter, action }, { database, logger, services }) => {
	const ItemsService = (services as unknown as { ItemsService: ItemsServiceClass }).ItemsService;
	const check = async (db: Knex, stage: StageRow) => {
		// An input stage of another event is the database's to refuse (rule stage_input_same_event);
		// reading its results here would describe another event's stage.
		const input = stage.start_order_input_stage_id;
		if (input !== null && input !== undefined) {
			const owner = await db.raw(`SELECT event_id FROM stages WHERE id = ?`, [input]);
			if (String(owner.rows[0]?.event_id) !== String(stage.event_id)) return;
		}
		try {
			const { order } = await planOrder(db, stage);
			const startsAt = stage.starts_at === null || stage.starts_at === undefined ? null : new Date(stage.starts_at);
			const interval = stage.start_interval_seconds === null || stage.start_interval_seconds === undefined ? null : Number(stage.start_interval_seconds);
			startRows(order, [{ id: 0, sort_order: 0, target_duration_seconds: 0 }], startsAt, interval);
		} catch (err) {
			if (err instanceof StrategyError || err instanceof PlanError) throw new CannotOpen({ reason: err.message });
			throw err;
		}
	};

	// Nothing is read or said before Directus would accept the write from this caller
	// (shared/permission.ts): otherwise the answer would describe another organisation's stage, or
	// tell that a stage exists, to anyone.
	filter('stages.items.update', async (payload, meta, context) => {
		const p = payload as Record<string, unknown>;
		if (p['status'] !== 'open') return payload;
		const db = (context.database as Knex | undefined) ?? database;
		const keys = (meta['keys'] ?? []) as Array<string | number>;
		if (!(await mayWrite(ItemsService, db, context.schema, context.accountability, { collection: 'stages', keys, payload: p }))) return payload;
		for (const key of keys) {
			const current = await loadStage(db, key);
			if (current) await check(db, { ...current, ...(p as Partial<StageRow>) });
		}
		return payload;
	});
	filter('stages.items.create', async (payload, _meta, context) => {
		const p = payload as Record<string, unknown>;
		if (p['status'] !== 'open') return payload;
		const db = (context.database as Knex | undefined) ?? database;
		if (!(await mayWrite(ItemsService, db, context.schema, context.accountability, { collection: 'stages', keys: null, payload: p }))) return payload;
		await check(db, {
			id: -1,
			sort_order: 0,
			starts_at: null,
			start_interval_seconds: null,
			start_order_strategy: null,
			start_order_strategy_params: null,
			start_order_input_stage_id: null,
			status: 'open',
			...(p as Partial<StageRow>),
		} as StageRow);
		return payload;
	});

	const run = async (keys: Array<string | number>) => {
		for (const key of keys) {
			try {
				const done = await materialize(database, key);
				if (done.skipped) logger.info(`stage-start-list: stage ${key}: not materialized (${done.skipped})`);
				else logger.info(`stage-start-list: stage ${key}: ${done.rows} start row(s) written`);
				for (const w of done.warnings) logger.warn(`stage-start-list: stage ${key}: ${w}`);
			} catch (err) {
				logger.error(`stage-start-list: stage ${key}: start list not written: ${err instanceof Error ? err.message : String(err)}`);
			}
		}
	};
	action('stages.items.update', (meta) => {
		if ((meta['payload'] as Record<string, unknown> | undefined)?.['status'] === 'open') void run(meta['keys'] ?? []);
	});
	action('stages.items.create', (meta) => {
		if ((meta['payload'] as Record<string, unknown> | undefined)?.['status'] === 'open') void run([meta['key']]);
	});
});

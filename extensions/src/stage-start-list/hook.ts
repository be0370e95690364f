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

const CannotOpen = createError('INVALID_PAYLOAD', (ext: { reason: string }) => `The stage cannot be opened: ${ext.reason}`, 400);

export default defineHook(({ filter, action }, { database, logger }) => {
	const check = async (db: Knex, stage: StageRow) => {
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

	filter('stages.items.update', async (payload, meta, context) => {
		const p = payload as Record<string, unknown>;
		if (p['status'] !== 'open') return payload;
		const db = (context.database as Knex | undefined) ?? database;
		for (const key of (meta['keys'] ?? []) as Array<string | number>) {
			const current = await loadStage(db, key);
			if (current) await check(db, { ...current, ...(p as Partial<StageRow>) });
		}
		return payload;
	});
	filter('stages.items.create', async (payload, _meta, context) => {
		const p = payload as Record<string, unknown>;
		if (p['status'] !== 'open') return payload;
		const db = (context.database as Knex | undefined) ?? database;
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

/**
 * The outbox relay: moves pending rows of the raw table `recompute_outbox` to the Redis stream. Owns the
 * Redis client (one per Directus process, from Directus's REDIS settings) and the delivery loop. Must not
 * touch `positions`: the endpoint writes the outbox, this only delivers it.
 *
 * Safe with several replicas: each batch is claimed with SELECT ... FOR UPDATE SKIP LOCKED, so two
 * relays never hold the same row. A row is marked delivered in the transaction that claimed it, right after
 * its XADD succeeded; when Redis fails the rows delivered so far are committed and the rest stay pending
 * for the next round. The only way to see a request twice is a crash (or a lost database connection)
 * between XADD and that commit: the message then arrives again with the same request_id.
 */
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { recomputeStream, redisConnection, type Env } from '../shared/env.ts';
import { xaddArguments, type MessageFields } from './message.ts';

export const OUTBOX_TABLE = 'recompute_outbox';
const BATCH = 100;

interface Logger {
	info(obj: unknown, msg?: string): void;
	warn(obj: unknown, msg?: string): void;
	error(obj: unknown, msg?: string): void;
}

interface RelayState {
	redis: Redis | null;
	running: Promise<number> | null;
	again: boolean;
	lastError: string | null;
}

// One relay per Directus process: the endpoint and the hook of this bundle share this module.
const state: RelayState = { redis: null, running: null, again: false, lastError: null };

/** Why the relay cannot run, or null when it is configured. */
export function configurationProblem(env: Env): string | null {
	if (recomputeStream(env) === null) return 'RECOMPUTE_STREAM is not set (the Redis stream recompute requests go to)';
	if (redisConnection(env) === null) return 'Redis is not configured: set REDIS (a redis:// URL) or REDIS_HOST/REDIS_PORT';
	return null;
}

function client(env: Env, logger: Logger): Redis {
	if (state.redis) return state.redis;
	const connection = redisConnection(env);
	if (connection === null) throw new Error('Redis is not configured');
	// No offline queue: while Redis is down a command fails at once and the row stays pending, instead of
	// piling up in memory. ioredis reconnects by itself in the background.
	const options = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000, connectionName: 'trm-recompute-relay' };
	const redis = typeof connection === 'string' ? new Redis(connection, options) : new Redis({ ...connection, ...options });
	redis.on('error', (err: Error) => {
		if (state.lastError !== err.message) logger.warn(`recompute relay: Redis: ${err.message}`);
		state.lastError = err.message;
	});
	redis.on('ready', () => {
		if (state.lastError !== null) logger.info('recompute relay: Redis is reachable again');
		state.lastError = null;
	});
	state.redis = redis;
	return redis;
}

/**
 * Delivers pending rows until none is left or Redis fails. Concurrent calls in one process share one run
 * (a call during a run schedules one more round). Returns how many rows this run delivered.
 */
export function relay(database: Knex, env: Env, logger: Logger): Promise<number> {
	if (state.running) {
		state.again = true;
		return state.running;
	}
	const run = (async () => {
		let total = 0;
		do {
			state.again = false;
			total += await drain(database, env, logger);
		} while (state.again);
		return total;
	})().finally(() => {
		state.running = null;
	});
	state.running = run;
	return run;
}

async function drain(database: Knex, env: Env, logger: Logger): Promise<number> {
	const problem = configurationProblem(env);
	if (problem !== null) {
		logger.error(`recompute relay: ${problem}; requests stay in ${OUTBOX_TABLE}`);
		return 0;
	}
	const stream = recomputeStream(env) as string;
	const redis = client(env, logger);
	if (!(await ready(redis, 2000))) return 0;
	let delivered = 0;
	for (;;) {
		const { sent, more, failed } = await database.transaction(async (trx) => {
			const claimed = await trx.raw(
				`SELECT id, request_id, payload FROM ${OUTBOX_TABLE} WHERE delivered_at IS NULL
				 ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
				[BATCH],
			);
			const rows = claimed.rows as Array<{ id: string | number; request_id: string; payload: MessageFields }>;
			let sent = 0;
			for (const row of rows) {
				let entryId: string | null;
				try {
					entryId = await redis.xadd(stream, '*', ...xaddArguments(row.payload));
				} catch (err) {
					const message = err instanceof Error ? err.message : String(err);
					await trx.raw(`UPDATE ${OUTBOX_TABLE} SET attempts = attempts + 1, last_error = ? WHERE id = ?`, [
						message.slice(0, 1000),
						row.id,
					]);
					logger.warn(`recompute relay: request ${row.request_id} not delivered to ${stream} (${message}); retried later`);
					return { sent, more: false, failed: true };
				}
				await trx.raw(
					`UPDATE ${OUTBOX_TABLE} SET delivered_at = now(), attempts = attempts + 1, last_error = NULL,
					 stream_entry_id = ? WHERE id = ?`,
					[entryId, row.id],
				);
				sent += 1;
			}
			return { sent, more: rows.length === BATCH, failed: false };
		});
		delivered += sent;
		if (failed || !more) return delivered;
	}
}

/** Waits up to `ms` for the client to be connected (a fresh client connects in the background). */
function ready(redis: Redis, ms: number): Promise<boolean> {
	if (redis.status === 'ready') return Promise.resolve(true);
	return new Promise((resolve) => {
		const done = (ok: boolean) => {
			clearTimeout(timer);
			redis.off('ready', onReady);
			resolve(ok);
		};
		const onReady = () => done(true);
		const timer = setTimeout(() => done(false), ms);
		redis.once('ready', onReady);
	});
}

/** Closes the Redis connection (Directus's shutdown). */
export async function closeRelay(): Promise<void> {
	const redis = state.redis;
	state.redis = null;
	if (redis) await redis.quit().catch(() => redis.disconnect());
}

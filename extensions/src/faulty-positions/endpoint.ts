/**
 * `POST /faulty-positions`: an operator marks one device's fixes in a time window as faulty (or clears the
 * flag) with a reason. Owns the request's unit of work: the update of `positions.faulty` and the outbox
 * row commit in one transaction; delivery to Redis is the relay's (relay.ts). Must not write to Redis
 * itself: a request is accepted whether or not Redis is up.
 */
import { randomUUID } from 'node:crypto';
import { defineEndpoint } from '@directus/extensions-sdk';
import type { Knex } from 'knex';
import { mayFlag, REFUSAL, type Candidate } from './authorize.ts';
import { encodeMessage } from './message.ts';
import { configurationProblem, OUTBOX_TABLE, relay } from './relay.ts';
import { parseFlagRequest, RequestError } from './request.ts';

interface Accountability {
	user?: string | null;
	admin?: boolean;
}

interface Device {
	id: string;
	imei: string;
}

export default defineEndpoint({
	id: 'faulty-positions',
	handler: (router, { database, env, logger }) => {
		router.post('/', async (req, res) => {
			const accountability = (req as unknown as { accountability?: Accountability }).accountability;
			const user = accountability?.user ?? null;
			const admin = accountability?.admin === true;
			if (!user && !admin) {
				res.status(401).json({ errors: [{ message: 'log in to flag positions' }] });
				return;
			}
			const problem = configurationProblem(env);
			if (problem !== null) {
				logger.error(`faulty-positions: ${problem}`);
				res.status(503).json({ errors: [{ message: `recompute requests are not configured: ${problem}` }] });
				return;
			}
			let request;
			try {
				request = parseFlagRequest(req.body);
			} catch (err) {
				if (err instanceof RequestError) {
					res.status(400).json({ errors: [{ message: err.message }] });
					return;
				}
				throw err;
			}

			const device = await findDevice(database, request.imei, request.deviceId);
			if (device === null) {
				// A non-admin gets the one refusal: an unknown device is not told apart from another's.
				if (admin) res.status(404).json({ errors: [{ message: 'no such device' }] });
				else res.status(403).json({ errors: [{ message: REFUSAL }] });
				return;
			}
			const candidates = user && !admin ? await candidateEvents(database, user, device.id, request.from, request.to) : [];
			const decision = mayFlag(admin, candidates);
			if (!decision.allowed) {
				res.status(403).json({ errors: [{ message: decision.reason }] });
				return;
			}
			// Every event the window touches is recomputed (the processor's message); the caller is told
			// only of their own.
			const touched = await touchedEvents(database, device.id, request.from, request.to);
			const own = new Set(decision.events.map(String));

			const requestId = randomUUID();
			const result = await database.transaction(async (trx) => {
				// The timing ledger (db-init-post/010) records each flipped fix with this reason.
				await trx.raw(`SELECT set_config('trm.reason', ?, true)`, [request.reason]);
				const updated = await trx.raw(
					`UPDATE positions SET faulty = ? WHERE device_id = ? AND ts >= ? AND ts <= ? AND faulty <> ?`,
					[request.faulty, device.imei, request.from, request.to, request.faulty],
				);
				const now = await trx.raw(`SELECT now() AS now`);
				const fields = encodeMessage({
					requestId,
					imei: device.imei,
					from: request.from,
					to: request.to,
					faulty: request.faulty,
					reason: request.reason,
					userId: user,
					eventIds: touched,
					requestedAt: new Date(now.rows[0].now),
					positionsChanged: updated.rowCount ?? 0,
				});
				await trx.raw(`INSERT INTO ${OUTBOX_TABLE} (request_id, payload) VALUES (?, ?::jsonb)`, [
					requestId,
					JSON.stringify(fields),
				]);
				return fields;
			});
			logger.info(
				`faulty-positions: request ${requestId} by ${user ?? 'admin'}: device ${device.imei} ` +
					`${result['window_start']}..${result['window_end']} faulty=${result['faulty']}, ` +
					`${result['positions_changed']} position(s) changed`,
			);
			// Deliver now if Redis is up; otherwise the scheduled relay does it later.
			relay(database, env, logger).catch((err: unknown) => logger.warn(`recompute relay: ${String(err)}`));
			const shown = admin ? result : { ...result, event_ids: JSON.stringify(touched.filter((e) => own.has(String(e)))) };
			res.status(202).json({ data: shown });
		});
	},
});

async function findDevice(database: Knex, imei: string | null, deviceId: string | null): Promise<Device | null> {
	const rows = await database.raw(
		imei !== null ? `SELECT id, imei FROM devices WHERE imei = ?` : `SELECT id, imei FROM devices WHERE id = ?`,
		[imei ?? deviceId],
	);
	const row = rows.rows[0];
	return row ? { id: String(row.id), imei: String(row.imei) } : null;
}

/** Events with the device on one of their entries whose period overlaps [from, to] (the message's). */
async function touchedEvents(database: Knex, deviceId: string, from: Date, to: Date): Promise<Array<number | string>> {
	const rows = await database.raw(
		`SELECT DISTINCT ev.id AS event_id
		   FROM entry_devices ed
		   JOIN entries en ON en.id = ed.entry_id
		   JOIN events ev ON ev.id = en.event_id
		  WHERE ed.device_id = ? AND ev.starts_at <= ? AND ev.ends_at >= ?
		  ORDER BY ev.id`,
		[deviceId, to, from],
	);
	return (rows.rows as Array<Record<string, unknown>>).map((r) => r['event_id'] as number);
}

/**
 * The caller's organisations' events that contain [from, to], have the device on an entry and whose
 * organisation has it registered, with the caller's role there: only the caller's own rows.
 */
async function candidateEvents(database: Knex, userId: string, deviceId: string, from: Date, to: Date): Promise<Candidate[]> {
	const rows = await database.raw(
		`SELECT DISTINCT ev.id AS event_id, ou.role, (ev.starts_at <= now() AND now() <= ev.ends_at) AS active
		   FROM organization_users ou
		   JOIN events ev ON ev.organization_id = ou.organization_id
		   JOIN organization_devices od ON od.organization_id = ou.organization_id AND od.device_id = ?
		  WHERE ou.user_id = ? AND ev.starts_at <= ? AND ev.ends_at >= ?
		    AND EXISTS (SELECT 1 FROM entry_devices ed JOIN entries en ON en.id = ed.entry_id
		                 WHERE en.event_id = ev.id AND ed.device_id = ?)
		  ORDER BY ev.id`,
		[deviceId, userId, from, to, deviceId],
	);
	return (rows.rows as Array<Record<string, unknown>>).map((r) => ({
		eventId: r['event_id'] as number,
		role: String(r['role']),
		active: r['active'] === true,
	}));
}

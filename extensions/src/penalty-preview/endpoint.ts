/**
 * `POST /penalty-preview` and `POST /penalty-preview/confirm`: what a change of a formula's brackets,
 * of a penalty's review or a neutralised zone or waypoint would do to the results, before it is made;
 * then making it. Owns the HTTP side and the order of the unit of work: who may (org-admins and
 * race-directors of the event's organisation, or a Directus admin; anyone else, and a target that does
 * not exist, get the same 403), the preview in a READ ONLY transaction (nothing can be written), the
 * confirmation in one transaction that recomputes the preview and makes the change (apply.ts) through
 * the timing ledger. Never computes a penalty (the database's trm_penalty does) nor writes outside
 * the confirmation's transaction.
 */
import { defineEndpoint } from '@directus/extensions-sdk';
import { ChangeError, parseChange, parseConfirmation } from './change.ts';
import { apply } from './apply.ts';
import { preview, targetFor, type Accountability } from './load.ts';

export const REFUSAL =
	'no such formula, penalty, zone or waypoint that you may change: only the org-admins and race-directors of its event\'s organisation may preview or confirm a change';

class Refused extends Error {
	readonly status: number;
	constructor(status: number, message: string) {
		super(message);
		this.status = status;
	}
}

type Res = { status: (n: number) => { json: (b: unknown) => void } };

/** The answer to a failed request; never rethrown (an async route's error would end the process). */
function answer(res: Res, err: unknown, logger: { error: (m: string) => void }): void {
	if (err instanceof ChangeError) {
		res.status(400).json({ errors: [{ message: err.message, extensions: { code: 'INVALID_PAYLOAD' } }] });
	} else if (err instanceof Refused) {
		res.status(err.status).json({ errors: [{ message: err.message, extensions: { code: err.status === 401 ? 'INVALID_CREDENTIALS' : 'FORBIDDEN' } }] });
	} else {
		const code = String((err as { code?: unknown }).code ?? '');
		const message = err instanceof Error ? err.message : String(err);
		// The caller is authorized by then: a rule of the database (class 22 or 23: overlapping or
		// invalid brackets, a decision without a reason) is theirs to read.
		if (/^2[23]/.test(code)) {
			res.status(400).json({ errors: [{ message: `the database refused the change: ${message}`, extensions: { code: 'INVALID_PAYLOAD' } }] });
		} else {
			logger.error(`penalty-preview: ${message}`);
			res.status(500).json({ errors: [{ message: 'the preview failed; the server log says why', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
		}
	}
}

function caller(req: unknown): Accountability {
	const a = (req as { accountability?: Accountability }).accountability ?? {};
	if (!a.user && a.admin !== true) throw new Refused(401, 'log in to preview a change');
	return a;
}

export default defineEndpoint({
	id: 'penalty-preview',
	handler: (router, { database, logger }) => {
		router.post('/', async (req, res) => {
			try {
				const who = caller(req);
				const change = parseChange(req.body);
				const result = await database.transaction(async (trx) => {
					await trx.raw('SET TRANSACTION READ ONLY');
					const target = await targetFor(trx, who, change);
					if (target === null) throw new Refused(403, REFUSAL);
					return preview(trx, change, target);
				});
				res.json({ data: { change, ...result } });
			} catch (err) {
				answer(res, err, logger);
			}
		});

		router.post('/confirm', async (req, res) => {
			try {
				const who = caller(req);
				const change = parseChange(req.body);
				const confirmation = parseConfirmation(req.body);
				const result = await database.transaction(async (trx) => {
					const target = await targetFor(trx, who, change);
					if (target === null) throw new Refused(403, REFUSAL);
					const seen = await preview(trx, change, target);
					const applied = await apply(trx, change, target, confirmation, who.user ?? null);
					return { ...seen, applied };
				});
				logger.info(`penalty-preview: ${who.user ?? 'admin'} confirmed a ${change.kind} change in event ${result.event_id}: ${JSON.stringify(result.applied)}`);
				res.json({ data: { change, confirmed: true, ...result } });
			} catch (err) {
				answer(res, err, logger);
			}
		});
	},
});

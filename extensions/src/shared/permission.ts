/**
 * "Would Directus let this caller make this write?", asked before a filter hook says anything about
 * the rows involved. Owns the probe: the write itself, through Directus's ItemsService as the caller
 * with events off (no hook runs twice), inside a transaction that is always rolled back. Must not
 * keep any change, nor decide anything itself: Directus's own permission check answers.
 *
 * Directus 11.13+ runs filter hooks before (and regardless of) the caller's permissions, so a hook
 * that reads a row and explains what is wrong with it tells anyone, even without a token, what the
 * row holds and that it exists. A hook that probes first and stays silent when the probe is refused
 * leaves the answer to Directus: the same 403 for "not yours" and "does not exist".
 */
import type { Knex } from 'knex';

export type Key = string | number;

export interface Accountability {
	user?: string | null;
	role?: string | null;
	admin?: boolean;
}

interface WriteService {
	updateMany(keys: Key[], data: Record<string, unknown>, opts: { emitEvents: boolean }): Promise<unknown>;
	createOne(data: Record<string, unknown>, opts: { emitEvents: boolean }): Promise<unknown>;
}
export type ItemsServiceClass = new (
	collection: string,
	options: { knex: Knex; accountability: Accountability | null; schema: unknown },
) => WriteService;

/** What to write: an update of `keys`, or a create (keys null). */
export interface Write {
	collection: string;
	keys: Key[] | null;
	payload: Record<string, unknown>;
}

const ROLLBACK = Symbol('probe rollback');

/**
 * True when the caller may make `write` (an admin, or no accountability: Directus itself, may always);
 * false when Directus refuses it for any reason.
 */
export async function mayWrite(
	ItemsService: ItemsServiceClass,
	db: Knex,
	schema: unknown,
	accountability: Accountability | null | undefined,
	write: Write,
): Promise<boolean> {
	if (!accountability || accountability.admin === true) return true;
	let allowed = false;
	try {
		await db.transaction(async (trx) => {
			const service = new ItemsService(write.collection, { knex: trx, accountability, schema });
			if (write.keys === null) await service.createOne(write.payload, { emitEvents: false });
			else await service.updateMany(write.keys, write.payload, { emitEvents: false });
			allowed = true;
			throw ROLLBACK;
		});
	} catch (err) {
		if (err !== ROLLBACK) return false;
	}
	return allowed;
}

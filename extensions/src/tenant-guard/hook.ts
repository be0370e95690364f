/**
 * Tenant isolation where Directus itself must be constrained (docs/security.md). Owns:
 * - a filter on every read query (`items.query` and each system collection's `<scope>.query`: REST,
 *   GraphQL, exports, updates and deletes by query all read through it) that refuses a non-admin's
 *   query walking a relation outside the access file's `filter_relations` (paths.ts);
 * - `POST /utils/sort/<collection>`, answered here for user collections: the move is made inside the
 *   row's group, and every changed row is written through Directus's ItemsService as the caller, so
 *   row permissions hold (sort.ts); a row that is not the caller's and one that does not exist get the
 *   same 403;
 * - creates of organization_users / _devices / _vehicles by a non-admin that attach a person, device
 *   or vehicle another organisation already has: Directus's 403 (consent.ts);
 * - `GET /shares/info/<id>`: 403 to anyone but a platform admin (TRM has no public shares, and the
 *   answer names a shared item's collection and id);
 * - a non-admin's create that names its own primary key: Directus's 403 (an import or nested write
 *   "upserts": a key that exists is updated, one that does not is created, so without this the answer
 *   told a row of another organisation from no row);
 * - `/mcp` and `/ai/*` (Directus 11's MCP server and AI chat): 403 to anyone but a platform admin,
 *   whatever the project settings say (TRM uses neither; their tools are not in the attack suite);
 * - `POST /utils/import/<collection>`: 403 to anyone but a platform admin (its upsert answers an
 *   existing key, of any organisation, otherwise than a free one).
 * Must not change what an admin may do, nor any answer about the caller's own rows.
 */
import { defineHook } from '@directus/extensions-sdk';
import { createError } from '@directus/errors';
import type { Knex } from 'knex';
import { ACCESS_MODEL } from '../shared/access-model.ts';
import { checkQuery, RefusedPath, relationsOf, type QueryParts, type RelationRow } from './paths.ts';
import { reorder, type Key } from './sort.ts';
import { existingKey, JUNCTIONS } from './consent.ts';
import { namesKey } from './keys.ts';

const Forbidden = createError('FORBIDDEN', "You don't have permission to access this.", 403);
const RefusedQuery = createError('FORBIDDEN', (ext: { reason: string }) => ext.reason, 403);
const BadSort = createError('INVALID_PAYLOAD', (ext: { reason: string }) => `Invalid payload. ${ext.reason}`, 400);

/** The system collections Directus reads through ItemsService, by event scope (`directus_` dropped). */
export const SYSTEM_SCOPES = [
	'access', 'activity', 'comments', 'dashboards', 'files', 'flows', 'folders', 'notifications', 'operations',
	'panels', 'permissions', 'policies', 'presets', 'revisions', 'roles', 'sessions', 'settings', 'shares',
	'translations', 'users', 'versions',
];

interface Accountability {
	user?: string | null;
	role?: string | null;
	admin?: boolean;
}
interface Schema {
	collections: Record<string, { primary: string } | undefined>;
	relations: RelationRow[];
}
interface Request {
	params: Record<string, string>;
	body?: unknown;
	accountability?: Accountability | null;
	schema?: Schema;
}
interface Response {
	status(code: number): Response;
	end(): void;
}
type Next = (err?: unknown) => void;
interface App {
	use(path: string[], handler: (req: Request, res: Response, next: Next) => void): unknown;
	post(path: string, handler: (req: Request, res: Response, next: Next) => void): unknown;
	get(path: string, handler: (req: Request, res: Response, next: Next) => void): unknown;
}
interface ItemsServiceLike {
	updateOne(key: Key, data: Record<string, unknown>): Promise<unknown>;
}
type ItemsServiceClass = new (collection: string, options: { knex: Knex; accountability: Accountability | null; schema: Schema }) => ItemsServiceLike;

export default defineHook(({ filter, init }, { database, services }) => {
	const guard = (query: unknown, meta: Record<string, unknown>, context: { accountability?: Accountability | null; schema?: unknown }) => {
		const who = context.accountability;
		if (!who || who.admin === true) return query;
		const schema = context.schema as Schema | undefined;
		const collection = meta['collection'];
		if (!schema || typeof collection !== 'string') return query;
		try {
			checkQuery(collection, query as QueryParts, relationsOf(schema.relations), ACCESS_MODEL.filter_relations);
		} catch (err) {
			if (err instanceof RefusedPath) throw new RefusedQuery({ reason: err.message });
			throw err;
		}
		return query;
	};
	filter('items.query', guard);
	for (const scope of SYSTEM_SCOPES) filter(`${scope}.query`, guard);

	for (const [collection, junction] of Object.entries(JUNCTIONS)) {
		filter(`${collection}.items.create`, async (payload, _meta, context) => {
			const who = (context as { accountability?: Accountability | null }).accountability;
			if (!who || who.admin === true) return payload;
			const p = payload as Record<string, unknown>;
			const key = existingKey(p[junction.column]);
			if (key === null && p[junction.column] !== undefined && p[junction.column] !== null) return payload;
			const db = ((context as { database?: Knex }).database ?? database) as Knex;
			const found = await db.raw(
				`SELECT EXISTS (SELECT 1 FROM ?? WHERE id::text = ?) AS present,
				        EXISTS (SELECT 1 FROM ?? WHERE ??::text = ? AND organization_id::text IS DISTINCT FROM ?) AS elsewhere`,
				[junction.target, String(key), collection, junction.column, String(key), typeof p['organization_id'] === 'string' ? p['organization_id'] : null],
			);
			const row = found.rows[0] as { present: boolean; elsewhere: boolean } | undefined;
			if (!row || !row.present || row.elsewhere) throw new Forbidden();
			return payload;
		});
	}

	// A create may not choose its key: for an upsert (import, nested O2M rows) an existing key becomes an
	// update (Directus refuses another organisation's row with 403), a free one a create; both must say
	// the same. Keys are the database's to give (sequences, gen_random_uuid()).
	filter('items.create', (payload, meta, context) => {
		const who = (context as { accountability?: Accountability | null }).accountability;
		if (!who || who.admin === true) return payload;
		const schema = (context as { schema?: Schema }).schema;
		const collection = (meta as Record<string, unknown>)['collection'];
		const primary = typeof collection === 'string' ? schema?.collections[collection]?.primary : undefined;
		if (primary && namesKey(payload, primary)) throw new Forbidden();
		return payload;
	});

	const ItemsService = (services as unknown as { ItemsService: ItemsServiceClass }).ItemsService;

	init('routes.before', (meta) => {
		const app = (meta as { app: App }).app;

		app.post('/utils/sort/:collection', (req, res, next) => {
			const collection = req.params['collection'] ?? '';
			if (collection.startsWith('directus_')) return next();
			sortInGroup(database, ItemsService, collection, req)
				.then(() => res.status(200).end())
				.catch(next);
		});

		// Import upserts by key with the key looked up without permissions, and refuses an existing row
		// with Directus's field or row message but a free key otherwise: admins only.
		app.use(['/mcp', '/ai', '/utils/import'], (req, res, next) => {
			if (req.accountability?.admin === true) return next();
			next(new Forbidden());
			void res;
		});

		app.get('/shares/info/:id', (req, res, next) => {
			if (req.accountability?.admin === true) return next();
			next(new Forbidden());
			void res;
		});
	});
});

async function sortInGroup(database: Knex, ItemsService: ItemsServiceClass, collection: string, req: Request): Promise<void> {
	const schema = req.schema;
	const body = (req.body ?? {}) as Record<string, unknown>;
	const item = body['item'];
	const to = body['to'];
	const isKey = (v: unknown): v is Key => typeof v === 'string' || typeof v === 'number';
	if (!isKey(item) || !isKey(to)) throw new BadSort({ reason: '"item" and "to" are required (a primary key each)' });
	const primary = schema?.collections[collection]?.primary;
	const group = ACCESS_MODEL.sort_groups[collection];
	const sortField = (await database('directus_collections').select('sort_field').where({ collection }).first())?.sort_field as string | null | undefined;
	if (!schema || !primary || !sortField) throw new BadSort({ reason: `collection "${collection}" has no sort field` });
	if (!group) throw new BadSort({ reason: `collection "${collection}" has no sort group in the access file (membership.sort_groups)` });
	await database.transaction(async (trx) => {
		// A key of the wrong type is a key that does not exist.
		const ends: Array<Record<string, unknown>> = await trx.transaction((probe) =>
			probe(collection).select(primary, group).whereIn(primary, [item, to]).forUpdate(),
		).catch(() => []);
		const find = (key: Key) => ends.find((r) => String(r[primary]) === String(key));
		const one = find(item);
		const other = find(to);
		// Not the caller's, another group's, or no such row: one answer (the permission check below
		// would refuse the first; the others must not be told apart from it).
		if (!one || !other || String(one[group]) !== String(other[group])) throw new Forbidden();
		const siblings = await trx(collection)
			.select(primary, sortField)
			.where(group, one[group] as string | number)
			.orderByRaw('?? NULLS LAST, ??', [sortField, primary])
			.forUpdate();
		const changed = reorder(
			siblings.map((r: Record<string, unknown>) => ({ key: r[primary] as Key, sort: r[sortField] === null ? null : Number(r[sortField]) })),
			item,
			to,
		);
		// Out of the way of a (group, sort) unique constraint first, then each row as the caller.
		for (const [i, row] of changed.entries()) await trx(collection).update({ [sortField]: -1 - i }).where(primary, row.key);
		const service = new ItemsService(collection, { knex: trx, accountability: req.accountability ?? null, schema });
		for (const row of changed) await service.updateOne(row.key, { [sortField]: row.sort });
	});
}

/**
 * Which relations a non-admin's query may walk. Owns the rule (a pure function of the query, the
 * schema's relations and the allowlist) and the sentence a refusal says; must not read the database.
 *
 * Directus 11.17.4 checks the fields a filter names, not the rows it reaches: a filter that walks a
 * relation into rows the user cannot read answers (1 row or 0) whether a predicate on those rows holds.
 * So a non-admin's filter, sort, deep `_filter` / `_sort`, aggregate and groupBy may name the
 * collection's own fields and walk only the many-to-one relations the access file lists in
 * `membership.filter_relations` (each points from a row a member reads to a row the same member reads:
 * up the ownership path, inside one event). Refused: every other many-to-one, every one-to-many alias
 * (also with `_some` / `_none`), any-to-one, Directus's reverse hop `$FOLLOW(collection, field)`, a
 * function over a relation (`count(crew)`), and a dynamic variable with a path (`$CURRENT_USER.role.users.email`
 * resolves other users' values into the filter). Bare `$CURRENT_USER`, `$CURRENT_ROLE`, `$CURRENT_ROLES`,
 * `$CURRENT_POLICIES` and `$NOW` stay.
 */

/** What a field of a collection is, as far as walking goes. */
export type Hop = { kind: 'm2o'; related: string } | { kind: 'o2m'; related: string } | { kind: 'a2o' };

/** The relations of the schema: `hop(collection, field)` is null for a plain field. */
export interface Relations {
	hop(collection: string, field: string): Hop | null;
}

/** The parts of a Directus query this looks at (sanitized: filter and deep are objects). */
export interface QueryParts {
	filter?: unknown;
	sort?: unknown;
	deep?: unknown;
	aggregate?: unknown;
	group?: unknown;
	groupBy?: unknown;
	/** `alias[name]=field`: a name the query's `fields` and `deep` may use for a field. */
	alias?: unknown;
}

export class RefusedPath extends Error {
	readonly path: string;
	constructor(path: string, why: string) {
		super(`the query may not use ${path}: ${why} (docs/security.md, "Filters")`);
		this.path = path;
	}
}

/** A relation, in the shape Directus's schema overview lists them. */
export interface RelationRow {
	collection: string;
	field: string;
	related_collection: string | null;
	meta?: { one_field?: string | null } | null;
}

/** The Relations of a schema overview's relation list. */
export function relationsOf(rows: RelationRow[]): Relations {
	const m2o = new Map<string, Hop>();
	const o2m = new Map<string, Hop>();
	for (const r of rows) {
		m2o.set(`${r.collection}.${r.field}`, r.related_collection ? { kind: 'm2o', related: r.related_collection } : { kind: 'a2o' });
		const alias = r.meta?.one_field;
		if (alias && r.related_collection) o2m.set(`${r.related_collection}.${alias}`, { kind: 'o2m', related: r.collection });
	}
	return { hop: (c, f) => m2o.get(`${c}.${f}`) ?? o2m.get(`${c}.${f}`) ?? null };
}

const VARIABLE_WITH_PATH = /\$CURRENT_(USER|ROLES?|POLICIES)\./;
const FUNCTION = /^(\w+)\((.*)\)$/;

/** Throws RefusedPath for the first part of `query` on `collection` the rule refuses. */
export function checkQuery(collection: string, query: QueryParts, relations: Relations, allow: Record<string, readonly string[]>): void {
	const walker = new Walker(relations, allow);
	walker.query(collection, query, collection);
}

class Walker {
	private relations: Relations;
	private allow: Record<string, readonly string[]>;
	constructor(relations: Relations, allow: Record<string, readonly string[]>) {
		this.relations = relations;
		this.allow = allow;
	}

	query(collection: string, q: QueryParts, at: string): void {
		if (q.filter !== undefined && q.filter !== null) this.filter(collection, q.filter, `${at} filter`);
		for (const path of listOf(q.sort)) this.path(collection, path.replace(/^-/, ''), `${at} sort`);
		for (const path of listOf(q.group ?? q.groupBy)) this.path(collection, path, `${at} groupBy`);
		if (isObject(q.aggregate)) {
			for (const [fn, fields] of Object.entries(q.aggregate)) {
				for (const path of listOf(fields)) if (path !== '*') this.path(collection, path, `${at} aggregate ${fn}`);
			}
		}
		if (isObject(q.deep)) this.deep(collection, q.deep, at, q.alias);
	}

	/** `deep`: keys are relational fields read through `fields` (permission-checked); their `_filter`,
	 * `_sort`, ... apply to the related collection. */
	private deep(collection: string, deep: Record<string, unknown>, at: string, alias: unknown): void {
		for (const [key, inner] of Object.entries(deep)) {
			if (key.startsWith('_') || !isObject(inner)) continue;
			const name = key.split(':')[0] ?? key;
			// An alias (`alias[x]=entries`) is the field it names: the rule is the field's.
			const aliased = isObject(alias) ? alias[name] : undefined;
			const field = typeof aliased === 'string' ? aliased : name;
			const hop = this.relations.hop(collection, field);
			if (hop === null || hop.kind === 'a2o') throw new RefusedPath(`${at} deep ${key}`, 'not a relation this rule can follow');
			const parts: QueryParts = {
				filter: inner['_filter'],
				sort: inner['_sort'],
				aggregate: inner['_aggregate'],
				// Directus's sanitizer renames a deep `_groupBy` to `_group`.
				group: inner['_group'] ?? inner['_groupBy'],
				alias: inner['_alias'],
				deep: Object.fromEntries(Object.entries(inner).filter(([k]) => !k.startsWith('_'))),
			};
			this.query(hop.related, parts, `${at} deep ${key}`);
		}
	}

	private filter(collection: string, filter: unknown, at: string): void {
		if (Array.isArray(filter)) {
			for (const f of filter) this.filter(collection, f, at);
			return;
		}
		if (!isObject(filter)) {
			this.value(filter, at);
			return;
		}
		for (const [key, value] of Object.entries(filter)) {
			if (key.startsWith('$FOLLOW')) throw new RefusedPath(`${at} ${key}`, 'a reverse hop reaches rows the user may not read');
			if (key === '_and' || key === '_or') {
				this.filter(collection, value, at);
			} else if (key.startsWith('_')) {
				// An operator on the field above (`_eq`, `_in`, ...; `_some` / `_none` are refused with
				// the relation they follow).
				this.value(value, `${at} ${key}`);
			} else {
				const field = this.field(collection, key, `${at} ${key}`);
				const hop = this.relations.hop(collection, field);
				if (hop === null || (hop.kind === 'm2o' && comparesKeyOnly(value))) {
					// A plain field, or the foreign key's own value (`event_id: {_eq: 3}`).
					this.value(value, `${at} ${key}`);
				} else {
					const related = this.allowedHop(collection, field, hop, `${at} ${key}`);
					this.filter(related, value, `${at} ${key}`);
				}
			}
		}
	}

	/** A dotted path (sort, groupBy, aggregate): each segment but the last is a hop. */
	private path(collection: string, path: string, at: string): void {
		let current = collection;
		const segments = path.split('.');
		for (const [i, segment] of segments.entries()) {
			const field = this.field(current, segment, `${at} ${path}`);
			const hop = this.relations.hop(current, field);
			if (hop === null) return;
			if (i === segments.length - 1 && hop.kind === 'm2o') return; // sorting by the key itself
			current = this.allowedHop(current, field, hop, `${at} ${path}`);
		}
	}

	/** The field a key names; a function over a relation (`count(crew)`) is refused. */
	private field(collection: string, key: string, at: string): string {
		const fn = FUNCTION.exec(key);
		if (fn === null) return key;
		const inner = fn[2] ?? '';
		if (this.relations.hop(collection, inner) !== null) throw new RefusedPath(at, 'a function over a relation counts rows the user may not read');
		return inner;
	}

	private allowedHop(collection: string, field: string, hop: Hop, at: string): string {
		if (hop.kind === 'm2o' && (this.allow[collection] ?? []).includes(field)) return hop.related;
		const what = hop.kind === 'o2m' ? 'a one-to-many relation' : 'a relation';
		throw new RefusedPath(at, `${what} outside the access file's filter_relations reaches rows the user may not read`);
	}

	private value(value: unknown, at: string): void {
		if (typeof value === 'string' && VARIABLE_WITH_PATH.test(value)) {
			throw new RefusedPath(`${at} ${value}`, 'a dynamic variable with a path reads other rows into the filter');
		}
		if (Array.isArray(value)) for (const v of value) this.value(v, at);
		else if (isObject(value)) for (const v of Object.values(value)) this.value(v, at);
	}
}

/** `{_eq: 3}`, `{_in: [...]}`: operators on the field itself, no hop. */
function comparesKeyOnly(value: unknown): boolean {
	return isObject(value) && Object.keys(value).every((k) => k.startsWith('_') && k !== '_some' && k !== '_none');
}

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function listOf(v: unknown): string[] {
	if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
	if (Array.isArray(v)) return v.filter((s): s is string => typeof s === 'string');
	return [];
}

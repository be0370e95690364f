/**
 * What a database rule refusal becomes in Directus's answer. Owns recognising PostgreSQL's rule
 * violations (a CHECK or a trigger's check_violation, an exclusion constraint) and the text and fields
 * of the 400 they turn into; must not touch any other error (Directus's own translation of unique,
 * not-null and foreign-key violations stays as it is).
 *
 * Directus 11.17.4 answers these with 500 "An unexpected error occurred" for every non-admin, so an
 * operator who draws a self-intersecting polygon or points a start at another event's segment never
 * learns why. The database's rules already say it (db-init-post: `<table>.<column>: <reason> (rule
 * <name>)`): this passes that sentence on, without the SQL statement knex puts in front of it.
 */

/** SQLSTATEs of a refused row: check_violation, exclusion_violation. */
export const RULE_SQLSTATES = new Set(['23514', '23P01']);

export interface RuleRefusal {
	/** The database's sentence, without the SQL statement in front of it. */
	message: string;
	collection: string | null;
	field: string | null;
	rule: string | null;
}

/** The refusal `error` stands for, or null when it is not a database rule violation. */
export function ruleRefusal(error: unknown): RuleRefusal | null {
	if (typeof error !== 'object' || error === null || Array.isArray(error)) return null;
	const e = error as Record<string, unknown>;
	if (typeof e['code'] !== 'string' || !RULE_SQLSTATES.has(e['code'])) return null;
	if (typeof e['message'] !== 'string') return null;
	const text = (key: string) => (typeof e[key] === 'string' && e[key] !== '' ? (e[key] as string) : null);
	return {
		message: withoutStatement(e['message']),
		collection: text('table'),
		field: text('column'),
		rule: text('constraint'),
	};
}

/**
 * knex reports a failed query as `<the SQL statement> - <the database's message>`; the statement has
 * placeholders, never values, but it is not for the user.
 */
export function withoutStatement(message: string): string {
	const statement = /^\s*(insert|update|delete|select|with)\b/i;
	const cut = message.indexOf(' - ');
	return statement.test(message) && cut >= 0 ? message.slice(cut + 3) : message;
}

/**
 * The request of `POST /penalty-preview` and `POST /penalty-preview/confirm`: one proposed change, read
 * and checked. Owns the request's shape and its sentences; must not read the database (whether the
 * brackets are valid is the database evaluator's to say: trm_penalty, db-init-post/016).
 *
 * A change is one of
 *   {"formula": ID, "brackets": [{"id"?, "offence_min", "offence_max"?, "operator", "penalty_seconds"}, ...]}
 *       new brackets for the formula that row ID belongs to (an owner's brackets of one penalty type);
 *       a bracket with the id of one of the formula's rows changes that row, one without an id is added,
 *       a row left out is removed;
 *   {"penalty": ID, "review_state": "computed"|"overridden"|"void", "override_seconds"?}
 *       a penalty's review;
 *   {"neutralise": {"speed_limit_zone": ID} | {"waypoint": ID}}
 *       a speed-limit zone or a waypoint neutralised: its penalties voided.
 * A confirmation also says why: "reason" (required), and for brackets "regulation_article",
 * "regulation_document", "effective_from" (an ISO time) for the new version.
 */

export type Change =
	| { kind: 'brackets'; formula: number; brackets: Bracket[] }
	| { kind: 'review'; penalty: number; review_state: 'computed' | 'overridden' | 'void'; override_seconds: number | null }
	| { kind: 'neutralise'; target: 'speed_limit_zone' | 'waypoint'; id: number };

export interface Bracket {
	id?: number;
	offence_min: number;
	offence_max: number | null;
	operator: string;
	penalty_seconds: number;
	enabled?: boolean;
	retroactive?: boolean;
}

export interface Confirmation {
	reason: string;
	regulation_article: string | null;
	regulation_document: string | null;
	effective_from: string | null;
}

export class ChangeError extends Error {}

const id = (v: unknown, what: string): number => {
	const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
	if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new ChangeError(`${what} must be a row id (a whole number >= 1), got ${JSON.stringify(v)}`);
	return n;
};

const number = (v: unknown, what: string): number => {
	const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
	if (typeof n !== 'number' || !Number.isFinite(n)) throw new ChangeError(`${what} must be a number, got ${JSON.stringify(v)}`);
	return n;
};

const BRACKET_KEYS = ['id', 'offence_min', 'offence_max', 'operator', 'penalty_seconds', 'enabled', 'retroactive'];

function bracket(raw: unknown, i: number): Bracket {
	const where = `brackets[${i}]`;
	if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ChangeError(`${where} must be an object {offence_min, offence_max, operator, penalty_seconds}`);
	const b = raw as Record<string, unknown>;
	const extra = Object.keys(b).filter((k) => !BRACKET_KEYS.includes(k));
	if (extra.length) throw new ChangeError(`${where}: unknown key(s) ${extra.join(', ')}; a bracket has ${BRACKET_KEYS.join(', ')}`);
	const out: Bracket = {
		offence_min: number(b['offence_min'], `${where}.offence_min`),
		offence_max: b['offence_max'] === null || b['offence_max'] === undefined || b['offence_max'] === '' ? null : number(b['offence_max'], `${where}.offence_max`),
		operator: typeof b['operator'] === 'string' ? b['operator'] : String(b['operator'] ?? ''),
		penalty_seconds: number(b['penalty_seconds'], `${where}.penalty_seconds`),
	};
	if (b['id'] !== undefined && b['id'] !== null) out.id = id(b['id'], `${where}.id`);
	for (const flag of ['enabled', 'retroactive'] as const) {
		if (b[flag] === undefined || b[flag] === null) continue;
		if (typeof b[flag] !== 'boolean') throw new ChangeError(`${where}.${flag} must be true or false`);
		out[flag] = b[flag] as boolean;
	}
	return out;
}

/** The change a request body proposes. */
export function parseChange(body: unknown): Change {
	if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ChangeError('the request body must be a JSON object naming one change: formula, penalty or neutralise');
	const b = body as Record<string, unknown>;
	const named = ['formula', 'penalty', 'neutralise'].filter((k) => b[k] !== undefined && b[k] !== null);
	if (named.length !== 1) throw new ChangeError(`name exactly one change: formula (with brackets), penalty (with review_state) or neutralise; got ${named.length ? named.join(' and ') : 'none'}`);
	if (named[0] === 'formula') {
		const list = b['brackets'];
		if (!Array.isArray(list)) throw new ChangeError('brackets must be a list of {offence_min, offence_max, operator, penalty_seconds}');
		const brackets = list.map(bracket);
		const ids = brackets.map((x) => x.id).filter((x) => x !== undefined);
		if (new Set(ids).size !== ids.length) throw new ChangeError('a bracket id is listed twice');
		return { kind: 'brackets', formula: id(b['formula'], 'formula'), brackets };
	}
	if (named[0] === 'penalty') {
		const state = b['review_state'];
		if (state !== 'computed' && state !== 'overridden' && state !== 'void') throw new ChangeError(`review_state must be computed, overridden or void, got ${JSON.stringify(state)}`);
		let override: number | null = null;
		if (state === 'overridden') {
			override = number(b['override_seconds'], 'override_seconds');
			if (!Number.isInteger(override) || override < 0) throw new ChangeError('override_seconds must be a whole number of seconds, 0 or more');
		}
		return { kind: 'review', penalty: id(b['penalty'], 'penalty'), review_state: state, override_seconds: override };
	}
	const n = b['neutralise'];
	if (typeof n !== 'object' || n === null || Array.isArray(n)) throw new ChangeError('neutralise must be {"speed_limit_zone": ID} or {"waypoint": ID}');
	const t = n as Record<string, unknown>;
	const targets = ['speed_limit_zone', 'waypoint'].filter((k) => t[k] !== undefined && t[k] !== null);
	if (targets.length !== 1 || Object.keys(t).length !== 1) throw new ChangeError('neutralise names one speed_limit_zone or one waypoint');
	const target = targets[0] as 'speed_limit_zone' | 'waypoint';
	return { kind: 'neutralise', target, id: id(t[target], `neutralise.${target}`) };
}

const optionalText = (v: unknown, what: string, max: number): string | null => {
	if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return null;
	if (typeof v !== 'string') throw new ChangeError(`${what} must be text`);
	if (v.trim().length > max) throw new ChangeError(`${what} is longer than ${max} characters`);
	return v.trim();
};

/** What a confirmation says about itself: why (required), and for brackets the regulation reference. */
export function parseConfirmation(body: unknown): Confirmation {
	const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
	const reason = optionalText(b['reason'], 'reason', 2000);
	if (reason === null) throw new ChangeError('a confirmation says why: give reason (it is kept in the timing ledger)');
	const effective = optionalText(b['effective_from'], 'effective_from', 64);
	if (effective !== null && Number.isNaN(Date.parse(effective))) throw new ChangeError(`effective_from must be an ISO 8601 time such as 2026-06-07T00:00:00Z, got ${JSON.stringify(effective)}`);
	return {
		reason,
		regulation_article: optionalText(b['regulation_article'], 'regulation_article', 100),
		regulation_document: optionalText(b['regulation_document'], 'regulation_document', 500),
		effective_from: effective,
	};
}

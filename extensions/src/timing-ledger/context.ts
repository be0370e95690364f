/**
 * Who decides and why, as a request to Directus states it. Owns reading the request's user and the
 * reason headers into the values the database's timing ledger reads (db-init-post/010, 011:
 * `trm.directus_user`, `trm.reason`, `trm.regulation_article`; 020's `trm.regulation_document` and
 * `trm.effective_from` for a new penalty formula version), and the one statement that sets them
 * transaction-locally. Pure: no I/O, no Directus objects beyond their shapes.
 */

/** The header that gives a decision's reason (and its regulation article), for every write of the request. */
export const REASON_HEADER = 'x-trm-reason';
export const ARTICLE_HEADER = 'x-trm-regulation-article';
/** A change of penalty brackets: the regulation's document and from when the new version applies (db-init-post/020). */
export const DOCUMENT_HEADER = 'x-trm-regulation-document';
export const EFFECTIVE_HEADER = 'x-trm-effective-from';
/** The database keeps at most this much of a reason (a header longer than that is cut, never refused). */
export const MAX_REASON = 2000;

export interface Decider {
	/** The Directus user (accountability.user), or null for the public and for system work. */
	user: string | null;
	reason: string | null;
	article: string | null;
	document: string | null;
	effectiveFrom: string | null;
}

/** What a request says about who writes and why. Header values may be percent-encoded UTF-8. */
export function deciderOf(accountability: { user?: string | null } | null | undefined, headers: Record<string, unknown>): Decider {
	const user = typeof accountability?.user === 'string' && accountability.user !== '' ? accountability.user : null;
	return {
		user,
		reason: headerText(headers[REASON_HEADER]),
		article: headerText(headers[ARTICLE_HEADER]),
		document: headerText(headers[DOCUMENT_HEADER]),
		effectiveFrom: headerText(headers[EFFECTIVE_HEADER]),
	};
}

/** A header's text: the first value, percent-decoded when it is valid percent-encoding, trimmed; null when empty. */
export function headerText(value: unknown): string | null {
	const raw = Array.isArray(value) ? value[0] : value;
	if (typeof raw !== 'string') return null;
	let text = raw;
	if (/%[0-9A-Fa-f]{2}/.test(raw)) {
		try {
			text = decodeURIComponent(raw);
		} catch {
			text = raw;
		}
	}
	text = text.trim();
	return text === '' ? null : text.slice(0, MAX_REASON);
}

/** The statement (and its bindings) that opens every transaction of the request. */
export function settingStatement(decider: Decider): { sql: string; bindings: string[] } {
	return {
		sql:
			"SELECT set_config('trm.directus_user', ?, true), set_config('trm.reason', ?, true), " +
			"set_config('trm.regulation_article', ?, true), set_config('trm.regulation_document', ?, true), " +
			"set_config('trm.effective_from', ?, true)",
		bindings: [decider.user ?? '', decider.reason ?? '', decider.article ?? '', decider.document ?? '', decider.effectiveFrom ?? ''],
	};
}

/**
 * Who may flag a device's fixes in a window. Owns the decision (a pure function of the rows the endpoint
 * reads) and the one sentence a refusal says; must not read the database itself.
 *
 * A non-admin may flag when the window lies inside the period [starts_at, ends_at] of an event of one of
 * their organisations that has the device on one of its entries, that organisation has the device
 * registered, and their role there holds the capability (the access file's `membership.capabilities`):
 * `flag-positions` always, `flag-positions-while-active` only while the event runs (starts_at <= now <=
 * ends_at). A Directus admin may always flag.
 *
 * The decision reads only rows of the caller's own organisations, and every refusal is the same
 * sentence (an unknown device included): the answer never depends on, nor tells, another
 * organisation's devices, events or times (issue 22).
 */
import { rolesWith } from '../shared/access-model.ts';

/** An event of one of the caller's organisations that contains the window and has the device. */
export interface Candidate {
	eventId: number | string;
	/** The caller's role in the event's organisation. */
	role: string;
	/** starts_at <= now() <= ends_at, evaluated by the database. */
	active: boolean;
}

export type Decision = { allowed: true; events: Array<number | string> } | { allowed: false; reason: string };

export const REFUSAL =
	'you may not flag these positions: the window must lie within an event of your organisation that has the device ' +
	'on an entry and registered, and your role there must allow flagging';

export const ALWAYS_FLAG = rolesWith('flag-positions');
export const FLAG_WHILE_ACTIVE = rolesWith('flag-positions-while-active');

export function mayFlag(admin: boolean, candidates: Candidate[]): Decision {
	const events = candidates
		.filter((c) => ALWAYS_FLAG.has(c.role) || (FLAG_WHILE_ACTIVE.has(c.role) && c.active))
		.map((c) => c.eventId);
	if (admin) return { allowed: true, events };
	return events.length > 0 ? { allowed: true, events: [...new Set(events)] } : { allowed: false, reason: REFUSAL };
}

/**
 * Who may flag a device's fixes in a window. Owns the decision (a pure function of the rows the endpoint
 * reads) and the reasons it gives; must not read the database itself.
 *
 * The events a window touches are the events that have the device on one of their entries and whose
 * period [starts_at, ends_at] overlaps the window. A non-admin may flag when the window touches at least
 * one event and, for every touched event, they are a member of the event's organisation, that
 * organisation has the device registered, and their role may flag: org-admin and race-director always,
 * marshal only while the event is active (starts_at <= now <= ends_at). A Directus admin may always flag.
 */

export interface TouchedEvent {
	eventId: number | string;
	organizationId: string;
	/** starts_at <= now() <= ends_at, evaluated by the database. */
	active: boolean;
}

export interface Membership {
	organizationId: string;
	role: string;
	/** The organisation has the device in organization_devices. */
	deviceRegistered: boolean;
}

export type Decision = { allowed: true } | { allowed: false; reason: string };

export const ALWAYS_FLAG = new Set(['org-admin', 'race-director']);
export const FLAG_WHILE_ACTIVE = new Set(['marshal']);

export function mayFlag(admin: boolean, touched: TouchedEvent[], memberships: Membership[]): Decision {
	if (admin) return { allowed: true };
	if (touched.length === 0) {
		return { allowed: false, reason: 'the window overlaps no event that has this device on an entry' };
	}
	for (const event of touched) {
		const roles = memberships.filter((m) => m.organizationId === event.organizationId && m.deviceRegistered);
		const ok = roles.some((m) => ALWAYS_FLAG.has(m.role) || (FLAG_WHILE_ACTIVE.has(m.role) && event.active));
		if (!ok) {
			const marshalOnly = roles.some((m) => FLAG_WHILE_ACTIVE.has(m.role));
			return {
				allowed: false,
				reason: marshalOnly
					? `event ${event.eventId} is not active: a marshal may flag only while it runs`
					: `you may not flag positions of event ${event.eventId}`,
			};
		}
	}
	return { allowed: true };
}

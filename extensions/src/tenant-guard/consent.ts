/**
 * Sharing a row between organisations is a platform admin's act. Owns the rule for the three junctions
 * that attach a shared row to an organisation: a person (`organization_users.user_id`), a device
 * (`organization_devices.device_id`), a vehicle (`organization_vehicles.vehicle_id`). Must not decide
 * anything else: Directus's permissions (which organisation the caller may add to) still apply after it.
 *
 * A non-admin may attach a row that no other organisation has (a new account, a tracker or vehicle
 * only their club uses); a row another organisation already has is shared only by a platform admin,
 * who does it on both clubs' word (docs/security.md, "Shared rows"). Otherwise an org-admin who knew
 * an id could read another club's member's e-mail, phone and birth date, or a device's IMEI, and flag
 * its positions. The refusal is Directus's own 403, the same for a row that does not exist.
 */

export interface Junction {
	/** The junction's column that names the shared row. */
	column: string;
	/** The table of the shared row. */
	target: string;
}

export const JUNCTIONS: Record<string, Junction> = {
	organization_users: { column: 'user_id', target: 'directus_users' },
	organization_devices: { column: 'device_id', target: 'devices' },
	organization_vehicles: { column: 'vehicle_id', target: 'vehicles' },
};

/**
 * The key of the existing row a payload's value names: a key, or a nested object with its `id`; null
 * for a nested row to be created (it is new, so no other organisation has it).
 */
export function existingKey(value: unknown): string | number | null {
	if (typeof value === 'string' || typeof value === 'number') return value;
	if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
		const id = (value as Record<string, unknown>)['id'];
		if (typeof id === 'string' || typeof id === 'number') return id;
	}
	return null;
}

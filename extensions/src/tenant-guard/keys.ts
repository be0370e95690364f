/**
 * Who chooses a new row's key. Owns the one test "does this create payload name its primary key?" (a
 * pure function); must not decide what happens then (hook.ts refuses it for non-admins).
 *
 * Directus's upserts (`POST /utils/import/<collection>`, nested one-to-many rows) look the key up
 * without the caller's permissions: a key that exists becomes an update (refused with 403 when the row
 * is another organisation's), a key that does not becomes a create with that key. Letting a non-admin
 * choose keys would make the two answers differ: an existence oracle over every organisation's rows.
 * Keys are the database's to give (sequences, gen_random_uuid()).
 */

/** True when a create payload gives a value for the primary key `primary`. */
export function namesKey(payload: unknown, primary: string): boolean {
	if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return false;
	const value = (payload as Record<string, unknown>)[primary];
	return value !== undefined && value !== null && value !== '';
}

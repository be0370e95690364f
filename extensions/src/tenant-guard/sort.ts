/**
 * Drag-sorting inside one group. Owns the new order of a group's rows when one row is moved onto
 * another (a pure function); must not read or write the database.
 *
 * Directus 11.17.4's `POST /utils/sort/<collection>` renumbers the whole table (every organisation's
 * rows) and checks no row permission; TRM sorts within a group instead (a class among its event's
 * classes, a segment among its stage's segments: `membership.sort_groups` of the access file), with
 * Directus's meaning of a move: `item` takes the place of `to`, the rows between shift by one.
 */

export type Key = string | number;

export interface SortRow {
	key: Key;
	sort: number | null;
}

/** The rows whose sort value changes, with their new value, in the new order. */
export function reorder(rows: SortRow[], item: Key, to: Key): SortRow[] {
	const same = (a: Key, b: Key) => String(a) === String(b);
	const from = rows.findIndex((r) => same(r.key, item));
	const target = rows.findIndex((r) => same(r.key, to));
	if (from < 0 || target < 0) throw new Error('item and to must both be rows of the group');
	const order = rows.filter((_, i) => i !== from);
	order.splice(target, 0, rows[from] as SortRow);
	// Keep the group's own values (steps of 10 stay steps of 10) when they are distinct; otherwise 10, 20, ...
	const values = rows.map((r) => r.sort);
	const distinct = values.every((v, i) => v !== null && (i === 0 || (values[i - 1] as number) < v));
	const slots = distinct ? (values as number[]) : rows.map((_, i) => (i + 1) * 10);
	const changed: SortRow[] = [];
	order.forEach((row, i) => {
		const sort = slots[i] as number;
		if (row.sort !== sort) changed.push({ key: row.key, sort });
	});
	return changed;
}

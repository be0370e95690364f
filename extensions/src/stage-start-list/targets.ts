/**
 * The rows of a stage's start list: start position and target time for every (entry, segment). Pure.
 *
 * Position p (1 = first starter) of a stage starting at S with interval I starts its first segment at
 * S + (p - 1) x I: the first starter leaves at the stage's own start time. Each later segment's target is
 * the previous segment's target plus the previous segment's target_duration_seconds (a segment without a
 * target duration adds nothing), so a crew that keeps every target duration meets every target.
 */
import type { EntryId } from './order.ts';

export interface SegmentPlan {
	id: EntryId;
	sort_order: number;
	target_duration_seconds: number | null;
}

export interface StartRow {
	entry_id: EntryId;
	segment_id: EntryId;
	start_position: number;
	target_at: Date;
}

export class PlanError extends Error {}

export function startRows(order: EntryId[], segments: SegmentPlan[], startsAt: Date | null, intervalSeconds: number | null): StartRow[] {
	if (startsAt === null || Number.isNaN(startsAt.getTime())) {
		throw new PlanError('the stage has no starts_at: set it before opening the stage');
	}
	if (intervalSeconds === null || !Number.isFinite(intervalSeconds) || intervalSeconds < 0) {
		throw new PlanError(`start_interval_seconds must be a number >= 0, got ${JSON.stringify(intervalSeconds)}`);
	}
	const ordered = [...segments].sort((a, b) => a.sort_order - b.sort_order);
	const offsets: number[] = [];
	let offset = 0;
	for (const segment of ordered) {
		offsets.push(offset);
		const d = segment.target_duration_seconds;
		offset += d !== null && Number.isFinite(Number(d)) ? Number(d) : 0;
	}
	const rows: StartRow[] = [];
	order.forEach((entryId, index) => {
		const base = startsAt.getTime() + index * intervalSeconds * 1000;
		ordered.forEach((segment, k) => {
			rows.push({
				entry_id: entryId,
				segment_id: segment.id,
				start_position: index + 1,
				target_at: new Date(base + (offsets[k] as number) * 1000),
			});
		});
	});
	return rows;
}

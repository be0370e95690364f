/**
 * The admin UI's before/after table of a preview (interface.ts shows it): one line per entry whose
 * numbers change, and one per starter whose place in the next stage's start order changes. Owns the
 * wording and order of the lines; pure (no Vue, no I/O), so it is tested with Node's test runner.
 */
import type { StagePreview } from './compute.ts';

export interface Line {
	stage: string;
	race_number: string;
	penalty: string;
	total: string;
	position: string;
}

export interface StartLine {
	stage: string;
	race_number: string;
	before: string;
	after: string;
}

const show = (v: number | null | undefined) => (v === null || v === undefined ? '–' : String(v));
const pair = (before: number | null, after: number | null) => (before === after ? show(after) : `${show(before)} → ${show(after)}`);

/** Lines of the entries that change (all of them with `all`), stage by stage. */
export function entryLines(stages: StagePreview[], all = false): Line[] {
	return stages.flatMap((s) =>
		s.entries
			.filter((e) => all || e.changed)
			.map((e) => ({
				stage: s.name,
				race_number: show(e.race_number === null ? null : Number(e.race_number)),
				penalty: pair(e.penalty_seconds.before, e.penalty_seconds.after),
				total: pair(e.total_seconds.before, e.total_seconds.after) + (e.disqualified.after && !e.disqualified.before ? ' (disqualified)' : ''),
				position: pair(e.position.before, e.position.after),
			})),
	);
}

/** Lines of the next stages' starters whose start position changes. */
export function startLines(stages: StagePreview[]): StartLine[] {
	return stages.flatMap((s) => {
		const next = s.next_stage;
		if (!next) return [];
		if (next.error) return [{ stage: next.name, race_number: '', before: next.error, after: '' }];
		return next.order
			.filter((r) => r.before !== r.after)
			.map((r) => ({ stage: next.name, race_number: show(r.race_number === null ? null : Number(r.race_number)), before: show(r.before), after: show(r.after) }));
	});
}

/** One sentence over the whole preview. */
export function summary(stages: StagePreview[], penalties: number, notReevaluated: number): string {
	const changed = stages.reduce((n, s) => n + s.changed_entries, 0);
	const moved = startLines(stages).length;
	return (
		`${penalties} penalt${penalties === 1 ? 'y' : 'ies'} affected; ${changed} result line(s) change in ${stages.length} stage(s); ` +
		`${moved} start position(s) move` +
		(notReevaluated ? `; ${notReevaluated} penalt${notReevaluated === 1 ? 'y has' : 'ies have'} no inputs.offence and keep their seconds` : '')
	);
}

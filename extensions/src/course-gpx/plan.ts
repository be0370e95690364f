/**
 * A parsed course (gpx.ts) as the rows of one stage: its segments (a liaison to the special stage's
 * start, the special stage from DSS to ASS, a liaison after it; one liaison when the file has no special
 * stage), their waypoints in roadbook order, and the speed zones (a dz with the next fz). Pure: owns the
 * shape db-init-post/017_course_gpx.sql's trm_course_import reads; must not decide who may import.
 */
import type { Course, CoursePoint } from './gpx.ts';

export interface PlannedWaypoint {
	sort_order: number;
	kind: CoursePoint['kind'];
	name: string | null;
	lon: number;
	lat: number;
	tolerance_meters: number;
	open_radius_meters: number | null;
	roadbook_km: number | null;
	roadbook: CoursePoint['roadbook'];
}

export type FenceKey = 'start' | 'dss' | 'ass' | 'finish';

/** A segment boundary: a circle of the point's clear radius, named '<stage> start|DSS|ASS|finish'. */
export interface PlannedFence {
	key: FenceKey;
	name: string;
	kind: 'start' | 'finish';
	lon: number;
	lat: number;
	radius_meters: number;
}

export interface PlannedSegment {
	sort_order: number;
	type: 'liaison' | 'special-stage';
	/** The fences (PlannedFence.key) this segment enters and leaves by. */
	entry: FenceKey;
	exit: FenceKey;
	waypoints: PlannedWaypoint[];
}

export interface PlannedZone {
	segment: number;
	/** sort_order of the dz and fz waypoints in that segment. */
	start: number;
	end: number;
	name: string;
	speed_limit_kmh: number;
}

export interface CoursePlan {
	stage_name: string;
	track: [number, number][] | null;
	fences: PlannedFence[];
	segments: PlannedSegment[];
	zones: PlannedZone[];
}

const FENCE_LABEL: Record<FenceKey, string> = { start: 'start', dss: 'DSS', ass: 'ASS', finish: 'finish' };

const row = (p: CoursePoint, sort_order: number): PlannedWaypoint => ({
	sort_order,
	kind: p.kind,
	name: p.name,
	lon: p.lon,
	lat: p.lat,
	tolerance_meters: p.clearMeters,
	open_radius_meters: p.openMeters,
	roadbook_km: p.roadbookKm,
	roadbook: p.roadbook,
});

/**
 * The plan of a course that parseGpx accepted (its order rules hold: at least two points, one DSS before
 * one ASS or neither). Segments: a liaison from the first point to the DSS (when the DSS is not the
 * first point), the special stage DSS..ASS, a liaison from the ASS to the last point (when the ASS is
 * not the last); without a special stage, one liaison from the first point to the last.
 */
export function planCourse(course: Course): CoursePlan {
	const points = course.points;
	const dss = points.findIndex((p) => p.kind === 'dss');
	const ass = points.findIndex((p) => p.kind === 'ass');
	const last = points.length - 1;
	type Group = { type: PlannedSegment['type']; entry: FenceKey; exit: FenceKey; points: CoursePoint[] };
	const groups: Group[] = [];
	if (dss >= 0 && ass > dss) {
		if (dss > 0) groups.push({ type: 'liaison', entry: 'start', exit: 'dss', points: points.slice(0, dss) });
		groups.push({ type: 'special-stage', entry: 'dss', exit: 'ass', points: points.slice(dss, ass + 1) });
		if (ass < last) groups.push({ type: 'liaison', entry: 'ass', exit: 'finish', points: points.slice(ass + 1) });
	} else {
		groups.push({ type: 'liaison', entry: 'start', exit: 'finish', points });
	}
	const at: Record<FenceKey, CoursePoint | undefined> = { start: points[0], dss: points[dss], ass: points[ass], finish: points[last] };
	const used = new Set(groups.flatMap((g) => [g.entry, g.exit]));
	const fences: PlannedFence[] = (['start', 'dss', 'ass', 'finish'] as FenceKey[])
		.filter((key) => used.has(key) && at[key])
		.map((key) => {
			const p = at[key] as CoursePoint;
			return { key, name: `${course.stageName} ${FENCE_LABEL[key]}`, kind: key === 'start' || key === 'dss' ? 'start' : 'finish', lon: p.lon, lat: p.lat, radius_meters: p.clearMeters };
		});
	const segments: PlannedSegment[] = groups.map((g, i) => ({
		sort_order: i + 1,
		type: g.type,
		entry: g.entry,
		exit: g.exit,
		waypoints: g.points.map((p, j) => row(p, j + 1)),
	}));
	const zones: PlannedZone[] = [];
	groups.forEach((g, i) => {
		let open: { point: CoursePoint; sort_order: number } | null = null;
		g.points.forEach((p, j) => {
			if (p.kind === 'dz') open = { point: p, sort_order: j + 1 };
			else if (p.kind === 'fz' && open) {
				const dz: CoursePoint = open.point;
				const speed = dz.speedKmh ?? 0;
				const name = dz.name ?? p.name ?? `${speed} km/h zone at km ${dz.roadbookKm ?? '?'}`;
				zones.push({ segment: i + 1, start: open.sort_order, end: j + 1, name, speed_limit_kmh: speed });
				open = null;
			}
		});
	});
	return { stage_name: course.stageName, track: course.track, fences, segments, zones };
}

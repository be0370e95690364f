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

export interface PlannedSegment {
	sort_order: number;
	type: 'liaison' | 'special-stage';
	/** The geofence built on the DSS / ASS waypoint this segment enters or leaves by. */
	entry: 'dss' | 'ass' | null;
	exit: 'dss' | 'ass' | null;
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
	segments: PlannedSegment[];
	zones: PlannedZone[];
}

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

/** The plan of a course that parseGpx accepted (its order rules hold). */
export function planCourse(course: Course): CoursePlan {
	const dss = course.points.findIndex((p) => p.kind === 'dss');
	const ass = course.points.findIndex((p) => p.kind === 'ass');
	const groups: { type: PlannedSegment['type']; entry: PlannedSegment['entry']; exit: PlannedSegment['exit']; points: CoursePoint[] }[] =
		dss >= 0 && ass > dss
			? [
					{ type: 'liaison', entry: null, exit: 'dss', points: course.points.slice(0, dss) },
					{ type: 'special-stage', entry: 'dss', exit: 'ass', points: course.points.slice(dss, ass + 1) },
					{ type: 'liaison', entry: 'ass', exit: null, points: course.points.slice(ass + 1) },
				]
			: [{ type: 'liaison', entry: null, exit: null, points: course.points }];
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
	return { stage_name: course.stageName, track: course.track, segments, zones };
}

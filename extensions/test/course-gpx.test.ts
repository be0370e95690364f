import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GpxError, parseGpx, writeGpx, type GpxProblem } from '../src/course-gpx/gpx.ts';
import { planCourse } from '../src/course-gpx/plan.ts';

const SAMPLE = readFileSync(new URL('../../seed/courses/rally-albania-2026-ss1.gpx', import.meta.url), 'utf8');

/**
 * A GPX file around `body` (wpts and tracks), one element per line so lines are predictable; `finish`
 * adds a last time control after the body (a stage has at least two timed points).
 */
function gpx(body: string, { name = 'SS9', ns = 'http://www.openrally.org/xmlschemas/GpxExtensions/v1.0.0', units = 'metric', finish = true } = {}): string {
	return [
		'<?xml version="1.0" encoding="UTF-8"?>', // 1
		`<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1" xmlns:openrally="${ns}">`, // 2
		`<metadata><name>${name}</name><extensions><openrally:units>${units}</openrally:units></extensions></metadata>`, // 3
		body, // 4...
		finish ? `<wpt lat="41.9" lon="20.9"><extensions><openrally:timecontrol/></extensions></wpt>` : '',
		'</gpx>',
	].join('\n');
}

const wpt = (lat: number | string, lon: number | string, ...ext: string[]) => `<wpt lat="${lat}" lon="${lon}"><extensions>${ext.join('')}</extensions></wpt>`;

function problems(xml: string): GpxProblem[] {
	try {
		parseGpx(xml);
	} catch (err) {
		assert.ok(err instanceof GpxError, `a GpxError, not ${String(err)}`);
		return err.problems;
	}
	assert.fail('the file was accepted');
}

test('the sample course: 13 controls in roadbook order, 2 roadbook notes ignored, 3 segments, 2 speed zones', () => {
	const { course, ignoredPoints, lines } = parseGpx(SAMPLE);
	assert.equal(course.stageName, 'SS1 Shkodër - Theth');
	assert.equal(ignoredPoints, 2);
	assert.deepEqual(
		course.points.map((p) => p.kind),
		['timecontrol', 'dz', 'fz', 'dss', 'wpv', 'wpm', 'dz', 'fz', 'wps', 'wpe', 'ass', 'neutralization', 'timecontrol'],
	);
	assert.equal(lines.length, 13);
	const wpv = course.points[4];
	assert.deepEqual(wpv, { kind: 'wpv', name: 'WPV1', lon: 19.57724, lat: 42.29731, clearMeters: 90, openMeters: 1000, roadbookKm: 35.6, speedKmh: null, roadbook: { cap: 62 } });
	assert.equal(course.points[1]?.speedKmh, 50);
	assert.equal(course.points[0]?.name, 'CH0 Shkodër bivouac');
	assert.deepEqual(course.points[0]?.roadbook, { allowed: 45 });
	assert.deepEqual(course.points[3]?.roadbook, { timecontrol: true });
	assert.deepEqual(course.points[11]?.roadbook, { fuel: true, neutralization: 900 });
	assert.ok(course.track && course.track.length === 43, `43 track points, got ${course.track?.length}`);

	const plan = planCourse(course);
	assert.deepEqual(plan.segments.map((s) => [s.type, s.entry, s.exit, s.waypoints.map((w) => w.kind).join(' ')]), [
		['liaison', 'start', 'dss', 'timecontrol dz fz'],
		['special-stage', 'dss', 'ass', 'dss wpv wpm dz fz wps wpe ass'],
		['liaison', 'ass', 'finish', 'neutralization timecontrol'],
	]);
	assert.deepEqual(plan.fences.map((f) => [f.name, f.kind, f.radius_meters]), [
		['SS1 Shkodër - Theth start', 'start', 90],
		['SS1 Shkodër - Theth DSS', 'start', 200],
		['SS1 Shkodër - Theth ASS', 'finish', 200],
		['SS1 Shkodër - Theth finish', 'finish', 90],
	]);
	assert.deepEqual(plan.zones, [
		{ segment: 1, start: 2, end: 3, name: 'Koplik', speed_limit_kmh: 50 },
		{ segment: 2, start: 4, end: 5, name: 'Boga', speed_limit_kmh: 30 },
	]);
	assert.equal(plan.segments[1]?.waypoints[0]?.tolerance_meters, 200, 'the tolerance is the clear radius');
});

test('export then import gives the same course (the sample, and the export of the export)', () => {
	const { course } = parseGpx(SAMPLE);
	const written = writeGpx(course);
	const again = parseGpx(written);
	assert.deepEqual(again.course, course);
	assert.equal(again.ignoredPoints, 0, 'the export has only the timed points');
	assert.equal(writeGpx(again.course), written, 'the export is stable');
});

test('statute units: yards, mph and miles become metres, km/h and km', () => {
	const { course } = parseGpx(gpx(wpt(41.1, 20.1, '<openrally:distance>10</openrally:distance>', '<openrally:dz clear="100" open="1000"/>', '<openrally:speed>30</openrally:speed>') + wpt(41.2, 20.2, '<openrally:fz clear="100"/>'), { units: 'statue', finish: false }));
	assert.deepEqual(
		[course.points[0]?.clearMeters, course.points[0]?.openMeters, course.points[0]?.speedKmh, course.points[0]?.roadbookKm],
		[91, 914, 48, 16.093],
	);
	assert.deepEqual(parseGpx(writeGpx(course)).course, course, 'exported in metric, the same course');
});

test('a time control, checkpoint or neutralization alone is a point of that kind, and round-trips', () => {
	const xml = gpx(
		[
			wpt(41, 20, '<openrally:neutralization>600</openrally:neutralization>', '<openrally:timecontrol allowed="30"/>'),
			wpt(41.1, 20, '<openrally:checkpoint name="CP Fier"/>'),
			wpt(41.2, 20, '<openrally:stop/>'),
			wpt(41.3, 20, '<openrally:wpc clear="20"/>', '<openrally:checkpoint/>', '<openrally:timecontrol/>'),
		].join('\n'),
		{ finish: false },
	);
	const { course } = parseGpx(xml);
	assert.deepEqual(course.points.map((p) => [p.kind, p.name, p.clearMeters, p.roadbook]), [
		['timecontrol', null, 90, { allowed: 30, neutralization: 600 }],
		['checkpoint', 'CP Fier', 90, null],
		['stop', null, 90, { stop: 0 }],
		['wpc', null, 20, { checkpoint: true, timecontrol: true }],
	]);
	assert.deepEqual(parseGpx(writeGpx(course)).course, course);
});

test('refusals name the element, the line and the reason', () => {
	const cases: Array<[string, string, GpxProblem]> = [
		['unknown kind', wpt(41, 20, '<openrally:wpx clear="90"/>'), { line: 4, element: 'openrally:wpx', reason: 'unknown OpenRally element: v1.0.0 has no <wpx>' }],
		['missing radius', wpt(41, 20, '<openrally:wps open="800"/>'), { line: 4, element: 'openrally:wps', reason: 'missing radius: <openrally:wps> needs clear="<metres>" (TRM times the point within its clear radius)' }],
		['zone without an end', wpt(41, 20, '<openrally:dz clear="90"/><openrally:speed>50</openrally:speed>'), { line: 4, element: 'openrally:dz', reason: 'zone without an end: no <openrally:fz> follows this <openrally:dz>' }],
		['latitude out of range', wpt(91, 20, '<openrally:wpm clear="90"/>'), { line: 4, element: 'wpt', reason: 'coordinates out of range: lat="91" (latitude is -90 to 90)' }],
		['longitude 180', wpt(41, 180, '<openrally:wpm clear="90"/>'), { line: 4, element: 'wpt', reason: 'coordinates out of range: lon="180" (longitude is -180 to less than 180)' }],
		['clear 0', wpt(41, 20, '<openrally:wpm clear="0"/>'), { line: 4, element: 'openrally:wpm', reason: 'clear="0" is not a positive integer' }],
		['a speed without a zone', wpt(41, 20, '<openrally:wpm clear="90"/><openrally:speed>50</openrally:speed>'), { line: 4, element: 'openrally:speed', reason: '<openrally:speed> is the limit of a speed zone: it goes with <openrally:dz>' }],
		['a zone without a speed', wpt(41, 20, '<openrally:dz clear="90"/>') + wpt(41, 20.1, '<openrally:fz clear="90"/>'), { line: 4, element: 'openrally:dz', reason: 'a speed zone start needs <openrally:speed> (its limit)' }],
		['danger 4', wpt(41, 20, '<openrally:danger>4</openrally:danger>'), { line: 4, element: 'openrally:danger', reason: '"4" is not a danger level (1, 2 or 3)' }],
		['a marker with content', wpt(41, 20, '<openrally:fuel>yes</openrally:fuel>'), { line: 4, element: 'openrally:fuel', reason: 'a marker element is empty' }],
		['an attribute the schema lacks', wpt(41, 20, '<openrally:wpm clear="90" radius="3"/>'), { line: 4, element: 'openrally:wpm', reason: 'unknown attribute radius (the schema allows name, open, clear)' }],
		['two kinds on one point', wpt(41, 20, '<openrally:wpm clear="90"/><openrally:wps clear="90"/>'), { line: 4, element: 'openrally:wps', reason: 'a <wpt> carries one waypoint kind; this one already has <openrally:wpm> (line 4)' }],
		['a finish before its start', wpt(41, 20, '<openrally:ass clear="90"/>') + '\n' + wpt(41, 20.1, '<openrally:dss clear="90"/>'), { line: 4, element: 'openrally:ass', reason: 'the special stage finish comes before its start (line 5)' }],
	];
	for (const [what, body, expected] of cases) {
		assert.deepEqual(problems(gpx(body)), [expected], what);
	}
});

test('a special stage from the first to the last point has no liaisons; a stage without one is one liaison', () => {
	const special = parseGpx(gpx(wpt(41, 20, '<openrally:dss clear="90"/>') + '\n' + wpt(41.1, 20, '<openrally:wpm clear="90"/>') + '\n' + wpt(41.2, 20, '<openrally:ass clear="90"/>'), { finish: false })).course;
	assert.deepEqual(planCourse(special).segments.map((s) => [s.type, s.entry, s.exit, s.waypoints.length]), [['special-stage', 'dss', 'ass', 3]]);
	assert.deepEqual(planCourse(special).fences.map((f) => f.key), ['dss', 'ass']);
	const liaison = parseGpx(gpx(wpt(41, 20, '<openrally:wpc clear="90"/>'))).course;
	assert.deepEqual(planCourse(liaison).segments.map((s) => [s.type, s.entry, s.exit, s.waypoints.length]), [['liaison', 'start', 'finish', 2]]);
	assert.deepEqual(problems(gpx(wpt(41, 20, '<openrally:wpc clear="90"/>'), { finish: false })), [
		{ line: 2, element: 'gpx', reason: 'a stage needs at least two timed points (its start and its finish): this file has 1' },
	]);
});

test('every problem of a file is listed, in line order', () => {
	const got = problems(gpx([wpt(41, 200, '<openrally:wpm clear="90"/>'), wpt(41, 20, '<openrally:wpe/>')].join('\n'), { name: '' }));
	assert.deepEqual(got.map((p) => [p.line, p.element]), [[3, 'metadata'], [4, 'wpt'], [5, 'openrally:wpe']]);
});

test('not OpenRally v1.0.0, not GPX, not XML', () => {
	assert.deepEqual(problems(gpx(wpt(41, 20, '<openrally:wpm clear="90"/>'), { ns: 'http://www.openrally.org/xmlschemas/GpxExtensions/v1.0-Cross-Country-DRAFT' }))[0], {
		line: 3,
		element: 'openrally:units',
		reason: 'OpenRally namespace http://www.openrally.org/xmlschemas/GpxExtensions/v1.0-Cross-Country-DRAFT is not supported: TRM reads OpenRally v1.0.0 (http://www.openrally.org/xmlschemas/GpxExtensions/v1.0.0)',
	});
	assert.equal(problems('<kml xmlns="http://www.opengis.net/kml/2.2"/>')[0]?.reason, 'the root element must be <gpx> in the GPX 1.1 namespace http://www.topografix.com/GPX/1/1');
	const broken = problems(gpx('<wpt lat="41" lon="20">\n<extensions>\n</wpt>'));
	assert.equal(broken.length, 1);
	assert.equal(broken[0]?.line, 6);
	assert.match(broken[0]?.reason ?? '', /^not well-formed XML: /);
	assert.equal(problems(gpx(wpt(41, 20, '<openrally:wpm clear="90"/>'), { units: 'statute' }))[0]?.reason, '"statute" is not metric or statue (the schema\'s spelling of statute)');
});

test('other vendors\' extensions and roadbook drawings are left out, not refused', () => {
	const xml = gpx(wpt(41, 20, '<gpxx:WaypointExtension xmlns:gpxx="http://www.garmin.com/xmlschemas/GpxExtensions/v3"/>', '<openrally:wpm clear="90"/>', '<openrally:tulip id="t1"><![CDATA[data:image/png;base64,AAAA]]></openrally:tulip>'));
	assert.deepEqual(parseGpx(xml).course.points.map((p) => p.kind), ['wpm', 'timecontrol']);
});

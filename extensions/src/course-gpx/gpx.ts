/**
 * OpenRally GPX <-> a TRM course, as pure functions (no I/O). Owns the reading of a roadbook's GPX
 * against the OpenRally v1.0.0 cross-country schema (cross-country/openrally.xsd of openrally/openrally)
 * and GPX 1.1, the rules TRM adds to time a stage from it, and the writing of a course back to GPX.
 * Must not touch the database or Directus: the endpoint (endpoint.ts) and, through it, the command
 * (seed/import-course.mjs) use this one module.
 *
 * The schema's facts used here: namespace http://www.openrally.org/xmlschemas/GpxExtensions/v1.0.0;
 * waypoint-type elements wpm, wps, wpe, wpc, wpv, dss, ass, dz, fz with the attributes name, open and
 * clear (positive integers); speed (positive integer); distance and reset (decimal >= 0, reset empty =
 * 0); danger (1, 2, 3); cap (integer 0-360); stop (integer seconds >= 0, empty = 0); neutralization
 * (integer seconds >= 0); checkpoint (attribute name); timecontrol (attribute allowed, integer minutes
 * to the next time control); fuel, medical, helicopter, police, fire, spectators, media (empty
 * markers); tulip and notes (drawings, attributes href and id); units metric or "statue" (the schema's
 * spelling; radii in yards, speeds in mph, distances in miles). GPX 1.1: latitude -90..90, longitude
 * -180 (included) to 180 (excluded).
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';

export const GPX_NS = 'http://www.topografix.com/GPX/1/1';
export const OPENRALLY_NS = 'http://www.openrally.org/xmlschemas/GpxExtensions/v1.0.0';
const OPENRALLY_DRAFT_PREFIX = 'http://www.openrally.org/xmlschemas/GpxExtensions/';

/** Waypoint-type elements: the point is timed within its clear radius. */
export const RADIUS_KINDS = ['wpm', 'wps', 'wpe', 'wpc', 'wpv', 'dss', 'ass', 'dz', 'fz'] as const;
/** Controls without a radius in the schema; a point with one of them and no radius kind is timed within DEFAULT_TOLERANCE_METERS. */
export const OTHER_CONTROLS = ['timecontrol', 'checkpoint', 'neutralization', 'stop'] as const;
export type Kind = (typeof RADIUS_KINDS)[number] | (typeof OTHER_CONTROLS)[number];
/** The waypoints' default tolerance (scripts/schema/phase2.mjs). */
export const DEFAULT_TOLERANCE_METERS = 90;
const MARKERS = ['fuel', 'medical', 'helicopter', 'police', 'fire', 'spectators', 'media'] as const;
const DRAWINGS = ['tulip', 'notes'] as const;
const YARD_M = 0.9144;
const MILE_KM = 1.609344;

/** Roadbook facts kept with a point that TRM does not time (written back on export). */
export type Roadbook = Record<string, number | boolean>;

export interface CoursePoint {
	kind: Kind;
	name: string | null;
	lon: number;
	lat: number;
	/** tolerance_meters: the clear radius, in metres. */
	clearMeters: number;
	openMeters: number | null;
	roadbookKm: number | null;
	/** dz only: the zone's limit in km/h. */
	speedKmh: number | null;
	roadbook: Roadbook | null;
}

export interface Course {
	stageName: string;
	/** The roadbook track as [lon, lat] pairs, or null. */
	track: [number, number][] | null;
	points: CoursePoint[];
}

export interface GpxProblem {
	line: number;
	element: string;
	reason: string;
}

export class GpxError extends Error {
	readonly problems: GpxProblem[];
	constructor(problems: GpxProblem[]) {
		super(problems.map((p) => `line ${p.line}, <${p.element}>: ${p.reason}`).join('\n'));
		this.problems = problems;
	}
}

export interface ParseResult {
	course: Course;
	/** <wpt>s without a control (plain roadbook notes): not part of the timed course. */
	ignoredPoints: number;
	/** The source line of each point of course.points. */
	lines: number[];
}

interface Node {
	uri: string;
	local: string;
	name: string;
	line: number;
	attributes: Map<string, string>;
	text: string;
	children: Node[];
}

/** The XML tree with namespaces resolved and the line each element starts on. */
function readTree(xml: string): Node {
	const parser = new SaxesParser({ xmlns: true, position: true });
	const stack: Node[] = [];
	let root: Node | null = null;
	let startLine = 1;
	let failure: GpxProblem | null = null;
	parser.on('opentagstart', () => {
		startLine = parser.line;
	});
	parser.on('opentag', (tag) => {
		const t = tag as SaxesTagNS;
		const attributes = new Map<string, string>();
		for (const a of Object.values(t.attributes)) {
			if (a.uri === '' || a.uri === undefined) attributes.set(a.local, a.value);
		}
		const node: Node = { uri: t.uri, local: t.local, name: t.name, line: startLine, attributes, text: '', children: [] };
		const parent = stack[stack.length - 1];
		if (parent) parent.children.push(node);
		else root = node;
		stack.push(node);
	});
	parser.on('text', (text) => {
		const top = stack[stack.length - 1];
		if (top) top.text += text;
	});
	parser.on('cdata', (text) => {
		const top = stack[stack.length - 1];
		if (top) top.text += text;
	});
	parser.on('closetag', () => {
		stack.pop();
	});
	parser.on('error', (e) => {
		if (!failure) failure = { line: parser.line, element: stack[stack.length - 1]?.name ?? 'gpx', reason: `not well-formed XML: ${e.message.replace(/^[^:]*:\d+:\d+: /, '')}` };
		throw e;
	});
	try {
		parser.write(xml).close();
	} catch {
		throw new GpxError([failure ?? { line: parser.line, element: 'gpx', reason: 'not well-formed XML' }]);
	}
	if (!root) throw new GpxError([{ line: 1, element: 'gpx', reason: 'the file has no root element' }]);
	return root;
}

const POSITIVE_INTEGER = /^\+?0*[1-9]\d*$/;
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** Collects problems; every check names the element and the line. */
class Checker {
	readonly problems: GpxProblem[] = [];
	fail(node: Node, reason: string): null {
		this.problems.push({ line: node.line, element: node.name, reason });
		return null;
	}
	/** An xs:positiveInteger attribute, or null when absent. */
	positiveAttribute(node: Node, attribute: string): number | null {
		const raw = node.attributes.get(attribute);
		if (raw === undefined) return null;
		const v = raw.trim();
		if (!POSITIVE_INTEGER.test(v)) return this.fail(node, `${attribute}="${raw}" is not a positive integer`);
		return Number(v);
	}
	integerAttribute(node: Node, attribute: string): number | null {
		const raw = node.attributes.get(attribute);
		if (raw === undefined) return null;
		const v = raw.trim();
		if (!INTEGER.test(v)) return this.fail(node, `${attribute}="${raw}" is not an integer`);
		return Number(v);
	}
	onlyAttributes(node: Node, allowed: string[]): void {
		for (const a of node.attributes.keys()) {
			if (!allowed.includes(a)) {
				this.fail(node, allowed.length ? `unknown attribute ${a} (the schema allows ${allowed.join(', ')})` : `unknown attribute ${a} (the schema allows none)`);
			}
		}
	}
	/** Element content as the schema's simple type; `empty` is the value of an empty element (a default), or undefined when empty is invalid. */
	content(node: Node, type: 'positiveInteger' | 'integer>=0' | 'decimal>=0', empty?: number): number | null {
		const v = node.text.trim();
		if (v === '' && empty !== undefined) return empty;
		const ok = type === 'positiveInteger' ? POSITIVE_INTEGER.test(v) : type === 'integer>=0' ? INTEGER.test(v) && Number(v) >= 0 : DECIMAL.test(v) && Number(v) >= 0;
		if (!ok) {
			const what = type === 'positiveInteger' ? 'a positive integer' : type === 'integer>=0' ? 'a whole number, 0 or more' : 'a decimal number, 0 or more';
			return this.fail(node, `"${node.text.trim()}" is not ${what}`);
		}
		return Number(v);
	}
	coordinate(node: Node, attribute: 'lat' | 'lon'): number | null {
		const raw = node.attributes.get(attribute);
		if (raw === undefined) return this.fail(node, `the ${attribute} attribute is required`);
		const v = raw.trim();
		if (!DECIMAL.test(v)) return this.fail(node, `${attribute}="${raw}" is not a decimal number`);
		const n = Number(v);
		if (attribute === 'lat' && (n < -90 || n > 90)) return this.fail(node, `coordinates out of range: lat="${raw}" (latitude is -90 to 90)`);
		if (attribute === 'lon' && (n < -180 || n >= 180)) return this.fail(node, `coordinates out of range: lon="${raw}" (longitude is -180 to less than 180)`);
		return n;
	}
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

function isOpenRally(node: Node, c: Checker): boolean {
	if (node.uri === OPENRALLY_NS) return true;
	if (node.uri.startsWith(OPENRALLY_DRAFT_PREFIX)) {
		c.fail(node, `OpenRally namespace ${node.uri} is not supported: TRM reads OpenRally v1.0.0 (${OPENRALLY_NS})`);
	}
	return false;
}

function children(node: Node, local: string, uri = GPX_NS): Node[] {
	return node.children.filter((n) => n.uri === uri && n.local === local);
}

interface Draft {
	node: Node;
	kind: Kind | null;
	kindNode: Node | null;
	point: CoursePoint;
}

function readPoint(wpt: Node, units: 'metric' | 'statue', c: Checker): Draft | null {
	const lat = c.coordinate(wpt, 'lat');
	const lon = c.coordinate(wpt, 'lon');
	const ext = children(wpt, 'extensions')[0];
	const roadbook: Roadbook = {};
	let radiusKind: Node | null = null;
	const others: Node[] = [];
	let speed: Node | null = null;
	let distance: number | null = null;
	let clear: number | null = null;
	let open: number | null = null;
	let name: string | null = null;
	const radius = (v: number | null) => (v === null ? null : units === 'statue' ? Math.round(v * YARD_M) : v);
	for (const e of ext?.children ?? []) {
		if (!isOpenRally(e, c)) continue; // other vendors' extensions: not OpenRally's business
		const local = e.local;
		if ((RADIUS_KINDS as readonly string[]).includes(local)) {
			c.onlyAttributes(e, ['name', 'open', 'clear']);
			if (radiusKind) {
				c.fail(e, `a <wpt> carries one waypoint kind; this one already has <${radiusKind.name}> (line ${radiusKind.line})`);
				continue;
			}
			radiusKind = e;
			clear = radius(c.positiveAttribute(e, 'clear'));
			open = radius(c.positiveAttribute(e, 'open'));
			name = e.attributes.get('name') ?? null;
		} else if ((OTHER_CONTROLS as readonly string[]).includes(local)) {
			if (local === 'timecontrol') {
				c.onlyAttributes(e, ['allowed']);
				const allowed = c.integerAttribute(e, 'allowed');
				roadbook.timecontrol = true;
				if (allowed !== null) roadbook.allowed = allowed;
			} else if (local === 'checkpoint') {
				c.onlyAttributes(e, ['name']);
				roadbook.checkpoint = true;
				const n = e.attributes.get('name');
				if (n !== undefined) name ??= n;
			} else {
				c.onlyAttributes(e, []);
				const v = c.content(e, 'integer>=0', local === 'stop' ? 0 : undefined);
				if (v !== null) roadbook[local] = v;
			}
			others.push(e);
		} else if (local === 'speed') {
			c.onlyAttributes(e, []);
			speed = e;
		} else if (local === 'distance') {
			c.onlyAttributes(e, []);
			const v = c.content(e, 'decimal>=0');
			if (v !== null) distance = round3(units === 'statue' ? v * MILE_KM : v);
		} else if (local === 'reset') {
			c.onlyAttributes(e, []);
			const v = c.content(e, 'decimal>=0', 0);
			if (v !== null) roadbook.reset = v;
		} else if (local === 'danger') {
			c.onlyAttributes(e, []);
			const v = e.text.trim();
			if (!['1', '2', '3'].includes(v)) c.fail(e, `"${v}" is not a danger level (1, 2 or 3)`);
			else roadbook.danger = Number(v);
		} else if (local === 'cap') {
			c.onlyAttributes(e, []);
			const v = e.text.trim();
			if (!INTEGER.test(v) || Number(v) < 0 || Number(v) > 360) c.fail(e, `"${v}" is not a heading (a whole number of degrees, 0 to 360)`);
			else roadbook.cap = Number(v);
		} else if ((MARKERS as readonly string[]).includes(local)) {
			c.onlyAttributes(e, []);
			if (e.text.trim() !== '' || e.children.length) c.fail(e, 'a marker element is empty');
			else roadbook[local] = true;
		} else if ((DRAWINGS as readonly string[]).includes(local)) {
			c.onlyAttributes(e, ['href', 'id']); // drawings belong to the roadbook's pages, not to the timing
		} else if (local === 'units') {
			c.fail(e, '<openrally:units> belongs in <metadata><extensions>, not in a <wpt>');
		} else {
			c.fail(e, `unknown OpenRally element: v1.0.0 has no <${local}>`);
		}
	}
	if (name === null) {
		const n = children(wpt, 'name')[0]?.text.trim();
		if (n) name = n;
	}
	// The point's kind: its radius kind, else the first of OTHER_CONTROLS it carries (in that order).
	const other = [...others].sort((a, b) => OTHER_CONTROLS.indexOf(a.local as never) - OTHER_CONTROLS.indexOf(b.local as never))[0] ?? null;
	const kindNode = radiusKind ?? other;
	const kind = (kindNode?.local ?? null) as Kind | null;
	if (kind === null) {
		if (speed) c.fail(speed, '<openrally:speed> is the limit of a speed zone: it goes with <openrally:dz>');
		return lat === null || lon === null ? null : { node: wpt, kind: null, kindNode: null, point: emptyPoint(lon, lat) };
	}
	if (radiusKind && clear === null && radiusKind.attributes.get('clear') === undefined) {
		c.fail(radiusKind, `missing radius: <${radiusKind.name}> needs clear="<metres>" (TRM times the point within its clear radius)`);
	}
	if (kind === 'dz') {
		if (!speed) c.fail(radiusKind as Node, 'a speed zone start needs <openrally:speed> (its limit)');
	} else if (speed) {
		c.fail(speed, '<openrally:speed> is the limit of a speed zone: it goes with <openrally:dz>');
	}
	let speedKmh: number | null = null;
	if (speed && kind === 'dz') {
		const v = c.content(speed, 'positiveInteger');
		if (v !== null) speedKmh = units === 'statue' ? Math.round(v * MILE_KM) : v;
	}
	// The control that is the kind is not repeated as a flag (its values, allowed or seconds, stay).
	if (!radiusKind && other && (other.local === 'timecontrol' || other.local === 'checkpoint')) delete roadbook[other.local];
	if (lat === null || lon === null) return null;
	const point: CoursePoint = {
		kind,
		name,
		lon,
		lat,
		clearMeters: clear ?? DEFAULT_TOLERANCE_METERS,
		openMeters: open,
		roadbookKm: distance,
		speedKmh,
		roadbook: Object.keys(roadbook).length ? sortKeys(roadbook) : null,
	};
	return { node: wpt, kind, kindNode, point };
}

function emptyPoint(lon: number, lat: number): CoursePoint {
	return { kind: 'wpm', name: null, lon, lat, clearMeters: DEFAULT_TOLERANCE_METERS, openMeters: null, roadbookKm: null, speedKmh: null, roadbook: null };
}

function sortKeys(r: Roadbook): Roadbook {
	return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}

/** Reads a roadbook GPX; throws GpxError listing every problem (line, element, reason). */
export function parseGpx(xml: string): ParseResult {
	const root = readTree(xml);
	const c = new Checker();
	if (root.uri !== GPX_NS || root.local !== 'gpx') {
		throw new GpxError([{ line: root.line, element: root.name, reason: `the root element must be <gpx> in the GPX 1.1 namespace ${GPX_NS}` }]);
	}
	if (root.attributes.get('version') !== '1.1') c.fail(root, `version="${root.attributes.get('version') ?? ''}": GPX 1.1 files say version="1.1"`);
	const metadata = children(root, 'metadata')[0];
	let units: 'metric' | 'statue' = 'metric';
	for (const e of metadata ? (children(metadata, 'extensions')[0]?.children ?? []) : []) {
		if (!isOpenRally(e, c)) continue;
		if (e.local === 'units') {
			const v = e.text.trim();
			if (v === 'metric' || v === 'statue') units = v;
			else c.fail(e, `"${v}" is not metric or statue (the schema's spelling of statute)`);
		} else if (e.local !== 'distance') {
			c.fail(e, `<openrally:${e.local}> does not belong in <metadata> (units and distance do)`);
		} else c.content(e, 'decimal>=0');
	}
	const stageName = (metadata && children(metadata, 'name')[0]?.text.trim()) || '';
	if (!stageName) c.fail(metadata ?? root, 'the stage needs a name: <metadata><name>...</name></metadata>');

	const drafts = children(root, 'wpt').map((w) => readPoint(w, units, c));
	const points: CoursePoint[] = [];
	const lines: number[] = [];
	const controls: Draft[] = [];
	let ignored = 0;
	for (const d of drafts) {
		if (!d) continue;
		if (d.kind === null) {
			ignored++;
			continue;
		}
		controls.push(d);
		points.push(d.point);
		lines.push(d.node.line);
	}
	checkStructure(controls, c);
	// Only when nothing else is wrong: a refused point is no reason to say the stage is too short.
	if (controls.length < 2 && c.problems.length === 0) {
		c.fail(root, `a stage needs at least two timed points (its start and its finish): this file has ${controls.length}`);
	}

	const trackPoints = children(root, 'trk').flatMap((t) => children(t, 'trkseg').flatMap((s) => children(s, 'trkpt')));
	const track: [number, number][] = [];
	for (const p of trackPoints) {
		const lat = c.coordinate(p, 'lat');
		const lon = c.coordinate(p, 'lon');
		if (lat !== null && lon !== null) track.push([lon, lat]);
	}
	if (trackPoints.length === 1) c.fail(trackPoints[0] as Node, 'a track needs at least 2 points');
	if (c.problems.length) throw new GpxError([...c.problems].sort((a, b) => a.line - b.line));
	return { course: { stageName, track: track.length >= 2 ? track : null, points }, ignoredPoints: ignored, lines };
}

/** The order rules: one special stage (dss before ass), each speed zone closed (dz ... fz) inside one segment. */
function checkStructure(controls: Draft[], c: Checker): void {
	const dss = controls.filter((d) => d.kind === 'dss');
	const ass = controls.filter((d) => d.kind === 'ass');
	for (const extra of dss.slice(1)) c.fail(extra.kindNode as Node, `a second special stage start: one <openrally:dss> per stage file (the first is on line ${dss[0]?.node.line})`);
	for (const extra of ass.slice(1)) c.fail(extra.kindNode as Node, `a second special stage finish: one <openrally:ass> per stage file (the first is on line ${ass[0]?.node.line})`);
	const d0 = dss[0];
	const a0 = ass[0];
	if (d0 && !a0) c.fail(d0.kindNode as Node, 'a special stage start without its finish: no <openrally:ass> follows');
	if (a0 && !d0) c.fail(a0.kindNode as Node, 'a special stage finish without its start: no <openrally:dss> before it');
	if (d0 && a0 && controls.indexOf(a0) < controls.indexOf(d0)) c.fail(a0.kindNode as Node, `the special stage finish comes before its start (line ${d0.node.line})`);
	let open: Draft | null = null;
	for (const d of controls) {
		if (d.kind === 'dz') {
			if (open) c.fail(open.kindNode as Node, `zone without an end: no <openrally:fz> before the next <openrally:dz> (line ${d.node.line})`);
			open = d;
		} else if (d.kind === 'fz') {
			if (!open) c.fail(d.kindNode as Node, 'a speed zone end without its start: no open <openrally:dz> before it');
			open = null;
		} else if (open && (d.kind === 'dss' || d.kind === 'ass')) {
			c.fail(open.kindNode as Node, `zone without an end: no <openrally:fz> before the special stage ${d.kind === 'dss' ? 'start' : 'finish'} (line ${d.node.line})`);
			open = null;
		}
	}
	if (open) c.fail(open.kindNode as Node, 'zone without an end: no <openrally:fz> follows this <openrally:dz>');
}

// ---- writing ----------------------------------------------------------------------------------------

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The course as OpenRally v1.0.0 GPX (metric). parseGpx(writeGpx(c)).course equals c. */
export function writeGpx(course: Course): string {
	const out: string[] = [];
	out.push('<?xml version="1.0" encoding="UTF-8"?>');
	out.push(`<gpx xmlns="${GPX_NS}" xmlns:openrally="${OPENRALLY_NS}" version="1.1" creator="TRM">`);
	out.push(`  <metadata>\n    <name>${escapeXml(course.stageName)}</name>\n    <extensions>\n      <openrally:units>metric</openrally:units>\n    </extensions>\n  </metadata>`);
	for (const p of course.points) {
		out.push(`  <wpt lat="${p.lat}" lon="${p.lon}">`);
		if (p.name !== null) out.push(`    <name>${escapeXml(p.name)}</name>`);
		out.push('    <extensions>');
		if (p.roadbookKm !== null) out.push(`      <openrally:distance>${p.roadbookKm}</openrally:distance>`);
		const rb: Roadbook = { ...(p.roadbook ?? {}) };
		if ((RADIUS_KINDS as readonly string[]).includes(p.kind)) {
			const attrs = [p.name !== null ? ` name="${escapeXml(p.name)}"` : '', p.openMeters !== null ? ` open="${p.openMeters}"` : '', ` clear="${p.clearMeters}"`].join('');
			out.push(`      <openrally:${p.kind}${attrs}/>`);
			if (p.kind === 'dz' && p.speedKmh !== null) out.push(`      <openrally:speed>${p.speedKmh}</openrally:speed>`);
			out.push(...roadbookElements(rb, p));
		} else {
			// the kind's own element first, then the other facts
			const own: Roadbook = p.kind === 'timecontrol' || p.kind === 'checkpoint' ? { [p.kind]: true } : { [p.kind]: rb[p.kind] ?? 0 };
			if (p.kind === 'timecontrol' && rb.allowed !== undefined) {
				own.allowed = rb.allowed;
				delete rb.allowed;
			}
			delete rb[p.kind];
			out.push(...roadbookElements(own, p), ...roadbookElements(rb, p));
		}
		out.push('    </extensions>');
		out.push('  </wpt>');
	}
	if (course.track) {
		out.push('  <trk>\n    <trkseg>');
		for (const [lon, lat] of course.track) out.push(`      <trkpt lat="${lat}" lon="${lon}"/>`);
		out.push('    </trkseg>\n  </trk>');
	}
	out.push('</gpx>');
	return `${out.join('\n')}\n`;
}

function roadbookElements(rb: Roadbook, p: CoursePoint): string[] {
	const lines: string[] = [];
	const radiusNamed = (RADIUS_KINDS as readonly string[]).includes(p.kind);
	for (const [key, value] of Object.entries(rb)) {
		if (key === 'allowed') continue; // written with its timecontrol
		if (key === 'timecontrol') lines.push(`      <openrally:timecontrol${rb.allowed !== undefined ? ` allowed="${rb.allowed}"` : ''}/>`);
		else if (key === 'checkpoint') lines.push(`      <openrally:checkpoint${!radiusNamed && p.name !== null ? ` name="${escapeXml(p.name)}"` : ''}/>`);
		else if (typeof value === 'boolean') lines.push(`      <openrally:${key}/>`);
		else lines.push(`      <openrally:${key}>${value}</openrally:${key}>`);
	}
	return lines;
}

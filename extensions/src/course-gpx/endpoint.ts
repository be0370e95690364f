/**
 * `POST /course-gpx/import` and `GET /course-gpx/export`: a stage's course from and to a roadbook's
 * OpenRally GPX. Owns the HTTP side and the authorization (org-admins and race-directors of the event's
 * organisation, or a Directus admin); the reading and checking of the file is gpx.ts's and the plan
 * plan.ts's, the rows are written by the database (trm_course_import, db-init-post/017) in one
 * transaction. Must not write any row itself.
 */
import { defineEndpoint } from '@directus/extensions-sdk';
import type { Knex } from 'knex';
import { GpxError, parseGpx, writeGpx, type Course } from './gpx.ts';
import { planCourse } from './plan.ts';

interface Accountability {
	user?: string | null;
	admin?: boolean;
}

/** The organisation roles that may import and export a course (README "Course import and export"). */
export const COURSE_ROLES = ['org-admin', 'race-director'];

export class CourseRequestError extends Error {
	readonly status: number;
	readonly extra: Record<string, unknown>;
	constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
		super(message);
		this.status = status;
		this.extra = extra;
	}
}

const text = (v: unknown, what: string, required = true): string | null => {
	if (v === undefined || v === null || v === '') {
		if (required) throw new CourseRequestError(400, `${what} is required`);
		return null;
	}
	if (typeof v !== 'string') throw new CourseRequestError(400, `${what} must be a string`);
	return v;
};

/**
 * The event the user may import into: by slug (and organisation slug when several match). An event that
 * does not exist and one of another organisation get the same answer.
 */
async function eventFor(database: Knex, accountability: Accountability, slug: string, organization: string | null): Promise<number> {
	const rows = await database.raw(
		`SELECT e.id, o.slug AS organization
		   FROM events e JOIN organizations o ON o.id = e.organization_id
		  WHERE e.slug = ? AND (?::text IS NULL OR o.slug = ?)
		    AND (?::boolean OR EXISTS (SELECT 1 FROM organization_users m
		                                 WHERE m.organization_id = e.organization_id AND m.user_id = ?::uuid
		                                   AND m.role = ANY (?::text[])))
		  ORDER BY o.slug`,
		[slug, organization, organization, accountability.admin === true, accountability.user ?? null, COURSE_ROLES],
	);
	const found = rows.rows as Array<{ id: number; organization: string }>;
	if (found.length === 0) {
		throw new CourseRequestError(
			403,
			`no event "${slug}"${organization ? ` in organisation "${organization}"` : ''} whose course you may change ` +
				`(only its organisation's org-admins and race-directors may)`,
		);
	}
	if (found.length > 1) {
		throw new CourseRequestError(400, `several organisations have an event "${slug}": say which with organization (${found.map((f) => f.organization).join(', ')})`);
	}
	return (found[0] as { id: number }).id;
}

function authenticated(req: unknown): Accountability {
	const accountability = (req as { accountability?: Accountability }).accountability ?? {};
	if (!accountability.user && accountability.admin !== true) throw new CourseRequestError(401, 'log in to import or export a course');
	return accountability;
}

/**
 * The answer to a failed request. The caller is authorized by then for database refusals: a rule of the
 * database (SQLSTATE class 22 or 23: a segment still in use, a geometry refused) is a 400 with its
 * sentence; anything else is logged and a 500. Never rethrown: an async route's error would end the process.
 */
function answer(res: { status: (n: number) => { json: (b: unknown) => void } }, err: unknown, logger: { error: (m: string) => void }): void {
	if (err instanceof GpxError) {
		res.status(400).json({ errors: [{ message: `the GPX is refused:\n${err.message}`, extensions: { code: 'INVALID_GPX', problems: err.problems } }] });
	} else if (err instanceof CourseRequestError) {
		res.status(err.status).json({ errors: [{ message: err.message, extensions: err.extra }] });
	} else {
		const code = String((err as { code?: unknown }).code ?? '');
		const message = err instanceof Error ? err.message : String(err);
		if (/^2[23]/.test(code)) {
			res.status(400).json({ errors: [{ message: `the database refused the course: ${message}`, extensions: { code: 'INVALID_PAYLOAD' } }] });
		} else {
			logger.error(`course-gpx: ${message}`);
			res.status(500).json({ errors: [{ message: `the course could not be written: ${message}`, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
		}
	}
}

export default defineEndpoint({
	id: 'course-gpx',
	handler: (router, { database, logger }) => {
		router.post('/import', async (req, res) => {
			try {
				const accountability = authenticated(req);
				const body = (req.body ?? {}) as Record<string, unknown>;
				const slug = text(body['event'], 'event') as string;
				const organization = text(body['organization'], 'organization', false);
				const gpx = text(body['gpx'], 'gpx (the file\'s text)') as string;
				const eventId = await eventFor(database, accountability, slug, organization);
				const parsed = parseGpx(gpx);
				const plan = planCourse(parsed.course);
				const result = await database.transaction(async (trx) => {
					const r = await trx.raw(`SELECT trm_course_import(?, ?::jsonb) AS result`, [eventId, JSON.stringify(plan)]);
					return r.rows[0].result as Record<string, number>;
				});
				logger.info(`course-gpx: ${accountability.user ?? 'admin'} imported stage "${plan.stage_name}" of event ${eventId}: ${JSON.stringify(result)}`);
				res.json({ data: { ...result, stage: plan.stage_name, points: parsed.course.points.length, ignored_points: parsed.ignoredPoints } });
			} catch (err) {
				answer(res, err, logger);
			}
		});

		router.get('/export', async (req, res) => {
			try {
				const accountability = authenticated(req);
				const q = req.query as Record<string, unknown>;
				const slug = text(q['event'], 'event') as string;
				const organization = text(q['organization'], 'organization', false);
				const stage = text(q['stage'], 'stage (its name)') as string;
				const eventId = await eventFor(database, accountability, slug, organization);
				const rows = await database.raw(
					`SELECT trm_course_export(id) AS course FROM stages WHERE event_id = ? AND name = ? ORDER BY id LIMIT 1`,
					[eventId, stage],
				);
				const course = rows.rows[0]?.course as Course | undefined;
				if (!course) throw new CourseRequestError(404, `event "${slug}" has no stage "${stage}"`);
				res.setHeader('Content-Type', 'application/gpx+xml; charset=utf-8');
				res.send(writeGpx(course));
			} catch (err) {
				answer(res, err, logger);
			}
		});
	},
});

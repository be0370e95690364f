/**
 * The flag request an operator sends (`POST /faulty-positions`), parsed and validated. Owns: the body's
 * shape and its error messages. Must not touch the database: the endpoint resolves the device and checks
 * access.
 */

export interface FlagRequest {
	/** Exactly one of imei / deviceId names the device. */
	imei: string | null;
	deviceId: string | null;
	from: Date;
	to: Date;
	faulty: boolean;
	reason: string;
}

export const REASON_MAX = 500;

/** An ISO 8601 timestamp with an explicit offset: a server's local time zone never decides a window. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class RequestError extends Error {}

/** Parses the JSON body; throws RequestError naming the field and the value that is wrong. */
export function parseFlagRequest(body: unknown): FlagRequest {
	if (typeof body !== 'object' || body === null || Array.isArray(body)) {
		throw new RequestError('the body must be a JSON object');
	}
	const b = body as Record<string, unknown>;
	const known = new Set(['imei', 'device_id', 'from', 'to', 'faulty', 'reason']);
	const unknown = Object.keys(b).filter((k) => !known.has(k));
	if (unknown.length > 0) throw new RequestError(`unknown field(s): ${unknown.join(', ')}`);

	const imei = b['imei'] ?? null;
	const deviceId = b['device_id'] ?? null;
	if ((imei === null) === (deviceId === null)) {
		throw new RequestError('name the device with exactly one of "imei" or "device_id"');
	}
	if (imei !== null && (typeof imei !== 'string' || !/^\d{1,20}$/.test(imei))) {
		throw new RequestError(`"imei" must be a string of digits, got ${JSON.stringify(imei)}`);
	}
	if (deviceId !== null && (typeof deviceId !== 'string' || !UUID.test(deviceId))) {
		throw new RequestError(`"device_id" must be a device's UUID, got ${JSON.stringify(deviceId)}`);
	}
	const from = timestamp(b, 'from');
	const to = timestamp(b, 'to');
	if (from.getTime() > to.getTime()) {
		throw new RequestError(`"from" (${from.toISOString()}) is after "to" (${to.toISOString()})`);
	}
	const faulty = b['faulty'];
	if (typeof faulty !== 'boolean') {
		throw new RequestError(`"faulty" must be true (flag) or false (clear), got ${JSON.stringify(faulty)}`);
	}
	const reason = b['reason'];
	if (typeof reason !== 'string' || reason.trim() === '') {
		throw new RequestError('"reason" is required: say why the fixes are (or are no longer) faulty');
	}
	if (reason.length > REASON_MAX) {
		throw new RequestError(`"reason" is ${reason.length} characters long; at most ${REASON_MAX}`);
	}
	return {
		imei: imei as string | null,
		deviceId: deviceId === null ? null : (deviceId as string).toLowerCase(),
		from,
		to,
		faulty,
		reason: reason.trim(),
	};
}

function timestamp(b: Record<string, unknown>, key: string): Date {
	const value = b[key];
	if (typeof value !== 'string' || !TIMESTAMP.test(value)) {
		throw new RequestError(
			`"${key}" must be an ISO 8601 timestamp with an offset (e.g. 2026-06-07T08:00:00Z), got ${JSON.stringify(value)}`,
		);
	}
	const date = new Date(value);
	if (Number.isNaN(date.getTime())) throw new RequestError(`"${key}" is not a valid time: ${JSON.stringify(value)}`);
	return date;
}

/**
 * The recompute request message: what the outbox stores and the relay writes to the Redis stream, field
 * for field (the processor's contract, documented in extensions/README.md). Owns the encoding only.
 */

export const MESSAGE_VERSION = '1';

export interface RecomputeRequest {
	requestId: string;
	imei: string;
	from: Date;
	to: Date;
	faulty: boolean;
	reason: string;
	userId: string | null;
	eventIds: Array<number | string>;
	requestedAt: Date;
	positionsChanged: number;
}

/** The stream entry's fields, all strings, in a fixed order. */
export type MessageFields = Record<string, string>;

export function encodeMessage(r: RecomputeRequest): MessageFields {
	return {
		version: MESSAGE_VERSION,
		request_id: r.requestId,
		device_imei: r.imei,
		window_start: r.from.toISOString(),
		window_end: r.to.toISOString(),
		faulty: r.faulty ? 'true' : 'false',
		reason: r.reason,
		user_id: r.userId ?? '',
		event_ids: JSON.stringify([...r.eventIds].map(Number).sort((a, b) => a - b)),
		requested_at: r.requestedAt.toISOString(),
		positions_changed: String(r.positionsChanged),
	};
}

/** XADD's argument list: field, value, field, value, ... */
export function xaddArguments(fields: MessageFields): string[] {
	return Object.entries(fields).flatMap(([k, v]) => [k, String(v)]);
}

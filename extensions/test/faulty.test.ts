import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mayFlag, REFUSAL } from '../src/faulty-positions/authorize.ts';
import { encodeMessage, xaddArguments } from '../src/faulty-positions/message.ts';
import { parseFlagRequest, RequestError } from '../src/faulty-positions/request.ts';
import { recomputeStream, redisConnection } from '../src/shared/env.ts';

const ok = { imei: '356307042441013', from: '2026-06-07T08:00:00Z', to: '2026-06-07T10:05:00+02:00', faulty: true, reason: 'multipath' };

test('a valid request is parsed, times normalised to UTC', () => {
	const r = parseFlagRequest(ok);
	assert.equal(r.imei, '356307042441013');
	assert.equal(r.from.toISOString(), '2026-06-07T08:00:00.000Z');
	assert.equal(r.to.toISOString(), '2026-06-07T08:05:00.000Z');
	assert.equal(r.faulty, true);
});

test('bad requests name what is wrong', () => {
	const bad: Array<[Record<string, unknown>, RegExp]> = [
		[{ ...ok, imei: undefined }, /exactly one of/],
		[{ ...ok, device_id: '8f6c8d1e-1111-4a4a-9b9b-123456789abc' }, /exactly one of/],
		[{ ...ok, from: '2026-06-07 08:00' }, /"from" must be an ISO 8601/],
		[{ ...ok, to: '2026-06-07T08:05:00' }, /offset/],
		[{ ...ok, from: '2026-06-07T09:00:00Z', to: '2026-06-07T08:00:00Z' }, /after/],
		[{ ...ok, faulty: 'yes' }, /"faulty" must be true/],
		[{ ...ok, reason: '  ' }, /"reason" is required/],
		[{ ...ok, reason: 'x'.repeat(501) }, /at most 500/],
		[{ ...ok, extra: 1 }, /unknown field/],
	];
	for (const [body, why] of bad) {
		const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
		assert.throws(() => parseFlagRequest(clean), (e: unknown) => e instanceof RequestError && why.test(e.message), JSON.stringify(body));
	}
	assert.throws(() => parseFlagRequest([1]), RequestError);
});

const c = (eventId: number, role: string, active: boolean) => ({ eventId, role, active });

test('org-admin and race-director may flag; marshal only while the event is active', () => {
	assert.deepEqual(mayFlag(false, [c(1, 'org-admin', false)]), { allowed: true, events: [1] });
	assert.equal(mayFlag(false, [c(1, 'race-director', false)]).allowed, true);
	assert.equal(mayFlag(false, [c(1, 'marshal', true)]).allowed, true);
	for (const role of ['marshal', 'timekeeper', 'participant', 'viewer']) {
		const active = role !== 'marshal';
		assert.deepEqual(mayFlag(false, [c(1, role, active)]), { allowed: false, reason: REFUSAL }, role);
	}
});

test('no own event containing the window: the one refusal; admin: allowed', () => {
	assert.deepEqual(mayFlag(false, []), { allowed: false, reason: REFUSAL });
	assert.doesNotMatch(REFUSAL, /\d/, 'the refusal names no event');
	assert.equal(mayFlag(true, []).allowed, true);
	assert.deepEqual(mayFlag(false, [c(1, 'viewer', true), c(2, 'org-admin', true), c(2, 'marshal', true)]), { allowed: true, events: [2] });
});

test('the message carries every field of the contract as strings', () => {
	const fields = encodeMessage({
		requestId: 'r-1',
		imei: '1',
		from: new Date('2026-06-07T08:00:00Z'),
		to: new Date('2026-06-07T08:05:00Z'),
		faulty: false,
		reason: 'cleared',
		userId: 'u',
		eventIds: [3, 1],
		requestedAt: new Date('2026-06-07T09:00:00Z'),
		positionsChanged: 12,
	});
	assert.deepEqual(fields, {
		version: '1',
		request_id: 'r-1',
		device_imei: '1',
		window_start: '2026-06-07T08:00:00.000Z',
		window_end: '2026-06-07T08:05:00.000Z',
		faulty: 'false',
		reason: 'cleared',
		user_id: 'u',
		event_ids: '[1,3]',
		requested_at: '2026-06-07T09:00:00.000Z',
		positions_changed: '12',
	});
	assert.equal(xaddArguments(fields).length, 22);
});

test('Redis connection and stream name come from the environment, with no defaults', () => {
	assert.equal(redisConnection({}), null);
	assert.equal(redisConnection({ REDIS: 'redis://127.0.0.1:6390' }), 'redis://127.0.0.1:6390');
	// Directus's rule (test/env.test.ts has the shared cases): any REDIS_* turns Redis on.
	assert.deepEqual(redisConnection({ REDIS_PORT: 6390 }), { port: 6390 });
	assert.equal(recomputeStream({}), null);
	assert.equal(recomputeStream({ RECOMPUTE_STREAM: 'recompute:requests' }), 'recompute:requests');
});

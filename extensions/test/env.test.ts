// The Redis settings by Directus's rule, on the cases trm-init's tests read too (redis-settings.json):
// what `redisSettings` answers for the environment Directus hands an extension must be what trm-init
// reads from the process environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisConnection, redisEnabled, redisSettings, type Env } from '../src/shared/env.ts';

interface Case {
	name: string;
	env: Record<string, string>;
	files?: Record<string, string>;
	expect: null | { error: string } | Record<string, unknown>;
}

const table = JSON.parse(readFileSync(new URL('./redis-settings.json', import.meta.url), 'utf8')) as { cases: Case[] };

/** Directus's own variables with a `_FILE` form (@directus/env), the Redis ones. */
const DIRECTUS_VARIABLES = new Set([
	'REDIS',
	'REDIS_ENABLED',
	'REDIS_HOST',
	'REDIS_PORT',
	'REDIS_USERNAME',
	'REDIS_PASSWORD',
	'REDIS_DB',
	'REDIS_BUS_NAMESPACE',
	'REDIS_LOCK_NAMESPACE',
	'REDIS_COUNTERS_NAMESPACE',
	'REDIS_PERMISSIONS_NAMESPACE',
]);
/** @directus/env's declared types of those variables; the others are guessed. */
const TYPES: Record<string, 'boolean' | 'string'> = {
	REDIS_ENABLED: 'boolean',
	REDIS_PASSWORD: 'string',
	REDIS_PERMISSIONS_NAMESPACE: 'string',
};

/**
 * The environment as Directus 11.17.4 hands it to an extension (@directus/env createEnv): a `<VAR>_FILE`
 * of its own variables becomes `<VAR>` with the file's text as it is; values are cast (declared types,
 * else "true"/"false" to booleans and numbers not starting with 0 to numbers).
 */
function directusEnv(raw: Record<string, string>): Env {
	const env: Env = {};
	for (let [key, value] of Object.entries(raw)) {
		if (key.endsWith('_FILE') && DIRECTUS_VARIABLES.has(key.slice(0, -5))) {
			key = key.slice(0, -5);
			value = readFileSync(value, 'utf8');
		}
		const type = TYPES[key];
		if (type === 'boolean') env[key] = value === 'true' || value === '1';
		else if (type === 'string') env[key] = value;
		else if (value === 'true' || value === 'false') env[key] = value === 'true';
		else if (value !== '' && !value.startsWith('0') && !Number.isNaN(Number(value))) env[key] = Number(value);
		else env[key] = value;
	}
	return env;
}

test('the shared Redis settings cases', () => {
	assert.ok(table.cases.length >= 10, 'the table lost its cases');
	const dir = mkdtempSync(join(tmpdir(), 'redis-settings-'));
	for (const c of table.cases) {
		const raw: Record<string, string> = {};
		for (const [key, value] of Object.entries(c.env)) {
			const file = /^\{file:(.+)\}$/.exec(value)?.[1];
			if (file !== undefined) {
				const path = join(dir, file);
				writeFileSync(path, c.files?.[file] ?? '');
				raw[key] = path;
			} else raw[key] = value;
		}
		const env = directusEnv(raw);
		if (c.expect !== null && 'error' in c.expect) {
			const text = String(c.expect.error);
			assert.throws(() => redisSettings(env), (e: Error) => e.message.includes(text), c.name);
		} else {
			assert.deepEqual(redisSettings(env), c.expect, c.name);
		}
	}
});

test('REDIS_ENABLED is a switch, not a connection option', () => {
	assert.equal(redisEnabled({ REDIS_HOST: 'cache', REDIS_ENABLED: false }), false);
	assert.deepEqual(redisConnection({ REDIS_HOST: 'cache', REDIS_PORT: 6390, REDIS_ENABLED: true }), {
		host: 'cache',
		port: 6390,
	});
});

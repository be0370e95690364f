/**
 * Configuration the extensions read from Directus's environment. Owns: the Redis connection (Directus's
 * own `REDIS` / `REDIS_*` variables, read the way Directus reads them) and the recompute stream's name.
 * Names are configuration, never guesses: nothing here has a default.
 */

export type Env = Record<string, unknown>;

/** What ioredis accepts: a `redis://` URL, or an options object. */
export type RedisConnection = string | Record<string, unknown>;

/** The variable naming the Redis stream the relay writes to. */
export const STREAM_VARIABLE = 'RECOMPUTE_STREAM';

/**
 * The Redis connection from Directus's own settings: `REDIS` (a connection string) wins; otherwise every
 * `REDIS_<KEY>` becomes the ioredis option `<key>` in camelCase (REDIS_HOST -> host, REDIS_PORT -> port,
 * REDIS_PASSWORD -> password, REDIS_DB -> db), as Directus itself does. `REDIS_ENABLED` (Directus's switch
 * for its own use of Redis) is not a connection option. Null when nothing is configured.
 */
export function redisConnection(env: Env): RedisConnection | null {
	const url = env['REDIS'];
	if (typeof url === 'string' && url.trim() !== '') return url.trim();
	const options: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(env)) {
		if (!key.startsWith('REDIS_') || key === 'REDIS_ENABLED' || key.endsWith('_FILE')) continue;
		if (value === undefined || value === '') continue;
		options[camelCase(key.slice('REDIS_'.length))] = value;
	}
	return 'host' in options || 'path' in options ? options : null;
}

/** The stream the relay writes to, or null when `RECOMPUTE_STREAM` is not set. */
export function recomputeStream(env: Env): string | null {
	const name = env[STREAM_VARIABLE];
	return typeof name === 'string' && name.trim() !== '' ? name.trim() : null;
}

function camelCase(key: string): string {
	return key
		.toLowerCase()
		.split('_')
		.filter((part) => part !== '')
		.map((part, i) => (i === 0 ? part : part.charAt(0).toUpperCase() + part.slice(1)))
		.join('');
}

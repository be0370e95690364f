/**
 * Configuration the extensions read from Directus's environment. Owns: the Redis connection (Directus's
 * own `REDIS` / `REDIS_*` variables, read by Directus's rule, the one trm-init follows too: both are
 * tested with the cases of test/redis-settings.json) and the recompute stream's name. Names are
 * configuration, never guesses: the stream has no default.
 */

export type Env = Record<string, unknown>;

/** What ioredis accepts: a `redis://` URL, or an options object. */
export type RedisConnection = string | Record<string, unknown>;

/** The variable naming the Redis stream the relay writes to. */
export const STREAM_VARIABLE = 'RECOMPUTE_STREAM';

/** Where Directus's Redis is, as trm-init and these extensions both read it (the shared cases). */
export interface RedisSettings {
	host: string;
	port: number;
	username: string | null;
	password: string | null;
	db: number;
}

/**
 * Directus's own rule (`redisConfigAvailable`): `REDIS_ENABLED` decides when set; otherwise Redis is on
 * when `REDIS` or any `REDIS_*` variable is set. `env` is Directus's environment as it hands it to an
 * extension: `*_FILE` variables already read, values already cast (`REDIS_ENABLED` a boolean).
 */
export function redisEnabled(env: Env): boolean {
	if ('REDIS_ENABLED' in env) return toBoolean(env['REDIS_ENABLED']);
	return Object.keys(env).some((key) => key === 'REDIS' || key.startsWith('REDIS_'));
}

/**
 * The Redis connection as Directus makes its own (`createRedis`): `REDIS` (a connection string) wins;
 * otherwise every `REDIS_<KEY>` becomes the ioredis option `<key>` in camelCase (REDIS_HOST -> host,
 * REDIS_PORT -> port, REDIS_PASSWORD -> password, REDIS_DB -> db), missing ones ioredis's defaults
 * (localhost:6379). Null when Directus runs without Redis.
 */
export function redisConnection(env: Env): RedisConnection | null {
	if (!redisEnabled(env)) return null;
	const url = env['REDIS'];
	if (typeof url === 'string' && url.trim() !== '') return url.trim();
	const options: Record<string, unknown> = {};
	for (const [key, value] of Object.entries(env)) {
		if (!key.startsWith('REDIS_') || key === 'REDIS_ENABLED') continue;
		if (value === undefined || value === '') continue;
		options[camelCase(key.slice('REDIS_'.length))] = value;
	}
	return options;
}

/**
 * Where `redisConnection` connects: host, port, user, password and database, or null without Redis.
 * Throws naming the part (never a password) when the URL's user or password is not valid
 * percent-encoding, as Directus's own URL parser does.
 */
export function redisSettings(env: Env): RedisSettings | null {
	const connection = redisConnection(env);
	if (connection === null) return null;
	if (typeof connection === 'string') {
		if (!connection.startsWith('redis://')) throw new Error('REDIS is not a redis:// URL');
		const url = new URL(connection);
		return {
			host: url.hostname.replace(/^\[|\]$/g, ''),
			port: url.port === '' ? 6379 : Number(url.port),
			username: url.username === '' ? null : decode(url.username, 'user name'),
			password: url.password === '' ? null : decode(url.password, 'password'),
			db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
		};
	}
	const text = (key: string) => (connection[key] === undefined ? null : String(connection[key]));
	return {
		host: text('host') ?? 'localhost',
		port: connection['port'] === undefined ? 6379 : Number(connection['port']),
		username: text('username'),
		password: text('password'),
		db: connection['db'] === undefined ? 0 : Number(connection['db']),
	};
}

function decode(part: string, what: string): string {
	try {
		return decodeURIComponent(part);
	} catch {
		throw new Error(`REDIS: the ${what} has a \`%\` that starts no percent-escape (write %25 for %)`);
	}
}

/** `@directus/utils`' toBoolean, which Directus casts `REDIS_ENABLED` with. */
function toBoolean(value: unknown): boolean {
	return value === true || value === 'true' || value === 1 || value === '1';
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

// trm-init's Directus step in one Node process: bootstrap, Directus's own snapshot diff, and the apply of
// exactly that diff, using @directus/api's own modules (its `./*` exports) from the installed Directus.
//
// It decides nothing. trm-init sends one command per line on stdin and reads one JSON event per line on
// file descriptor 3 (stdout and stderr stay Directus's own log, which trm-init relays):
//   {"cmd":"bootstrap"}                      install or migrate Directus's system tables (as `directus bootstrap`)
//   {"cmd":"diff","snapshot":"/abs/file"}    read the snapshot, diff it against the database (as `schema apply`)
//   {"cmd":"apply"}                          apply the diff of the last "diff", unchanged (no second diff)
//   {"cmd":"exit"}                           close the database pool and exit 0
// Events: {"event":"ready",...} once, then per command {"event":"done","cmd":...,...} or
// {"event":"error","cmd":...,"message":...,"code":...}. Usage: node step.mjs <directus folder>
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const EVENTS = 3;
const emit = (event) => writeSync(EVENTS, JSON.stringify(event) + '\n');

const directusDir = path.resolve(process.argv[2] ?? process.cwd());
// Bare names resolve from the Directus folder (as cli.js's own imports do), not from this file's folder.
const requireFromDirectus = createRequire(path.join(directusDir, 'package.json'));
const apiDir = path.dirname(requireFromDirectus.resolve('@directus/api/package.json'));
const requireFromApi = createRequire(path.join(apiDir, 'package.json'));
const api = (name) => import(pathToFileURL(requireFromDirectus.resolve(`@directus/api/${name}`)).href);
const fromApi = (name) => import(pathToFileURL(requireFromApi.resolve(name)).href);

let database;
let pending; // { snapshot, current, diff } of the last "diff" command

async function bootstrap() {
	const { default: getDatabase, isInstalled, validateDatabaseConnection } = await api('database/index');
	const { useLogger } = await api('logger/index');
	const logger = useLogger();
	database ??= getDatabase();
	await validateDatabaseConnection(database);
	const { default: runMigrations } = await api('database/migrations/run');
	if ((await isInstalled()) === false) {
		const { default: runSeed } = await api('database/seeds/run');
		const { getSchema } = await api('utils/get-schema');
		const { createAdmin } = await api('utils/create-admin');
		const { SettingsService } = await api('services/settings');
		const { useEnv } = await fromApi('@directus/env');
		const env = useEnv();
		logger.info('Installing Directus system tables...');
		await runSeed(database);
		logger.info('Running migrations...');
		await runMigrations(database, 'latest');
		const schema = await getSchema();
		await createAdmin(schema);
		const settings = new SettingsService({ schema });
		if (typeof env['PROJECT_NAME'] === 'string' && env['PROJECT_NAME'].length > 0) {
			await settings.upsertSingleton({ project_name: env['PROJECT_NAME'] });
		}
		if (typeof env['PROJECT_OWNER'] === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(env['PROJECT_OWNER'])) {
			await settings.setOwner({ project_owner: env['PROJECT_OWNER'], org_name: null, project_usage: null, product_updates: false });
		}
		return { installed: true };
	}
	logger.info('Database already initialized, skipping install');
	logger.info('Running migrations...');
	await runMigrations(database, 'latest');
	return { installed: false };
}

async function diff({ snapshot: file }) {
	const { default: getDatabase, isInstalled } = await api('database/index');
	database ??= getDatabase();
	if ((await isInstalled()) === false) throw Object.assign(new Error('Directus is not installed on this database'), { code: 'NOT_INSTALLED' });
	// What `directus schema apply` loads before it plans: the project's extensions (their hooks run).
	const { loadExtensions } = await api('cli/load-extensions');
	await loadExtensions();
	const text = await readFile(file, 'utf8');
	let snapshot;
	if (file.endsWith('.yaml') || file.endsWith('.yml')) {
		const { load } = await fromApi('js-yaml');
		snapshot = load(text);
	} else {
		snapshot = JSON.parse(text);
	}
	const { getSnapshot } = await api('utils/get-snapshot');
	const { getSnapshotDiff } = await api('utils/get-snapshot-diff');
	const current = await getSnapshot({ database });
	const result = getSnapshotDiff(current, snapshot);
	// The event carries the diff as it is now: applyDiff changes its arrays while it works.
	const event = { diff: result };
	const json = JSON.stringify(event);
	pending = { snapshot, current, diff: result };
	return JSON.parse(json);
}

async function apply() {
	if (!pending) throw new Error('no diff to apply: send "diff" first');
	const { applySnapshot } = await api('utils/apply-snapshot');
	const { snapshot, current, diff: checked } = pending;
	pending = undefined;
	await applySnapshot(snapshot, { current, diff: checked, database });
	return {};
}

const commands = { bootstrap, diff, apply };

// The `directus` package: the folder itself in the official image, node_modules/directus in an npm install.
function directusPackage() {
	try {
		const own = requireFromDirectus('./package.json');
		if (own.name === 'directus') return own;
	} catch {}
	return requireFromDirectus('directus/package.json');
}

async function main() {
	const { version } = directusPackage();
	emit({ event: 'ready', directus: version, api: requireFromApi('./package.json').version, node: process.version });
	const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
	for await (const line of lines) {
		if (line.trim() === '') continue;
		let message;
		try {
			message = JSON.parse(line);
		} catch {
			emit({ event: 'error', cmd: null, message: `not JSON: ${line.slice(0, 200)}` });
			continue;
		}
		if (message.cmd === 'exit') break;
		const run = commands[message.cmd];
		if (!run) {
			emit({ event: 'error', cmd: message.cmd ?? null, message: `unknown command ${JSON.stringify(message.cmd)}` });
			continue;
		}
		try {
			emit({ event: 'done', cmd: message.cmd, ...(await run(message)) });
		} catch (err) {
			emit({ event: 'error', cmd: message.cmd, message: String(err?.message ?? err), code: err?.code ?? null });
		}
	}
	await database?.destroy();
	process.exit(0);
}

main().catch((err) => {
	try {
		emit({ event: 'error', cmd: null, message: String(err?.stack ?? err), code: err?.code ?? null });
	} finally {
		process.exit(1);
	}
});

// esm-resolve.mjs gives Node's own answer or none, and resolve-hook.mjs registers it without ever
// stopping the process. Every answer is compared with Node's default resolution of the same import in
// this process (a recording hook calls Node's resolver and esm-resolve.mjs side by side): on fixtures
// for each rule, then on the whole module load of the installed Directus (TRM_TEST_DIRECTUS_DIR, the
// Directus 11.17.4 scripts/install-directus.sh installs; scripts/test.sh sets it).
// Run: node --test 'directus-step/test/*.test.mjs'
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, copyFileSync, realpathSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolveRelative } from '../esm-resolve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const hookFile = join(here, '..', 'resolve-hook.mjs');

/** Every resolution of this process from now on: Node's answer (or error) and esm-resolve.mjs's. */
const seen = [];
registerHooks({
	resolve(specifier, context, nextResolve) {
		let node;
		let error;
		try {
			node = nextResolve(specifier, context);
		} catch (e) {
			error = e;
		}
		let ours;
		try {
			ours = resolveRelative(specifier, context);
		} catch (e) {
			ours = { threw: e };
		}
		seen.push({ specifier, parentURL: context.parentURL, node, error, ours });
		if (error) throw error;
		return node;
	},
});

/** Asserts every answer esm-resolve.mjs gave in `records` is Node's; returns how many it gave. */
function assertSameAsNode(records) {
	let answered = 0;
	for (const r of records) {
		if (r.ours === undefined) continue;
		const where = `import '${r.specifier}' from ${r.parentURL}`;
		assert.equal(r.ours.threw, undefined, `${where}: esm-resolve.mjs threw ${r.ours.threw}`);
		assert.equal(r.error, undefined, `${where}: Node refused it (${r.error?.code}) but esm-resolve.mjs answered ${r.ours.url}`);
		assert.deepEqual({ url: r.ours.url, format: r.ours.format }, { url: r.node.url, format: r.node.format }, where);
		answered++;
	}
	return answered;
}

function write(file, text) {
	mkdirSync(dirname(file), { recursive: true });
	writeFileSync(file, text);
}

/**
 * A fixture tree: one entry module per case, each importing one target. Returns the root and the cases
 * as { name, entry, answered } (whether esm-resolve.mjs is to answer the entry's import).
 */
function fixtures() {
	const root = realpathSync(mkdtempSync(join(tmpdir(), 'esm-resolve-')));
	const cases = [];
	const add = (name, folder, specifier, answered) => {
		const entry = join(root, folder, `case-${name}.mjs`);
		write(entry, `import ${JSON.stringify(specifier)};\n`);
		cases.push({ name, entry, answered });
	};
	write(join(root, 'esm/package.json'), '{"name":"esm","type":"module"}');
	write(join(root, 'esm/b.js'), 'export const b = 1;\n');
	write(join(root, 'esm/deep/er/c.js'), 'export const c = 1;\n');
	write(join(root, 'cjs/package.json'), '{"type":"commonjs"}');
	write(join(root, 'cjs/d.js'), 'module.exports = 1;\n');
	write(join(root, 'typeless/package.json'), '{"name":"typeless"}');
	write(join(root, 'typeless/e.js'), 'module.exports = 1;\n');
	write(join(root, 'esm/inner/package.json'), '{}');
	write(join(root, 'esm/inner/f.js'), 'module.exports = 1;\n');
	write(join(root, 'bad/package.json'), '{ not json');
	write(join(root, 'bad/g.js'), 'export const g = 1;\n');
	write(join(root, 'esm/real.cjs'), 'module.exports = 1;\n');
	symlinkSync(join(root, 'esm/b.js'), join(root, 'esm/link.js'));
	symlinkSync(join(root, 'esm/real.cjs'), join(root, 'esm/to-cjs.js'));
	mkdirSync(join(root, 'esm/folder.js'));
	// Above node_modules: the scope lookup stops at the node_modules folder (no type: Node's detection).
	write(join(root, 'app/package.json'), '{"type":"module"}');
	write(join(root, 'app/node_modules/plain/h.js'), 'export const h = 1;\n');
	write(join(root, 'app/node_modules/typed/package.json'), '{"name":"typed","type":"module"}');
	write(join(root, 'app/node_modules/typed/lib/i.js'), 'export const i = 1;\n');
	write(join(root, 'dir with space/package.json'), '{"type":"module"}');
	write(join(root, 'dir with space/j.js'), 'export const j = 1;\n');

	add('same-folder', 'esm', './b.js', true);
	add('nested', 'esm', './deep/er/c.js', true);
	add('up-and-over', 'esm/deep', '../../cjs/d.js', true);
	add('symlink', 'esm', './link.js', true);
	add('space-in-path', 'dir with space', './j.js', true);
	add('typed-dependency', 'app/node_modules/typed', './lib/i.js', true);
	add('typeless-package', 'typeless', './e.js', false);
	add('nested-package-without-type', 'esm', './inner/f.js', false);
	add('invalid-package-json', 'bad', './g.js', false);
	add('symlink-to-cjs', 'esm', './to-cjs.js', false);
	add('folder', 'esm', './folder.js', false);
	add('missing', 'esm', './nowhere.js', false);
	add('query', 'esm', './b.js?x=1', false);
	add('encoded', 'esm', './%62.js', false);
	add('not-js', 'esm', './real.cjs', false);
	add('bare', 'esm', 'node:path', false);
	add('stops-at-node_modules', 'app/node_modules/plain', './h.js', false);
	return { root, cases };
}

test('every fixture: Node\'s answer, or none where a rule says so', async () => {
	const { cases } = fixtures();
	for (const c of cases) {
		const before = seen.length;
		await import(pathToFileURL(c.entry).href).catch(() => {});
		const records = seen.slice(before).filter((r) => r.parentURL === pathToFileURL(c.entry).href);
		assert.equal(records.length, 1, `${c.name}: one resolution of the entry's import`);
		assertSameAsNode(records);
		assert.equal(records[0].ours !== undefined, c.answered, `${c.name}: answered by esm-resolve.mjs`);
	}
});

test('the whole module load of the installed Directus: Node\'s answer every time', async () => {
	const directus = process.env.TRM_TEST_DIRECTUS_DIR;
	assert.ok(directus, 'TRM_TEST_DIRECTUS_DIR is not set: run scripts/install-directus.sh and set it to the folder it prints');
	const server = join(directus, 'node_modules/@directus/api/dist/server.js');
	assert.ok(existsSync(server), `${server} is missing: TRM_TEST_DIRECTUS_DIR must be a Directus 11.17.4 installation`);
	// Read when the modules are imported; nothing listens on port 9, and nothing connects at import.
	Object.assign(process.env, { DB_CLIENT: 'pg', DB_HOST: '127.0.0.1', DB_PORT: '9', DB_DATABASE: 'x', DB_USER: 'x', SECRET: 'x' });
	const before = seen.length;
	await import(pathToFileURL(server).href);
	const records = seen.slice(before);
	const answered = assertSameAsNode(records);
	// Directus 11.17.4 loads about 11,000 modules; about half are relative `.js` imports of ES modules.
	assert.ok(answered > 3000, `esm-resolve.mjs answered ${answered} of ${records.length} resolutions`);
});

/** `node --import <spy> --import <hook file> --input-type=module -e <script>` with extra Node options. */
function runWithHook(hook, script, options = []) {
	const spy = join(here, 'register-spy.mjs');
	return spawnSync(process.execPath, [...options, '--import', spy, '--import', hook, '--input-type=module', '-e', script], {
		encoding: 'utf8',
	});
}

test('resolve-hook.mjs registers the answer and prints nothing', () => {
	const { cases } = fixtures();
	const entry = cases.find((c) => c.name === 'same-folder').entry;
	const out = runWithHook(hookFile, `await import(${JSON.stringify(pathToFileURL(entry).href)})`);
	assert.equal(out.status, 0, out.stderr);
	assert.equal(out.stderr, '');
	assert.match(out.stdout, /^spy: hooks registered\nspy: answered \.\/b\.js\n/m);
});

test('resolve-hook.mjs never stops the process: an option that changes resolution, a missing module', () => {
	const { root, cases } = fixtures();
	const entry = pathToFileURL(cases.find((c) => c.name === 'same-folder').entry).href;
	const script = `await import(${JSON.stringify(entry)}); console.log('imported')`;

	const preserve = runWithHook(hookFile, script, ['--preserve-symlinks']);
	assert.equal(preserve.status, 0, preserve.stderr);
	assert.match(preserve.stderr, /--preserve-symlinks changes how Node resolves modules: not registered/);
	assert.doesNotMatch(preserve.stdout, /spy: hooks registered/);
	assert.match(preserve.stdout, /imported/);

	const alone = join(root, 'hook-alone');
	mkdirSync(alone);
	copyFileSync(hookFile, join(alone, 'resolve-hook.mjs'));
	const missing = runWithHook(join(alone, 'resolve-hook.mjs'), script);
	assert.equal(missing.status, 0, missing.stderr);
	assert.match(missing.stderr, /esm-resolve\.mjs cannot be loaded .*: not registered; Node resolves every import itself/);
	assert.match(missing.stdout, /imported/);
});

test('an answer that throws (a file gone between two checks) is left to Node', () => {
	// The hook's own try: esm-resolve.mjs replaced by one whose answer always throws.
	const { root, cases } = fixtures();
	const dir = join(root, 'hook-throwing');
	mkdirSync(dir);
	copyFileSync(hookFile, join(dir, 'resolve-hook.mjs'));
	writeFileSync(join(dir, 'esm-resolve.mjs'), 'export function resolveRelative() { throw new Error("gone"); }\n');
	const entry = pathToFileURL(cases.find((c) => c.name === 'same-folder').entry).href;
	const out = runWithHook(join(dir, 'resolve-hook.mjs'), `await import(${JSON.stringify(entry)}); console.log('imported')`);
	assert.equal(out.status, 0, out.stderr);
	assert.equal(out.stderr, '');
	assert.match(out.stdout, /spy: hooks registered/);
	assert.doesNotMatch(out.stdout, /spy: answered/);
	assert.match(out.stdout, /imported/);
});

// The one kind of ES module resolution trm-init's Node processes take out of Node's hands: a relative
// `import './x.js'` from a file, answered with the same URL and format Node 22 would give.
//
// Owns that answer and the package type of each folder it has looked at (read once per package.json).
// It never answers anything else (bare specifiers, `require`, other extensions, queries, encoded
// characters, a missing file, a folder, a package without a `type`): `resolveRelative` returns
// undefined and Node resolves as always, with its own errors. It never changes a file.
//
// Why: Node 22's default resolve reads the package scope of every resolved `.js` file to learn its
// format, and that read spreads the whole package.json, parsing its `exports` again each time. Directus
// loads about 300 files of date-fns, whose package.json is 200 KB of exports: about 1 s of a 4 s module
// load here (docs/benchmarks.md, round 10). What is left equal to Node's steps (finalizeResolution and
// getFileProtocolModuleFormat in Node 22's lib/internal/modules/esm): the URL joined as the WHATWG
// parser joins it, the file must exist and be a file, its real path (symlinks resolved), and for a `.js`
// file the `type` of the nearest package.json above it, stopping at a `node_modules` folder.
// tests: directus-step/test/esm-resolve.test.mjs compares every answer with Node's own, on fixtures and
// on the whole module load of the installed Directus.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Folder -> 'module' | 'commonjs' | 'none' | null (null: unreadable or invalid, left to Node). */
const scopeTypes = new Map();

/** Specifiers this module answers: relative, ending in `.js`, nothing Node would decode or strip. */
const ANSWERABLE = /^\.\.?\/[^%?#\\]*\.js$/;

/**
 * The `type` of the package scope of files in `dir` (the nearest package.json upwards, never above a
 * `node_modules` folder), as Node reads it: 'module', 'commonjs' or 'none'; null when a package.json is
 * there but cannot be read or parsed (Node then reports it).
 * @param {string} dir
 * @returns {'module' | 'commonjs' | 'none' | null}
 */
export function packageType(dir) {
	const visited = [];
	let type = 'none';
	for (let d = dir; ; ) {
		const known = scopeTypes.get(d);
		if (known !== undefined) {
			type = known;
			break;
		}
		visited.push(d);
		const file = join(d, 'package.json');
		if (file.endsWith(`${sep}node_modules${sep}package.json`)) break;
		const text = readIfThere(file);
		if (text !== undefined) {
			type = text === null ? null : typeField(text);
			break;
		}
		const up = dirname(d);
		if (up === d) break;
		d = up;
	}
	for (const d of visited) scopeTypes.set(d, type);
	return type;
}

/** The file's text, undefined when there is none, null when it is there but cannot be read. */
function readIfThere(file) {
	try {
		return readFileSync(file, 'utf8');
	} catch (error) {
		return error?.code === 'ENOENT' || error?.code === 'ENOTDIR' ? undefined : null;
	}
}

function typeField(text) {
	try {
		const type = JSON.parse(text)?.type;
		return type === 'module' || type === 'commonjs' ? type : 'none';
	} catch {
		return null;
	}
}

/**
 * Node's answer to `import specifier` from `context.parentURL`, when this module can give it:
 * `{ url, format, shortCircuit: true }`; otherwise undefined (let Node resolve).
 * @param {string} specifier
 * @param {{ parentURL?: string, conditions?: string[] }} context
 */
export function resolveRelative(specifier, context) {
	const { parentURL, conditions } = context;
	if (!parentURL?.startsWith('file:') || !ANSWERABLE.test(specifier)) return undefined;
	if (!conditions?.includes('import') || conditions.includes('require')) return undefined;
	const url = new URL(specifier, parentURL);
	// Node refuses an encoded "/" or "\\" in the resolved path (the parent's folder may hold one).
	if (/%2f|%5c/i.test(url.pathname)) return undefined;
	const path = fileURLToPath(url);
	if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return undefined;
	const real = realpathSync.native(path);
	if (extname(real) !== '.js') return undefined;
	const format = packageType(dirname(real));
	if (format !== 'module' && format !== 'commonjs') return undefined;
	return { url: pathToFileURL(real).href, format, shortCircuit: true };
}

// The module resolution hook of trm-init's Node processes (`child.resolve_hook`): trm-init starts the
// main child, its preload and the Directus step helper as `node --import <this file> ...`.
//
// Owns registering `esm-resolve.mjs`'s answer as an in-thread resolve hook (`module.registerHooks`,
// Node >= 22.15). It never stops the process it is loaded into: a Node without `registerHooks`, an option
// that changes what Node's resolution answers (`--preserve-symlinks`, `--experimental-default-type`), a
// missing `esm-resolve.mjs`, or any error while answering leaves the resolution to Node, with one line on
// stderr for the first three. It prints nothing when registered (trm-init's log says it is on).
import * as nodeModule from 'node:module';

const CHANGES_RESOLUTION = ['--preserve-symlinks', '--experimental-default-type'];

/** Why the hook cannot be registered in this process, or undefined. */
function reasonNotToRegister() {
	if (typeof nodeModule.registerHooks !== 'function') return `Node ${process.version} has no module.registerHooks`;
	const options = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
	const changing = options.find((o) => CHANGES_RESOLUTION.some((c) => o === c || o.startsWith(`${c}=`)));
	return changing ? `${changing} changes how Node resolves modules` : undefined;
}

async function register() {
	const reason = reasonNotToRegister();
	if (reason) return `${reason}: not registered`;
	let resolveRelative;
	try {
		({ resolveRelative } = await import('./esm-resolve.mjs'));
	} catch (error) {
		return `esm-resolve.mjs cannot be loaded (${error?.message ?? error}): not registered`;
	}
	nodeModule.registerHooks({
		resolve(specifier, context, nextResolve) {
			let answer;
			try {
				answer = resolveRelative(specifier, context);
			} catch {
				answer = undefined; // a file gone between two checks, say: Node answers (and reports) it
			}
			return answer ?? nextResolve(specifier, context);
		},
	});
	return undefined;
}

const problem = await register().catch((error) => `${error?.message ?? error}: not registered`);
if (problem) console.error(`trm-init resolve hook: ${problem}; Node resolves every import itself`);

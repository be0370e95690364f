// Loaded with `--import` before resolve-hook.mjs by esm-resolve.test.mjs: wraps `module.registerHooks` so
// the test sees that hooks were registered and which imports their resolve answered itself (the
// `shortCircuit` answers, which Node strips before the next hook would see them).
import nodeModule, { syncBuiltinESMExports } from 'node:module';

const register = nodeModule.registerHooks;
nodeModule.registerHooks = (hooks) => {
	console.log('spy: hooks registered');
	const resolve = hooks.resolve;
	return register({
		...hooks,
		resolve(specifier, context, nextResolve) {
			const answer = resolve(specifier, context, nextResolve);
			if (answer?.shortCircuit) console.log(`spy: answered ${specifier}`);
			return answer;
		},
	});
};
syncBuiltinESMExports();

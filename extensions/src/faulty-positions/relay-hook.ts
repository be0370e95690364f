/**
 * The relay's schedule: every 5 seconds (and once when Directus has started) each Directus process
 * delivers what is pending in the outbox. Owns only the scheduling; delivery is relay.ts's.
 */
import { defineHook } from '@directus/extensions-sdk';
import { closeRelay, configurationProblem, relay } from './relay.ts';

export default defineHook(({ schedule, init, action }, { database, env, logger }) => {
	const problem = configurationProblem(env);
	if (problem !== null) {
		logger.warn(`recompute relay: ${problem}; flag requests are refused until it is configured`);
		return;
	}
	const run = () =>
		relay(database, env, logger).then(
			(n) => {
				if (n > 0) logger.info(`recompute relay: ${n} request(s) delivered`);
			},
			(err: unknown) => logger.warn(`recompute relay: ${err instanceof Error ? err.message : String(err)}`),
		);
	init('app.after', () => {
		void run();
	});
	schedule('*/5 * * * * *', run);
	action('server.stop', () => {
		void closeRelay();
	});
});

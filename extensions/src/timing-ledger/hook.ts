/**
 * The timing ledger's link to Directus: every transaction Directus opens while serving a request
 * starts by telling the database who is writing and why (context.ts), so the ledger's triggers
 * (db-init-post/010) name the Directus user, not only Directus's database role, and the reason rules
 * (011) see the request's X-TRM-Reason. Owns one Express middleware (after Directus's authentication:
 * it knows the user) that keeps the request's decider in an AsyncLocalStorage, and the wrapper around
 * Directus's knex `transaction` that reads it; never touches a query, a payload or a transaction
 * opened outside a request (schedules, the CLI), which the ledger records as Directus's role.
 */
import { defineHook } from '@directus/extensions-sdk';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { deciderOf, settingStatement, type Decider } from './context.ts';

interface Request {
	accountability?: { user?: string | null } | null;
	headers: Record<string, unknown>;
}
interface App {
	use(handler: (req: Request, res: unknown, next: () => void) => void): unknown;
}
type Container = (trx: Knex.Transaction) => unknown;

const requests = new AsyncLocalStorage<Decider>();

export default defineHook(({ init }, { database, logger }) => {
	init('middlewares.after', (meta) => {
		const app = (meta as { app: App }).app;
		app.use((req, _res, next) => requests.run(deciderOf(req.accountability, req.headers), next));
	});

	const original = database.transaction.bind(database) as (container?: unknown, config?: unknown) => unknown;
	Object.defineProperty(database, 'transaction', {
		configurable: true,
		value: (container?: unknown, config?: unknown) => {
			const decider = requests.getStore();
			if (typeof container !== 'function' || decider === undefined) return original(container, config);
			const { sql, bindings } = settingStatement(decider);
			return original(async (trx: Knex.Transaction) => {
				await trx.raw(sql, bindings);
				return (container as Container)(trx);
			}, config);
		},
	});
	logger.info('timing-ledger: Directus transactions name the request\'s user and reason to the database');
});

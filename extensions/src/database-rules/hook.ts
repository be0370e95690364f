/**
 * Turns database rule refusals into 400 answers that say which rule refused the row (translate.ts says
 * what counts as one). Owns one Express error middleware, placed by the `routes.custom.after` init
 * event in front of Directus's own error handler, which still writes every answer; every other error
 * passes through untouched.
 */
import { defineHook } from '@directus/extensions-sdk';
import { createError } from '@directus/errors';
import { ruleRefusal, type RuleRefusal } from './translate.ts';

/** The part of Express this needs: an error middleware (Express knows one by its four parameters). */
type ErrorMiddleware = (err: unknown, req: unknown, res: unknown, next: (err?: unknown) => void) => void;
interface App {
	use(handler: ErrorMiddleware): unknown;
}

const RuleViolation = createError<RuleRefusal>('INVALID_PAYLOAD', (refusal) => refusal.message, 400);

export default defineHook(({ init }) => {
	init('routes.custom.after', (meta) => {
		const app = (meta as { app: App }).app;
		const translate: ErrorMiddleware = (err, _req, _res, next) => {
			const errors: unknown[] = Array.isArray(err) ? err : [err];
			const translated = errors.map((error) => {
				const refusal = ruleRefusal(error);
				return refusal === null ? error : new RuleViolation(refusal);
			});
			next(Array.isArray(err) ? translated : translated[0]);
		};
		app.use(translate);
	});
});

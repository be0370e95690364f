/**
 * The admin UI's side of the preview: an interface of type presentation on penalty_formulas (the
 * field `preview`, scripts/schema/phase26.mjs) that shows, on a formula's item page, its brackets as
 * JSON to edit, the before/after table of `POST /penalty-preview` and a confirmation with the reason and
 * regulation reference (`POST /penalty-preview/confirm`). Owns the component and its calls through
 * Directus's own API client (useApi); the lines of the table are table.ts's. Writes nothing itself.
 */
import { defineInterface, useApi } from '@directus/extensions-sdk';
import { defineComponent, h, ref, watch, type VNode } from 'vue';
import type { StagePreview } from './compute.ts';
import { entryLines, startLines, summary } from './table.ts';

interface PreviewData {
	penalties: number;
	not_reevaluated: number;
	stages: StagePreview[];
	applied?: { formula_version?: { id: number; version: number } | null; rows_changed: number };
}

const message = (err: unknown): string => {
	const e = err as { response?: { data?: { errors?: Array<{ message?: string }> } }; message?: string };
	return e.response?.data?.errors?.[0]?.message ?? e.message ?? String(err);
};
const valueOf = (e: unknown): string => String((e as { target?: { value?: unknown } }).target?.value ?? '');

const Preview = defineComponent({
	name: 'TrmPenaltyPreview',
	props: { primaryKey: { type: [String, Number], default: null } },
	setup(props) {
		const api = useApi();
		const brackets = ref('');
		const result = ref<PreviewData | null>(null);
		const error = ref<string | null>(null);
		const busy = ref(false);
		const reason = ref('');
		const article = ref('');
		const documentRef = ref('');
		const effective = ref('');
		const confirmed = ref<string | null>(null);
		const formula = () => (props.primaryKey === null || props.primaryKey === '+' ? null : Number(props.primaryKey));

		// The form may mount the field before it knows the item: load when the key is there (and again
		// when the page moves to another formula).
		const load = async () => {
			const id = formula();
			if (id === null) return;
			try {
				const row = (await api.get(`/items/penalty_formulas/${id}`, { params: { fields: 'belongs_to_type,belongs_to_id,type' } })).data.data;
				const list = (
					await api.get('/items/penalty_formulas', {
						params: {
							filter: JSON.stringify({
								_and: [{ belongs_to_type: { _eq: row.belongs_to_type } }, { belongs_to_id: { _eq: row.belongs_to_id } }, { type: { _eq: row.type } }],
							}),
							fields: 'id,offence_min,offence_max,operator,penalty_seconds',
							sort: 'offence_min',
							limit: -1,
						},
					})
				).data.data as Array<Record<string, unknown>>;
				const numbers = list.map((b) => ({
					id: b['id'],
					offence_min: Number(b['offence_min']),
					offence_max: b['offence_max'] === null ? null : Number(b['offence_max']),
					operator: b['operator'],
					penalty_seconds: Number(b['penalty_seconds']),
				}));
				brackets.value = JSON.stringify(numbers, null, 2);
			} catch (err) {
				error.value = message(err);
			}
		};
		watch(() => props.primaryKey, () => void load(), { immediate: true });

		const body = () => ({ formula: formula(), brackets: JSON.parse(brackets.value) });
		const run = async (confirm: boolean) => {
			error.value = null;
			confirmed.value = null;
			busy.value = true;
			try {
				const payload = confirm
					? { ...body(), reason: reason.value, regulation_article: article.value, regulation_document: documentRef.value, effective_from: effective.value }
					: body();
				const res = await api.post(confirm ? '/penalty-preview/confirm' : '/penalty-preview', payload);
				result.value = res.data.data as PreviewData;
				if (confirm) {
					const v = result.value.applied?.formula_version;
					confirmed.value = v ? `confirmed: formula version ${v.version}` : 'confirmed: the brackets\' math did not change (no new version)';
				}
			} catch (err) {
				error.value = message(err);
			} finally {
				busy.value = false;
			}
		};

		const field = (label: string, model: typeof reason, cls: string): VNode =>
			h('label', { class: 'trm-field' }, [label, h('input', { class: cls, value: model.value, onInput: (e: unknown) => (model.value = valueOf(e)) })]);

		return () => {
			if (formula() === null) return h('div', { class: 'trm-penalty-preview' }, 'Save the formula first: the preview compares a change with the stored brackets.');
			const children: VNode[] = [
				h('p', { class: 'trm-hint' }, 'The formula\'s brackets (every row of this owner and penalty type). Edit them, then preview what the change would do.'),
				h('textarea', { class: 'trm-brackets', rows: 12, style: 'width: 100%; font-family: monospace;', value: brackets.value, onInput: (e: unknown) => (brackets.value = valueOf(e)) }),
				h('button', { class: 'trm-preview-button', type: 'button', disabled: busy.value, onClick: () => void run(false) }, 'Preview'),
			];
			if (error.value) children.push(h('p', { class: 'trm-error' }, error.value));
			const r = result.value;
			if (r) {
				children.push(h('p', { class: 'trm-summary' }, summary(r.stages, r.penalties, r.not_reevaluated)));
				const lines = entryLines(r.stages);
				children.push(
					h('table', { class: 'trm-preview-table', style: 'width: 100%; margin: 8px 0;' }, [
						h('thead', [h('tr', ['Stage', 'Race number', 'Penalty (s)', 'Stage time (s)', 'Position'].map((t) => h('th', t)))]),
						h('tbody', lines.map((l) => h('tr', { class: 'trm-preview-row' }, [l.stage, l.race_number, l.penalty, l.total, l.position].map((t) => h('td', t))))),
					]),
				);
				const starts = startLines(r.stages);
				if (starts.length)
					children.push(
						h('table', { class: 'trm-start-table' }, [
							h('thead', [h('tr', ['Next stage', 'Race number', 'Start before', 'Start after'].map((t) => h('th', t)))]),
							h('tbody', starts.map((l) => h('tr', { class: 'trm-start-row' }, [l.stage, l.race_number, l.before, l.after].map((t) => h('td', t))))),
						]),
					);
				children.push(
					h('div', { class: 'trm-confirm' }, [
						field('Reason', reason, 'trm-reason'),
						field('Regulation article', article, 'trm-article'),
						field('Regulation document', documentRef, 'trm-document'),
						field('Effective from (ISO time)', effective, 'trm-effective'),
						h('button', { class: 'trm-confirm-button', type: 'button', disabled: busy.value, onClick: () => void run(true) }, 'Confirm the change'),
					]),
				);
			}
			if (confirmed.value) children.push(h('p', { class: 'trm-confirmed' }, confirmed.value));
			return h('div', { class: 'trm-penalty-preview' }, children);
		};
	},
});

export default defineInterface({
	id: 'trm-penalty-preview',
	name: 'Penalty preview',
	icon: 'preview',
	description: 'Shows what a change of the brackets would do to the results and the next start order, before it is made',
	component: Preview,
	types: ['alias'],
	localTypes: ['presentation'],
	group: 'presentation',
	options: null,
});

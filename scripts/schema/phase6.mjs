// Phase 6: the stewards' record. Published results as immutable, numbered versions with the difference
// from the version before, per entry, and each event's protest window. The database makes and guards
// them (db-init-post/013_result_versions.sql): a version is made when a stage's results turn official
// (`official 1`, then `amended 2`, ...) or when a race director publishes provisional results
// (`provisional 1`, ...); nobody edits or deletes one. The timing ledger itself is a raw table
// (db-init-post/010), not a collection.
import { intId, str, text, timestamp, choice, m2o, o2m } from './lib.mjs';
import { num, bool, json, stamp } from './course-fields.mjs';

export const VERSION_KINDS = ['provisional', 'official', 'amended'];
export const ENTRY_CHANGES = ['new', 'changed', 'unchanged', 'removed'];
// Taking an official result back, as the form shows it: status already provisional, published_at still
// the publication's (the database clears it on save).
const TAKING_BACK = 'taking an official result back';
const TAKING_BACK_RULE = { _and: [{ status: { _eq: 'provisional' } }, { published_at: { _nnull: true } }] };

export default {
  name: 'phase6',
  collections: [
    {
      name: 'result_versions', icon: 'history_edu', display: '{{label}} ({{published_at}})',
      note: 'Published results of a stage, one immutable version per publication, made by the database',
      fields: [
        intId(),
        m2o('stage_id', 'stages', { template: '{{name}}' }),
        choice('kind', VERSION_KINDS, { note: 'provisional: published for review; official: the first official results; amended: official results changed after a protest or a correction' }),
        num('number', { note: 'set by the database: provisional 1, 2, ...; official 1, then amended 2, 3, ...' }),
        str('label', { max: 40, note: 'set by the database: kind and number' }),
        stamp('published_at', { note: 'set by the database' }),
        m2o('published_by', 'directus_users', { type: 'uuid', required: false, template: '{{first_name}} {{last_name}}', note: 'set by the database: the Directus user who published it' }),
        str('published_by_role', { max: 100, note: 'set by the database: the database role of the publication (Directus, a person with psql)' }),
        text('reason', { note: 'why: required for an amendment' }),
        str('regulation_article', { max: 100 }),
        stamp('protest_until', { note: 'set by the database: published_at + the event\'s protest window' }),
        num('entries_count', { note: 'set by the database' }),
        str('ledger_head', { max: 64, note: 'set by the database: the event\'s timing-ledger head hash at publication' }),
        o2m('entries', { template: '#{{entry_id.race_number}} {{position_overall}}. {{total_seconds}} s: {{difference}}', note: 'each entry as published, and what changed since the version before' }),
      ],
    },
    {
      name: 'result_version_entries', icon: 'format_list_numbered', display: '#{{entry_id.race_number}} {{position_overall}}. {{total_seconds}} s ({{change}})',
      note: 'One entry of a published version, and its difference from the version before',
      fields: [
        intId(),
        m2o('version_id', 'result_versions', { template: '{{label}}', oneField: 'entries' }),
        m2o('entry_id', 'entries', { template: '#{{race_number}}' }),
        num('elapsed_seconds'),
        num('penalty_seconds'),
        num('total_seconds'),
        num('position_overall'),
        num('position_in_class'),
        choice('change', ENTRY_CHANGES, { note: 'against the version before: new, changed, unchanged, removed' }),
        json('diff', { note: '{field: [before, after]} for each field that changed' }),
        text('difference', { note: 'set by the database: the difference from the version before, in words (e.g. "total 3900 s -> 3600 s; penalties 300 s -> 0 s")' }),
      ],
    },
  ],
  extraFields: {
    events: [
      num('protest_window_minutes', { min: 0, fallback: 30, note: 'how long after a publication protests are accepted (Supplementary Regulations)' }),
      bool('regulation_article_required', { note: 'the Supplementary Regulations number their articles: every decision (override, void, amendment, start move) cites one (db-init-post/018)' }),
    ],
    // What the operator gives with a decision, in the item form (db-init-post/018). The penalty's article
    // stays with its override like override_reason; the others are write-only: the database takes them
    // out of the row into the timing ledger (reason, regulation_article).
    entry_penalties: [
      shownWhen(str('override_regulation_article', { max: 100, note: 'the regulation article the override or void applies (required where the event\'s rules number them)' }),
        'reviewed', { _and: [{ review_state: { _in: ['overridden', 'void'] } }] }),
    ],
    stage_results: [
      shownWhen(text('amendment_reason', { note: 'why an official result is taken back (an amendment): required, kept in the timing ledger, not on the result' }),
        TAKING_BACK, TAKING_BACK_RULE, { required: true }),
      shownWhen(str('amendment_regulation_article', { max: 100, note: 'the regulation article of the amendment (required where the event\'s rules number them)' }),
        TAKING_BACK, TAKING_BACK_RULE),
    ],
    entry_segment_starts: [
      text('change_reason', { note: 'why the target moves once the start list is published (the stage is open or closed): required then, kept in the timing ledger, not on the start' }),
      str('change_regulation_article', { max: 100, note: 'the regulation article of the move (required where the event\'s rules number them)' }),
    ],
  },
  // The penalty review in the form: a reason is required (and shown) once the penalty is overridden or
  // void, the seconds once overridden; the database (011, 018) refuses the same without them.
  after: async (call, log) => {
    await call('PATCH', '/fields/entry_penalties/override_reason', { meta: {
      note: 'why: required when overridden or void, given anew for each decision (kept in the timing ledger)',
      conditions: [{ name: 'reviewed', rule: { _and: [{ review_state: { _in: ['overridden', 'void'] } }] }, required: true }],
    } });
    await call('PATCH', '/fields/entry_penalties/override_seconds', { meta: {
      conditions: [{ name: 'overridden', rule: { _and: [{ review_state: { _eq: 'overridden' } }] }, required: true }],
    } });
    log('[phase6] entry_penalties: override_reason and override_seconds required by review_state');
  },
};

/** A field hidden in the form but while `rule` (a filter on the form's values) holds; then `required` too, if asked. */
function shownWhen(field, name, rule, { required = false } = {}) {
  return { ...field, meta: { ...field.meta, hidden: true, conditions: [{ name, rule, hidden: false, required }] } };
}

// Phase 6: the stewards' record. Published results as immutable, numbered versions with the difference
// from the version before, per entry, and each event's protest window. The database makes and guards
// them (db-init-post/013_result_versions.sql): a version is made when a stage's results turn official
// (`official 1`, then `amended 2`, ...) or when a race director publishes provisional results
// (`provisional 1`, ...); nobody edits or deletes one. The timing ledger itself is a raw table
// (db-init-post/010), not a collection.
import { intId, str, text, timestamp, choice, m2o, o2m } from './lib.mjs';
import { num, json, stamp } from './course-fields.mjs';

export const VERSION_KINDS = ['provisional', 'official', 'amended'];
export const ENTRY_CHANGES = ['new', 'changed', 'unchanged', 'removed'];

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
        o2m('entries', { template: '{{entry_id.race_number}}: {{total_seconds}} s, {{position_overall}}. ({{change}})', note: 'each entry as published, and what changed since the version before' }),
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
      ],
    },
  ],
  extraFields: {
    events: [
      num('protest_window_minutes', { min: 0, fallback: 30, note: 'how long after a publication protests are accepted (Supplementary Regulations)' }),
    ],
  },
};

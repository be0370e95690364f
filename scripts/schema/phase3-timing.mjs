// Phase 3: timing and penalties. The processor writes crossings, penalties and results with plain SQL;
// operators review, override and publish through Directus. Field names: /work/plan/NAMES.md; reasons:
// snapshots/README.md. The rules the database enforces live in db-init-post/003_timing.sql.
import { intId, str, text, int, decimal, bool, timestamp, json, choice, m2o } from './course-builders.mjs';

export const OWNER_TYPES = ['segment', 'speed_limit_zone', 'stage', 'event'];
export const PENALTY_TYPES = ['speeding', 'missed-waypoint', 'missed-geofence', 'late-start', 'early-arrival', 'late-arrival', 'max-time', 'other'];
export const OPERATORS = ['fixed', 'per_unit', 'disqualification'];
export const REVIEW_STATES = ['computed', 'overridden', 'void'];
export const RESULT_STATUS = ['provisional', 'official'];

const USER = (field, opts = {}) => m2o(field, 'directus_users', { type: 'uuid', template: '{{first_name}} {{last_name}}', ...opts });

export const collections = [
  {
    name: 'penalty_formulas', icon: 'gavel', display: '{{type}} {{offence_min}}-{{offence_max}}: {{penalty_seconds}} s',
    note: 'Penalties from the Supplementary Regulations, as data: one row per bracket.',
    fields: [
      intId(),
      choice('belongs_to_type', OWNER_TYPES, { fallback: 'event' }),
      int('belongs_to_id', { note: 'filled by the database from the typed owner column' }),
      choice('type', PENALTY_TYPES),
      decimal('offence_min', { required: true, note: 'bracket start (inclusive), e.g. km/h over the limit' }),
      decimal('offence_max', { note: 'bracket end (exclusive); empty: no upper bound' }),
      choice('operator', OPERATORS, { fallback: 'fixed', note: 'fixed: penalty_seconds; per_unit: penalty_seconds per unit above offence_min' }),
      int('penalty_seconds', { required: true, min: 0 }),
      bool('retroactive', { note: 'a change recomputes penalties already computed' }),
      bool('enabled', { fallback: true }),
    ],
    m2o: [
      m2o('event_id', 'events', { template: '{{name}}' }),
      m2o('segment_id', 'segments', { required: false, onDelete: 'CASCADE', note: 'owner when belongs_to_type = segment' }),
      m2o('speed_limit_zone_id', 'speed_limit_zones', { required: false, onDelete: 'CASCADE', template: '{{name}}', note: 'owner when belongs_to_type = speed_limit_zone' }),
      m2o('stage_id', 'stages', { required: false, onDelete: 'CASCADE', template: '{{name}}', note: 'owner when belongs_to_type = stage' }),
    ],
  },
  {
    name: 'entry_segment_starts', icon: 'sports_score', display: '#{{start_position}} {{target_at}}',
    note: 'Filled when a stage opens; the timekeeper edits target_at to reseed late arrivals.',
    fields: [
      intId(),
      int('start_position', { min: 1 }),
      timestamp('target_at', { required: true }),
      bool('manual_override', { note: 'set when a timekeeper changed target_at: a re-materialization keeps it' }),
    ],
    m2o: [m2o('entry_id', 'entries', { template: '#{{race_number}}' }), m2o('segment_id', 'segments')],
  },
  {
    name: 'entry_crossings', icon: 'login', display: '{{kind}} {{ts}}',
    note: 'Written by the processor (idempotent on entry, geofence, ts); marshals add manual ones.',
    fields: [
      intId(),
      timestamp('ts', { required: true, note: 'when the crossing happened' }),
      choice('kind', ['entry', 'exit']),
      timestamp('position_ts', { note: 'the fix it was derived from (with device_id)' }),
      choice('source', ['processor', 'manual'], { fallback: 'processor' }),
      text('note', { note: 'why a manual crossing was entered' }),
    ],
    m2o: [
      m2o('entry_id', 'entries', { template: '#{{race_number}}' }),
      m2o('geofence_id', 'geofences', { template: '{{name}}' }),
      m2o('device_id', 'devices', { type: 'uuid', required: false, template: '{{imei}}' }),
    ],
  },
  {
    name: 'entry_penalties', icon: 'report', display: '{{type}} {{seconds}} s ({{review_state}})',
    note: 'Computed by the processor; operators override or void them. A recompute replaces only computed rows.',
    fields: [
      intId(),
      choice('type', PENALTY_TYPES),
      str('penalty_key', { required: true, max: 200, note: 'the processor\'s natural key of the offence (unique per entry)' }),
      json('formula_snapshot', { note: 'the formula as it was applied' }),
      json('inputs', { note: 'what the formula was applied to: peak speed, counts...' }),
      int('seconds', { required: true, min: 0 }),
      timestamp('computed_at', { readonly: true }),
      choice('review_state', REVIEW_STATES, { fallback: 'computed' }),
      int('override_seconds', { min: 0, note: 'required when overridden' }),
      text('override_reason', { note: 'required when overridden or void' }),
      timestamp('overridden_at', { readonly: true, note: 'set by the database' }),
    ],
    m2o: [
      m2o('entry_id', 'entries', { template: '#{{race_number}}' }),
      m2o('stage_id', 'stages', { required: false, template: '{{name}}' }),
      m2o('segment_id', 'segments', { required: false }),
      m2o('formula_id', 'penalty_formulas', { required: false, onDelete: 'SET NULL' }),
      USER('overridden_by', { required: false, onDelete: 'SET NULL' }),
    ],
  },
  {
    name: 'stage_results', icon: 'emoji_events', display: '{{position_overall}}. {{total_seconds}} s ({{status}})',
    note: 'One row per entry and stage, written by the processor; official rows are frozen.',
    fields: [
      intId(),
      timestamp('started_at'),
      timestamp('finished_at'),
      int('elapsed_seconds', { min: 0 }),
      int('penalty_seconds', { min: 0, fallback: 0 }),
      int('total_seconds', { min: 0 }),
      int('position_overall', { min: 1 }),
      int('position_in_class', { min: 1 }),
      choice('status', RESULT_STATUS, { fallback: 'provisional' }),
      timestamp('published_at', { readonly: true, note: 'set by the database when the row turns official' }),
    ],
    m2o: [m2o('entry_id', 'entries', { template: '#{{race_number}}' }), m2o('stage_id', 'stages', { template: '{{name}}' })],
  },
];

// Phase 3: timing and penalties. The processor writes crossings, penalties and results with plain SQL;
// operators review, override and publish through Directus. Names as published (plan NAMES.md
// "Phase 3"); the design and its reasons: snapshots/README.md. What the database enforces:
// db-init-post/005_timing.sql.
import { intId, str, text, timestamp, choice, m2o } from './lib.mjs';
import { num, bool, json, decimal, stamp } from './course-fields.mjs';

export const OWNER_TYPES = ['segment', 'speed_limit_zone', 'stage', 'event'];
export const PENALTY_TYPES = ['speeding', 'missed-waypoint', 'missed-geofence', 'late-start', 'early-arrival', 'late-arrival', 'max-time', 'other'];
export const OPERATORS = ['fixed', 'per_unit', 'disqualification'];
export const REVIEW_STATES = ['computed', 'overridden', 'void'];
export const RESULT_STATUS = ['provisional', 'official'];

const ENTRY = () => m2o('entry_id', 'entries', { template: '#{{race_number}}' });

export default {
  name: 'phase3',
  collections: [
    {
      name: 'penalty_formulas', icon: 'gavel', display: '{{type}} {{offence_min}}-{{offence_max}}: {{penalty_seconds}} s',
      note: 'Penalties of the Supplementary Regulations, as data: one row per bracket',
      fields: [
        intId(),
        m2o('event_id', 'events', { template: '{{name}}' }),
        choice('belongs_to_type', OWNER_TYPES, { fallback: 'event' }),
        num('belongs_to_id', { note: 'the owner\'s id; the database fills it from the typed owner below' }),
        // The typed owner: exactly the one named by belongs_to_type is set (db-init-post). A formula
        // means nothing without its owner: it goes with it.
        m2o('segment_id', 'segments', { required: false, onDelete: 'CASCADE', note: 'owner when belongs_to_type = segment' }),
        m2o('speed_limit_zone_id', 'speed_limit_zones', { required: false, onDelete: 'CASCADE', template: '{{name}}', note: 'owner when belongs_to_type = speed_limit_zone' }),
        m2o('stage_id', 'stages', { required: false, onDelete: 'CASCADE', template: '{{name}}', note: 'owner when belongs_to_type = stage' }),
        choice('type', PENALTY_TYPES),
        decimal('offence_min', { required: true, note: 'bracket start (inclusive), e.g. km/h over the limit' }),
        decimal('offence_max', { note: 'bracket end (exclusive); empty: no upper bound' }),
        choice('operator', OPERATORS, { fallback: 'fixed', note: 'fixed: penalty_seconds; per_unit: penalty_seconds per unit above offence_min' }),
        num('penalty_seconds', { required: true, min: 0 }),
        bool('retroactive', { note: 'a change recomputes penalties already computed' }),
        bool('enabled', { fallback: true }),
      ],
    },
    {
      name: 'entry_segment_starts', icon: 'sports_score', display: '#{{start_position}} {{target_at}}',
      note: 'Filled when a stage opens; the timekeeper edits target_at to reseed late arrivals',
      fields: [
        intId(),
        ENTRY(),
        m2o('segment_id', 'segments'),
        num('start_position', { min: 1 }),
        timestamp('target_at', { required: true }),
        bool('manual_override', { note: 'a timekeeper changed target_at: a re-materialization keeps it' }),
      ],
    },
    {
      name: 'entry_crossings', icon: 'login', display: '{{kind}} {{ts}}',
      note: 'Written by the processor (idempotent on entry, geofence, ts); race officials add manual ones (source manual)',
      fields: [
        intId(),
        ENTRY(),
        m2o('geofence_id', 'geofences', { template: '{{name}}' }),
        timestamp('ts', { required: true, note: 'when the crossing happened' }),
        choice('kind', ['entry', 'exit']),
        m2o('device_id', 'devices', { type: 'uuid', required: false, template: '{{model}} — {{imei}}', note: 'the tracker of the fix it came from' }),
        timestamp('position_ts', { note: 'the fix it came from (with device_id)' }),
        choice('source', ['processor', 'manual'], { fallback: 'processor' }),
        text('note', { note: 'why a manual crossing was entered' }),
      ],
    },
    {
      name: 'entry_penalties', icon: 'report', display: '{{type}} {{seconds}} s ({{review_state}})',
      note: 'Computed by the processor; operators override or void them. A recompute replaces only computed rows',
      fields: [
        intId(),
        ENTRY(),
        m2o('stage_id', 'stages', { required: false, template: '{{name}}', note: 'the scope a recompute replaces' }),
        m2o('segment_id', 'segments', { required: false }),
        choice('type', PENALTY_TYPES),
        str('penalty_key', { required: true, max: 200, note: 'the processor\'s natural key of the offence (unique per entry)' }),
        m2o('formula_id', 'penalty_formulas', { required: false, onDelete: 'SET NULL' }),
        json('formula_snapshot', { note: 'the formula as it was applied' }),
        json('inputs', { note: 'what it was applied to: peak speed, counts...' }),
        num('seconds', { required: true, min: 0 }),
        stamp('computed_at', { note: 'set by the database' }),
        choice('review_state', REVIEW_STATES, { fallback: 'computed' }),
        num('override_seconds', { min: 0, note: 'required when overridden' }),
        text('override_reason', { note: 'required when overridden or void' }),
        m2o('overridden_by', 'directus_users', { type: 'uuid', required: false, onDelete: 'SET NULL', template: '{{first_name}} {{last_name}}' }),
        stamp('overridden_at', { note: 'set by the database' }),
      ],
    },
    {
      name: 'stage_results', icon: 'emoji_events', display: '{{position_overall}}. {{total_seconds}} s ({{status}})',
      note: 'One row per entry and stage, written by the processor; official rows are frozen',
      fields: [
        intId(),
        ENTRY(),
        m2o('stage_id', 'stages', { template: '{{name}}' }),
        timestamp('started_at'),
        timestamp('finished_at'),
        num('elapsed_seconds', { min: 0 }),
        num('penalty_seconds', { min: 0, fallback: 0 }),
        num('total_seconds', { min: 0 }),
        num('position_overall', { min: 1 }),
        num('position_in_class', { min: 1 }),
        choice('status', RESULT_STATUS, { fallback: 'provisional' }),
        stamp('published_at', { note: 'set by the database when the row turns official' }),
      ],
    },
  ],
};

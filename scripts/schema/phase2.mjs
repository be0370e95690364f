// Phase 2: the course definition (stages, segments, geofences, waypoints, speed-limit zones), on
// PostGIS in WGS 84. Names as published (plan NAMES.md "Phase 2"); the design and its reasons are in
// snapshots/README.md. Composite uniques, GiST indexes and geometry rules: db-init-post/004_course.sql.
import { intId, str, timestamp, choice, m2o } from './lib.mjs';
import { num, bool, json, geometry } from './course-fields.mjs';

export const STAGE_ROLES = ['prologue', 'stage', 'marathon', 'super-special'];
export const STAGE_STATUS = ['planned', 'open', 'closed'];
export const START_ORDER = ['manual', 'previous_stage_clean_result', 'inverse_top_n_then_natural', 'inverse_of_overall'];
export const SEGMENT_TYPES = ['liaison', 'special-stage', 'parc-ferme'];
export const GEOFENCE_KINDS = ['start', 'finish', 'checkpoint', 'waypoint', 'refuel', 'parc-ferme', 'bivouac', 'neutralisation', 'danger', 'other'];

const EVENT = () => m2o('event_id', 'events', { template: '{{name}}' });
const SEGMENT = (opts = {}) => m2o('segment_id', 'segments', { template: '{{stage_id.name}} #{{sort_order}} {{type}}', ...opts });

export default {
  name: 'phase2',
  collections: [
    {
      name: 'stages', icon: 'route', display: '{{sort_order}}. {{name}}', sortField: 'sort_order',
      note: 'A day of the rally: its start procedure, and a status the stage-open materializer reacts to',
      fields: [
        intId(),
        EVENT(),
        str('name', { required: true }),
        num('sort_order', { required: true, min: 0, note: 'order within the event (unique)' }),
        choice('role', STAGE_ROLES, { fallback: 'stage' }),
        timestamp('starts_at', { note: 'first start of the day' }),
        num('start_interval_seconds', { min: 0, fallback: 60, note: 'between two consecutive starters' }),
        choice('start_order_strategy', START_ORDER, { fallback: 'manual' }),
        json('start_order_strategy_params', { note: 'e.g. {"top_n": 15} for inverse_top_n_then_natural' }),
        m2o('start_order_input_stage_id', 'stages', { required: false, template: '{{name}}', note: 'the stage whose result orders this start (same event)' }),
        choice('status', STAGE_STATUS, { fallback: 'planned', note: 'open: starts are materialized; closed: results may be published' }),
      ],
    },
    {
      name: 'geofences', icon: 'pentagon', display: '{{name}} ({{kind}})',
      note: 'Polygons of the course (start, finish, checkpoints...); the processor emits entry/exit crossings',
      fields: [
        intId(),
        EVENT(),
        str('name', { required: true }),
        choice('kind', GEOFENCE_KINDS, { fallback: 'checkpoint' }),
        geometry('geometry', 'Polygon', { note: 'WGS 84; a valid polygon with a closed ring (the database refuses others)' }),
        bool('manual_verification', { note: 'crossings need a marshal to confirm them' }),
        bool('retroactive', { note: 'a change reprocesses positions already received' }),
        bool('active', { fallback: true, note: 'the processor only checks active geofences' }),
      ],
    },
    {
      name: 'segments', icon: 'timeline', display: '{{sort_order}}. {{type}}', sortField: 'sort_order',
      note: 'A piece of a stage, from its entry geofence to its exit geofence',
      fields: [
        intId(),
        // A segment means nothing without its stage: it goes with it.
        m2o('stage_id', 'stages', { onDelete: 'CASCADE', template: '{{name}}' }),
        num('sort_order', { required: true, min: 0, note: 'order within the stage (unique)' }),
        choice('type', SEGMENT_TYPES, { fallback: 'liaison' }),
        m2o('entry_geofence_id', 'geofences', { template: '{{name}}' }),
        m2o('exit_geofence_id', 'geofences', { template: '{{name}}' }),
        num('target_duration_seconds', { min: 0, note: 'ideal time (liaisons), or the maximum allowed' }),
      ],
    },
    {
      name: 'waypoints', icon: 'place', display: '#{{sort_order}}', sortField: 'sort_order',
      note: 'Roadbook waypoints a crew must pass within the tolerance',
      fields: [
        intId(),
        SEGMENT({ onDelete: 'CASCADE' }),
        geometry('location', 'Point', { note: 'WGS 84' }),
        num('tolerance_meters', { required: true, min: 1, fallback: 90 }),
        num('sort_order', { required: true, min: 0, note: 'order within the segment (unique)' }),
      ],
    },
    {
      name: 'speed_limit_zones', icon: 'speed', display: '{{name}} ({{speed_limit_kmh}} km/h)',
      note: 'Villages and controlled zones; the penalty comes from the penalty formulas (Supplementary Regulations)',
      fields: [
        intId(),
        SEGMENT({ onDelete: 'CASCADE' }),
        str('name', { required: true }),
        geometry('geometry', 'Polygon', { note: 'WGS 84; a valid polygon with a closed ring' }),
        num('speed_limit_kmh', { required: true, min: 1 }),
        bool('retroactive', { note: 'a change reprocesses positions already received' }),
        bool('active', { fallback: true, note: 'the processor only checks active zones' }),
      ],
    },
  ],
};

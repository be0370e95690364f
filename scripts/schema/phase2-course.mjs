// Phase 2: the course definition (stages, segments, geofences, waypoints, speed-limit zones), on
// PostGIS in WGS 84. Field names: /work/plan/NAMES.md; reasons: snapshots/README.md.
// Composite uniques, GiST indexes and validity rules live in db-init-post/002_course.sql.
import { intId, str, text, int, bool, timestamp, json, choice, geometry, m2o } from './course-builders.mjs';

export const STAGE_ROLES = ['prologue', 'stage', 'marathon', 'super-special'];
export const STAGE_STATUS = ['planned', 'open', 'closed'];
export const START_ORDER = ['manual', 'previous_stage_clean_result', 'inverse_top_n_then_natural', 'inverse_of_overall'];
export const SEGMENT_TYPES = ['liaison', 'special-stage', 'parc-ferme'];
export const GEOFENCE_KINDS = ['start', 'finish', 'checkpoint', 'waypoint', 'refuel', 'parc-ferme', 'bivouac', 'neutralisation', 'danger', 'other'];

const EVENT = () => m2o('event_id', 'events', { template: '{{name}}' });

export const collections = [
  {
    name: 'stages', icon: 'route', sort: 'sort_order', display: '{{sort_order}}. {{name}}',
    note: 'A day of the rally: its start procedure, and a status the stage-open materializer reacts to.',
    fields: [
      intId(),
      str('name', { required: true }),
      int('sort_order', { required: true, min: 0, note: 'order within the event (unique)' }),
      choice('role', STAGE_ROLES, { fallback: 'stage' }),
      timestamp('starts_at', { note: 'first start of the day' }),
      int('start_interval_seconds', { min: 0, fallback: 60, note: 'between two consecutive starters' }),
      choice('start_order_strategy', START_ORDER, { fallback: 'manual' }),
      json('start_order_strategy_params', { note: 'e.g. {"top_n": 15} for inverse_top_n_then_natural' }),
      choice('status', STAGE_STATUS, { fallback: 'planned', note: 'open: starts are materialized; closed: results may be published' }),
    ],
    m2o: [
      EVENT(),
      m2o('start_order_input_stage_id', 'stages', { required: false, template: '{{name}}', note: 'the stage whose result orders this start' }),
    ],
  },
  {
    name: 'geofences', icon: 'pentagon', display: '{{name}} ({{kind}})',
    note: 'Polygons of the course (start, finish, checkpoints...). The processor emits entry/exit crossings.',
    fields: [
      intId(),
      str('name', { required: true }),
      choice('kind', GEOFENCE_KINDS, { fallback: 'checkpoint' }),
      geometry('geometry', 'Polygon', { note: 'WGS 84; a valid, closed ring (the database refuses others)' }),
      bool('manual_verification', { note: 'crossings need a marshal to confirm them' }),
      bool('retroactive', { note: 'a change reprocesses positions already received' }),
      bool('active', { fallback: true, note: 'the processor only checks active geofences' }),
    ],
    m2o: [EVENT()],
  },
  {
    name: 'segments', icon: 'timeline', sort: 'sort_order', display: '{{sort_order}}. {{type}}',
    note: 'A piece of a stage between an entry and an exit geofence.',
    fields: [
      intId(),
      int('sort_order', { required: true, min: 0, note: 'order within the stage (unique)' }),
      choice('type', SEGMENT_TYPES, { fallback: 'liaison' }),
      int('target_duration_seconds', { min: 0, note: 'ideal time (liaisons), or the maximum time allowed' }),
    ],
    m2o: [
      m2o('stage_id', 'stages', { onDelete: 'CASCADE', template: '{{name}}' }),
      m2o('entry_geofence_id', 'geofences', { template: '{{name}}' }),
      m2o('exit_geofence_id', 'geofences', { template: '{{name}}' }),
    ],
  },
  {
    name: 'waypoints', icon: 'place', sort: 'sort_order', display: '{{sort_order}}',
    note: 'Roadbook waypoints a crew must pass within the tolerance.',
    fields: [
      intId(),
      geometry('location', 'Point', { note: 'WGS 84' }),
      int('tolerance_meters', { required: true, min: 1, fallback: 90 }),
      int('sort_order', { required: true, min: 0, note: 'order within the segment (unique)' }),
    ],
    m2o: [m2o('segment_id', 'segments', { onDelete: 'CASCADE', template: '{{sort_order}}. {{type}}' })],
  },
  {
    name: 'speed_limit_zones', icon: 'speed', display: '{{name}} ({{speed_limit_kmh}} km/h)',
    note: 'Villages and controlled zones; the penalty comes from the event\'s penalty formulas.',
    fields: [
      intId(),
      str('name', { required: true }),
      geometry('geometry', 'Polygon', { note: 'WGS 84; a valid, closed ring' }),
      int('speed_limit_kmh', { required: true, min: 1 }),
      bool('retroactive', { note: 'a change reprocesses positions already received' }),
      bool('active', { fallback: true, note: 'the processor only checks active zones' }),
    ],
    m2o: [m2o('segment_id', 'segments', { onDelete: 'CASCADE', template: '{{sort_order}}. {{type}}' })],
  },
];

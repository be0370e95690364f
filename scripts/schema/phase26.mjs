// Issue 26: the course as a roadbook's OpenRally GPX gives it (extensions/src/course-gpx, README
// "Course import and export"). Fields only, on phase 2's collections:
//   waypoints          kind (the OpenRally control element: wpm, wps, wpe, wpc, wpv, dss, ass, dz, fz,
//                      timecontrol, checkpoint, neutralization, stop), name, open radius, the roadbook
//                      distance and the roadbook facts TRM does not time (danger, cap, allowed minutes...);
//   stages             track: the roadbook's track, along which speed zones are built;
//   speed_limit_zones  the dz and fz waypoints a zone runs between.
// The tolerance stays tolerance_meters (the clear radius). The numbering follows the issue, so phases
// added by other work in between keep their own numbers.
// Also issue 26: penalty_formula_versions, the immutable versions of a formula's brackets (one
// formula = an owner's brackets of one penalty type), made by the database on every change of them
// (db-init-post/020) with the effective time and the regulation reference; nobody writes one directly.
import { intId, str, text, choice, m2o } from './lib.mjs';
import { json, decimal, num, stamp } from './course-fields.mjs';
import { OWNER_TYPES, PENALTY_TYPES } from './phase3.mjs';

export const WAYPOINT_KINDS = ['wpm', 'wps', 'wpe', 'wpc', 'wpv', 'dss', 'ass', 'dz', 'fz', 'timecontrol', 'checkpoint', 'neutralization', 'stop'];

const kind = {
  field: 'kind', type: 'string',
  meta: {
    interface: 'select-dropdown', display: 'labels', required: true, width: 'half',
    note: 'the OpenRally control: wpm masked, wps safety, wpe eclipse, wpc control, wpv visible, dss/ass special stage start/finish, dz/fz speed zone start/finish',
    options: { choices: WAYPOINT_KINDS.map((v) => ({ text: v, value: v })) },
    validation: { _and: [{ kind: { _in: WAYPOINT_KINDS } }] },
    validation_message: `one of: ${WAYPOINT_KINDS.join(', ')}`,
  },
  schema: { max_length: 32, is_nullable: false, default_value: 'wpm' },
};

const track = {
  field: 'track', type: 'geometry.LineString',
  meta: {
    interface: 'map', required: false, width: 'full', note: 'the roadbook track (WGS 84); speed zones are built along it',
    options: { geometryType: 'LineString', defaultView: { center: { lng: 20.0, lat: 41.1 }, zoom: 7, bearing: 0, pitch: 0 } },
  },
  schema: { is_nullable: true },
};

const zoneEnd = (field, what) => m2o(field, 'waypoints', { required: false, onDelete: 'SET NULL', template: '{{name}} ({{kind}})', note: `the ${what} waypoint the zone runs from or to` });

const formulaVersions = {
  name: 'penalty_formula_versions', icon: 'history', display: '{{type}} v{{version}} ({{effective_from}})',
  note: 'The versions of a formula\'s brackets, one immutable row per change, made by the database (db-init-post/020)',
  fields: [
    intId(),
    m2o('event_id', 'events', { template: '{{name}}', onDelete: 'CASCADE', note: 'the formula\'s event (a version goes only with its event)' }),
    choice('belongs_to_type', OWNER_TYPES, { note: 'the formula\'s owner, as in penalty_formulas' }),
    num('belongs_to_id', { required: true, note: 'the owner\'s id' }),
    choice('type', PENALTY_TYPES, { note: 'the penalty type: with the owner, names the formula' }),
    num('version', { required: true, min: 1, note: 'set by the database: 1, 2, ... per formula' }),
    json('brackets', { required: true, note: 'the formula\'s enabled brackets as trm_penalty reads them (every column of each penalty_formulas row)' }),
    stamp('effective_from', { note: 'from when the regulation applies it: X-TRM-Effective-From, else the change\'s time' }),
    str('regulation_article', { max: 100, note: 'the article of the regulations (X-TRM-Regulation-Article)' }),
    str('regulation_document', { max: 500, note: 'the document: X-TRM-Regulation-Document, else the event\'s regulation_doc_url' }),
    text('reason', { note: 'why the brackets changed (X-TRM-Reason)' }),
    stamp('created_at', { note: 'set by the database' }),
    m2o('created_by', 'directus_users', { type: 'uuid', required: false, template: '{{first_name}} {{last_name}}', note: 'set by the database: the Directus user who changed the brackets' }),
    str('created_by_role', { max: 100, note: 'set by the database: the database role of the change' }),
  ],
};

// The formula's item page shows what a change of its brackets would do (extensions/src/penalty-preview,
// interface trm-penalty-preview): a presentation field, no column.
const preview = {
  field: 'preview', type: 'alias',
  meta: { interface: 'trm-penalty-preview', special: ['alias', 'no-data'], width: 'full', note: 'what a change of these brackets would do, before it is made' },
};

export default {
  name: 'phase26',
  collections: [formulaVersions],
  extraFields: {
    waypoints: [
      kind,
      str('name', { note: 'the roadbook\'s name of the point' }),
      num('open_radius_meters', { min: 1, note: 'OpenRally open radius: where the navigation aid opens' }),
      decimal('roadbook_km', { note: 'the roadbook distance of the point (km)' }),
      json('roadbook', { note: 'OpenRally facts TRM does not time: danger, cap, allowed minutes, neutralization seconds...' }),
    ],
    stages: [track],
    speed_limit_zones: [zoneEnd('start_waypoint_id', 'dz'), zoneEnd('end_waypoint_id', 'fz')],
    penalty_formulas: [preview],
  },
};

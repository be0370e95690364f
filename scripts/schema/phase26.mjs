// Issue 26: the course as a roadbook's OpenRally GPX gives it (extensions/src/course-gpx, README
// "Course import and export"). Fields only, on phase 2's collections:
//   waypoints          kind (the OpenRally control element: wpm, wps, wpe, wpc, wpv, dss, ass, dz, fz,
//                      timecontrol, checkpoint, neutralization, stop), name, open radius, the roadbook
//                      distance and the roadbook facts TRM does not time (danger, cap, allowed minutes...);
//   stages             track: the roadbook's track, along which speed zones are built;
//   speed_limit_zones  the dz and fz waypoints a zone runs between.
// The tolerance stays tolerance_meters (the clear radius). The numbering follows the issue, so phases
// added by other work in between keep their own numbers.
import { str, m2o } from './lib.mjs';
import { json, decimal, num } from './course-fields.mjs';

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

export default {
  name: 'phase26',
  collections: [],
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
  },
};

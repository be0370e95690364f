// Phase 4 (issue 14): what the permissions need from the schema. The access file
// (snapshots/access.yaml) checks "the current user holds role R in the organisation that owns this
// row" with relational filters, which walk one-to-many relations only through alias fields:
//   organizations.organization_users  the organisation's memberships (filters: `org:` in access.yaml)
//   directus_users.organization_users a user's memberships ($CURRENT_USER.organization_users... in
//                                     create validations; an org-admin reads its members' accounts)
//   organizations.events, events.entries  the organisation's events and their entries (create validations)
//   events.stages, stages.segments    the course of an event (create validations of the course)
//   directus_users.crews              the entry_crew rows of a user: "my entries" ($CURRENT_USER.crews.entry_id,
//                                     a participant's own penalties, crossings and results)
//   vehicles.organization_vehicles, devices.organization_devices  which organisations a vehicle /
//                                     device is registered with (shared rows, reached through them)
// and a marshal's notes on entries (CONTEXT.md "Phase 4": marshals write notes on entries).
import { m2o, o2m, text } from './lib.mjs';

// Directus 11.17.4 cannot filter through a many-to-one and then a one-to-many (`event_id.organization_id.
// organization_users._some` is refused: "_some can only be used with top level relational alias
// field"), and a `_some` with two conditions (user AND role) compiles to nothing. So a membership also
// names its user in the column of its role (kept by a trigger, db-init-post/006), and each of those
// columns is listed on directus_users: `$CURRENT_USER.org_admin_of.organization_id` is the set of
// organisations where the current user is org-admin, usable in any filter and in create validations.
export const ROLE_COLUMNS = [
  ['org-admin', 'org_admin_user_id', 'org_admin_of'],
  ['race-director', 'race_director_user_id', 'race_director_of'],
  ['marshal', 'marshal_user_id', 'marshal_of'],
  ['timekeeper', 'timekeeper_user_id', 'timekeeper_of'],
  ['participant', 'participant_user_id', 'participant_of'],
  ['viewer', 'viewer_user_id', 'viewer_of'],
];
const roleColumn = ([role, column, alias]) => {
  const m = m2o(column, 'directus_users', { type: 'uuid', required: false, onDelete: 'SET NULL', oneField: alias, note: `user_id when role = ${role} (set by a trigger)` });
  return { ...m, field: { ...m.field, meta: { ...m.field.meta, hidden: true, readonly: true } } };
};

// [many collection, its foreign key, the one collection, the alias there, ON DELETE]. Directus re-creates
// the foreign key when a relation is updated: the payload repeats the relation and its ON DELETE rule.
const ALIASES = [
  ['organization_users', 'organization_id', 'organizations', 'organization_users'],
  ['organization_users', 'user_id', 'directus_users', 'organization_users'],
  ['events', 'organization_id', 'organizations', 'events'],
  ['entries', 'event_id', 'events', 'entries'],
  ['organization_vehicles', 'vehicle_id', 'vehicles', 'organization_vehicles'],
  ['organization_devices', 'device_id', 'devices', 'organization_devices'],
  ['entry_crew', 'user_id', 'directus_users', 'crews'],
  ['stages', 'event_id', 'events', 'stages'],
  ['segments', 'stage_id', 'stages', 'segments', 'CASCADE'],
];

export default {
  name: 'phase4',
  collections: [],
  extraFields: {
    organizations: [
      o2m('organization_users', { template: '{{user_id.email}} ({{role}})', note: 'members and their roles' }),
      o2m('events', { template: '{{name}}' }),
    ],
    directus_users: [
      o2m('organization_users', { template: '{{organization_id.name}} ({{role}})', note: 'organisations and roles' }),
      o2m('crews', { template: '{{entry_id.race_number}} ({{role}})', note: 'entries this user is crew of' }),
      ...ROLE_COLUMNS.map(([role, , alias]) => ({ ...o2m(alias, { note: `memberships as ${role}` }), meta: { ...o2m(alias).meta, hidden: true, readonly: true } })),
    ],
    organization_users: ROLE_COLUMNS.map(roleColumn),
    events: [o2m('entries', { template: '#{{race_number}}' }), o2m('stages', { template: '{{sort_order}}. {{name}}' })],
    stages: [o2m('segments', { template: '{{sort_order}}. {{type}}' })],
    vehicles: [o2m('organization_vehicles', { template: '{{organization_id.name}}', note: 'organisations it is registered with' })],
    devices: [o2m('organization_devices', { template: '{{organization_id.name}}', note: 'organisations it is registered with' })],
    entries: [text('notes', { note: 'marshals write here during the event' })],
  },
  after: async (call, log) => {
    for (const [many, field, one, alias, onDelete = 'RESTRICT'] of ALIASES) {
      await call('PATCH', `/relations/${many}/${field}`, {
        collection: many, field, related_collection: one,
        meta: { one_field: alias },
        schema: { on_delete: onDelete, on_update: 'NO ACTION' },
      });
      log(`[phase4] ${many}.${field} listed as ${alias}`);
    }
  },
};

// Phase 4 (issue 14): what the permissions need from the schema. The access file
// (snapshots/access.yaml) checks "the current user holds role R in the organisation that owns this
// row" with relational filters, which walk one-to-many relations only through alias fields:
//   organizations.organization_users  the organisation's memberships (filters: `org:` in access.yaml)
//   directus_users.organization_users a user's memberships ($CURRENT_USER.organization_users... in
//                                     create validations; an org-admin reads its members' accounts)
//   organizations.events, events.entries  the organisation's events and their entries (create validations)
//   vehicles.organization_vehicles, devices.organization_devices  which organisations a vehicle /
//                                     device is registered with (shared rows, reached through them)
// and a marshal's notes on entries (CONTEXT.md "Phase 4": marshals write notes on entries).
import { o2m, text } from './lib.mjs';

// [many collection, its foreign key, the one collection, the alias there]. Directus re-creates the
// foreign key when a relation is updated: the payload repeats the relation and its ON DELETE RESTRICT.
const ALIASES = [
  ['organization_users', 'organization_id', 'organizations', 'organization_users'],
  ['organization_users', 'user_id', 'directus_users', 'organization_users'],
  ['events', 'organization_id', 'organizations', 'events'],
  ['entries', 'event_id', 'events', 'entries'],
  ['organization_vehicles', 'vehicle_id', 'vehicles', 'organization_vehicles'],
  ['organization_devices', 'device_id', 'devices', 'organization_devices'],
];

export default {
  name: 'phase4',
  collections: [],
  extraFields: {
    organizations: [
      o2m('organization_users', { template: '{{user_id.email}} ({{role}})', note: 'members and their roles' }),
      o2m('events', { template: '{{name}}' }),
    ],
    directus_users: [o2m('organization_users', { template: '{{organization_id.name}} ({{role}})', note: 'organisations and roles' })],
    events: [o2m('entries', { template: '#{{race_number}}' })],
    vehicles: [o2m('organization_vehicles', { template: '{{organization_id.name}}', note: 'organisations it is registered with' })],
    devices: [o2m('organization_devices', { template: '{{organization_id.name}}', note: 'organisations it is registered with' })],
    entries: [text('notes', { note: 'marshals write here during the event' })],
  },
  after: async (call, log) => {
    for (const [many, field, one, alias] of ALIASES) {
      await call('PATCH', `/relations/${many}/${field}`, {
        collection: many, field, related_collection: one,
        meta: { one_field: alias },
        schema: { on_delete: 'RESTRICT', on_update: 'NO ACTION' },
      });
      log(`[phase4] ${many}.${field} listed as ${alias}`);
    }
  },
};

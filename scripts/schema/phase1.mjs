// Phase 1 (slice 1): organizations, their members, vehicles and devices; events, classes, entries,
// crews and the devices an entry carries. Names as published (CONTEXT.md "Phase 1 as published",
// plan NAMES.md): foreign keys `<thing>_id`, UUID keys for organizations, vehicles and devices.
// Composite uniques live in db-init-post/ (the snapshot format only knows single-column ones).
import { intId, uuidId, str, text, int, date, timestamp, choice, m2o, o2m } from './lib.mjs';

export const ORG_ROLES = ['org-admin', 'race-director', 'marshal', 'timekeeper', 'participant', 'viewer'];
export const DISCIPLINES = ['rally', 'time-trial', 'regatta', 'trail-run', 'hike'];
export const CREW_ROLES = ['pilot', 'co-pilot', 'navigator', 'mechanic', 'rider', 'runner', 'hiker'];
export const VEHICLE_KINDS = ['car', 'motorcycle', 'quad', 'ssv', 'truck', 'boat', 'none'];

// The life of an entry in a rally raid, in order. Only `registered` (where an entry starts) and
// `withdrawn` (the archive value) were published; the six between follow how a rally runs:
//   registered    - the form is in; nothing checked yet
//   confirmed     - the organizer accepted it (fee paid, documents checked)
//   scrutineered  - passed technical and administrative scrutineering: allowed to start
//   started       - took the start of the first stage
//   finished      - reached the final finish, classified
//   retired       - stopped during the event (DNF); stays visible in results
//   disqualified  - excluded by the stewards (DSQ); stays visible in results
//   withdrawn     - cancelled before the start; archived (hidden from the default list)
export const ENTRY_STATUS = ['registered', 'confirmed', 'scrutineered', 'started', 'finished', 'retired', 'disqualified', 'withdrawn'];

const ORG = () => m2o('organization_id', 'organizations', { type: 'uuid', template: '{{name}}' });
const USER = (field = 'user_id', opts = {}) => m2o(field, 'directus_users', { type: 'uuid', template: '{{first_name}} {{last_name}} {{email}}', ...opts });
const VEHICLE_T = '{{make}} {{model}} {{plate}}';
const DEVICE_T = '{{model}} — {{imei}}';

export default {
  name: 'phase1',
  collections: [
    {
      name: 'organizations', icon: 'corporate_fare', display: '{{name}}',
      note: 'A club or company that runs events (shown sorted by name)',
      fields: [uuidId(), str('name', { required: true }), str('slug', { required: true, unique: true, note: 'lower-case, used in URLs' })],
    },
    {
      name: 'organization_users', icon: 'badge', display: '{{user_id.email}} {{role}}',
      note: 'Who belongs to an organization, and with which role (one row per organization and user)',
      fields: [intId(), ORG(), USER(), choice('role', ORG_ROLES)],
    },
    {
      name: 'vehicles', icon: 'directions_car', display: VEHICLE_T,
      fields: [
        uuidId(), str('make', { required: true }), str('model', { required: true }), int('year', { min: 1900, max: 2100 }),
        int('cc', { note: 'engine displacement, cm³', min: 0 }), str('vin', { max: 32 }), str('plate', { max: 32 }),
      ],
    },
    {
      name: 'organization_vehicles', icon: 'garage', display: '{{vehicle_id.make}} {{vehicle_id.model}} {{vehicle_id.plate}}',
      note: 'Vehicles registered with an organization',
      fields: [intId(), ORG(), m2o('vehicle_id', 'vehicles', { type: 'uuid', template: VEHICLE_T }), timestamp('registered_at', { now: true, note: 'when the vehicle was registered with the organization (now when left empty)' })],
    },
    {
      name: 'devices', icon: 'gps_fixed', display: DEVICE_T,
      note: 'GPS trackers and panic buttons; the IMEI is what the positions carry',
      fields: [uuidId(), str('imei', { required: true, unique: true, max: 32, note: '15 digits, as the tracker reports it' }), str('model', { required: true, note: 'e.g. Teltonika FMB920' })],
    },
    {
      name: 'organization_devices', icon: 'devices', display: '{{device_id.model}} — {{device_id.imei}}',
      note: 'Devices registered with an organization',
      fields: [intId(), ORG(), m2o('device_id', 'devices', { type: 'uuid', template: DEVICE_T }), timestamp('registered_at', { now: true, note: 'when the device was registered with the organization (now when left empty)' })],
    },
    {
      name: 'events', icon: 'flag', display: '{{name}}',
      fields: [
        intId(), ORG(), str('name', { required: true }), str('slug', { required: true, note: 'unique within the organization' }),
        choice('discipline', DISCIPLINES), timestamp('starts_at', { required: true }), timestamp('ends_at', { required: true }),
        str('timezone', { max: 64, note: 'IANA time zone of the venue, e.g. Europe/Tirane' }),
        str('regulation_doc_url', { max: 2048, note: 'the regulations (link)' }), text('notes'),
        o2m('classes', { template: '{{code}} {{name}}' }),
      ],
    },
    {
      name: 'classes', icon: 'category', display: '{{code}} {{name}}', sortField: 'sort_order',
      fields: [
        intId(), m2o('event_id', 'events', { template: '{{name}}', oneField: 'classes' }),
        str('code', { required: true, max: 32, note: 'e.g. M-1; unique within the event' }), str('name', { required: true }),
        text('description', { note: 'eligibility rules, as the regulations state them' }), int('sort_order'),
        choice('vehicle_kind', VEHICLE_KINDS, { required: false, note: 'none: foot races' }),
      ],
    },
    {
      name: 'entries', icon: 'confirmation_number', display: '#{{race_number}}',
      archive: { field: 'status', value: 'withdrawn', unarchive: 'registered' },
      fields: [
        intId(), m2o('event_id', 'events', { template: '{{name}}' }), int('race_number', { required: true, note: 'unique within the event' }),
        m2o('class_id', 'classes', { template: '{{code}} {{name}}' }),
        m2o('vehicle_id', 'vehicles', { type: 'uuid', required: false, template: VEHICLE_T, note: 'empty for foot races' }),
        choice('status', ENTRY_STATUS, { fallback: 'registered' }),
        o2m('crew', { template: '{{user_id.first_name}} {{user_id.last_name}} ({{role}})' }),
        o2m('devices', { template: '{{device_id.model}} — {{device_id.imei}}' }),
      ],
    },
    {
      name: 'entry_crew', icon: 'groups', display: '{{user_id.first_name}} {{user_id.last_name}} ({{role}})',
      fields: [intId(), m2o('entry_id', 'entries', { template: '#{{race_number}}', oneField: 'crew' }), USER(), choice('role', CREW_ROLES)],
    },
    {
      name: 'entry_devices', icon: 'sensors', display: '{{device_id.model}} — {{device_id.imei}}',
      note: 'Devices an entry carries; a body-worn one (panic button) names the crew member wearing it',
      fields: [
        intId(), m2o('entry_id', 'entries', { template: '#{{race_number}}', oneField: 'devices' }),
        m2o('device_id', 'devices', { type: 'uuid', template: DEVICE_T }),
        USER('assigned_user_id', { required: false, onDelete: 'SET NULL', note: 'who wears it (body-worn devices)' }),
      ],
    },
  ],
  extraFields: {
    directus_users: [
      str('phone', { max: 32, note: 'international format, e.g. +355 69 123 4567' }),
      date('birth_date'),
      str('nationality', {
        max: 2, note: 'ISO 3166-1 alpha-2',
        validation: { _and: [{ nationality: { _regex: '^[A-Z]{2}$' } }] }, message: 'two capital letters (ISO 3166-1 alpha-2)',
      }),
    ],
  },
};

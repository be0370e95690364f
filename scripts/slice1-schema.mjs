// Creates the slice-1 collections (CONTEXT.md) in a running Directus through its REST API.
// Used by scripts/make-snapshot.sh; the snapshot is then taken by `directus schema snapshot`.
// Env: DIRECTUS_URL (default http://127.0.0.1:8055), ADMIN_EMAIL, ADMIN_PASSWORD.
const base = process.env.DIRECTUS_URL ?? 'http://127.0.0.1:8055';

async function call(method, path, body, token) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

// ---- field builders -------------------------------------------------------------------------------
const intId = () => ({
  field: 'id', type: 'integer',
  meta: { hidden: true, readonly: true, interface: 'input' },
  schema: { is_primary_key: true, has_auto_increment: true },
});
const uuidId = () => ({
  field: 'id', type: 'uuid',
  meta: { hidden: true, readonly: true, interface: 'input', special: ['uuid'] },
  schema: { is_primary_key: true, length: 36, has_auto_increment: false },
});
const str = (field, { required = false, unique = false, max = 255, note = null, validation = null, message = null } = {}) => ({
  field, type: 'string',
  meta: { interface: 'input', required, note, validation, validation_message: message, width: 'half' },
  schema: { max_length: max, is_nullable: !required, is_unique: unique },
});
const int = (field, { required = false } = {}) => ({
  field, type: 'integer',
  meta: { interface: 'input', required, width: 'half' },
  schema: { is_nullable: !required },
});
const date = (field, { required = false } = {}) => ({
  field, type: 'date',
  meta: { interface: 'datetime', required, width: 'half' },
  schema: { is_nullable: !required },
});
const timestamp = (field, { required = false } = {}) => ({
  field, type: 'timestamp',
  meta: { interface: 'datetime', required, width: 'half' },
  schema: { is_nullable: !required },
});
// An enum: a dropdown of choices, enforced by a validation rule.
const choice = (field, values, { required = true, fallback = null } = {}) => ({
  field, type: 'string',
  meta: {
    interface: 'select-dropdown',
    display: 'labels',
    required,
    width: 'half',
    options: { choices: values.map((v) => ({ text: v, value: v })) },
    validation: { _and: [{ [field]: { _in: values } }] },
    validation_message: `one of: ${values.join(', ')}`,
  },
  schema: { max_length: 32, is_nullable: !required, default_value: fallback },
});
// A many-to-one: the column, then its relation. `type` follows the related primary key.
const m2o = (field, related, { required = true, onDelete = 'RESTRICT', type = 'integer', template = null } = {}) => ({
  field: {
    field, type,
    meta: {
      interface: 'select-dropdown-m2o', special: ['m2o'], required, width: 'half',
      display: 'related-values', display_options: template ? { template } : null,
    },
    schema: { is_nullable: !required },
  },
  relation: {
    field, related_collection: related,
    meta: { one_deselect_action: 'nullify' },
    schema: { on_delete: onDelete, on_update: 'NO ACTION' },
  },
});

const ORG = () => m2o('organization', 'organizations', { type: 'uuid', template: '{{name}}' });
const USER = (field = 'user', opts = {}) => m2o(field, 'directus_users', { type: 'uuid', template: '{{first_name}} {{last_name}}', ...opts });

const ENTRY_STATUS = ['registered', 'confirmed', 'started', 'finished', 'retired', 'disqualified', 'withdrawn'];

// ---- the slice-1 model ----------------------------------------------------------------------------
const collections = [
  { name: 'organizations', icon: 'corporate_fare', fields: [uuidId(), str('name', { required: true }), str('slug', { required: true, unique: true })], display: '{{name}}' },
  { name: 'organization_users', icon: 'badge', fields: [intId(), choice('role', ['org-admin', 'race-director', 'marshal', 'timekeeper', 'participant', 'viewer'])], m2o: [ORG(), USER()] },
  { name: 'vehicles', icon: 'directions_car', fields: [intId(), str('make', { required: true }), str('model', { required: true }), int('year'), int('cc'), str('vin', { max: 32 }), str('plate', { max: 32 })], display: '{{make}} {{model}} {{plate}}' },
  { name: 'organization_vehicles', icon: 'garage', fields: [intId()], m2o: [ORG(), m2o('vehicle', 'vehicles')] },
  { name: 'devices', icon: 'gps_fixed', fields: [intId(), str('imei', { required: true, unique: true, max: 32 }), str('model', { required: true })], display: '{{imei}}' },
  { name: 'organization_devices', icon: 'devices', fields: [intId()], m2o: [ORG(), m2o('device', 'devices', { template: '{{imei}}' })] },
  { name: 'events', icon: 'flag', fields: [intId(), str('name', { required: true }), str('slug', { required: true }), choice('discipline', ['rally', 'time-trial', 'regatta', 'trail-run', 'hike']), timestamp('starts_at', { required: true }), timestamp('ends_at', { required: true }), str('timezone', { max: 64, note: 'IANA time zone, e.g. Europe/Tirane' })], m2o: [ORG()], display: '{{name}}' },
  { name: 'classes', icon: 'category', fields: [intId(), str('code', { required: true, max: 32 }), str('name', { required: true }), choice('vehicle_kind', ['car', 'motorcycle', 'quad', 'ssv', 'truck', 'boat', 'none'], { required: false })], m2o: [m2o('event', 'events', { template: '{{name}}' })], display: '{{code}} {{name}}' },
  { name: 'entries', icon: 'confirmation_number', fields: [intId(), int('race_number', { required: true }), choice('status', ENTRY_STATUS, { fallback: 'registered' })], m2o: [m2o('event', 'events', { template: '{{name}}' }), m2o('class', 'classes', { template: '{{code}}' }), m2o('vehicle', 'vehicles', { required: false })], display: '#{{race_number}}', archive: { field: 'status', value: 'withdrawn', unarchive: 'registered' } },
  { name: 'entry_crew', icon: 'groups', fields: [intId(), choice('role', ['pilot', 'co-pilot', 'navigator', 'mechanic', 'rider', 'runner', 'hiker'])], m2o: [m2o('entry', 'entries'), USER()] },
  { name: 'entry_devices', icon: 'sensors', fields: [intId()], m2o: [m2o('entry', 'entries'), m2o('device', 'devices', { template: '{{imei}}' }), USER('assigned_user', { required: false, onDelete: 'SET NULL' })] },
];

const userFields = [
  str('phone', { max: 32 }),
  date('birth_date'),
  str('nationality', { max: 2, note: 'ISO 3166-1 alpha-2', validation: { _and: [{ nationality: { _regex: '^[A-Z]{2}$' } }] }, message: 'two capital letters (ISO 3166-1 alpha-2)' }),
];

// ---- apply ----------------------------------------------------------------------------------------
const email = process.env.ADMIN_EMAIL, password = process.env.ADMIN_PASSWORD;
const { data: { access_token: token } } = await call('POST', '/auth/login', { email, password });

for (const c of collections) {
  const meta = { icon: c.icon, display_template: c.display ?? null };
  if (c.archive) Object.assign(meta, { archive_field: c.archive.field, archive_value: c.archive.value, unarchive_value: c.archive.unarchive });
  await call('POST', '/collections', { collection: c.name, meta, schema: {}, fields: c.fields }, token);
  console.log(`created collection ${c.name}`);
}
for (const c of collections) {
  for (const { field, relation } of c.m2o ?? []) {
    await call('POST', `/fields/${c.name}`, field, token);
    await call('POST', '/relations', { collection: c.name, ...relation }, token);
    console.log(`created ${c.name}.${field.field} -> ${relation.related_collection} (ON DELETE ${relation.schema.on_delete})`);
  }
}
for (const f of userFields) {
  await call('POST', '/fields/directus_users', f, token);
  console.log(`created directus_users.${f.field}`);
}

// Field builders the course (phase2.mjs) and timing (phase3.mjs) modules need beyond lib.mjs: integers
// with a default and a lower bound, booleans, JSON, decimals and PostGIS geometry. Payloads of
// POST /fields/<collection>, like lib.mjs's. Owns no part of the data model.

/** An integer with an optional default and lower bound (shown in the form and validated by Directus). */
export const num = (field, { required = false, note = null, min = null, fallback = null } = {}) => ({
  field, type: 'integer',
  meta: {
    interface: 'input', required, note, width: 'half',
    options: min === null ? null : { min },
    validation: min === null ? null : { _and: [{ [field]: { _gte: min } }] },
    validation_message: min === null ? null : `at least ${min}`,
  },
  schema: { is_nullable: !required, default_value: fallback },
});

/** NOT NULL boolean with a default: a toggle. */
export const bool = (field, { fallback = false, note = null } = {}) => ({
  field, type: 'boolean',
  meta: { interface: 'boolean', special: ['cast-boolean'], note, width: 'half' },
  schema: { is_nullable: false, default_value: fallback },
});

/** A JSON document (json column), edited as code. */
export const json = (field, { required = false, note = null } = {}) => ({
  field, type: 'json',
  meta: { interface: 'input-code', special: ['cast-json'], options: { language: 'JSON' }, required, note, width: 'full' },
  schema: { is_nullable: !required },
});

/** decimal(12,3): offences in km/h, metres or seconds. */
export const decimal = (field, { required = false, note = null } = {}) => ({
  field, type: 'decimal',
  meta: { interface: 'input', required, note, width: 'half' },
  schema: { is_nullable: !required, numeric_precision: 12, numeric_scale: 3 },
});

/** A timestamp only the database writes (a trigger), shown read-only. */
export const stamp = (field, { note = null } = {}) => ({
  field, type: 'timestamp',
  meta: { interface: 'datetime', readonly: true, note, width: 'half' },
  schema: { is_nullable: true },
});

// WGS 84 geometry: on PostGIS, Directus creates geometry(<kind>, 4326) and the admin UI shows it on its
// map, centred on Albania.
const ALBANIA = { center: { lng: 20.0, lat: 41.1 }, zoom: 7, bearing: 0, pitch: 0 };
export const geometry = (field, kind, { note = null } = {}) => ({
  field, type: `geometry.${kind}`,
  meta: {
    interface: 'map', required: true, note, width: 'full',
    options: { geometryType: kind, defaultView: ALBANIA },
  },
  schema: { is_nullable: false },
});

// Field builders for the Phase 2 (course) and Phase 3 (timing) collections, in the shape Directus's
// REST API takes (POST /collections, /fields, /relations), and the runner that creates them.
// Owns: how a course/timing field is described to Directus. Does not touch the slice-1 collections.

export const intId = () => ({
  field: 'id', type: 'integer',
  meta: { hidden: true, readonly: true, interface: 'input' },
  schema: { is_primary_key: true, has_auto_increment: true },
});

export const str = (field, { required = false, max = 255, note = null, width = 'half' } = {}) => ({
  field, type: 'string',
  meta: { interface: 'input', required, note, width },
  schema: { max_length: max, is_nullable: !required },
});

export const text = (field, { note = null } = {}) => ({
  field, type: 'text',
  meta: { interface: 'input-multiline', note, width: 'full' },
  schema: { is_nullable: true },
});

export const int = (field, { required = false, note = null, min = null, fallback = null } = {}) => ({
  field, type: 'integer',
  meta: {
    interface: 'input', required, note, width: 'half',
    options: min === null ? null : { min },
    validation: min === null ? null : { _and: [{ [field]: { _gte: min } }] },
    validation_message: min === null ? null : `at least ${min}`,
  },
  schema: { is_nullable: !required, default_value: fallback },
});

export const decimal = (field, { required = false, note = null } = {}) => ({
  field, type: 'decimal',
  meta: { interface: 'input', required, note, width: 'half' },
  schema: { is_nullable: !required, numeric_precision: 12, numeric_scale: 3 },
});

export const bool = (field, { fallback = false, note = null } = {}) => ({
  field, type: 'boolean',
  meta: { interface: 'boolean', special: ['cast-boolean'], note, width: 'half' },
  schema: { is_nullable: false, default_value: fallback },
});

export const timestamp = (field, { required = false, note = null, readonly = false } = {}) => ({
  field, type: 'timestamp',
  meta: { interface: 'datetime', required, note, readonly, width: 'half' },
  schema: { is_nullable: !required },
});

export const json = (field, { required = false, note = null } = {}) => ({
  field, type: 'json',
  meta: { interface: 'input-code', special: ['cast-json'], options: { language: 'JSON' }, required, note, width: 'full' },
  schema: { is_nullable: !required },
});

// A dropdown of fixed values, enforced by a validation rule (and, for the processor's writes, by the
// CHECK constraints of db-init-post).
export const choice = (field, values, { required = true, fallback = null, note = null } = {}) => ({
  field, type: 'string',
  meta: {
    interface: 'select-dropdown', display: 'labels', required, note, width: 'half',
    options: { choices: values.map((v) => ({ text: v, value: v })) },
    validation: { _and: [{ [field]: { _in: values } }] },
    validation_message: `one of: ${values.join(', ')}`,
  },
  schema: { max_length: 32, is_nullable: !required, default_value: fallback },
});

// WGS 84 geometry: Directus creates geometry(<type>, 4326) on PostGIS and shows it on its map.
const ALBANIA = { center: { lng: 20.0, lat: 41.1 }, zoom: 7, bearing: 0, pitch: 0 };
export const geometry = (field, kind, { note = null } = {}) => ({
  field, type: `geometry.${kind}`,
  meta: {
    interface: 'map', required: true, note, width: 'full',
    options: { geometryType: kind, defaultView: ALBANIA },
  },
  schema: { is_nullable: false },
});

// A many-to-one: the column, then its relation. `type` follows the related primary key.
export const m2o = (field, related, { required = true, onDelete = 'RESTRICT', type = 'integer', template = null, note = null } = {}) => ({
  field: {
    field, type,
    meta: {
      interface: 'select-dropdown-m2o', special: ['m2o'], required, note, width: 'half',
      options: template ? { template } : null,
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

// Creates `collections` (all first, then their relations: they point at each other) through the
// REST API. `call(method, path, body)` is an authenticated request helper.
export async function createCollections(call, collections, log = console.log) {
  for (const c of collections) {
    const meta = { icon: c.icon, note: c.note ?? null, display_template: c.display ?? null, sort_field: c.sort ?? null };
    if (c.archive) Object.assign(meta, { archive_field: c.archive.field, archive_value: c.archive.value, unarchive_value: c.archive.unarchive });
    await call('POST', '/collections', { collection: c.name, meta, schema: {}, fields: c.fields });
    log(`created collection ${c.name}`);
  }
  for (const c of collections) {
    for (const { field, relation } of c.m2o ?? []) {
      await call('POST', `/fields/${c.name}`, field);
      await call('POST', '/relations', { collection: c.name, ...relation });
      log(`created ${c.name}.${field.field} -> ${relation.related_collection} (ON DELETE ${relation.schema.on_delete})`);
    }
  }
}

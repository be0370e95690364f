// @ts-check
// Writes a checked seed (lib/data.mjs) into Directus, in dependency order, each row by its natural key:
// organization slug; user email; membership (organization, user); event slug within the organization;
// class code within the event; vehicle plate; device IMEI; registrations (organization, vehicle|device);
// race number within the event; crew (entry, user); entry devices (entry, device).
// Owns the mapping from the seed file's shape to the published field names.
import { ensure } from './upsert.mjs';

/**
 * @param {import('./upsert.mjs').Context} ctx
 * @param {import('./data.mjs').Seed} seed
 */
export async function writeSeed(ctx, seed) {
  const o = seed.organization;
  const orgId = await ensure(ctx, { collection: 'organizations', label: o.slug, key: { slug: o.slug }, values: { name: o.name } });

  /** @type {Map<string, string | number>} */
  const userIds = new Map();
  for (const u of seed.users) {
    const email = u.email.toLowerCase();
    const values = pick(u, ['first_name', 'last_name', 'phone', 'birth_date', 'nationality']);
    userIds.set(email, await ensure(ctx, { collection: 'directus_users', label: email, key: { email }, values }));
  }
  for (const u of seed.users) {
    if (!u.membership) continue;
    await ensure(ctx, {
      collection: 'organization_users',
      label: `${u.email.toLowerCase()} in ${o.slug}`,
      key: { organization_id: orgId, user_id: need(userIds, u.email.toLowerCase()) },
      values: { role: u.membership },
    });
  }

  const e = seed.event;
  const eventId = await ensure(ctx, {
    collection: 'events',
    label: `${o.slug}/${e.slug}`,
    key: { organization_id: orgId, slug: e.slug },
    values: pick(e, ['name', 'discipline', 'starts_at', 'ends_at', 'timezone', 'regulation_doc_url', 'notes']),
  });

  /** @type {Map<string, string | number>} */
  const classIds = new Map();
  for (const c of seed.classes) {
    classIds.set(c.code, await ensure(ctx, {
      collection: 'classes',
      label: `${c.code} (${e.slug})`,
      key: { event_id: eventId, code: c.code },
      values: pick(c, ['name', 'description', 'sort_order', 'vehicle_kind']),
    }));
  }

  /** @type {Map<string, string | number>} */
  const vehicleIds = new Map();
  for (const v of seed.vehicles) {
    const id = await ensure(ctx, { collection: 'vehicles', label: v.plate, key: { plate: v.plate }, values: pick(v, ['make', 'model', 'year', 'cc', 'vin']) });
    vehicleIds.set(v.plate, id);
    await ensure(ctx, { collection: 'organization_vehicles', label: `${v.plate} in ${o.slug}`, key: { organization_id: orgId, vehicle_id: id }, values: {} });
  }

  /** @type {Map<string, string | number>} */
  const deviceIds = new Map();
  for (const d of seed.devices) {
    const id = await ensure(ctx, { collection: 'devices', label: d.imei, key: { imei: d.imei }, values: { model: d.model } });
    deviceIds.set(d.imei, id);
    await ensure(ctx, { collection: 'organization_devices', label: `${d.imei} in ${o.slug}`, key: { organization_id: orgId, device_id: id }, values: {} });
  }

  for (const n of seed.entries) {
    const label = `#${n.race_number} (${e.slug})`;
    const entryId = await ensure(ctx, {
      collection: 'entries',
      label,
      key: { event_id: eventId, race_number: n.race_number },
      values: {
        class_id: need(classIds, n.class),
        vehicle_id: n.vehicle === undefined ? null : need(vehicleIds, n.vehicle),
        status: n.status ?? 'registered',
      },
    });
    for (const m of n.crew ?? []) {
      const email = m.user.toLowerCase();
      await ensure(ctx, { collection: 'entry_crew', label: `${email} on ${label}`, key: { entry_id: entryId, user_id: need(userIds, email) }, values: { role: m.role } });
    }
    for (const d of n.devices ?? []) {
      await ensure(ctx, {
        collection: 'entry_devices',
        label: `${d.imei} on ${label}`,
        key: { entry_id: entryId, device_id: need(deviceIds, d.imei) },
        values: { assigned_user_id: d.assigned_user === undefined ? null : need(userIds, d.assigned_user.toLowerCase()) },
      });
    }
  }
}

/**
 * The listed keys of `item` that are set, as field values.
 * @template {object} T
 * @param {T} item
 * @param {string[]} keys
 * @returns {Record<string, import('./upsert.mjs').Scalar>}
 */
function pick(item, keys) {
  const source = /** @type {Record<string, unknown>} */ (item);
  /** @type {Record<string, import('./upsert.mjs').Scalar>} */
  const out = {};
  for (const k of keys) {
    const v = source[k];
    if (v !== undefined) out[k] = /** @type {import('./upsert.mjs').Scalar} */ (v);
  }
  return out;
}

/**
 * @param {Map<string, string | number>} ids
 * @param {string} key
 */
function need(ids, key) {
  const id = ids.get(key);
  if (id === undefined) throw new Error(`internal: ${key} was not written before it was referenced`);
  return id;
}

-- Default views of the admin UI (global presets: no user, no role), which the snapshot format does not
-- carry: organizations sorted by name (as published), events by start, entries by race number with
-- their class, vehicle and status in the list. A user's or role's own preset still wins; an existing
-- global preset of a collection is left alone.
INSERT INTO directus_presets (bookmark, "user", role, collection, layout, layout_query, icon)
SELECT NULL, NULL, NULL, v.collection, 'tabular', v.layout_query::json, 'bookmark'
  FROM (VALUES
    ('organizations', '{"tabular":{"fields":["name","slug"],"sort":["name"]}}'),
    ('events',        '{"tabular":{"fields":["name","organization_id","discipline","starts_at","ends_at"],"sort":["starts_at"]}}'),
    ('classes',       '{"tabular":{"fields":["sort_order","code","name","event_id","vehicle_kind"],"sort":["event_id","sort_order"]}}'),
    ('entries',       '{"tabular":{"fields":["race_number","class_id","vehicle_id","status","event_id"],"sort":["race_number"]}}'),
    ('devices',       '{"tabular":{"fields":["model","imei"],"sort":["imei"]}}'),
    ('vehicles',      '{"tabular":{"fields":["make","model","plate","year"],"sort":["make","model"]}}')
  ) AS v(collection, layout_query)
 WHERE NOT EXISTS (SELECT FROM directus_presets p
                    WHERE p.collection = v.collection AND p.bookmark IS NULL AND p."user" IS NULL AND p.role IS NULL);

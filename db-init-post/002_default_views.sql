-- Default views of the admin UI (global presets: no user, no role), which the snapshot format does not
-- carry: organizations sorted by name (as published), events by start, entries by race number with
-- their class, vehicle and status in the list. A user's or role's own preset still wins; an existing
-- global preset of a collection is left alone.
INSERT INTO directus_presets (bookmark, "user", role, collection, layout, layout_query, layout_options, icon)
SELECT NULL, NULL, NULL, v.collection, 'tabular', v.layout_query::json, v.layout_options::json, 'bookmark'
  FROM (VALUES
    ('organizations', '{"tabular":{"fields":["name","slug"],"sort":["name"]}}', NULL),
    ('events',        '{"tabular":{"fields":["name","organization_id","discipline","starts_at","ends_at"],"sort":["starts_at"]}}',
                      '{"tabular":{"widths":{"name":240,"organization_id":240}}}'),
    ('classes',       '{"tabular":{"fields":["sort_order","code","name","event_id","vehicle_kind"],"sort":["event_id","sort_order"]}}',
                      '{"tabular":{"widths":{"sort_order":100,"code":100,"name":320,"event_id":200}}}'),
    ('entries',       '{"tabular":{"fields":["race_number","class_id","vehicle_id","status","event_id"],"sort":["race_number"]}}',
                      '{"tabular":{"widths":{"race_number":150,"class_id":260,"vehicle_id":280,"status":120,"event_id":180}}}'),
    ('devices',       '{"tabular":{"fields":["model","imei"],"sort":["imei"]}}', NULL),
    ('vehicles',      '{"tabular":{"fields":["make","model","plate","year"],"sort":["make","model"]}}', NULL)
  ) AS v(collection, layout_query, layout_options)
 WHERE NOT EXISTS (SELECT FROM directus_presets p
                    WHERE p.collection = v.collection AND p.bookmark IS NULL AND p."user" IS NULL AND p.role IS NULL);

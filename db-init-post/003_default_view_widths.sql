-- Column widths of the default list views that 002 created, wide enough for the related items' display
-- templates (an entry's class, vehicle and event). Only global presets without widths are touched: a
-- width someone set in the admin UI stays.
UPDATE directus_presets p
   SET layout_options = v.layout_options::json
  FROM (VALUES
    ('events',  '{"tabular":{"widths":{"name":240,"organization_id":240}}}'),
    ('classes', '{"tabular":{"widths":{"sort_order":100,"code":100,"name":320,"event_id":200}}}'),
    ('entries', '{"tabular":{"widths":{"race_number":150,"class_id":260,"vehicle_id":280,"status":120,"event_id":180}}}')
  ) AS v(collection, layout_options)
 WHERE p.collection = v.collection
   AND p.bookmark IS NULL AND p."user" IS NULL AND p.role IS NULL
   AND p.layout_options IS NULL;

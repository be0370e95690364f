-- Composite UNIQUE constraints on Directus-managed tables: the Directus snapshot format only knows
-- single-column uniqueness. Runs after the schema apply, so the tables exist; a missing table or
-- column is reported by name. Each constraint is added only when missing, so the file can run on a
-- database that already has them; existing duplicate rows make it fail with the duplicated key.
-- Constraint names: <table>_<column 1>_<column 2>_unique (the published column names, issue 11).
DO $$
DECLARE
  spec text[];
  specs text[][] := ARRAY[
    ARRAY['organization_users',    'organization_id', 'user_id'],
    ARRAY['organization_vehicles', 'organization_id', 'vehicle_id'],
    ARRAY['organization_devices',  'organization_id', 'device_id'],
    ARRAY['events',                'organization_id', 'slug'],
    ARRAY['classes',               'event_id',        'code'],
    ARRAY['entries',               'event_id',        'race_number'],
    ARRAY['entry_crew',            'entry_id',        'user_id'],
    ARRAY['entry_devices',         'entry_id',        'device_id']];
  tbl text;
  name text;
  i int;
BEGIN
  FOR i IN 1 .. array_length(specs, 1) LOOP
    tbl := specs[i][1];
    name := format('%s_%s_%s_unique', tbl, specs[i][2], specs[i][3]);
    IF to_regclass(format('public.%I', tbl)) IS NULL THEN
      RAISE EXCEPTION 'table public.% does not exist', tbl
        USING HINT = 'db-init-post runs after the Directus schema apply: is the collection in snapshots/schema.yaml?';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = format('public.%I', tbl)::regclass AND attname = specs[i][2] AND NOT attisdropped)
       OR NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = format('public.%I', tbl)::regclass AND attname = specs[i][3] AND NOT attisdropped) THEN
      RAISE EXCEPTION 'table public.% lacks column % or %', tbl, specs[i][2], specs[i][3]
        USING HINT = 'the snapshot and db-init-post must agree on field names';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = name AND conrelid = format('public.%I', tbl)::regclass) THEN
      EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I UNIQUE (%I, %I)', tbl, name, specs[i][2], specs[i][3]);
    END IF;
  END LOOP;
END
$$;

-- Check: every constraint exists, is UNIQUE, and covers exactly its two columns in order.
DO $$
DECLARE
  want text[] := ARRAY[
    'organization_users(organization_id,user_id)', 'organization_vehicles(organization_id,vehicle_id)',
    'organization_devices(organization_id,device_id)', 'events(organization_id,slug)', 'classes(event_id,code)',
    'entries(event_id,race_number)', 'entry_crew(entry_id,user_id)', 'entry_devices(entry_id,device_id)'];
  w text;
  got int;
BEGIN
  FOREACH w IN ARRAY want LOOP
    SELECT count(*) INTO got
      FROM pg_constraint c
      JOIN pg_class t ON t.oid = c.conrelid
     WHERE c.contype = 'u'
       AND format('%s(%s)', t.relname,
                  (SELECT string_agg(a.attname, ',' ORDER BY k.ord)
                     FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)) = w;
    IF got = 0 THEN
      RAISE EXCEPTION '001_composite_uniques: UNIQUE % is missing', w;
    END IF;
  END LOOP;
END
$$;

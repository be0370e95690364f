-- PostGIS (course geometry: geofences, waypoints, speed-limit zones) and btree_gist (the exclusion
-- constraint that keeps penalty brackets from overlapping, db-init-post). Both before the schema
-- apply: Directus creates geometry(Polygon, 4326) columns only when PostGIS is installed.
-- The image's config lists postgis in db_init.required_extensions, so a server without it is refused
-- (exit 78) before this file runs; elsewhere this file fails (65) with the same advice.
DO $$
DECLARE
  ext text;
BEGIN
  FOREACH ext IN ARRAY ARRAY['postgis', 'btree_gist'] LOOP
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = ext)
       AND NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = ext) THEN
      RAISE EXCEPTION '004_postgis: extension % is not available on this server', ext
        USING HINT = CASE ext
          WHEN 'postgis' THEN format('install PostGIS into the database server (Debian: postgresql-%s-postgis-3; the timescale/timescaledb-ha image ships it)',
                                     current_setting('server_version_num')::int / 10000)
          ELSE 'install PostgreSQL''s contrib modules (Debian: postgresql-contrib)' END;
    END IF;
  END LOOP;
END
$$;

CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Check: both installed, PostGIS 3 or newer.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'postgis' AND split_part(extversion, '.', 1)::int >= 3) THEN
    RAISE EXCEPTION '004_postgis: postgis 3 or newer must be installed (found %)',
      coalesce((SELECT extversion FROM pg_extension WHERE extname = 'postgis'), 'none');
  END IF;
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'btree_gist') THEN
    RAISE EXCEPTION '004_postgis: btree_gist must be installed';
  END IF;
END
$$;

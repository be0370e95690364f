-- TimescaleDB, when this server can provide it. positions becomes a hypertable in 002 only then.
-- Production lists timescaledb in db_init.required_extensions, so trm-init refuses to boot (exit 78)
-- on a server without it before this file runs; elsewhere (tests, development) a WARNING says so.
-- CREATE EXTENSION timescaledb without shared_preload_libraries ends the session with FATAL, hence
-- the preload check before it.
DO $$
DECLARE
  available boolean := EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb');
  preload text;
BEGIN
  IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
    RETURN;
  END IF;
  IF NOT available THEN
    RAISE WARNING 'timescaledb is not available on this server: positions stays a plain table (no hypertable)';
    RETURN;
  END IF;
  BEGIN
    preload := current_setting('shared_preload_libraries');
  EXCEPTION WHEN insufficient_privilege THEN
    preload := NULL; -- cannot tell: try, the server will say
  END;
  IF preload IS NOT NULL AND preload !~ '(^|[\s,"])timescaledb($|[\s,"])' THEN
    RAISE WARNING 'timescaledb is installed on the server but not in shared_preload_libraries: positions stays a plain table'
      USING HINT = 'set shared_preload_libraries = ''timescaledb'' and restart PostgreSQL';
    RETURN;
  END IF;
  CREATE EXTENSION IF NOT EXISTS timescaledb;
END
$$;

-- Check: when the server offers timescaledb and preloads it, it must now be installed.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')
     AND NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')
     AND EXISTS (SELECT FROM pg_settings WHERE name = 'shared_preload_libraries' AND setting ~ 'timescaledb') THEN
    RAISE EXCEPTION '001_extensions: timescaledb is available and preloaded but was not created';
  END IF;
END
$$;

-- positions: written by the processor (its shape wins). No primary key: one row per (device_id, ts),
-- which the processor relies on with ON CONFLICT (device_id, ts). A hypertable on ts with 1-day chunks
-- when TimescaleDB is installed (001), otherwise a plain table with a WARNING.
CREATE TABLE IF NOT EXISTS positions (
  device_id   text             NOT NULL,  -- IMEI
  ts          timestamptz      NOT NULL,  -- GPS time
  ingested_at timestamptz      NOT NULL DEFAULT now(),
  latitude    double precision NOT NULL,
  longitude   double precision NOT NULL,
  altitude    real             NOT NULL,
  angle       real             NOT NULL,  -- heading 0-360
  speed       real             NOT NULL,  -- km/h
  satellites  smallint         NOT NULL,
  priority    smallint         NOT NULL,  -- 0 low, 1 high, 2 panic
  codec       text             NOT NULL,
  attributes  jsonb            NOT NULL   -- raw IO elements keyed by id
);

CREATE UNIQUE INDEX IF NOT EXISTS positions_device_ts ON positions (device_id, ts);
CREATE INDEX IF NOT EXISTS positions_ts ON positions (ts DESC);

DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
    -- create_default_indexes => false: positions_ts above is the time index.
    PERFORM create_hypertable('positions', by_range('ts', INTERVAL '1 day'),
                              create_default_indexes => false, if_not_exists => true);
  ELSE
    RAISE WARNING 'timescaledb is not installed: positions is a plain table, not a hypertable';
  END IF;
END
$$;

-- Check: columns, types, NOT NULL, indexes, and the hypertable when TimescaleDB is installed.
DO $$
DECLARE
  expected text[] := ARRAY[
    'device_id text t', 'ts timestamp with time zone t', 'ingested_at timestamp with time zone t',
    'latitude double precision t', 'longitude double precision t', 'altitude real t', 'angle real t',
    'speed real t', 'satellites smallint t', 'priority smallint t', 'codec text t', 'attributes jsonb t'];
  got text[];
  chunk interval;
BEGIN
  SELECT array_agg(format('%s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull) ORDER BY a.attnum)
    INTO got
    FROM pg_attribute a
   WHERE a.attrelid = 'positions'::regclass AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attname = ANY (ARRAY['device_id','ts','ingested_at','latitude','longitude','altitude','angle',
                               'speed','satellites','priority','codec','attributes']);
  IF got IS DISTINCT FROM expected THEN
    RAISE EXCEPTION '002_positions_hypertable: positions has columns % but needs %', got, expected;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_indexes WHERE tablename = 'positions' AND indexname = 'positions_device_ts'
                 AND indexdef LIKE 'CREATE UNIQUE INDEX % (device_id, ts)') THEN
    RAISE EXCEPTION '002_positions_hypertable: unique index positions_device_ts (device_id, ts) is missing or different';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_indexes WHERE tablename = 'positions' AND indexname = 'positions_ts'
                 AND indexdef LIKE '% (ts DESC)') THEN
    RAISE EXCEPTION '002_positions_hypertable: index positions_ts (ts DESC) is missing or different';
  END IF;
  IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
    EXECUTE $q$SELECT time_interval FROM timescaledb_information.dimensions
                WHERE hypertable_name = 'positions' AND column_name = 'ts'$q$ INTO chunk;
    IF chunk IS DISTINCT FROM INTERVAL '1 day' THEN
      RAISE EXCEPTION '002_positions_hypertable: positions is not a hypertable on ts with 1-day chunks (chunk interval %)', chunk;
    END IF;
  END IF;
END
$$;

-- faulty: an operator flags bad fixes in the admin UI; every processor read filters faulty = false,
-- served by the partial index. A constant default keeps ADD COLUMN cheap (and allowed on compressed
-- hypertables).
ALTER TABLE positions ADD COLUMN IF NOT EXISTS faulty boolean NOT NULL DEFAULT false;

CREATE INDEX IF NOT EXISTS positions_faulty_idx ON positions (device_id, ts DESC) WHERE NOT faulty;

-- Check: the column and the partial index are what the processor expects.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute
                  WHERE attrelid = 'positions'::regclass AND attname = 'faulty' AND NOT attisdropped
                    AND atttypid = 'boolean'::regtype AND attnotnull
                    AND pg_get_expr((SELECT adbin FROM pg_attrdef WHERE adrelid = attrelid AND adnum = attnum), attrelid) = 'false') THEN
    RAISE EXCEPTION '003_positions_faulty: positions.faulty must be boolean NOT NULL DEFAULT false';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_indexes WHERE tablename = 'positions' AND indexname = 'positions_faulty_idx'
                 AND indexdef LIKE '% (device_id, ts DESC) WHERE (NOT faulty)') THEN
    RAISE EXCEPTION '003_positions_faulty: partial index positions_faulty_idx (device_id, ts DESC) WHERE NOT faulty is missing or different';
  END IF;
END
$$;

-- One row in every table of a Directus collection (and values in directus_users' added fields), so a test
-- can see a table, a column or a row go. Every column without a default gets a value of its type; a
-- foreign key gets the first key of the table it references, so tables are filled over several passes.
DO $$
DECLARE
  t record; c record; cols text; vals text; v text; pass int; fk record;
BEGIN
  FOR pass IN 1..6 LOOP
    FOR t IN SELECT collection AS name FROM directus_collections
              WHERE collection NOT LIKE 'directus\_%' AND to_regclass(quote_ident(collection)) IS NOT NULL
              ORDER BY collection LOOP
      EXECUTE format('SELECT count(*) = 0 FROM %I', t.name) INTO STRICT v;
      CONTINUE WHEN v = 'false';
      cols := ''; vals := '';
      FOR c IN SELECT column_name, data_type, udt_name, character_maximum_length AS len, column_default, is_nullable
                 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = t.name
                ORDER BY ordinal_position LOOP
        -- Directus writes DEFAULT NULL on nullable columns: that is no default.
        CONTINUE WHEN c.column_default IS NOT NULL AND c.column_default NOT LIKE 'NULL::%';
        SELECT cl.relname AS ref_table, a2.attname AS ref_column INTO fk
          FROM pg_constraint k
          JOIN pg_class cl ON cl.oid = k.confrelid
          JOIN pg_attribute a1 ON a1.attrelid = k.conrelid AND a1.attnum = k.conkey[1]
          JOIN pg_attribute a2 ON a2.attrelid = k.confrelid AND a2.attnum = k.confkey[1]
         WHERE k.contype = 'f' AND k.conrelid = quote_ident(t.name)::regclass AND a1.attname = c.column_name
         LIMIT 1;
        IF fk.ref_table IS NOT NULL THEN
          v := format('(SELECT %I FROM %I LIMIT 1)', fk.ref_column, fk.ref_table);
        ELSE
          v := CASE
            WHEN c.udt_name = 'uuid' THEN 'gen_random_uuid()'
            WHEN c.data_type IN ('character varying', 'character', 'text') THEN
              format('left(%L || md5(random()::text), %s)', 'v', coalesce(c.len, 12))
            WHEN c.data_type IN ('integer', 'bigint', 'smallint', 'numeric', 'real', 'double precision') THEN '7'
            WHEN c.data_type = 'boolean' THEN 'true'
            WHEN c.data_type LIKE 'timestamp%' OR c.data_type IN ('date') THEN 'now()'
            WHEN c.data_type LIKE 'time%' THEN 'now()::time'
            WHEN c.data_type IN ('json', 'jsonb') THEN '''{"k": 1}'''
            ELSE NULL END;
        END IF;
        CONTINUE WHEN v IS NULL;
        cols := cols || CASE WHEN cols = '' THEN '' ELSE ', ' END || quote_ident(c.column_name);
        vals := vals || CASE WHEN vals = '' THEN '' ELSE ', ' END || v;
      END LOOP;
      BEGIN
        IF cols = '' THEN
          EXECUTE format('INSERT INTO %I DEFAULT VALUES', t.name);
        ELSE
          EXECUTE format('INSERT INTO %I (%s) VALUES (%s)', t.name, cols, vals);
        END IF;
      EXCEPTION WHEN others THEN
        IF pass = 6 THEN RAISE NOTICE 'no row in %: %', t.name, SQLERRM; END IF;
      END;
    END LOOP;
  END LOOP;
  -- The fields the snapshot adds to directus_users.
  FOR c IN SELECT f.field, col.data_type FROM directus_fields f
             JOIN information_schema.columns col ON col.table_schema = current_schema()
              AND col.table_name = 'directus_users' AND col.column_name = f.field
            WHERE f.collection = 'directus_users' LOOP
    v := CASE WHEN c.data_type IN ('character varying', 'text') THEN quote_literal('u' || left(md5(c.field), 1))
              WHEN c.data_type = 'date' THEN 'now()' ELSE NULL END;
    IF v IS NOT NULL THEN EXECUTE format('UPDATE directus_users SET %I = %s', c.field, v); END IF;
  END LOOP;
END
$$;

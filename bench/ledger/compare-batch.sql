-- bench/ledger.sh COMPARE file (measurement only, never a migration): the next design asked about in
-- round 7, ONE ledger row per statement and event instead of one per changed row. Applied to the copy
-- (B) only: `COMPARE=bench/ledger/compare-batch.sql bench/ledger.sh`; A stays as migrated (019 + 026).
--
-- What a statement records is 026's, field for field: the gathering query (which rows, which columns
-- changed, before/after of those, the decision rule) and the reason/article rule (row stash, a penalty's
-- override fields, the transaction's) are copied unchanged; the shared fields (recorded_at, txid,
-- db_role, directus_user, actor, table_name, operation) are stored once per statement as today. What
-- changes is the shape: the statement's rows of one event become one jsonb array in `after`
-- (`[{"key", "before", "after", "reason", "article"}, ...]` in row-key order), `row_key` is '*',
-- `before`/`reason`/`regulation_article` are NULL, `chain_version` 3; content_hash = sha256 hex of
-- `3|event|event_seq|recorded_at|shared|operation|<array text>` (each field 010's trm_ledger_field);
-- hash = 026's link of the event's head and that one content hash (the chain link as today). The same
-- table and indexes are used (one row, so three index entries per statement instead of per row).
-- The per-row view is `timing_ledger_rows` below (unnests it; not on the write path, not measured).
-- bench_result() is replaced in B to count the per-row entries recorded, so the table's "ledger rows"
-- column compares like with like (1,000 / 300 / 300 in both when the variant records the same rows).
ALTER TABLE timing_ledger DROP CONSTRAINT IF EXISTS timing_ledger_chain_version_check;
ALTER TABLE timing_ledger ADD CONSTRAINT timing_ledger_chain_version_check
  CHECK (chain_version = 1 AND content_hash IS NULL OR chain_version IN (2, 3) AND content_hash IS NOT NULL);

CREATE OR REPLACE VIEW timing_ledger_rows AS
SELECT l.seq, l.event_id, l.event_seq, l.recorded_at, l.txid, l.db_role, l.directus_user, l.actor, l.table_name,
       coalesce(u.e ->> 'key', l.row_key) AS row_key, l.operation,
       CASE WHEN l.chain_version = 3 THEN nullif(u.e -> 'before', 'null') ELSE l.before END AS before,
       CASE WHEN l.chain_version = 3 THEN nullif(u.e -> 'after', 'null') ELSE l.after END AS after,
       CASE WHEN l.chain_version = 3 THEN u.e ->> 'reason' ELSE l.reason END AS reason,
       CASE WHEN l.chain_version = 3 THEN u.e ->> 'article' ELSE l.regulation_article END AS regulation_article,
       u.n AS row_in_statement, l.chain_version
  FROM timing_ledger l
  LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN l.chain_version = 3 THEN l.after END) WITH ORDINALITY AS u(e, n) ON true;

CREATE OR REPLACE FUNCTION bench_result(OUT ms double precision, OUT cpu_ms double precision, OUT ledger_rows bigint) LANGUAGE sql AS $fn$
  SELECT (current_setting('bench.t1')::numeric - current_setting('bench.t0')::numeric)::double precision * 1000,
         (current_setting('bench.cpu1')::bigint - current_setting('bench.cpu0')::bigint) / 1e6::double precision,
         (SELECT coalesce(sum(CASE WHEN chain_version = 3 THEN jsonb_array_length(after) ELSE 1 END), 0)::bigint
            FROM timing_ledger WHERE seq > current_setting('bench.seq0')::bigint)
$fn$;

CREATE OR REPLACE FUNCTION trm_ledger_record_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_ch text;
  v_before text;
  v_after text;
  v_any text;
  v_event text := CASE TG_ARGV[0] WHEN 'entry' THEN 'en.event_id' ELSE 'x.event_id' END;
  v_join text := CASE TG_ARGV[0] WHEN 'entry' THEN ' LEFT JOIN entries en ON en.id = x.entry_id' ELSE '' END;
  v_decision text := CASE TG_TABLE_NAME
    WHEN 'entry_penalties' THEN '(o.review_state, o.override_seconds) IS DISTINCT FROM (x.review_state, x.override_seconds)'
    WHEN 'stage_results' THEN 'o.status IS DISTINCT FROM x.status'
    WHEN 'entry_segment_starts' THEN 'true'
    ELSE 'false' END;
  v_rows text := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT coalesce(%s, 0) AS event_id, x.id::text AS row_key, NULL::jsonb AS before, to_jsonb(x) AS after, false AS decision FROM new_rows x%s', v_event, v_join)
    WHEN 'DELETE' THEN format('SELECT coalesce(%s, 0) AS event_id, x.id::text AS row_key, to_jsonb(x) AS before, NULL::jsonb AS after, false AS decision FROM old_rows x%s', v_event, v_join)
  END;
  v_penalties boolean := TG_TABLE_NAME = 'entry_penalties';
  v_user uuid := trm_ledger_claimed_user();
  v_role text := session_user;
  v_actor text := CASE WHEN v_user IS NOT NULL THEN 'directus:' || v_user ELSE 'db:' || session_user END;
  v_txid text := pg_current_xact_id()::text;
  v_op text := lower(TG_OP);
  v_at timestamptz := clock_timestamp();
  v_at_field text := trm_ledger_field(trm_ledger_time(v_at));
  v_shared text := trm_ledger_shared(v_txid, v_role, v_user, v_actor, TG_TABLE_NAME);
  v_treason text := nullif(btrim(current_setting('trm.reason', true)), '');
  v_tarticle text := nullif(btrim(current_setting('trm.regulation_article', true)), '');
  v_stashed boolean := coalesce(current_setting('trm.row_settings', true) = 'on', false);
  a_event integer[];
  a_key text[];
  a_before jsonb[];
  a_after jsonb[];
  a_decision boolean[];
  v_reason_keys text[];
  v_article_keys text[];
  k text;
  v_some boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT FROM %s)', CASE TG_OP WHEN 'DELETE' THEN 'old_rows' ELSE 'new_rows' END) INTO v_some;
  IF NOT v_some THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    SELECT string_agg(format(CASE WHEN a.atttypid = 'json'::regtype
                                  THEN 'o.%1$I::text IS DISTINCT FROM x.%1$I::text AND o.%1$I::jsonb IS DISTINCT FROM x.%1$I::jsonb'
                                  WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype)
                                    OR a.atttypid IN (SELECT c.opcintype FROM pg_opclass c JOIN pg_am m ON m.oid = c.opcmethod
                                                       WHERE m.amname = 'btree' AND c.opcdefault)
                                  THEN 'o.%1$I IS DISTINCT FROM x.%1$I'
                                  ELSE 'to_jsonb(o.%1$I) IS DISTINCT FROM to_jsonb(x.%1$I)' END || ' AS %2$I', a.attname, 'c' || a.attnum), ', ' ORDER BY a.attnum),
           string_agg(format($$ || CASE WHEN ch.%2$I THEN jsonb_build_object(%1$L, o.%1$I) ELSE '{}' END$$, a.attname, 'c' || a.attnum), '' ORDER BY a.attnum),
           string_agg(format($$ || CASE WHEN ch.%2$I THEN jsonb_build_object(%1$L, x.%1$I) ELSE '{}' END$$, a.attname, 'c' || a.attnum), '' ORDER BY a.attnum),
           string_agg(format('ch.%I', 'c' || a.attnum), ' OR ' ORDER BY a.attnum)
      INTO v_ch, v_before, v_after, v_any
      FROM pg_attribute a WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id';
    v_rows := format($$SELECT coalesce(%s, 0) AS event_id, x.id::text AS row_key, jsonb_build_object('id', o.id)%s AS before,
                              jsonb_build_object('id', x.id)%s AS after, %s AS decision
                         FROM old_rows o JOIN new_rows x ON x.id = o.id%s CROSS JOIN LATERAL (SELECT %s OFFSET 0) ch
                        WHERE %s$$, v_event, v_before, v_after, v_decision, v_join, v_ch,
                     CASE WHEN TG_NARGS > 1 THEN format('o.%1$I IS DISTINCT FROM x.%1$I', TG_ARGV[1]) ELSE v_any END);
  END IF;
  EXECUTE format('SELECT array_agg(q.event_id), array_agg(q.row_key), array_agg(q.before), array_agg(q.after), array_agg(q.decision)
                    FROM (%s ORDER BY 1, 2) q', v_rows)
    INTO a_event, a_key, a_before, a_after, a_decision;
  -- one ledger row per event the statement touched: its rows as one array, one content hash, one link
  WITH r AS MATERIALIZED (
    SELECT u.event_id, u.row_key, u.before, u.after, u.decision, u.n,
           CASE WHEN u.decision AND v_stashed THEN trm_row_setting('reason', TG_TABLE_NAME, u.row_key) END AS row_reason,
           CASE WHEN u.decision AND v_stashed THEN trm_row_setting('article', TG_TABLE_NAME, u.row_key) END AS row_article
      FROM unnest(a_event, a_key, a_before, a_after, a_decision) WITH ORDINALITY AS u(event_id, row_key, before, after, decision, n)
  ), e AS MATERIALIZED (
    SELECT r.event_id,
           jsonb_agg(jsonb_build_object('key', r.row_key, 'before', r.before, 'after', r.after,
             'reason', CASE WHEN r.decision THEN coalesce(r.row_reason, CASE WHEN v_penalties AND r.after ->> 'review_state' <> 'computed'
                                                                            THEN nullif(btrim(r.after ->> 'override_reason'), '') END, v_treason)
                            ELSE v_treason END,
             'article', CASE WHEN r.decision THEN coalesce(r.row_article, CASE WHEN v_penalties AND r.after ->> 'review_state' <> 'computed'
                                                                              THEN nullif(btrim(r.after ->> 'override_regulation_article'), '') END, v_tarticle)
                             ELSE v_tarticle END) ORDER BY r.n) AS body
      FROM r GROUP BY r.event_id
  ), d AS MATERIALIZED (
    SELECT e.event_id, hd.event_seq + 1 AS event_seq, hd.hash AS prev, e.body,
           encode(sha256(convert_to(concat_ws('|', '1:3', trm_ledger_field(e.event_id::text), trm_ledger_field((hd.event_seq + 1)::text),
                  v_at_field, v_shared, trm_ledger_field(v_op), trm_ledger_field(e.body::text)), 'UTF8')), 'hex') AS content_hash
      FROM (SELECT * FROM e ORDER BY e.event_id) e CROSS JOIN LATERAL trm_ledger_head(e.event_id) hd
  ), ins AS (
    INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                               operation, before, after, reason, regulation_article, prev_hash, hash, chain_version, content_hash)
    SELECT d.event_id, d.event_seq, v_at, v_txid, v_role, v_user, v_actor, TG_TABLE_NAME, '*', v_op, NULL, d.body,
           NULL, NULL, d.prev, trm_ledger_link(d.prev, d.content_hash), 3, d.content_hash
      FROM d
  )
  SELECT array_agg(r.row_key) FILTER (WHERE r.row_reason IS NOT NULL), array_agg(r.row_key) FILTER (WHERE r.row_article IS NOT NULL)
    INTO v_reason_keys, v_article_keys
    FROM r;
  FOREACH k IN ARRAY coalesce(v_reason_keys, '{}') LOOP
    PERFORM trm_stash_row_setting('reason', TG_TABLE_NAME, k, NULL);
  END LOOP;
  FOREACH k IN ARRAY coalesce(v_article_keys, '{}') LOOP
    PERFORM trm_stash_row_setting('article', TG_TABLE_NAME, k, NULL);
  END LOOP;
  RETURN NULL;
END
$fn$;

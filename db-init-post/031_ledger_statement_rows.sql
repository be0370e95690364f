-- Phase 6 (issue 25): the timing ledger's chain version 3, one row per statement and event for the
-- batch writes (the processor's penalty and results upserts, a stage's publication): the statement's
-- rows whole, as the json arrays `rows_before` and `rows_after` (json_agg of the transition tables in
-- id order), instead of one ledger row per written row with its changed columns. bench/ledger.sh
-- measured the per-row form at 1.37x / 1.83x / 1.45x the write without a ledger (CPU, 1,000 penalty
-- upserts / 300-entry results upsert / 300-entry publication); building each row's changed-column
-- JSON, its content hash and its ledger row was the cost, and json_agg renders a row in one C call.
--
-- Which statements (trm_ledger_record_rows below): a statement that records more than one row is
-- version 3, unless
--   * a row of it was stashed a reason or article for (a person's decision with its own reason through
--     Directus: 011/018), or
--   * it takes official results back (official -> provisional: an amendment looks the take-back's
--     reason up per row, 013/018);
-- those, and every statement of one row (a person's edit through Directus), stay version 2: one row
-- per written row with its changed columns, as 026 records them. What a statement records is the same
-- in both: the rows it inserted or deleted, the rows an update changed (version 3 compares a row's text,
-- version 2 its typed columns; TG_ARGV[1]: only rows whose named column changed), who (actor, role,
-- Directus user), when, the transaction's reason and article.
--
-- Version 3 (`chain_version = 3`), per row: `row_key` is `rows:<n>` (the statement's n rows of the
-- event); `before` and `after` are NULL; `rows_before` / `rows_after` hold the old and the new rows
-- (NULL for an insert / a delete), stored as the text PostgreSQL rendered (json keeps its text, so the
-- hash covers exactly what is stored); `reason` / `regulation_article` the transaction's.
--   content_hash = sha256 of version 2's content text with `3` for the version and the arrays' text in
--                  place of before / after (`1:3|event_id|event_seq|recorded_at|txid|db_role|
--                  directus_user|actor|table_name|row_key|operation|rows_before|rows_after|reason|
--                  regulation_article`, each field `<byte length>:<text>` or `-`);
--   prev_hash    = the event's head before the statement; hash = trm_ledger_link(prev_hash, content_hash)
--                  (a statement of one row in version 2's terms). So the head, 013/018's `ledger_head`
--                  and `trm-init ledger verify` read it as before; verify knows version 3.
-- The per-row reading of every version is the view `timing_ledger_rows` below: a version-3 row
-- unnested into one row per written row, its changed columns and `id` as before / after (inserts and
-- deletes whole, as 019 records them), a penalty decision's reason from the row's override fields.
--
-- Rows before this file keep their versions; applied files are never edited, so trm_ledger_record_rows
-- is replaced here whole: 026's body, with the version-3 branch ahead of it.

SELECT trm_require_columns('031_ledger_statement_rows', ARRAY[
  'timing_ledger.chain_version', 'timing_ledger.content_hash', 'stage_results.status', 'entry_segment_starts.target_at']);

ALTER TABLE timing_ledger ADD COLUMN IF NOT EXISTS rows_before json;
ALTER TABLE timing_ledger ADD COLUMN IF NOT EXISTS rows_after json;
-- lz4 where the server has it (PostgreSQL built --with-lz4, as Debian's and the official images are):
-- a 300-row array is compressed several times faster than with pglz. Either is read back the same.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE timing_ledger ALTER COLUMN rows_before SET COMPRESSION lz4, ALTER COLUMN rows_after SET COMPRESSION lz4;
  END IF;
END
$$;
ALTER TABLE timing_ledger DROP CONSTRAINT IF EXISTS timing_ledger_chain_version_check;
ALTER TABLE timing_ledger ADD CONSTRAINT timing_ledger_chain_version_check CHECK (
  chain_version = 1 AND content_hash IS NULL AND rows_before IS NULL AND rows_after IS NULL
  OR chain_version = 2 AND content_hash IS NOT NULL AND rows_before IS NULL AND rows_after IS NULL
  OR chain_version = 3 AND content_hash IS NOT NULL AND before IS NULL AND after IS NULL
     AND (rows_before IS NOT NULL OR rows_after IS NOT NULL) AND row_key LIKE 'rows:%');

-- The statement trigger of the batch-written timing tables (010's triggers call it): version 3 for a
-- batch (above), else 026's version 2, unchanged.
CREATE OR REPLACE FUNCTION trm_ledger_record_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  -- An update records `id` and the columns whose value changed, before and after (019's rule), built
  -- from the typed columns: each column compared once (`ch`, behind OFFSET 0 so it is not evaluated
  -- twice), only a changed value made JSON. A json column (json has no equality) counts as changed when
  -- its text differs and its value as jsonb too (019 compared the jsonb of whole rows); a type without
  -- a default btree operator class is compared as jsonb.
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
  -- a penalty's decision takes its override fields (019's rule: only when its review is not `computed`)
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
  a_rows_before json[];
  a_rows_after json[];
  a_count bigint[];
  v_total numeric;
  v_takebacks numeric;
BEGIN
  -- an upsert's INSERT (or UPDATE) statement trigger fires with no rows when all (or none) conflicted
  EXECUTE format('SELECT EXISTS (SELECT FROM %s)', CASE TG_OP WHEN 'DELETE' THEN 'old_rows' ELSE 'new_rows' END) INTO v_some;
  IF NOT v_some THEN
    RETURN NULL;
  END IF;
  -- Version 3 (one row per statement and event, its rows whole): every statement of more than one
  -- recorded row, unless a row of it was stashed a reason for (a person's decisions, which keep their
  -- own row each) or it takes official results back (an amendment looks the take-back up per row:
  -- 013/018). The gathering query is the one dynamic statement; the rest is planned once.
  IF NOT v_stashed THEN
    EXECUTE format($$SELECT array_agg(g.event_id ORDER BY g.event_id), array_agg(g.b ORDER BY g.event_id),
                            array_agg(g.a ORDER BY g.event_id), array_agg(g.n ORDER BY g.event_id), sum(g.n), sum(g.takebacks)
                       FROM (%s) g$$, CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT coalesce(%s, 0) AS event_id, NULL::json AS b, json_agg(x ORDER BY x.id) AS a, count(*) AS n, 0 AS takebacks
                                     FROM new_rows x%s GROUP BY 1', v_event, v_join)
        WHEN 'DELETE' THEN format('SELECT coalesce(%s, 0) AS event_id, json_agg(x ORDER BY x.id) AS b, NULL::json AS a, count(*) AS n, 0 AS takebacks
                                     FROM old_rows x%s GROUP BY 1', v_event, v_join)
        ELSE format('SELECT coalesce(%s, 0) AS event_id, json_agg(o ORDER BY o.id) AS b, json_agg(x ORDER BY x.id) AS a, count(*) AS n,
                            count(*) FILTER (WHERE %s) AS takebacks
                       FROM old_rows o JOIN new_rows x ON x.id = o.id%s WHERE %s GROUP BY 1', v_event,
                    CASE TG_TABLE_NAME WHEN 'stage_results' THEN $$o.status = 'official' AND x.status IS DISTINCT FROM 'official'$$ ELSE 'false' END,
                    v_join, CASE WHEN TG_NARGS > 1 THEN format('o.%1$I IS DISTINCT FROM x.%1$I', TG_ARGV[1]) ELSE 'o::text IS DISTINCT FROM x::text' END)
      END)
      INTO a_event, a_rows_before, a_rows_after, a_count, v_total, v_takebacks;
    IF coalesce(v_total, 0) = 0 THEN
      RETURN NULL;
    END IF;
    IF v_total > 1 AND v_takebacks = 0 THEN
      WITH h AS MATERIALIZED (
        SELECT u.event_id, u.b, u.a, u.n, hd.event_seq + 1 AS event_seq, hd.hash AS prev, 'rows:' || u.n AS row_key
          FROM unnest(a_event, a_rows_before, a_rows_after, a_count) AS u(event_id, b, a, n) CROSS JOIN LATERAL trm_ledger_head(u.event_id) hd
      ), c AS MATERIALIZED (
        SELECT h.*, encode(sha256(convert_to(concat_ws('|', '1:3', trm_ledger_field(h.event_id::text), trm_ledger_field(h.event_seq::text),
                      v_at_field, v_shared, trm_ledger_field(h.row_key), trm_ledger_field(v_op), trm_ledger_field(h.b::text),
                      trm_ledger_field(h.a::text), trm_ledger_field(v_treason), trm_ledger_field(v_tarticle)), 'UTF8')), 'hex') AS content_hash
          FROM h
      )
      INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key, operation,
                                 rows_before, rows_after, reason, regulation_article, prev_hash, hash, chain_version, content_hash)
      SELECT c.event_id, c.event_seq, v_at, v_txid, v_role, v_user, v_actor, TG_TABLE_NAME, c.row_key, v_op, c.b, c.a, v_treason, v_tarticle,
             c.prev, trm_ledger_link(c.prev, c.content_hash), 3, c.content_hash
        FROM c ORDER BY c.event_id;
      RETURN NULL;
    END IF;
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
  -- the rows in chain order (event, then row key), gathered by the one query that depends on the table
  EXECUTE format('SELECT array_agg(q.event_id), array_agg(q.row_key), array_agg(q.before), array_agg(q.after), array_agg(q.decision)
                    FROM (%s ORDER BY 1, 2) q', v_rows)
    INTO a_event, a_key, a_before, a_after, a_decision;
  -- appended by one static statement (PL/pgSQL keeps its plan): reasons; each event's head, under its
  -- lock, in event order; the rows numbered after it; content hashes; each event's link; the INSERT
  WITH r AS MATERIALIZED (
    SELECT u.event_id, u.row_key, u.before, u.after, u.decision, u.n,
           CASE WHEN u.decision AND v_stashed THEN trm_row_setting('reason', TG_TABLE_NAME, u.row_key) END AS row_reason,
           CASE WHEN u.decision AND v_stashed THEN trm_row_setting('article', TG_TABLE_NAME, u.row_key) END AS row_article
      FROM unnest(a_event, a_key, a_before, a_after, a_decision) WITH ORDINALITY AS u(event_id, row_key, before, after, decision, n)
  ), h AS MATERIALIZED (
    SELECT e.event_id, hd.event_seq AS seq0, hd.hash AS prev
      FROM (SELECT DISTINCT r.event_id FROM r ORDER BY 1) e CROSS JOIN LATERAL trm_ledger_head(e.event_id) hd
  ), c AS MATERIALIZED (
    SELECT r.event_id, h.seq0 + row_number() OVER (PARTITION BY r.event_id ORDER BY r.n) AS event_seq, r.row_key,
           r.before, r.after, r.before::text AS before_t, r.after::text AS after_t, h.prev,
           CASE WHEN r.decision THEN coalesce(r.row_reason, CASE WHEN v_penalties AND r.after ->> 'review_state' <> 'computed'
                                                                 THEN nullif(btrim(r.after ->> 'override_reason'), '') END, v_treason)
                ELSE v_treason END AS reason,
           CASE WHEN r.decision THEN coalesce(r.row_article, CASE WHEN v_penalties AND r.after ->> 'review_state' <> 'computed'
                                                                  THEN nullif(btrim(r.after ->> 'override_regulation_article'), '') END, v_tarticle)
                ELSE v_tarticle END AS article
      FROM r JOIN h ON h.event_id = r.event_id
  ), d AS MATERIALIZED (
    SELECT c.*, trm_ledger_content_hash(c.event_id, c.event_seq, v_at_field, v_shared, c.row_key, v_op, c.before_t, c.after_t,
                                        c.reason, c.article) AS content_hash
      FROM c
  ), l AS (
    SELECT d.event_id, trm_ledger_link(min(d.prev), string_agg(d.content_hash, '|' ORDER BY d.event_seq)) AS link
      FROM d GROUP BY d.event_id
  ), ins AS (
    INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                               operation, before, after, reason, regulation_article, prev_hash, hash, chain_version, content_hash)
    SELECT d.event_id, d.event_seq, v_at, v_txid, v_role, v_user, v_actor, TG_TABLE_NAME, d.row_key, v_op, d.before, d.after,
           d.reason, d.article, d.prev, l.link, 2, d.content_hash
      FROM d JOIN l ON l.event_id = d.event_id
  )
  SELECT array_agg(r.row_key) FILTER (WHERE r.row_reason IS NOT NULL), array_agg(r.row_key) FILTER (WHERE r.row_article IS NOT NULL)
    INTO v_reason_keys, v_article_keys
    FROM r;
  -- a reason or article given for one row is used once (a later write of the row in this transaction
  -- gives its own); cleared only where given, so a 300-row publication creates no settings
  FOREACH k IN ARRAY coalesce(v_reason_keys, '{}') LOOP
    PERFORM trm_stash_row_setting('reason', TG_TABLE_NAME, k, NULL);
  END LOOP;
  FOREACH k IN ARRAY coalesce(v_article_keys, '{}') LOOP
    PERFORM trm_stash_row_setting('article', TG_TABLE_NAME, k, NULL);
  END LOOP;
  RETURN NULL;
END
$fn$;

-- Every ledger row as one row per written row, whatever its version: versions 1 and 2 as stored;
-- version 3 unnested (the arrays are in id order, an update's two of the same rows, so they pair by
-- position). An update's before / after: `id` and the columns whose value differs; an insert's after
-- and a delete's before: the row whole (019's rule). A version-3 row's reason: the statement's, but a
-- penalty decision (its review or override changed, its review not `computed`) takes the row's own
-- override reason and article first (026's rule). `row_in_statement`: the position in its version-3
-- statement (NULL for versions 1 and 2). For readers (the stewards, tests, an export); the chain is
-- verified on timing_ledger itself. Like the ledger, no application role may read it.
CREATE OR REPLACE VIEW timing_ledger_rows AS
SELECT l.seq, l.event_id, l.event_seq, NULL::bigint AS row_in_statement, l.recorded_at, l.txid, l.db_role, l.directus_user, l.actor,
       l.table_name, l.row_key, l.operation, l.before, l.after, l.reason, l.regulation_article, l.chain_version
  FROM timing_ledger l WHERE l.chain_version < 3
UNION ALL
SELECT l.seq, l.event_id, l.event_seq, p.i, l.recorded_at, l.txid, l.db_role, l.directus_user, l.actor,
       l.table_name, coalesce(p.a ->> 'id', p.b ->> 'id'), l.operation,
       CASE WHEN p.a IS NULL THEN p.b ELSE (SELECT jsonb_object_agg(e.k, e.v) FROM jsonb_each(p.b) e(k, v) WHERE e.k = 'id' OR p.a -> e.k IS DISTINCT FROM e.v) END,
       CASE WHEN p.b IS NULL THEN p.a ELSE (SELECT jsonb_object_agg(e.k, e.v) FROM jsonb_each(p.a) e(k, v) WHERE e.k = 'id' OR p.b -> e.k IS DISTINCT FROM e.v) END,
       CASE WHEN p.decision THEN coalesce(nullif(btrim(p.a ->> 'override_reason'), ''), l.reason) ELSE l.reason END,
       CASE WHEN p.decision THEN coalesce(nullif(btrim(p.a ->> 'override_regulation_article'), ''), l.regulation_article) ELSE l.regulation_article END,
       l.chain_version
  FROM timing_ledger l
  CROSS JOIN LATERAL (
    SELECT coalesce(a.i, b.i) AS i, b.r::jsonb AS b, a.r::jsonb AS a,
           l.table_name = 'entry_penalties' AND b.r IS NOT NULL AND a.r IS NOT NULL AND a.r ->> 'review_state' <> 'computed'
             AND (b.r ->> 'review_state', b.r ->> 'override_seconds') IS DISTINCT FROM (a.r ->> 'review_state', a.r ->> 'override_seconds') AS decision
      FROM json_array_elements(l.rows_after) WITH ORDINALITY a(r, i)
      FULL JOIN json_array_elements(l.rows_before) WITH ORDINALITY b(r, i) ON b.i = a.i
  ) p
 WHERE l.chain_version = 3;
REVOKE ALL ON timing_ledger_rows FROM PUBLIC;

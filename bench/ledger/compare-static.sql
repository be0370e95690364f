-- bench/ledger.sh COMPARE file (issue 25, round 8; measured, NOT shipped as a migration: docs/benchmarks.md
-- "Round 8" — 0.92-1.01x 026's CPU, inside the noise). The ledger's statement trigger (`trm_ledger_record_rows`, 010's triggers)
-- without planning at each statement. 026's function ran two statements per batch: a gathering query
-- built from the catalog at each call (EXECUTE: parsed and planned every time, because its column list
-- depends on the table) that collected the rows into arrays, then a static append over those arrays.
-- Here the function's text is generated from the catalog, once, by `trm_ledger_compile()`: for each
-- ledgered table and operation (read from pg_trigger) one static statement, gathering and appending in
-- one `WITH ... INSERT`, no arrays, no unnest, no EXISTS probe first. PL/pgSQL compiles a trigger
-- function once per trigger and keeps each static statement's plan, so a batch is planned once per
-- session, not once per statement.
--
-- What is recorded and hashed is 026's, to the byte: same rows, same `before`/`after` (the same SQL
-- builds them: `trm_ledger_gather_sql` below is 026's rule, moved into a function), same reasons and
-- articles, same chain version 2 (`trm-init ledger verify` unchanged). A table whose columns changed
-- after the last compile (its column list and types, checked at each update statement against the
-- list compiled in, one catalog lookup with a kept plan) is recorded by the dynamic path, which builds
-- the same statement from the catalog as it is now and runs it with EXECUTE: never a stale column
-- list, only the old per-statement cost. A migration that changes a ledgered table's columns calls
-- `SELECT trm_ledger_compile()` at its end to get the static path back.
--
-- bench/ledger.sh (docs/benchmarks.md, "Round 8") measures what it saves.

SELECT trm_require_columns('compare-static', ARRAY[
  'timing_ledger.chain_version', 'timing_ledger.content_hash', 'entry_penalties.override_regulation_article',
  'stage_results.status', 'entry_segment_starts.target_at']);

-- The gathering query of a statement (026's rule): rows (event_id, row_key, before, after, decision) of
-- the transition tables `new_rows` / `old_rows`. p_owner: how a row finds its event ('entry':
-- entry_id -> entries.event_id, or 'event'); p_col (updates only, optional): the one column whose change
-- is recorded. An update records `id` and the columns whose value changed, before and after, each
-- column compared once (`ch`, behind OFFSET 0 so it is not evaluated twice), only a changed value made
-- JSON; a json column counts as changed when its text differs and its value as jsonb too; a type
-- without a default btree operator class is compared as jsonb. A decision row (a penalty's review or
-- override, a result's status, a start's target) takes a row's own reason later.
CREATE OR REPLACE FUNCTION trm_ledger_gather_sql(p_rel regclass, p_op text, p_owner text, p_col text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $fn$
DECLARE
  v_table text := (SELECT relname FROM pg_class WHERE oid = p_rel);
  v_event text := CASE p_owner WHEN 'entry' THEN 'en.event_id' ELSE 'x.event_id' END;
  v_join text := CASE p_owner WHEN 'entry' THEN ' LEFT JOIN entries en ON en.id = x.entry_id' ELSE '' END;
  v_decision text := CASE v_table
    WHEN 'entry_penalties' THEN '(o.review_state, o.override_seconds) IS DISTINCT FROM (x.review_state, x.override_seconds)'
    WHEN 'stage_results' THEN 'o.status IS DISTINCT FROM x.status'
    WHEN 'entry_segment_starts' THEN 'true'
    ELSE 'false' END;
  v_ch text;
  v_before text;
  v_after text;
  v_any text;
BEGIN
  IF p_op = 'INSERT' THEN
    RETURN format('SELECT coalesce(%s, 0) AS event_id, x.id::text AS row_key, NULL::jsonb AS before, to_jsonb(x) AS after, false AS decision FROM new_rows x%s', v_event, v_join);
  ELSIF p_op = 'DELETE' THEN
    RETURN format('SELECT coalesce(%s, 0) AS event_id, x.id::text AS row_key, to_jsonb(x) AS before, NULL::jsonb AS after, false AS decision FROM old_rows x%s', v_event, v_join);
  END IF;
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
    FROM pg_attribute a WHERE a.attrelid = p_rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id';
  RETURN format($$SELECT coalesce(%s, 0) AS event_id, x.id::text AS row_key, jsonb_build_object('id', o.id)%s AS before,
                         jsonb_build_object('id', x.id)%s AS after, %s AS decision
                    FROM old_rows o JOIN new_rows x ON x.id = o.id%s CROSS JOIN LATERAL (SELECT %s OFFSET 0) ch
                   WHERE %s$$, v_event, v_before, v_after, v_decision, v_join, v_ch,
                CASE WHEN p_col IS NOT NULL THEN format('o.%1$I IS DISTINCT FROM x.%1$I', p_col) ELSE v_any END);
END
$fn$;

-- A table's columns as the gathering query of an update depends on them (names and types, in order).
CREATE OR REPLACE FUNCTION trm_ledger_columns(p_rel regclass) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
    FROM pg_attribute a WHERE a.attrelid = p_rel AND a.attnum > 0 AND NOT a.attisdropped
$fn$;

-- The append after the gathering query `g` (026's, chain version 2): the rows in chain order (event,
-- then row key), each decision row's stashed reason and article (looked up only in a transaction that
-- stashed any), each event's head under its lock in event order, the rows numbered after it, content
-- hashes, each event's link, the INSERT; it returns the row keys whose stashed reason / article it used.
-- p_static: the text for the compiled function (PL/pgSQL variables) or for EXECUTE ... USING ($1-$13,
-- in the order of the USING list in trm_ledger_compile).
CREATE OR REPLACE FUNCTION trm_ledger_append_sql(p_static boolean) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  v_sql text := $sql$, r AS MATERIALIZED (
    SELECT g.event_id, g.row_key, g.before, g.after, g.decision, row_number() OVER (ORDER BY g.event_id, g.row_key) AS n,
           CASE WHEN g.decision AND {stashed} THEN trm_row_setting('reason', {table}, g.row_key) END AS row_reason,
           CASE WHEN g.decision AND {stashed} THEN trm_row_setting('article', {table}, g.row_key) END AS row_article
      FROM g
  ), h AS MATERIALIZED (
    SELECT e.event_id, hd.event_seq AS seq0, hd.hash AS prev
      FROM (SELECT DISTINCT r.event_id FROM r ORDER BY 1) e CROSS JOIN LATERAL trm_ledger_head(e.event_id) hd
  ), c AS MATERIALIZED (
    SELECT r.event_id, h.seq0 + row_number() OVER (PARTITION BY r.event_id ORDER BY r.n) AS event_seq, r.row_key,
           r.before, r.after, r.before::text AS before_t, r.after::text AS after_t, h.prev,
           CASE WHEN r.decision THEN coalesce(r.row_reason, CASE WHEN {penalties} AND r.after ->> 'review_state' <> 'computed'
                                                                 THEN nullif(btrim(r.after ->> 'override_reason'), '') END, {treason})
                ELSE {treason} END AS reason,
           CASE WHEN r.decision THEN coalesce(r.row_article, CASE WHEN {penalties} AND r.after ->> 'review_state' <> 'computed'
                                                                  THEN nullif(btrim(r.after ->> 'override_regulation_article'), '') END, {tarticle})
                ELSE {tarticle} END AS article
      FROM r JOIN h ON h.event_id = r.event_id
  ), d AS MATERIALIZED (
    SELECT c.*, trm_ledger_content_hash(c.event_id, c.event_seq, {at_field}, {shared}, c.row_key, {op}, c.before_t, c.after_t,
                                        c.reason, c.article) AS content_hash
      FROM c
  ), l AS (
    SELECT d.event_id, trm_ledger_link(min(d.prev), string_agg(d.content_hash, '|' ORDER BY d.event_seq)) AS link
      FROM d GROUP BY d.event_id
  ), ins AS (
    INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                               operation, before, after, reason, regulation_article, prev_hash, hash, chain_version, content_hash)
    SELECT d.event_id, d.event_seq, {at}, {txid}, {role}, {user}, {actor}, {table}, d.row_key, {op}, d.before, d.after,
           d.reason, d.article, d.prev, l.link, 2, d.content_hash
      FROM d JOIN l ON l.event_id = d.event_id
  )
  SELECT array_agg(r.row_key) FILTER (WHERE r.row_reason IS NOT NULL), array_agg(r.row_key) FILTER (WHERE r.row_article IS NOT NULL)
    FROM r$sql$;
  v_names text[] := ARRAY['stashed', 'table', 'penalties', 'treason', 'tarticle', 'at_field', 'shared', 'op', 'at', 'txid', 'role', 'user', 'actor'];
  v_vars text[] := ARRAY['v_stashed', 'TG_TABLE_NAME', 'v_penalties', 'v_treason', 'v_tarticle', 'v_at_field', 'v_shared', 'v_op',
                         'v_at', 'v_txid', 'v_role', 'v_user', 'v_actor'];
  i integer;
BEGIN
  FOR i IN 1 .. array_length(v_names, 1) LOOP
    v_sql := replace(v_sql, '{' || v_names[i] || '}', CASE WHEN p_static THEN v_vars[i] ELSE '$' || i END);
  END LOOP;
  RETURN v_sql;
END
$fn$;

-- Generates trm_ledger_record_rows: one static statement per ledgered table and operation (the triggers
-- calling it, with their arguments, read from pg_trigger), the dynamic path for anything else. Returns
-- the number of static statements compiled in.
CREATE OR REPLACE FUNCTION trm_ledger_compile() RETURNS integer LANGUAGE plpgsql SET search_path = public, pg_temp AS $compile$
DECLARE
  t record;
  v_blocks text := '';
  v_n integer := 0;
BEGIN
  FOR t IN SELECT tg.tgrelid::regclass AS rel, c.relname, op.op,
                  (string_to_array(encode(tg.tgargs, 'escape'), '\000'))[1] AS owner,
                  (string_to_array(encode(tg.tgargs, 'escape'), '\000'))[2] AS col, tg.tgnargs
             FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace
             CROSS JOIN LATERAL (SELECT CASE WHEN tg.tgtype & 4 <> 0 THEN 'INSERT' WHEN tg.tgtype & 8 <> 0 THEN 'DELETE'
                                             WHEN tg.tgtype & 16 <> 0 THEN 'UPDATE' END AS op) op
            WHERE tg.tgfoid = 'trm_ledger_record_rows'::regproc AND NOT tg.tgisinternal AND ns.nspname = 'public'
              AND tg.tgtype & 1 = 0 AND tg.tgtype & (4 | 8 | 16) IN (4, 8, 16)
            ORDER BY c.relname, op.op LOOP
    v_blocks := v_blocks || format($b$
  ELSIF TG_TABLE_NAME = %1$L AND TG_OP = %2$L AND TG_ARGV[0] = %3$L AND TG_NARGS = %4$s%5$s THEN
    WITH g AS MATERIALIZED (
%6$s
    ) %7$s
      INTO v_reason_keys, v_article_keys;$b$,
      t.relname, t.op, t.owner, t.tgnargs,
      CASE WHEN t.op = 'UPDATE' THEN format(E'\n        AND trm_ledger_columns(TG_RELID) = %L', trm_ledger_columns(t.rel))
           ELSE '' END || CASE WHEN t.tgnargs > 1 THEN format(' AND TG_ARGV[1] = %L', t.col) ELSE '' END,
      trm_ledger_gather_sql(t.rel, t.op, t.owner, CASE WHEN t.tgnargs > 1 THEN t.col END),
      trm_ledger_append_sql(true));
    v_n := v_n + 1;
  END LOOP;
  EXECUTE format($f$
CREATE OR REPLACE FUNCTION trm_ledger_record_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
-- Generated by trm_ledger_compile() (bench/ledger/compare-static.sql): edit that, not this.
DECLARE
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
  v_reason_keys text[];
  v_article_keys text[];
  k text;
BEGIN
  IF TG_TABLE_SCHEMA <> 'public' THEN
    NULL;%s
  ELSE
    -- not compiled in (a table's columns changed since trm_ledger_compile(), or a new ledgered table):
    -- the same statement built from the catalog now
    EXECUTE 'WITH g AS MATERIALIZED (' || trm_ledger_gather_sql(TG_RELID, TG_OP, TG_ARGV[0], CASE WHEN TG_NARGS > 1 THEN TG_ARGV[1] END)
            || ') ' || trm_ledger_append_sql(false)
      INTO v_reason_keys, v_article_keys
      USING v_stashed, TG_TABLE_NAME, v_penalties, v_treason, v_tarticle, v_at_field, v_shared, v_op, v_at, v_txid, v_role, v_user, v_actor;
  END IF;
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
$fn$$f$, v_blocks);
  RETURN v_n;
END
$compile$;
REVOKE ALL ON FUNCTION trm_ledger_compile() FROM PUBLIC;

DO $$
DECLARE
  n integer := trm_ledger_compile();
BEGIN
  IF n <> 12 THEN
    RAISE EXCEPTION 'compare-static: % ledger statements compiled, expected 12 (insert, update, delete of entry_penalties, stage_results, penalty_formulas, entry_segment_starts)', n;
  END IF;
END
$$;

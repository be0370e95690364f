-- Phase 6 (issue 25): the timing ledger's chain, version 2: one link per statement instead of one per
-- row, so a batch is hashed set-based in one INSERT ... SELECT (no PL/pgSQL loop, no row waiting for the
-- hash of the row before it). Rows written before this file keep version 1 and keep verifying with
-- 010's rule; `trm-init ledger verify` (src/commands/ledger.rs) checks both, and a chain crosses from
-- one to the other: the first version-2 statement links to the last version-1 row's hash.
--
-- Version 2 (`chain_version = 2`), per row:
--   content_hash = sha256 (lowercase hex) of the row's content text: the fields below, each written as
--                  `<byte length>:<text>` or `-` for NULL (010's trm_ledger_field), joined by `|`:
--                    chain_version, event_id, event_seq, recorded_at (UTC, YYYY-MM-DDTHH:MI:SS.USZ), txid,
--                    db_role, directus_user, actor, table_name, row_key, operation, before (jsonb text),
--                    after (jsonb text), reason, regulation_article
--                  (no link: a row's content hash does not wait for another row's; `actor` is hashed too);
--   prev_hash    = the event's chain head before the statement (the same on every row the statement
--                  appended to the event; 64 zeros for an event's first row);
--   hash         = the statement's link: sha256 (lowercase hex) of prev_hash and the content hashes of
--                  the statement's rows of the event in event_seq order, joined by `|`
--                  (`<prev_hash>|<content_hash 1>|...|<content_hash n>`), the same on each of those rows.
-- So the event's head is still the `hash` of its last row (013/018's `ledger_head` read it unchanged).
-- One statement's rows of one event are the consecutive rows sharing (prev_hash, hash). The row paths
-- (retroactive course rows, faulty flags, 020's formula versions: trm_ledger_append) append statements
-- of one row.
--
-- Why it is as tamper-evident as version 1: the link covers every content hash of the statement, in
-- order, and the head before it, so the chain is still one hash list from the event's first row to its
-- head. Changing a row's content breaks its content hash (verify names that row); rewriting the content
-- hash too breaks the statement's link (verify names the statement's first row: the link cannot say
-- which of its rows); removing, inserting or reordering rows breaks event_seq (a gap is named at the row
-- after it), or the link (a statement's last row removed; rows renumbered, whose content hashes change
-- with event_seq, rewritten to fit); a rewritten link no longer hashes its head and rows, and one
-- recomputed to fit no longer is the next statement's prev_hash. As before, only a head filed earlier
-- (`--head`) catches a superuser who rewrites every hash from the edit to the end, or cuts rows off
-- the end.
--
-- Same triggers, same function names (010 and 019 are applied and never edited): trm_ledger_append and
-- trm_ledger_record_rows are replaced here; what is recorded (rows, before/after, reasons, actor) is 019's.

SELECT trm_require_columns('026_ledger_chain_per_statement', ARRAY[
  'timing_ledger.event_seq', 'timing_ledger.prev_hash', 'timing_ledger.hash', 'timing_ledger.actor',
  'entry_penalties.override_regulation_article', 'stage_results.status', 'entry_segment_starts.target_at']);

-- Existing rows get 1 (the catalog's missing value: no rewrite); rows from now on are version 2.
ALTER TABLE timing_ledger ADD COLUMN IF NOT EXISTS chain_version smallint NOT NULL DEFAULT 1;
ALTER TABLE timing_ledger ALTER COLUMN chain_version SET DEFAULT 2;
ALTER TABLE timing_ledger ADD COLUMN IF NOT EXISTS content_hash text;
ALTER TABLE timing_ledger DROP CONSTRAINT IF EXISTS timing_ledger_chain_version_check;
ALTER TABLE timing_ledger ADD CONSTRAINT timing_ledger_chain_version_check
  CHECK (chain_version = 1 AND content_hash IS NULL OR chain_version = 2 AND content_hash IS NOT NULL);

-- A version-2 content hash. The caller hands in what a statement's rows share already encoded
-- (`p_at`: trm_ledger_field of recorded_at's text; `p_shared`: trm_ledger_shared below) and the row's
-- JSON already as text (so a set-based caller renders each value once).
CREATE OR REPLACE FUNCTION trm_ledger_content_hash(p_event integer, p_seq bigint, p_at text, p_shared text, p_row_key text,
                                                   p_operation text, p_before text, p_after text, p_reason text, p_article text)
RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT encode(sha256(convert_to(concat_ws('|', '1:2', trm_ledger_field(p_event::text), trm_ledger_field(p_seq::text), p_at,
           p_shared, trm_ledger_field(p_row_key), trm_ledger_field(p_operation), trm_ledger_field(p_before),
           trm_ledger_field(p_after), trm_ledger_field(p_reason), trm_ledger_field(p_article)), 'UTF8')), 'hex')
$fn$;

-- The fields a statement's rows share (txid, db_role, directus_user, actor, table_name), encoded.
CREATE OR REPLACE FUNCTION trm_ledger_shared(p_txid text, p_role text, p_user uuid, p_actor text, p_table text)
RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT concat_ws('|', trm_ledger_field(p_txid), trm_ledger_field(p_role), trm_ledger_field(p_user::text),
                   trm_ledger_field(p_actor), trm_ledger_field(p_table))
$fn$;

-- A version-2 link: the head before a statement and its rows' content hashes in event_seq order.
CREATE OR REPLACE FUNCTION trm_ledger_link(p_prev text, p_contents text) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT encode(sha256(convert_to(p_prev || '|' || p_contents, 'UTF8')), 'hex')
$fn$;

-- A reason or article stashed for one row (011/018; 020's formula version) also marks the transaction
-- (`trm.row_settings`), so the statement trigger looks a decision row's stash up only in a transaction
-- that stashed anything: a 300-row publication through the API or the processor's batch reads none.
-- Same signature and stash as 010's.
CREATE OR REPLACE FUNCTION trm_stash_row_setting(what text, tbl text, row_key text, value text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config(format('trm.%s_%s_%s', what, tbl, regexp_replace(row_key, '[^0-9A-Za-z_]', '_', 'g')), coalesce(value, ''), true);
  IF nullif(value, '') IS NOT NULL THEN
    PERFORM set_config('trm.row_settings', 'on', true);
  END IF;
END
$fn$;

-- One row appended (the row-level path: retroactive course rows, faulty flags, formula versions): a
-- statement of one row in version 2. Same signature as 010's.
CREATE OR REPLACE FUNCTION trm_ledger_append(p_event integer, p_table text, p_row_key text, p_operation text,
                                             p_before jsonb, p_after jsonb, p_reason text, p_article text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_event integer := coalesce(p_event, 0);
  v_user uuid := trm_ledger_claimed_user();
  v_at timestamptz := clock_timestamp();
  v_txid text := pg_current_xact_id()::text;
  v_role text := session_user;
  v_actor text := CASE WHEN v_user IS NOT NULL THEN 'directus:' || v_user ELSE 'db:' || session_user END;
  v_head record := trm_ledger_head(v_event);
  v_content text := trm_ledger_content_hash(v_event, v_head.event_seq + 1, trm_ledger_field(trm_ledger_time(v_at)),
                                            trm_ledger_shared(v_txid, v_role, v_user, v_actor, p_table),
                                            p_row_key, p_operation, p_before::text, p_after::text, p_reason, p_article);
BEGIN
  INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                             operation, before, after, reason, regulation_article, prev_hash, hash, chain_version, content_hash)
  VALUES (v_event, v_head.event_seq + 1, v_at, v_txid, v_role, v_user, v_actor, p_table, p_row_key, p_operation,
          p_before, p_after, p_reason, p_article, v_head.hash, trm_ledger_link(v_head.hash, v_content), 2, v_content);
END
$fn$;
REVOKE ALL ON FUNCTION trm_ledger_append(integer, text, text, text, jsonb, jsonb, text, text) FROM PUBLIC;

-- The statement trigger of the batch-written timing tables (010's triggers call it). What it records is
-- 019's: TG_ARGV[0] says how to find a row's event ('entry': entry_id -> entries.event_id, or 'event'),
-- TG_ARGV[1] (updates only, optional) the one column whose change is recorded; an update records `id`
-- and the changed columns, and none when nothing changed; a decision row (a penalty's review or
-- override, a result's status, a start's target) takes its reason and article from what was stashed for
-- the row (011/018, used once), a penalty's override fields, or the transaction. How it appends is
-- version 2, in two statements: one query (dynamic: it depends on the table) gathers the rows in chain
-- order (event, then row key) into arrays; one static INSERT ... SELECT (its plan kept by PL/pgSQL: a
-- statement's fixed cost is mostly planning) takes the reasons, each event's head (under its lock, in
-- event order), numbers the rows after it, hashes each row's content and links each event's rows; then
-- the stashed settings it used are cleared.
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
BEGIN
  -- an upsert's INSERT (or UPDATE) statement trigger fires with no rows when all (or none) conflicted
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

-- bench/ledger.sh COMPARE file (measurement only, never a migration): the shipped per-row design (026)
-- with its three hashes stored as bytea (32 bytes) instead of 64-character hex text. Same rows, same
-- fields, same chain structure: content_hash = sha256 of the same content text (raw, not hex); the
-- link = sha256 of the head's 32 bytes followed by the statement's content hashes' bytes in event_seq
-- order (no separators: each is 32 bytes); an event's first head is 32 zero bytes. `ledger verify` does
-- not read this form (the bench runs it on A only). Applied to the copy (B) only.
ALTER TABLE timing_ledger ALTER COLUMN prev_hash TYPE bytea USING decode(prev_hash, 'hex'),
                          ALTER COLUMN hash TYPE bytea USING decode(hash, 'hex'),
                          ALTER COLUMN content_hash TYPE bytea USING decode(content_hash, 'hex');
-- a result version files the head it was published under (013/018 read it as text): room for the
-- bytea's text form ('\x' + 64 hex digits) in the copy; a real migration would store bytea there too
ALTER TABLE result_versions ALTER COLUMN ledger_head TYPE varchar(66);
DROP FUNCTION trm_ledger_head(integer);
CREATE FUNCTION trm_ledger_head(p_event integer, OUT event_seq bigint, OUT hash bytea) LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('trm timing_ledger'), p_event);
  SELECT l.event_seq, l.hash INTO event_seq, hash FROM timing_ledger l WHERE l.event_id = p_event ORDER BY l.event_seq DESC LIMIT 1;
  event_seq := coalesce(event_seq, 0);
  hash := coalesce(hash, decode(repeat('00', 32), 'hex'));
END
$fn$;
DROP FUNCTION trm_ledger_content_hash(integer, bigint, text, text, text, text, text, text, text, text);
CREATE FUNCTION trm_ledger_content_hash(p_event integer, p_seq bigint, p_at text, p_shared text, p_row_key text,
                                        p_operation text, p_before text, p_after text, p_reason text, p_article text)
RETURNS bytea LANGUAGE sql STABLE AS $fn$
  SELECT sha256(convert_to(concat_ws('|', '1:2', trm_ledger_field(p_event::text), trm_ledger_field(p_seq::text), p_at,
           p_shared, trm_ledger_field(p_row_key), trm_ledger_field(p_operation), trm_ledger_field(p_before),
           trm_ledger_field(p_after), trm_ledger_field(p_reason), trm_ledger_field(p_article)), 'UTF8'))
$fn$;
CREATE FUNCTION trm_ledger_link(p_prev bytea, p_contents bytea) RETURNS bytea LANGUAGE sql STABLE AS $fn$
  SELECT sha256(p_prev || p_contents)
$fn$;
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
    SELECT d.event_id, trm_ledger_link((array_agg(d.prev))[1], string_agg(d.content_hash, ''::bytea ORDER BY d.event_seq)) AS link
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

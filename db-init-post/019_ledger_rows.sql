-- Phase 6: the timing ledger's statement trigger (010's trm_ledger_record_rows) again, for two reasons:
--   * the reason and article of each decision row: 018's write-only fields (stage_results'
--     amendment_reason / amendment_regulation_article, entry_segment_starts' change_reason /
--     change_regulation_article) and a penalty's override_regulation_article are kept in the ledger's
--     `reason` / `regulation_article`, row by row, before the transaction's trm.reason / trm.regulation_article;
--   * its cost on the processor's batch path (bench/ledger.sh, docs/benchmarks.md): an update records
--     the columns that changed (and `id`), not the whole row twice; a row's event comes from one join
--     instead of a sub-select per row; the statement's rows share one `recorded_at`.
-- The hashed text and the chain are unchanged (010's header; src/commands/ledger.rs verifies them), so
-- rows written before this file and after it form one chain. Same function name, same triggers.

SELECT trm_require_columns('019_ledger_rows', ARRAY[
  'entry_penalties.override_regulation_article', 'stage_results.status', 'entry_segment_starts.target_at', 'timing_ledger.regulation_article']);

-- Only the columns of `new_row` whose value differs in `old_row`, and `id`; the pair (before, after).
CREATE OR REPLACE FUNCTION trm_ledger_changed(old_row jsonb, new_row jsonb, OUT before jsonb, OUT after jsonb) LANGUAGE sql IMMUTABLE AS $fn$
  SELECT jsonb_build_object('id', old_row -> 'id') || coalesce(jsonb_object_agg(n.key, old_row -> n.key), '{}'),
         jsonb_build_object('id', new_row -> 'id') || coalesce(jsonb_object_agg(n.key, n.value), '{}')
    FROM jsonb_each(new_row) n
   WHERE old_row -> n.key IS DISTINCT FROM n.value
$fn$;

-- TG_ARGV[0]: how to find a row's event, 'entry' (entry_id -> entries.event_id) or 'event' (event_id);
-- TG_ARGV[1] (updates only, optional): the column whose change alone is recorded. An update that changes
-- nothing (an idempotent upsert) is no decision and is not recorded. A decision row (a penalty's review
-- or override, a result's status, a start's target) takes its reason and article from what was given for
-- the row (stashed by 011/018), a penalty's override fields, or the transaction.
CREATE OR REPLACE FUNCTION trm_ledger_record_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_event text := CASE TG_ARGV[0] WHEN 'entry' THEN 'en.event_id' ELSE 'x.event_id' END;
  v_join text := CASE TG_ARGV[0] WHEN 'entry' THEN ' LEFT JOIN entries en ON en.id = x.entry_id' ELSE '' END;
  v_decision text := CASE TG_TABLE_NAME
    WHEN 'entry_penalties' THEN '(o.review_state, o.override_seconds) IS DISTINCT FROM (x.review_state, x.override_seconds)'
    WHEN 'stage_results' THEN 'o.status IS DISTINCT FROM x.status'
    WHEN 'entry_segment_starts' THEN 'true'
    ELSE 'false' END;
  v_rows text := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s AS event_id, x.id::text AS row_key, NULL::jsonb AS before, to_jsonb(x) AS after, false AS decision FROM new_rows x%s', v_event, v_join)
    WHEN 'DELETE' THEN format('SELECT %s AS event_id, x.id::text AS row_key, to_jsonb(x) AS before, NULL::jsonb AS after, false AS decision FROM old_rows x%s', v_event, v_join)
    ELSE format('SELECT %s AS event_id, x.id::text AS row_key, c.before, c.after, %s AS decision
                   FROM old_rows o JOIN new_rows x ON x.id = o.id%s CROSS JOIN LATERAL trm_ledger_changed(to_jsonb(o), to_jsonb(x)) c
                  WHERE %s', v_event, v_decision, v_join,
                CASE WHEN TG_NARGS > 1 THEN format('o.%1$I IS DISTINCT FROM x.%1$I', TG_ARGV[1]) ELSE 'c.before <> c.after' END)
  END;
  v_user uuid := trm_ledger_claimed_user();
  v_role text := session_user;
  v_actor text := CASE WHEN v_user IS NOT NULL THEN 'directus:' || v_user ELSE 'db:' || session_user END;
  v_txid text := pg_current_xact_id()::text;
  v_op text := lower(TG_OP);
  v_at timestamptz := clock_timestamp();
  v_treason text := nullif(btrim(current_setting('trm.reason', true)), '');
  v_tarticle text := nullif(btrim(current_setting('trm.regulation_article', true)), '');
  v_penalties boolean := TG_TABLE_NAME = 'entry_penalties';
  r record;
  v_cur integer;
  v_head record;
  v_seq bigint;
  v_prev text;
  v_reason text;
  v_article text;
  v_reviewed boolean;
  v_row_reason text;
  v_row_article text;
  a_event integer[] := '{}'; a_seq bigint[] := '{}'; a_key text[] := '{}'; a_before jsonb[] := '{}'; a_after jsonb[] := '{}';
  a_reason text[] := '{}'; a_article text[] := '{}'; a_prev text[] := '{}'; a_hash text[] := '{}';
BEGIN
  FOR r IN EXECUTE v_rows || ' ORDER BY 1, 2' LOOP
    IF v_cur IS DISTINCT FROM coalesce(r.event_id, 0) THEN
      v_cur := coalesce(r.event_id, 0);
      v_head := trm_ledger_head(v_cur);
      v_seq := v_head.event_seq;
      v_prev := v_head.hash;
    END IF;
    v_reason := v_treason;
    v_article := v_tarticle;
    IF r.decision THEN
      v_reviewed := v_penalties AND r.after ->> 'review_state' <> 'computed';
      v_row_reason := trm_row_setting('reason', TG_TABLE_NAME, r.row_key);
      v_row_article := trm_row_setting('article', TG_TABLE_NAME, r.row_key);
      v_reason := coalesce(v_row_reason, CASE WHEN v_reviewed THEN nullif(btrim(r.after ->> 'override_reason'), '') END, v_treason);
      v_article := coalesce(v_row_article, CASE WHEN v_reviewed THEN nullif(btrim(r.after ->> 'override_regulation_article'), '') END, v_tarticle);
      -- used once (a later write of the row in this transaction gives its own); cleared only when given,
      -- so a 300-row publication creates no settings
      IF v_row_reason IS NOT NULL THEN
        PERFORM trm_stash_row_setting('reason', TG_TABLE_NAME, r.row_key, NULL);
      END IF;
      IF v_row_article IS NOT NULL THEN
        PERFORM trm_stash_row_setting('article', TG_TABLE_NAME, r.row_key, NULL);
      END IF;
    END IF;
    v_seq := v_seq + 1;
    a_event := a_event || v_cur; a_seq := a_seq || v_seq; a_key := a_key || r.row_key; a_before := a_before || r.before;
    a_after := a_after || r.after; a_reason := a_reason || v_reason; a_article := a_article || v_article; a_prev := a_prev || v_prev;
    v_prev := trm_ledger_hash(v_cur, v_seq, v_at, v_txid, v_role, v_user, TG_TABLE_NAME, r.row_key, v_op, r.before, r.after,
                              v_reason, v_article, v_prev);
    a_hash := a_hash || v_prev;
  END LOOP;
  INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                             operation, before, after, reason, regulation_article, prev_hash, hash)
  SELECT u.event_id, u.event_seq, v_at, v_txid, v_role, v_user, v_actor, TG_TABLE_NAME, u.row_key,
         v_op, u.before, u.after, u.reason, u.article, u.prev_hash, u.hash
    FROM unnest(a_event, a_seq, a_key, a_before, a_after, a_reason, a_article, a_prev, a_hash)
         AS u(event_id, event_seq, row_key, before, after, reason, article, prev_hash, hash);
  RETURN NULL;
END
$fn$;

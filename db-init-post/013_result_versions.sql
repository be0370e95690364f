-- Phase 6: published results in immutable, numbered versions (scripts/schema/phase6.mjs), and each
-- event's protest window. What a steward files is what was published, not the live table.
--   * A stage's results turning official (stage_results.status, by any writer: the admin UI, the API,
--     psql) make a version: `official 1` the first time, `amended 2`, `amended 3`, ... after that (an
--     amendment: the results were taken back with a reason, 011; the version carries that reason, or
--     the transaction's trm.reason). Creating a result_versions row of kind official/amended does the
--     same from the other side: it publishes the stage's results.
--   * A race director publishes provisional results by creating a result_versions row of kind
--     provisional (`provisional 1`, `provisional 2`, ...); refused once the stage has an official
--     version (from then on a change is an amendment).
--   * Each version records who (the Directus user, else the database role) and when, the protest
--     deadline (published_at + events.protest_window_minutes), the event's timing-ledger head hash at that
--     moment, and one row per entry as published with its difference from the version before (`new`,
--     `changed` with {field: [before, after]}, `unchanged`, `removed`).
--   * Nothing changes or deletes a version or its entries (rule result_versions_immutable); entries are
--     written only by the publication itself. Versions point at stages and entries with ON DELETE
--     RESTRICT: what was published stays explainable.
-- Publication is per stage: it publishes all of the stage's results.

SELECT trm_require_columns('013_result_versions', ARRAY[
  'result_versions.stage_id', 'result_versions.kind', 'result_versions.number', 'result_versions.label',
  'result_versions.published_at', 'result_versions.published_by', 'result_versions.published_by_role', 'result_versions.reason',
  'result_versions.regulation_article', 'result_versions.protest_until', 'result_versions.entries_count', 'result_versions.ledger_head',
  'result_version_entries.version_id', 'result_version_entries.entry_id', 'result_version_entries.change', 'result_version_entries.diff',
  'events.protest_window_minutes', 'timing_ledger.hash']);

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'result_versions_stage_id_kind_number_unique') THEN
    ALTER TABLE result_versions ADD CONSTRAINT result_versions_stage_id_kind_number_unique UNIQUE (stage_id, kind, number);
  END IF;
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'result_version_entries_version_id_entry_id_unique') THEN
    ALTER TABLE result_version_entries ADD CONSTRAINT result_version_entries_version_id_entry_id_unique UNIQUE (version_id, entry_id);
  END IF;
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'result_versions_kind_check') THEN
    ALTER TABLE result_versions ADD CONSTRAINT result_versions_kind_check CHECK (kind IN ('provisional', 'official', 'amended'));
  END IF;
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'events_protest_window_check') THEN
    ALTER TABLE events ADD CONSTRAINT events_protest_window_check CHECK (protest_window_minutes IS NULL OR protest_window_minutes >= 0);
  END IF;
END
$$;

-- ---- immutable --------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION trm_result_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- entries: only the publication of their version writes them
    IF current_setting('trm.writing_version', true) IS DISTINCT FROM NEW.version_id::text THEN
      RAISE EXCEPTION 'result_version_entries: version % is published: entries are written only by its publication (rule result_versions_immutable)', NEW.version_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'result_versions_immutable', TABLE = TG_TABLE_NAME;
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '%: a published version is never changed or deleted: publish a new one (rule result_versions_immutable)', TG_TABLE_NAME
    USING ERRCODE = 'check_violation', CONSTRAINT = 'result_versions_immutable', TABLE = TG_TABLE_NAME;
END
$fn$;
CREATE OR REPLACE TRIGGER result_versions_immutable BEFORE UPDATE OR DELETE ON result_versions
  FOR EACH ROW EXECUTE FUNCTION trm_result_versions_immutable();
CREATE OR REPLACE TRIGGER result_versions_no_truncate BEFORE TRUNCATE ON result_versions
  FOR EACH STATEMENT EXECUTE FUNCTION trm_result_versions_immutable();
CREATE OR REPLACE TRIGGER result_version_entries_immutable BEFORE INSERT OR UPDATE OR DELETE ON result_version_entries
  FOR EACH ROW EXECUTE FUNCTION trm_result_versions_immutable();
CREATE OR REPLACE TRIGGER result_version_entries_no_truncate BEFORE TRUNCATE ON result_version_entries
  FOR EACH STATEMENT EXECUTE FUNCTION trm_result_versions_immutable();

-- ---- publishing --------------------------------------------------------------------------------------------
-- SECURITY DEFINER (like the ledger's triggers): a person's role publishes without rights on the ledger.
CREATE OR REPLACE FUNCTION trm_result_versions_publish() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_event integer;
  v_window integer;
  v_has_official boolean;
  v_claim text := nullif(btrim(current_setting('trm.directus_user', true)), '');
BEGIN
  SELECT event_id INTO v_event FROM stages WHERE id = NEW.stage_id;
  IF v_event IS NULL THEN
    RETURN NEW; -- the foreign key names the missing stage
  END IF;
  -- One publication of a stage at a time.
  PERFORM pg_advisory_xact_lock(hashtext('trm result_versions'), NEW.stage_id);
  v_has_official := EXISTS (SELECT FROM result_versions WHERE stage_id = NEW.stage_id AND kind IN ('official', 'amended'));
  IF NEW.kind = 'provisional' THEN
    IF v_has_official THEN
      RAISE EXCEPTION 'result_versions: stage % has official results: a change is an amendment (take the results back to provisional with a reason, then publish them official again) (rule result_versions_after_official)', NEW.stage_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'result_versions_after_official', TABLE = 'result_versions', COLUMN = 'kind';
    END IF;
  ELSE
    NEW.kind := CASE WHEN v_has_official THEN 'amended' ELSE 'official' END;
  END IF;
  NEW.reason := coalesce(nullif(btrim(NEW.reason), ''), trm_transaction_reason());
  IF NEW.kind = 'amended' AND NEW.reason IS NULL THEN
    -- the reason the results were taken back with, as the ledger kept it
    SELECT l.reason INTO NEW.reason FROM timing_ledger l JOIN stage_results r ON r.id::text = l.row_key
     WHERE l.event_id = v_event AND l.table_name = 'stage_results' AND r.stage_id = NEW.stage_id AND l.reason IS NOT NULL
       AND l.before ->> 'status' = 'official' AND l.after ->> 'status' = 'provisional'
     ORDER BY l.event_seq DESC LIMIT 1;
    IF NEW.reason IS NULL THEN
      PERFORM trm_refuse_without_reason('result_versions', format('amending the official results of stage %s', NEW.stage_id),
        'give reason (or X-TRM-Reason / SET LOCAL trm.reason)');
    END IF;
  END IF;
  NEW.regulation_article := coalesce(nullif(btrim(NEW.regulation_article), ''), nullif(btrim(current_setting('trm.regulation_article', true)), ''));
  -- Created from this side: publish the stage's results (the results trigger below then makes no second version).
  IF NEW.kind <> 'provisional' AND current_setting('trm.publishing_stage', true) IS DISTINCT FROM NEW.stage_id::text THEN
    PERFORM set_config('trm.publishing_stage', NEW.stage_id::text, true);
    UPDATE stage_results SET status = 'official' WHERE stage_id = NEW.stage_id AND status <> 'official';
    PERFORM set_config('trm.publishing_stage', '', true);
  END IF;
  SELECT coalesce(max(number), 0) + 1 INTO NEW.number FROM result_versions
   WHERE stage_id = NEW.stage_id AND (kind = 'provisional') = (NEW.kind = 'provisional');
  NEW.label := NEW.kind || ' ' || NEW.number;
  NEW.published_at := now();
  NEW.published_by := CASE WHEN v_claim ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN v_claim::uuid END;
  NEW.published_by_role := session_user;
  SELECT coalesce(protest_window_minutes, 0) INTO v_window FROM events WHERE id = v_event;
  NEW.protest_until := now() + make_interval(mins => v_window);
  NEW.entries_count := (SELECT count(*) FROM stage_results WHERE stage_id = NEW.stage_id);
  NEW.ledger_head := (SELECT hash FROM timing_ledger WHERE event_id = v_event ORDER BY event_seq DESC LIMIT 1);
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER result_versions_publish BEFORE INSERT ON result_versions
  FOR EACH ROW EXECUTE FUNCTION trm_result_versions_publish();

-- The entries of a new version: the stage's results as they are now, against the version before.
CREATE OR REPLACE FUNCTION trm_result_versions_entries() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_prev integer;
BEGIN
  SELECT id INTO v_prev FROM result_versions WHERE stage_id = NEW.stage_id AND id <> NEW.id ORDER BY published_at DESC, id DESC LIMIT 1;
  PERFORM set_config('trm.writing_version', NEW.id::text, true);
  INSERT INTO result_version_entries (version_id, entry_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall,
                                      position_in_class, change, diff)
  SELECT NEW.id, coalesce(c.entry_id, p.entry_id), c.elapsed_seconds, c.penalty_seconds, c.total_seconds, c.position_overall, c.position_in_class,
         CASE WHEN v_prev IS NULL OR p.entry_id IS NULL THEN 'new' WHEN c.entry_id IS NULL THEN 'removed'
              WHEN d.diff = '{}'::jsonb THEN 'unchanged' ELSE 'changed' END,
         CASE WHEN v_prev IS NOT NULL AND p.entry_id IS NOT NULL AND c.entry_id IS NOT NULL AND d.diff <> '{}'::jsonb THEN d.diff::json END
    FROM (SELECT * FROM stage_results WHERE stage_id = NEW.stage_id) c
    FULL JOIN (SELECT * FROM result_version_entries WHERE version_id = v_prev AND change <> 'removed') p ON p.entry_id = c.entry_id
    CROSS JOIN LATERAL (SELECT jsonb_strip_nulls(jsonb_build_object(
      'elapsed_seconds', CASE WHEN c.elapsed_seconds IS DISTINCT FROM p.elapsed_seconds THEN jsonb_build_array(p.elapsed_seconds, c.elapsed_seconds) END,
      'penalty_seconds', CASE WHEN c.penalty_seconds IS DISTINCT FROM p.penalty_seconds THEN jsonb_build_array(p.penalty_seconds, c.penalty_seconds) END,
      'total_seconds', CASE WHEN c.total_seconds IS DISTINCT FROM p.total_seconds THEN jsonb_build_array(p.total_seconds, c.total_seconds) END,
      'position_overall', CASE WHEN c.position_overall IS DISTINCT FROM p.position_overall THEN jsonb_build_array(p.position_overall, c.position_overall) END,
      'position_in_class', CASE WHEN c.position_in_class IS DISTINCT FROM p.position_in_class THEN jsonb_build_array(p.position_in_class, c.position_in_class) END
    )) AS diff) d;
  PERFORM set_config('trm.writing_version', '', true);
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER result_versions_entries AFTER INSERT ON result_versions
  FOR EACH ROW EXECUTE FUNCTION trm_result_versions_entries();

-- Results turning official, by any writer: one version per stage and statement.
CREATE OR REPLACE FUNCTION trm_stage_results_published() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_stage integer;
BEGIN
  FOR v_stage IN
    SELECT DISTINCT n.stage_id FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE n.status = 'official' AND o.status IS DISTINCT FROM 'official'
  LOOP
    IF current_setting('trm.publishing_stage', true) IS DISTINCT FROM v_stage::text THEN
      PERFORM set_config('trm.publishing_stage', v_stage::text, true);
      INSERT INTO result_versions (stage_id, kind) VALUES (v_stage, 'official');
      PERFORM set_config('trm.publishing_stage', '', true);
    END IF;
  END LOOP;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER stage_results_published AFTER UPDATE ON stage_results
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION trm_stage_results_published();

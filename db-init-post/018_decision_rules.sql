-- Phase 6, what is left of the stewards' rules (issue 25), kept by the database so every writer obeys:
--   * The regulation article, where the event's rules give one: `events.regulation_article_required`
--     (the Supplementary Regulations number their articles, e.g. "SR 12.3"). Then every decision of 011
--     (overriding, voiding or taking back a penalty, taking an official result back, moving a published
--     start target) and every amended version (013) is refused without an article, as it is without a
--     reason (rule decision_needs_article, SQLSTATE 23514: a 400 through Directus that says so).
--   * The protest window closes the results: once the window of a stage's last official (or amended)
--     version has passed, only a race director of the event's organisation amends them (taking a result
--     back, publishing the amended version): rule amendment_after_protest_window. Who is a race
--     director: the Directus user the transaction claims (trm.directus_user, set by the timing-ledger
--     extension for every request) holding `race-director` in organization_users for the event's
--     organisation. A person with psql who enters the race direction's decision says whose it is with
--     `SET LOCAL trm.directus_user = '<the director's user id>'`; the ledger keeps their own login as
--     db_role beside it.
--   * Only people publish: the processor's roles (members of trm_processor, 012) never insert a result
--     as official nor a penalty as reviewed (rule processor_never_publishes; its UPDATE privileges
--     already leave out status and the review columns). A result inserted as official by anyone else
--     (a person with psql, Directus's admin) is a publication like an update to official: it makes the
--     stage's version (013 only saw updates).
--   * The reasons and articles the admin UI form carries (scripts/schema/phase6.mjs):
--     entry_penalties.override_regulation_article beside override_reason (kept with the decision,
--     cleared with it when the penalty goes back to computed); stage_results.amendment_reason and
--     amendment_regulation_article, entry_segment_starts.change_reason and change_regulation_article
--     are write-only: a trigger takes them out of the row (they are no part of the result or the start)
--     and hands them to the rules and to the ledger, which keeps them in its reason and
--     regulation_article columns. The transaction's trm.reason / trm.regulation_article (headers
--     X-TRM-Reason / X-TRM-Regulation-Article, SET LOCAL in psql) still count where no field is given.
--   * Each version entry's difference as a sentence (`result_version_entries.difference`: "total 3900 s
--     -> 3600 s; penalties 300 s -> 0 s"), which the admin UI lists; `diff` keeps the JSON.
-- Functions of 011 and 013 are replaced here (CREATE OR REPLACE; their triggers stay), never edited.
-- The ledger's statement trigger (010) learns the per-row reason and article in 019.

SELECT trm_require_columns('018_decision_rules', ARRAY[
  'events.regulation_article_required', 'events.organization_id', 'organization_users.user_id', 'organization_users.role',
  'entry_penalties.override_regulation_article', 'stage_results.amendment_reason', 'stage_results.amendment_regulation_article',
  'entry_segment_starts.change_reason', 'entry_segment_starts.change_regulation_article', 'result_version_entries.difference',
  'result_versions.protest_until']);

-- ---- the reason and article of one row's decision ----------------------------------------------------------
CREATE OR REPLACE FUNCTION trm_transaction_article() RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT nullif(btrim(current_setting('trm.regulation_article', true)), '')
$fn$;

-- The one given for the row (a write-only field, stashed by trm_take_decision_fields) or the transaction's.
CREATE OR REPLACE FUNCTION trm_decision_reason(tbl text, row_key text) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(trm_row_setting('reason', tbl, row_key), trm_transaction_reason())
$fn$;
CREATE OR REPLACE FUNCTION trm_decision_article(tbl text, row_key text) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(trm_row_setting('article', tbl, row_key), trm_transaction_article())
$fn$;

-- Refuses a decision of event `p_event` without an article when the event's rules give them.
CREATE OR REPLACE FUNCTION trm_require_article(p_event integer, p_article text, tbl text, what text, how text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF p_article IS NULL AND coalesce((SELECT regulation_article_required FROM events WHERE id = p_event), false) THEN
    RAISE EXCEPTION '%: % needs the regulation article it applies: the event''s rules number their articles (events.regulation_article_required); %; it is kept in the timing ledger (rule decision_needs_article)', tbl, what, how
      USING ERRCODE = 'check_violation', CONSTRAINT = 'decision_needs_article', TABLE = tbl;
  END IF;
END
$fn$;

-- Write-only decision fields: TG_ARGV[0] the reason column, TG_ARGV[1] the article column. Stashed for the
-- rules of this statement (011, below) and the ledger (019), then taken out of the row.
CREATE OR REPLACE FUNCTION trm_take_decision_fields() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  v jsonb := to_jsonb(NEW);
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM trm_stash_row_setting('reason', TG_TABLE_NAME, NEW.id::text, nullif(btrim(v ->> TG_ARGV[0]), ''));
    PERFORM trm_stash_row_setting('article', TG_TABLE_NAME, NEW.id::text, nullif(btrim(v ->> TG_ARGV[1]), ''));
  END IF;
  NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], NULL, TG_ARGV[1], NULL));
  RETURN NEW;
END
$fn$;
-- Named to fire before every other row trigger of the table (triggers fire in name order); the WHEN
-- keeps the processor's writes (which never carry these fields) free of the call.
CREATE OR REPLACE TRIGGER stage_results_0_decision_fields BEFORE INSERT OR UPDATE ON stage_results
  FOR EACH ROW WHEN (NEW.amendment_reason IS NOT NULL OR NEW.amendment_regulation_article IS NOT NULL)
  EXECUTE FUNCTION trm_take_decision_fields('amendment_reason', 'amendment_regulation_article');
CREATE OR REPLACE TRIGGER entry_segment_starts_0_decision_fields BEFORE INSERT OR UPDATE ON entry_segment_starts
  FOR EACH ROW WHEN (NEW.change_reason IS NOT NULL OR NEW.change_regulation_article IS NOT NULL)
  EXECUTE FUNCTION trm_take_decision_fields('change_reason', 'change_regulation_article');

-- ---- the protest window ---------------------------------------------------------------------------------
-- Refuses amending stage `p_stage` once the protest window of its last official or amended version has
-- closed, unless the transaction's Directus user is a race director of the event's organisation.
CREATE OR REPLACE FUNCTION trm_require_open_window_or_director(p_stage integer, tbl text, what text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
  v_user uuid;
BEGIN
  SELECT label, protest_until INTO v FROM result_versions
   WHERE stage_id = p_stage AND kind IN ('official', 'amended') ORDER BY number DESC LIMIT 1;
  IF v.protest_until IS NULL OR v.protest_until > now() THEN
    RETURN;
  END IF;
  v_user := trm_ledger_claimed_user();
  IF v_user IS NOT NULL AND EXISTS (
       SELECT FROM stages s JOIN events e ON e.id = s.event_id
         JOIN organization_users ou ON ou.organization_id = e.organization_id
        WHERE s.id = p_stage AND ou.user_id = v_user AND ou.role = 'race-director') THEN
    RETURN;
  END IF;
  RAISE EXCEPTION '%: %: the protest window of % of stage % closed at % UTC, the results are final; only a race director of the event''s organisation amends them now, with a reason (rule amendment_after_protest_window)',
                  tbl, what, v.label, p_stage, to_char(v.protest_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
    USING ERRCODE = 'check_violation', CONSTRAINT = 'amendment_after_protest_window', TABLE = tbl;
END
$fn$;

-- ---- 011's rules, with the article, the write-only fields and the window --------------------------------
CREATE OR REPLACE FUNCTION trm_entry_penalties_reason() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  given text := nullif(btrim(NEW.override_reason), '');
  fresh boolean := given IS NOT NULL AND given IS DISTINCT FROM nullif(btrim(OLD.override_reason), '');
  article text := coalesce(nullif(btrim(NEW.override_regulation_article), ''), trm_transaction_article());
  how_article text := 'give override_regulation_article (or X-TRM-Regulation-Article / SET LOCAL trm.regulation_article)';
  what text;
BEGIN
  IF OLD.review_state = 'computed' AND NEW.review_state = 'computed' THEN
    NEW.override_regulation_article := NULL;
    RETURN NEW;
  END IF;
  IF NEW.review_state = 'computed' THEN
    -- taking an override or a void back
    what := format('taking back the %s of penalty %s (entry %s)', OLD.review_state, OLD.id, OLD.entry_id);
    IF NOT fresh AND trm_transaction_reason() IS NULL THEN
      PERFORM trm_refuse_without_reason('entry_penalties', what,
        'give override_reason in the same write (or X-TRM-Reason / SET LOCAL trm.reason)');
    END IF;
    PERFORM trm_require_article((SELECT event_id FROM entries WHERE id = NEW.entry_id), article, 'entry_penalties', what, how_article);
    PERFORM trm_stash_row_setting('reason', 'entry_penalties', NEW.id::text, CASE WHEN fresh THEN given ELSE trm_transaction_reason() END);
    PERFORM trm_stash_row_setting('article', 'entry_penalties', NEW.id::text, article);
    NEW.override_regulation_article := NULL;
    RETURN NEW;
  END IF;
  IF OLD.review_state IS DISTINCT FROM NEW.review_state OR OLD.override_seconds IS DISTINCT FROM NEW.override_seconds THEN
    what := format('%s penalty %s (entry %s)', CASE NEW.review_state WHEN 'void' THEN 'voiding' ELSE 'overriding' END, OLD.id, OLD.entry_id);
    IF NOT fresh AND trm_transaction_reason() IS NULL THEN
      PERFORM trm_refuse_without_reason('entry_penalties', what,
        CASE WHEN given IS NULL THEN 'give override_reason' ELSE 'give this decision''s own override_reason (the one given is the previous decision''s)' END);
    END IF;
    PERFORM trm_require_article((SELECT event_id FROM entries WHERE id = NEW.entry_id), article, 'entry_penalties', what, how_article);
    IF NOT fresh THEN
      NEW.override_reason := trm_transaction_reason();
    END IF;
    NEW.override_regulation_article := article;
  END IF;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION trm_stage_results_reason() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  what text;
BEGIN
  IF OLD.status = 'official' AND NEW.status IS DISTINCT FROM 'official' THEN
    what := format('taking official result %s (entry %s, stage %s) back to %s', OLD.id, OLD.entry_id, OLD.stage_id, NEW.status);
    IF trm_decision_reason('stage_results', NEW.id::text) IS NULL THEN
      PERFORM trm_refuse_without_reason('stage_results', what,
        'an amendment of an official result says why (amendment_reason in the form, header X-TRM-Reason through the API, SET LOCAL trm.reason in SQL)');
    END IF;
    PERFORM trm_require_article((SELECT event_id FROM stages WHERE id = NEW.stage_id), trm_decision_article('stage_results', NEW.id::text),
      'stage_results', what, 'give amendment_regulation_article (or X-TRM-Regulation-Article / SET LOCAL trm.regulation_article)');
    PERFORM trm_require_open_window_or_director(NEW.stage_id, 'stage_results', what);
  END IF;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION trm_entry_segment_starts_reason() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  stage_status text;
  stage_event integer;
  what text;
BEGIN
  IF OLD.target_at IS NOT DISTINCT FROM NEW.target_at OR NOT (coalesce(NEW.manual_override, false) OR coalesce(OLD.manual_override, false)) THEN
    RETURN NEW;
  END IF;
  SELECT s.status, s.event_id INTO stage_status, stage_event FROM segments g JOIN stages s ON s.id = g.stage_id WHERE g.id = NEW.segment_id;
  IF stage_status IS DISTINCT FROM 'planned' THEN
    what := format('moving the target of start %s (entry %s, segment %s) of a published start list (stage %s)', OLD.id, OLD.entry_id, OLD.segment_id, stage_status);
    IF trm_decision_reason('entry_segment_starts', NEW.id::text) IS NULL THEN
      PERFORM trm_refuse_without_reason('entry_segment_starts', what,
        'change_reason in the form, header X-TRM-Reason through the API, SET LOCAL trm.reason in SQL');
    END IF;
    PERFORM trm_require_article(stage_event, trm_decision_article('entry_segment_starts', NEW.id::text), 'entry_segment_starts', what,
      'give change_regulation_article (or X-TRM-Regulation-Article / SET LOCAL trm.regulation_article)');
  END IF;
  RETURN NEW;
END
$fn$;

-- ---- only people publish --------------------------------------------------------------------------------
-- Whether the writer is the processor: the current role has trm_processor's privileges (its login,
-- inheriting them, or SET ROLE trm_processor) and is no superuser (for whom pg_has_role is always true;
-- a role that only administers the group, as its creator does on PostgreSQL 16, has no USAGE of it).
-- False where the group does not exist.
CREATE OR REPLACE FUNCTION trm_writer_is_processor() RETURNS boolean LANGUAGE sql STABLE AS $fn$
  SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trm_processor')
         AND NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
         AND pg_has_role(current_user, 'trm_processor', 'USAGE')
$fn$;

CREATE OR REPLACE FUNCTION trm_processor_never_publishes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF trm_writer_is_processor() THEN
    RAISE EXCEPTION '%: permission denied: the processor (role %) writes % as computed (%); % is the race direction''s (rule processor_never_publishes)',
                    TG_TABLE_NAME, session_user, CASE TG_TABLE_NAME WHEN 'stage_results' THEN 'results' ELSE 'penalties' END,
                    CASE TG_TABLE_NAME WHEN 'stage_results' THEN 'status provisional' ELSE 'review_state computed' END,
                    CASE TG_TABLE_NAME WHEN 'stage_results' THEN 'publishing' ELSE 'reviewing' END
      USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'processor_never_publishes', TABLE = TG_TABLE_NAME;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER stage_results_0_processor_never_publishes BEFORE INSERT ON stage_results
  FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM 'provisional') EXECUTE FUNCTION trm_processor_never_publishes();
CREATE OR REPLACE TRIGGER entry_penalties_0_processor_never_reviews BEFORE INSERT ON entry_penalties
  FOR EACH ROW WHEN (NEW.review_state IS DISTINCT FROM 'computed') EXECUTE FUNCTION trm_processor_never_publishes();

-- Results inserted as official (by a person or Directus's admin): one version per stage and statement.
CREATE OR REPLACE FUNCTION trm_stage_results_published_on_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_stage integer;
BEGIN
  FOR v_stage IN SELECT DISTINCT stage_id FROM new_rows WHERE status = 'official' LOOP
    IF current_setting('trm.publishing_stage', true) IS DISTINCT FROM v_stage::text THEN
      PERFORM set_config('trm.publishing_stage', v_stage::text, true);
      INSERT INTO result_versions (stage_id, kind) VALUES (v_stage, 'official');
      PERFORM set_config('trm.publishing_stage', '', true);
    END IF;
  END LOOP;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER stage_results_published_on_insert AFTER INSERT ON stage_results
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION trm_stage_results_published_on_insert();

-- ---- 013's publication, with the article and the window --------------------------------------------------
CREATE OR REPLACE FUNCTION trm_result_versions_publish() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_event integer;
  v_window integer;
  v_has_official boolean;
  v_claim text := nullif(btrim(current_setting('trm.directus_user', true)), '');
  v_takeback record;
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
  NEW.regulation_article := coalesce(nullif(btrim(NEW.regulation_article), ''), trm_transaction_article());
  IF NEW.kind = 'amended' THEN
    -- the reason (and article) the results were taken back with, as the ledger kept them (looked up
    -- only when the publication lacks one: the search reads the event's ledger)
    IF NEW.reason IS NULL OR (NEW.regulation_article IS NULL AND coalesce((SELECT regulation_article_required FROM events WHERE id = v_event), false)) THEN
    SELECT l.reason, l.regulation_article INTO v_takeback FROM timing_ledger l JOIN stage_results r ON r.id::text = l.row_key
     WHERE l.event_id = v_event AND l.table_name = 'stage_results' AND r.stage_id = NEW.stage_id AND l.reason IS NOT NULL
       AND l.before ->> 'status' = 'official' AND l.after ->> 'status' = 'provisional'
     ORDER BY l.event_seq DESC LIMIT 1;
    NEW.reason := coalesce(NEW.reason, v_takeback.reason);
    NEW.regulation_article := coalesce(NEW.regulation_article, v_takeback.regulation_article);
    END IF;
    IF NEW.reason IS NULL THEN
      PERFORM trm_refuse_without_reason('result_versions', format('amending the official results of stage %s', NEW.stage_id),
        'give reason (or X-TRM-Reason / SET LOCAL trm.reason)');
    END IF;
    PERFORM trm_require_article(v_event, NEW.regulation_article, 'result_versions', format('amending the official results of stage %s', NEW.stage_id),
      'give regulation_article (or X-TRM-Regulation-Article / SET LOCAL trm.regulation_article)');
    PERFORM trm_require_open_window_or_director(NEW.stage_id, 'result_versions', format('amending the official results of stage %s', NEW.stage_id));
  END IF;
  -- Created from this side: publish the stage's results (the results trigger then makes no second version).
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

-- ---- a version entry's difference as a sentence ------------------------------------------------------------
-- `diff` {field: [before, after]} read out: "total 3900 s -> 3600 s; penalties 300 s -> 0 s; position 2 -> 1".
CREATE OR REPLACE FUNCTION trm_result_difference(p_change text, p_diff jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE p_change
    WHEN 'changed' THEN (
      SELECT string_agg(f.label || ' ' || coalesce(p_diff -> f.field ->> 0, 'none') || f.unit || ' -> '
                        || coalesce(p_diff -> f.field ->> 1, 'none') || f.unit, '; ' ORDER BY f.ord)
        FROM (VALUES (1, 'total_seconds', 'total', ' s'), (2, 'elapsed_seconds', 'time', ' s'), (3, 'penalty_seconds', 'penalties', ' s'),
                     (4, 'position_overall', 'position', ''), (5, 'position_in_class', 'class position', '')) f(ord, field, label, unit)
       WHERE p_diff ? f.field)
    WHEN 'new' THEN 'new in this version'
    WHEN 'removed' THEN 'removed from the results'
    ELSE 'unchanged'
  END
$fn$;

CREATE OR REPLACE FUNCTION trm_result_versions_entries() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_prev integer;
BEGIN
  SELECT id INTO v_prev FROM result_versions WHERE stage_id = NEW.stage_id AND id <> NEW.id ORDER BY published_at DESC, id DESC LIMIT 1;
  PERFORM set_config('trm.writing_version', NEW.id::text, true);
  INSERT INTO result_version_entries (version_id, entry_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall,
                                      position_in_class, change, diff, difference)
  SELECT NEW.id, x.entry_id, x.elapsed_seconds, x.penalty_seconds, x.total_seconds, x.position_overall, x.position_in_class,
         x.change, x.diff::json, trm_result_difference(x.change, x.diff)
    FROM (
      SELECT coalesce(c.entry_id, p.entry_id) AS entry_id, c.elapsed_seconds, c.penalty_seconds, c.total_seconds, c.position_overall, c.position_in_class,
             CASE WHEN v_prev IS NULL OR p.entry_id IS NULL THEN 'new' WHEN c.entry_id IS NULL THEN 'removed'
                  WHEN d.diff = '{}'::jsonb THEN 'unchanged' ELSE 'changed' END AS change,
             CASE WHEN v_prev IS NOT NULL AND p.entry_id IS NOT NULL AND c.entry_id IS NOT NULL AND d.diff <> '{}'::jsonb THEN d.diff END AS diff
        FROM (SELECT * FROM stage_results WHERE stage_id = NEW.stage_id) c
        FULL JOIN (SELECT * FROM result_version_entries WHERE version_id = v_prev AND change <> 'removed') p ON p.entry_id = c.entry_id
        CROSS JOIN LATERAL (SELECT jsonb_strip_nulls(jsonb_build_object(
          'elapsed_seconds', CASE WHEN c.elapsed_seconds IS DISTINCT FROM p.elapsed_seconds THEN jsonb_build_array(p.elapsed_seconds, c.elapsed_seconds) END,
          'penalty_seconds', CASE WHEN c.penalty_seconds IS DISTINCT FROM p.penalty_seconds THEN jsonb_build_array(p.penalty_seconds, c.penalty_seconds) END,
          'total_seconds', CASE WHEN c.total_seconds IS DISTINCT FROM p.total_seconds THEN jsonb_build_array(p.total_seconds, c.total_seconds) END,
          'position_overall', CASE WHEN c.position_overall IS DISTINCT FROM p.position_overall THEN jsonb_build_array(p.position_overall, c.position_overall) END,
          'position_in_class', CASE WHEN c.position_in_class IS DISTINCT FROM p.position_in_class THEN jsonb_build_array(p.position_in_class, c.position_in_class) END
        )) AS diff) d) x;
  PERFORM set_config('trm.writing_version', '', true);
  RETURN NULL;
END
$fn$;

-- Versions published before this file keep `diff` only: their entries are immutable (013).

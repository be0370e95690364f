-- Issue 26: penalty formulas with versions. A formula is an owner's brackets of one penalty type
-- (penalty_formulas rows sharing belongs_to_type, belongs_to_id, type); every change of them (by any
-- writer: the admin UI, the API, the preview's confirmation, psql) makes a new immutable row of
-- penalty_formula_versions (scripts/schema/phase26.mjs): the version number, the brackets as
-- trm_penalty reads them (016), the effective time and the regulation reference. Old versions are kept
-- and readable; nobody changes or deletes one (rule penalty_formula_versions_immutable).
--   * One version per formula and transaction: a deferred trigger on penalty_formulas compares, at
--     the commit, the formula's brackets with its latest version, by their math only (offence_min,
--     offence_max, operator, penalty_seconds: toggling `retroactive` or re-creating equal brackets
--     under new ids is no new rule); a version made earlier in the same transaction (the preview's
--     confirmation records it at once, trm_formula_version_record) is completed in place.
--   * Who and why, from the transaction (extensions/src/timing-ledger sets them from the request):
--     trm.directus_user, trm.reason (X-TRM-Reason), trm.regulation_article (X-TRM-Regulation-Article),
--     trm.regulation_document (X-TRM-Regulation-Document; else the event's regulation_doc_url),
--     trm.effective_from (X-TRM-Effective-From, an ISO time; else now()).
--   * entry_penalties.formula_snapshot names the version it was computed with: a penalty written with
--     a formula_id gets `formula_version_id` and `formula_version` in its snapshot (the formula's latest
--     version at the write, unless the writer names one of the formula's versions itself; an array
--     snapshot becomes {formula_version_id, formula_version, brackets}). trm_formula_snapshot() gives
--     the processor the whole object to write.
--   * Each version is a row of the timing ledger too (010's row trigger, event chain).

SELECT trm_require_columns('020_penalty_formula_versions', ARRAY[
  'penalty_formula_versions.event_id', 'penalty_formula_versions.belongs_to_type', 'penalty_formula_versions.belongs_to_id',
  'penalty_formula_versions.type', 'penalty_formula_versions.version', 'penalty_formula_versions.brackets',
  'penalty_formula_versions.effective_from', 'penalty_formula_versions.regulation_article',
  'penalty_formula_versions.regulation_document', 'penalty_formula_versions.reason', 'penalty_formula_versions.created_at',
  'penalty_formula_versions.created_by', 'penalty_formula_versions.created_by_role',
  'penalty_formulas.event_id', 'entry_penalties.formula_id', 'entry_penalties.formula_snapshot', 'events.regulation_doc_url']);

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'penalty_formula_versions_formula_version_unique') THEN
    ALTER TABLE penalty_formula_versions ADD CONSTRAINT penalty_formula_versions_formula_version_unique
      UNIQUE (belongs_to_type, belongs_to_id, type, version);
  END IF;
END
$$;

-- ---- the math of a formula's brackets ---------------------------------------------------------------------
-- What a version is compared by: each bracket's offence_min, offence_max, operator and penalty_seconds,
-- ordered by offence_min (jsonb numbers compare by value: 10 = 10.000).
CREATE OR REPLACE FUNCTION trm_bracket_math(brackets jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $fn$
  SELECT coalesce(jsonb_agg(jsonb_build_object('offence_min', b -> 'offence_min', 'offence_max', coalesce(b -> 'offence_max', 'null'::jsonb),
                                               'operator', b -> 'operator', 'penalty_seconds', b -> 'penalty_seconds')
                            ORDER BY (b ->> 'offence_min')::numeric), '[]'::jsonb)
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(brackets) = 'array' THEN brackets ELSE '[]'::jsonb END) b
$fn$;

-- The latest version of a formula (NULL when it has none).
CREATE OR REPLACE FUNCTION trm_formula_version(owner_type text, owner_id integer, penalty_type text) RETURNS penalty_formula_versions
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
  SELECT * FROM penalty_formula_versions v
   WHERE v.belongs_to_type = owner_type AND v.belongs_to_id = owner_id AND v.type = penalty_type
   ORDER BY v.version DESC LIMIT 1
$fn$;

-- What the processor writes as entry_penalties.formula_snapshot: the formula's latest version with its
-- brackets, {formula_version_id, formula_version, effective_from, regulation_article, regulation_document,
-- brackets}; the live brackets (016) when the formula has no version yet.
CREATE OR REPLACE FUNCTION trm_formula_snapshot(owner_type text, owner_id integer, penalty_type text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
  SELECT CASE WHEN v.id IS NULL THEN jsonb_build_object('formula_version_id', NULL, 'formula_version', NULL,
                                                        'brackets', trm_formula_brackets(owner_type, owner_id, penalty_type))
              ELSE jsonb_build_object('formula_version_id', v.id, 'formula_version', v.version, 'effective_from', v.effective_from,
                                      'regulation_article', v.regulation_article, 'regulation_document', v.regulation_document,
                                      'brackets', v.brackets::jsonb) END
    FROM (SELECT (trm_formula_version(owner_type, owner_id, penalty_type)).*) v
$fn$;

-- ---- immutable ---------------------------------------------------------------------------------------------
-- Rows are written only by trm_formula_version_record below (which says so in trm.writing_formula_version);
-- a version made earlier in the same transaction is completed in place, never one committed before.
-- A version goes only with its event (ON DELETE CASCADE from events, once the event row is gone).
CREATE OR REPLACE FUNCTION trm_penalty_formula_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' AND current_setting('trm.writing_formula_version', true) = 'new' THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND current_setting('trm.writing_formula_version', true) = OLD.id::text THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT FROM events WHERE id = OLD.event_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'penalty_formula_versions: a formula version is made by the database when the brackets change, and never changed or deleted: change the brackets (penalty_formulas) instead (rule penalty_formula_versions_immutable)'
    USING ERRCODE = 'check_violation', CONSTRAINT = 'penalty_formula_versions_immutable', TABLE = 'penalty_formula_versions';
END
$fn$;
CREATE OR REPLACE TRIGGER penalty_formula_versions_immutable BEFORE INSERT OR UPDATE OR DELETE ON penalty_formula_versions
  FOR EACH ROW EXECUTE FUNCTION trm_penalty_formula_versions_immutable();
CREATE OR REPLACE TRIGGER penalty_formula_versions_no_truncate BEFORE TRUNCATE ON penalty_formula_versions
  FOR EACH STATEMENT EXECUTE FUNCTION trm_penalty_formula_versions_immutable();

-- ---- making versions ---------------------------------------------------------------------------------------
-- The transaction's effective time (trm.effective_from), refused when it is not a time.
CREATE OR REPLACE FUNCTION trm_effective_from() RETURNS timestamptz LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  given text := nullif(btrim(current_setting('trm.effective_from', true)), '');
BEGIN
  IF given IS NULL THEN
    RETURN now();
  END IF;
  RETURN given::timestamptz;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation THEN
  RAISE EXCEPTION 'penalty_formula_versions: the effective time % is not a time (X-TRM-Effective-From, SET LOCAL trm.effective_from: an ISO 8601 time such as 2026-06-07T00:00:00Z) (rule penalty_formula_effective_from)', given
    USING ERRCODE = 'invalid_datetime_format', CONSTRAINT = 'penalty_formula_effective_from';
END
$fn$;

-- Records the formula's brackets as they are now, when their math differs from its latest version.
-- Returns the version's id (NULL when nothing changed).
CREATE OR REPLACE FUNCTION trm_formula_version_record(p_event integer, owner_type text, owner_id integer, penalty_type text)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_key text := format('%s_%s_%s', owner_type, owner_id, penalty_type);
  v_brackets jsonb := trm_formula_brackets(owner_type, owner_id, penalty_type);
  v_latest penalty_formula_versions;
  v_mine text := trm_row_setting('formula_version', 'penalty_formulas', v_key);
  v_claim uuid := trm_ledger_claimed_user();
  v_id integer;
BEGIN
  -- One writer of a formula's versions at a time.
  PERFORM pg_advisory_xact_lock(hashtext('trm penalty_formula_versions'), hashtext(v_key));
  v_latest := trm_formula_version(owner_type, owner_id, penalty_type);
  IF v_latest.id IS NOT NULL AND v_latest.id::text = v_mine THEN
    -- made by this transaction: completed in place (one version per change)
    IF v_latest.brackets::jsonb IS DISTINCT FROM v_brackets THEN
      PERFORM set_config('trm.writing_formula_version', v_latest.id::text, true);
      UPDATE penalty_formula_versions SET brackets = v_brackets::json WHERE id = v_latest.id;
      PERFORM set_config('trm.writing_formula_version', '', true);
    END IF;
    RETURN v_latest.id;
  END IF;
  IF v_latest.id IS NOT NULL AND trm_bracket_math(v_latest.brackets::jsonb) = trm_bracket_math(v_brackets) THEN
    RETURN NULL;
  END IF;
  IF v_latest.id IS NULL AND v_brackets = '[]'::jsonb THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('trm.writing_formula_version', 'new', true);
  INSERT INTO penalty_formula_versions (event_id, belongs_to_type, belongs_to_id, type, version, brackets, effective_from,
                                        regulation_article, regulation_document, reason, created_at, created_by, created_by_role)
  SELECT p_event, owner_type, owner_id, penalty_type, coalesce(v_latest.version, 0) + 1, v_brackets::json, trm_effective_from(),
         nullif(btrim(current_setting('trm.regulation_article', true)), ''),
         coalesce(nullif(btrim(current_setting('trm.regulation_document', true)), ''), e.regulation_doc_url),
         trm_transaction_reason(), now(), v_claim, session_user
    FROM events e WHERE e.id = p_event
  RETURNING id INTO v_id;
  PERFORM set_config('trm.writing_formula_version', '', true);
  PERFORM trm_stash_row_setting('formula_version', 'penalty_formulas', v_key, v_id::text);
  RETURN v_id;
END
$fn$;

-- Only the triggers (and the owner: the preview's confirmation runs as Directus's role) record versions.
REVOKE ALL ON FUNCTION trm_formula_version_record(integer, text, integer, text) FROM PUBLIC;

-- At the commit of every transaction that changed penalty_formulas: every formula it touched (before
-- or after the change), as it is at the end. Deferred (a constraint trigger), so a change written in
-- several statements (brackets moved past each other, one removed and one added) is one version, and
-- no writer can leave a change unversioned. Within the changing transaction itself, penalties still
-- name the version before (the processor recomputes in its own, later transaction).
CREATE OR REPLACE FUNCTION trm_penalty_formulas_versions() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT DISTINCT x.event_id, x.belongs_to_type, x.belongs_to_id, x.type
             FROM (SELECT OLD.event_id, OLD.belongs_to_type, OLD.belongs_to_id, OLD.type WHERE TG_OP IN ('UPDATE', 'DELETE')
                   UNION ALL
                   SELECT NEW.event_id, NEW.belongs_to_type, NEW.belongs_to_id, NEW.type WHERE TG_OP IN ('INSERT', 'UPDATE')) x
  LOOP
    -- A formula whose event is being deleted keeps no version (its versions go with the event).
    CONTINUE WHEN f.belongs_to_id IS NULL OR NOT EXISTS (SELECT FROM events WHERE id = f.event_id);
    PERFORM trm_formula_version_record(f.event_id, f.belongs_to_type, f.belongs_to_id, f.type);
  END LOOP;
  RETURN NULL;
END
$fn$;
DROP TRIGGER IF EXISTS penalty_formulas_versions ON penalty_formulas;
CREATE CONSTRAINT TRIGGER penalty_formulas_versions AFTER INSERT OR UPDATE OR DELETE ON penalty_formulas
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION trm_penalty_formulas_versions();

-- The stewards' record: every version is a ledger row of its event.
CREATE OR REPLACE TRIGGER penalty_formula_versions_ledger_insert AFTER INSERT ON penalty_formula_versions
  FOR EACH ROW EXECUTE FUNCTION trm_ledger_record('event');
CREATE OR REPLACE TRIGGER penalty_formula_versions_ledger_update AFTER UPDATE ON penalty_formula_versions
  FOR EACH ROW EXECUTE FUNCTION trm_ledger_record('event');

-- Version 1 of every formula that exists already.
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT DISTINCT event_id, belongs_to_type, belongs_to_id, type FROM penalty_formulas ORDER BY 1, 2, 3, 4 LOOP
    PERFORM trm_formula_version_record(f.event_id, f.belongs_to_type, f.belongs_to_id, f.type);
  END LOOP;
END
$$;

-- ---- entry_penalties: the version a penalty was computed with ------------------------------------------------
-- Named to fire first (before 011's entry_penalties_a_reason and 005's entry_penalties_review, which
-- compares the snapshot of a reviewed penalty): an unchanged snapshot written again keeps its version.
CREATE OR REPLACE FUNCTION trm_entry_penalties_formula_version() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_formula record;
  v_version penalty_formula_versions;
  v_snap jsonb;
  v_named text;
  v_keys text[] := ARRAY['formula_version_id', 'formula_version'];
BEGIN
  IF NEW.formula_id IS NULL THEN
    RETURN NEW;
  END IF;
  v_snap := NEW.formula_snapshot::jsonb;
  IF TG_OP = 'UPDATE' AND NEW.formula_id = OLD.formula_id AND OLD.formula_snapshot IS NOT NULL
     AND jsonb_typeof(OLD.formula_snapshot::jsonb) = 'object'
     AND (CASE WHEN jsonb_typeof(v_snap) = 'object' THEN v_snap - v_keys ELSE v_snap END)
         IS NOT DISTINCT FROM
         (CASE WHEN OLD.formula_snapshot::jsonb ? 'brackets' AND jsonb_typeof(v_snap) = 'array' THEN OLD.formula_snapshot::jsonb -> 'brackets'
               ELSE OLD.formula_snapshot::jsonb - v_keys END) THEN
    NEW.formula_snapshot := OLD.formula_snapshot;
    RETURN NEW;
  END IF;
  SELECT belongs_to_type, belongs_to_id, type INTO v_formula FROM penalty_formulas WHERE id = NEW.formula_id;
  IF NOT FOUND THEN
    RETURN NEW; -- the foreign key names the missing formula
  END IF;
  v_named := CASE WHEN jsonb_typeof(v_snap) = 'object' THEN v_snap ->> 'formula_version_id' END;
  IF v_named IS NOT NULL THEN
    SELECT * INTO v_version FROM penalty_formula_versions
     WHERE id::text = v_named AND belongs_to_type = v_formula.belongs_to_type AND belongs_to_id = v_formula.belongs_to_id
       AND type = v_formula.type;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'entry_penalties: formula_snapshot names formula version %, which is not a version of formula % (% %, %) (rule penalty_snapshot_version)',
                      v_named, NEW.formula_id, v_formula.belongs_to_type, v_formula.belongs_to_id, v_formula.type
        USING ERRCODE = 'check_violation', CONSTRAINT = 'penalty_snapshot_version', TABLE = 'entry_penalties', COLUMN = 'formula_snapshot';
    END IF;
  ELSE
    v_version := trm_formula_version(v_formula.belongs_to_type, v_formula.belongs_to_id, v_formula.type);
  END IF;
  IF v_version.id IS NULL THEN
    RETURN NEW;
  END IF;
  NEW.formula_snapshot := (CASE WHEN jsonb_typeof(v_snap) = 'object' THEN v_snap
                                WHEN v_snap IS NULL OR jsonb_typeof(v_snap) = 'null' THEN jsonb_build_object('brackets', v_version.brackets::jsonb)
                                ELSE jsonb_build_object('brackets', v_snap) END
                           || jsonb_build_object('formula_version_id', v_version.id, 'formula_version', v_version.version))::json;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entry_penalties_0_formula_version BEFORE INSERT OR UPDATE ON entry_penalties
  FOR EACH ROW EXECUTE FUNCTION trm_entry_penalties_formula_version();

-- ---- check ----------------------------------------------------------------------------------------------------
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['penalty_formula_versions_immutable', 'penalty_formula_versions_no_truncate',
                           'penalty_formulas_versions',
                           'penalty_formula_versions_ledger_insert', 'entry_penalties_0_formula_version'] LOOP
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgname = t AND NOT tgisinternal) THEN
      RAISE EXCEPTION '020_penalty_formula_versions: trigger % is missing', t;
    END IF;
  END LOOP;
END
$$;

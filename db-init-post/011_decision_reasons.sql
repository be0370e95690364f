-- Phase 6: where people decide, the database refuses the change without a reason, and the ledger
-- (010) records the reason with it. A decision is
--   * overriding or voiding a computed penalty, changing an override, or taking it back: the reason is
--     the penalty's override_reason (given anew in the same write) or the transaction's trm.reason;
--   * taking an official stage result back (official -> provisional: the start of an amendment);
--   * moving a start target by hand (manual_override) once the stage's start list is published (the
--     stage is open or closed). The materializer's re-plan of non-manual starts is not a decision.
-- For the last two the reason is the transaction's `trm.reason` (and `trm.regulation_article`): through
-- Directus the header `X-TRM-Reason` (and `X-TRM-Regulation-Article`) of the request
-- (extensions/src/timing-ledger), in psql `SET LOCAL trm.reason = '...'` inside the transaction.
-- A refusal is SQLSTATE 23514 with constraint decision_needs_reason: Directus answers 400 with the
-- sentence (extensions/src/database-rules). The processor never makes these changes, so none of its
-- writes needs a reason.

CREATE OR REPLACE FUNCTION trm_refuse_without_reason(tbl text, what text, how text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '%: % needs a reason: %; it is kept in the timing ledger (rule decision_needs_reason)', tbl, what, how
    USING ERRCODE = 'check_violation', CONSTRAINT = 'decision_needs_reason', TABLE = tbl;
END
$fn$;

-- The transaction's reason, as the API and psql give it.
CREATE OR REPLACE FUNCTION trm_transaction_reason() RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT nullif(btrim(current_setting('trm.reason', true)), '')
$fn$;

-- ---- entry_penalties ------------------------------------------------------------------------------------
-- Named to fire before 005's entry_penalties_review, which clears override_reason when a penalty goes
-- back to computed: the reason given for taking an override back is stashed for the ledger first.
CREATE OR REPLACE FUNCTION trm_entry_penalties_reason() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  given text := nullif(btrim(NEW.override_reason), '');
  fresh boolean := given IS NOT NULL AND given IS DISTINCT FROM nullif(btrim(OLD.override_reason), '');
BEGIN
  IF OLD.review_state = 'computed' AND NEW.review_state = 'computed' THEN
    RETURN NEW;
  END IF;
  IF NEW.review_state = 'computed' THEN
    -- taking an override or a void back
    IF NOT fresh AND trm_transaction_reason() IS NULL THEN
      PERFORM trm_refuse_without_reason('entry_penalties', format('taking back the %s of penalty %s (entry %s)', OLD.review_state, OLD.id, OLD.entry_id),
        'give override_reason in the same write (or X-TRM-Reason / SET LOCAL trm.reason)');
    END IF;
    PERFORM trm_stash_row_setting('reason', 'entry_penalties', NEW.id::text, CASE WHEN fresh THEN given ELSE trm_transaction_reason() END);
    RETURN NEW;
  END IF;
  IF OLD.review_state IS DISTINCT FROM NEW.review_state OR OLD.override_seconds IS DISTINCT FROM NEW.override_seconds THEN
    IF NOT fresh AND trm_transaction_reason() IS NULL THEN
      PERFORM trm_refuse_without_reason('entry_penalties',
        format('%s penalty %s (entry %s)', CASE NEW.review_state WHEN 'void' THEN 'voiding' ELSE 'overriding' END, OLD.id, OLD.entry_id),
        CASE WHEN given IS NULL THEN 'give override_reason' ELSE 'give this decision''s own override_reason (the one given is the previous decision''s)' END);
    END IF;
    IF NOT fresh THEN
      NEW.override_reason := trm_transaction_reason();
    END IF;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entry_penalties_a_reason BEFORE UPDATE ON entry_penalties
  FOR EACH ROW EXECUTE FUNCTION trm_entry_penalties_reason();

-- ---- stage_results ---------------------------------------------------------------------------------------
-- Named to fire after 005's stage_results_official: a change that is frozen anyway is told so first.
CREATE OR REPLACE FUNCTION trm_stage_results_reason() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.status = 'official' AND NEW.status IS DISTINCT FROM 'official' AND trm_transaction_reason() IS NULL THEN
    PERFORM trm_refuse_without_reason('stage_results',
      format('taking official result %s (entry %s, stage %s) back to %s', OLD.id, OLD.entry_id, OLD.stage_id, NEW.status),
      'an amendment of an official result says why (header X-TRM-Reason through the API, SET LOCAL trm.reason in SQL)');
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER stage_results_reason BEFORE UPDATE OF status ON stage_results
  FOR EACH ROW EXECUTE FUNCTION trm_stage_results_reason();

-- ---- entry_segment_starts ---------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION trm_entry_segment_starts_reason() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  stage_status text;
BEGIN
  IF OLD.target_at IS NOT DISTINCT FROM NEW.target_at OR NOT (coalesce(NEW.manual_override, false) OR coalesce(OLD.manual_override, false)) THEN
    RETURN NEW;
  END IF;
  SELECT s.status INTO stage_status FROM segments g JOIN stages s ON s.id = g.stage_id WHERE g.id = NEW.segment_id;
  IF stage_status IS DISTINCT FROM 'planned' AND trm_transaction_reason() IS NULL THEN
    PERFORM trm_refuse_without_reason('entry_segment_starts',
      format('moving the target of start %s (entry %s, segment %s) of a published start list (stage %s)', OLD.id, OLD.entry_id, OLD.segment_id, stage_status),
      'header X-TRM-Reason through the API, SET LOCAL trm.reason in SQL');
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entry_segment_starts_a_reason BEFORE UPDATE OF target_at ON entry_segment_starts
  FOR EACH ROW EXECUTE FUNCTION trm_entry_segment_starts_reason();

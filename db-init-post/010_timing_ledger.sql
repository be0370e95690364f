-- Phase 6, the stewards' record: `timing_ledger`, one row per insert, update and delete of a timing
-- decision, written by the database itself, so every writer is caught: Directus (any write path), the
-- processor's plain SQL, a person with psql. Directus's revisions see only its own API and its
-- retention (RETENTION_*) deletes activity; this table is not a Directus collection and nothing but
-- these triggers writes it.
--
-- What is recorded (each an AFTER ROW trigger named `<table>_ledger`):
--   * entry_penalties, stage_results, entry_segment_starts.target_at (a start whose target did not
--     move is not a timing decision), penalty_formulas: every insert, update (that changes something)
--     and delete;
--   * geofences and speed_limit_zones flagged `retroactive` (before or after the change);
--   * positions.faulty flips (one row per fix and event: a flag covers the fixes of a window).
-- Who: `db_role` is always the login role (session_user: the processor's own role, Directus's
-- database user, a person); `directus_user` is the Directus user when the write came through Directus
-- (extensions/src/timing-ledger sets the transaction-local `trm.directus_user` for every transaction
-- Directus opens for a request). The claim is only as good as the role that made it: trust it on rows
-- whose db_role is Directus's. `actor` is the one readable name: `directus:<user id>` or `db:<role>`.
-- Why: `reason` and `regulation_article`, from the row (a penalty's override_reason, the write-only
-- change_reason / regulation_article of 011) or the transaction-local `trm.reason` /
-- `trm.regulation_article` (SET LOCAL in psql; header X-TRM-Reason through the API).
--
-- Append-only and tamper-evident: no role but a superuser can change or remove a row (privileges
-- revoked, and a trigger refuses UPDATE, DELETE and TRUNCATE even for the owner); each row carries
-- `hash` = sha256 over its content and the previous row's hash of the same event (`prev_hash`; the
-- first row of an event chains to 64 zeros), so a superuser's later edit breaks the chain and
-- `trm-init ledger verify --event SLUG` names the first broken row. One chain per event, appended
-- under a transaction-level advisory lock on the event: two writers of one event take turns (the
-- processor's batch and an operator's edit of another event never wait for each other).
-- The chain needs READ COMMITTED (PostgreSQL's default): a REPEATABLE READ writer that missed a row
-- committed meanwhile fails on the UNIQUE (event_id, event_seq) instead of forking the chain.
--
-- The hashed text (src/commands/ledger.rs computes it again, independently): the fields below, each
-- written as `<byte length>:<text>` or `-` for NULL, joined by `|`, in this order:
--   event_id, event_seq, recorded_at (UTC, YYYY-MM-DDTHH:MI:SS.USZ), txid, db_role, directus_user,
--   table_name, row_key, operation, before (jsonb text), after (jsonb text), reason,
--   regulation_article, prev_hash

CREATE TABLE IF NOT EXISTS timing_ledger (
  seq                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id           integer     NOT NULL,  -- 0: the row belongs to no event the database could find
  event_seq          bigint      NOT NULL,  -- 1, 2, ... within the event: the chain's order
  recorded_at        timestamptz NOT NULL,
  txid               text        NOT NULL,  -- the writing transaction (rows of one decision share it)
  db_role            text        NOT NULL,
  directus_user      uuid,
  actor              text        NOT NULL,
  table_name         text        NOT NULL,
  row_key            text        NOT NULL,  -- the row's id (positions: "<imei> <ts>")
  operation          text        NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
  before             jsonb,
  after              jsonb,
  reason             text,
  regulation_article text,
  prev_hash          text        NOT NULL,
  hash               text        NOT NULL,
  CONSTRAINT timing_ledger_event_seq_unique UNIQUE (event_id, event_seq)
);
CREATE INDEX IF NOT EXISTS timing_ledger_table_row_idx ON timing_ledger (table_name, row_key, seq);

-- ---- append-only ---------------------------------------------------------------------------------------
REVOKE ALL ON timing_ledger FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON timing_ledger FROM CURRENT_USER;

CREATE OR REPLACE FUNCTION trm_timing_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'timing_ledger is append-only: % is refused (rule timing_ledger_append_only)', TG_OP
    USING ERRCODE = 'insufficient_privilege', TABLE = 'timing_ledger', CONSTRAINT = 'timing_ledger_append_only';
END
$fn$;
CREATE OR REPLACE TRIGGER timing_ledger_append_only BEFORE UPDATE OR DELETE ON timing_ledger
  FOR EACH ROW EXECUTE FUNCTION trm_timing_ledger_append_only();
CREATE OR REPLACE TRIGGER timing_ledger_no_truncate BEFORE TRUNCATE ON timing_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION trm_timing_ledger_append_only();

-- ---- the hashed text ---------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION trm_ledger_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE WHEN v IS NULL THEN '-' ELSE octet_length(v)::text || ':' || v END
$fn$;

CREATE OR REPLACE FUNCTION trm_ledger_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$fn$;

-- ---- the reason of a decision -------------------------------------------------------------------------------
-- A reason given for one row (011's triggers stash a row's write-only change_reason here) or for the
-- whole transaction (trm.reason). Row keys are "<table>_<id>" (custom setting names allow no other signs).
CREATE OR REPLACE FUNCTION trm_row_setting(what text, tbl text, row_key text) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT nullif(btrim(current_setting(format('trm.%s_%s_%s', what, tbl, regexp_replace(row_key, '[^0-9A-Za-z_]', '_', 'g')), true)), '')
$fn$;

CREATE OR REPLACE FUNCTION trm_stash_row_setting(what text, tbl text, row_key text, value text) RETURNS void LANGUAGE sql AS $fn$
  SELECT set_config(format('trm.%s_%s_%s', what, tbl, regexp_replace(row_key, '[^0-9A-Za-z_]', '_', 'g')), coalesce(value, ''), true)
$fn$;

CREATE OR REPLACE FUNCTION trm_decision_reason(tbl text, row_key text) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(trm_row_setting('reason', tbl, row_key), nullif(btrim(current_setting('trm.reason', true)), ''))
$fn$;

CREATE OR REPLACE FUNCTION trm_decision_article(tbl text, row_key text) RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(trm_row_setting('article', tbl, row_key), nullif(btrim(current_setting('trm.regulation_article', true)), ''))
$fn$;

-- ---- appending --------------------------------------------------------------------------------------------
-- SECURITY DEFINER: the writers (Directus's user, the processor's role) hold no privilege on the ledger.
CREATE OR REPLACE FUNCTION trm_ledger_append(p_event integer, p_table text, p_row_key text, p_operation text,
                                             p_before jsonb, p_after jsonb, p_reason text, p_article text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_event integer := coalesce(p_event, 0);
  v_claim text := nullif(btrim(current_setting('trm.directus_user', true)), '');
  v_user uuid;
  v_at timestamptz := clock_timestamp();
  v_txid text := pg_current_xact_id()::text;
  v_role text := session_user;
  v_last record;
  v_seq bigint;
  v_prev text;
  v_hash text;
BEGIN
  IF v_claim ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    v_user := v_claim::uuid;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('trm timing_ledger'), v_event);
  SELECT event_seq, hash INTO v_last FROM timing_ledger WHERE event_id = v_event ORDER BY event_seq DESC LIMIT 1;
  v_seq := coalesce(v_last.event_seq, 0) + 1;
  v_prev := coalesce(v_last.hash, repeat('0', 64));
  v_hash := encode(sha256(convert_to(concat_ws('|',
              trm_ledger_field(v_event::text), trm_ledger_field(v_seq::text), trm_ledger_field(trm_ledger_time(v_at)),
              trm_ledger_field(v_txid), trm_ledger_field(v_role), trm_ledger_field(v_user::text),
              trm_ledger_field(p_table), trm_ledger_field(p_row_key), trm_ledger_field(p_operation),
              trm_ledger_field(p_before::text), trm_ledger_field(p_after::text), trm_ledger_field(p_reason),
              trm_ledger_field(p_article), trm_ledger_field(v_prev)), 'UTF8')), 'hex');
  INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                             operation, before, after, reason, regulation_article, prev_hash, hash)
  VALUES (v_event, v_seq, v_at, v_txid, v_role, v_user,
          CASE WHEN v_user IS NOT NULL THEN 'directus:' || v_user ELSE 'db:' || v_role END,
          p_table, p_row_key, p_operation, p_before, p_after, p_reason, p_article, v_prev, v_hash);
END
$fn$;
REVOKE ALL ON FUNCTION trm_ledger_append(integer, text, text, text, jsonb, jsonb, text, text) FROM PUBLIC;

-- The row trigger of every recorded table. TG_ARGV[0] says how to find the row's event:
-- 'entry' (entry_id -> entries.event_id), 'event' (event_id), 'segment' (segment_id, through its stage).
-- SECURITY DEFINER too, so it may call trm_ledger_append (revoked from PUBLIC).
CREATE OR REPLACE FUNCTION trm_ledger_record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_before jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
  v_after jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
  v_row jsonb := coalesce(v_after, v_before);
  v_key text := v_row ->> 'id';
  v_event integer;
  v_reason text;
BEGIN
  IF TG_OP = 'UPDATE' AND v_before = v_after THEN
    RETURN NULL; -- an upsert that changed nothing is no decision
  END IF;
  v_event := CASE TG_ARGV[0]
    WHEN 'entry' THEN (SELECT event_id FROM entries WHERE id = (v_row ->> 'entry_id')::integer)
    WHEN 'event' THEN (v_row ->> 'event_id')::integer
    WHEN 'segment' THEN trm_event_of('segment', (v_row ->> 'segment_id')::integer)
  END;
  v_reason := trm_decision_reason(TG_TABLE_NAME, v_key);
  IF v_reason IS NULL AND TG_TABLE_NAME = 'entry_penalties' AND v_after ->> 'review_state' <> 'computed' THEN
    v_reason := nullif(btrim(v_after ->> 'override_reason'), '');
  END IF;
  PERFORM trm_ledger_append(v_event, TG_TABLE_NAME, v_key, lower(TG_OP), v_before, v_after, v_reason,
                            trm_decision_article(TG_TABLE_NAME, v_key));
  -- A row's stashed reason is for this write only.
  PERFORM trm_stash_row_setting('reason', TG_TABLE_NAME, v_key, NULL), trm_stash_row_setting('article', TG_TABLE_NAME, v_key, NULL);
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER entry_penalties_ledger AFTER INSERT OR UPDATE OR DELETE ON entry_penalties
  FOR EACH ROW EXECUTE FUNCTION trm_ledger_record('entry');
CREATE OR REPLACE TRIGGER stage_results_ledger AFTER INSERT OR UPDATE OR DELETE ON stage_results
  FOR EACH ROW EXECUTE FUNCTION trm_ledger_record('entry');
CREATE OR REPLACE TRIGGER penalty_formulas_ledger AFTER INSERT OR UPDATE OR DELETE ON penalty_formulas
  FOR EACH ROW EXECUTE FUNCTION trm_ledger_record('event');
-- Starts: the target is the decision (a new start list, a moved target, a start removed).
CREATE OR REPLACE TRIGGER entry_segment_starts_ledger AFTER INSERT OR DELETE ON entry_segment_starts
  FOR EACH ROW EXECUTE FUNCTION trm_ledger_record('entry');
CREATE OR REPLACE TRIGGER entry_segment_starts_ledger_target AFTER UPDATE OF target_at ON entry_segment_starts
  FOR EACH ROW WHEN (OLD.target_at IS DISTINCT FROM NEW.target_at) EXECUTE FUNCTION trm_ledger_record('entry');
-- Retroactive course rows: a change to them reprocesses positions already received.
CREATE OR REPLACE TRIGGER geofences_ledger_insert AFTER INSERT ON geofences
  FOR EACH ROW WHEN (NEW.retroactive) EXECUTE FUNCTION trm_ledger_record('event');
CREATE OR REPLACE TRIGGER geofences_ledger_update AFTER UPDATE ON geofences
  FOR EACH ROW WHEN (OLD.retroactive OR NEW.retroactive) EXECUTE FUNCTION trm_ledger_record('event');
CREATE OR REPLACE TRIGGER geofences_ledger_delete AFTER DELETE ON geofences
  FOR EACH ROW WHEN (OLD.retroactive) EXECUTE FUNCTION trm_ledger_record('event');
CREATE OR REPLACE TRIGGER speed_limit_zones_ledger_insert AFTER INSERT ON speed_limit_zones
  FOR EACH ROW WHEN (NEW.retroactive) EXECUTE FUNCTION trm_ledger_record('segment');
CREATE OR REPLACE TRIGGER speed_limit_zones_ledger_update AFTER UPDATE ON speed_limit_zones
  FOR EACH ROW WHEN (OLD.retroactive OR NEW.retroactive) EXECUTE FUNCTION trm_ledger_record('segment');
CREATE OR REPLACE TRIGGER speed_limit_zones_ledger_delete AFTER DELETE ON speed_limit_zones
  FOR EACH ROW WHEN (OLD.retroactive) EXECUTE FUNCTION trm_ledger_record('segment');

-- ---- faulty-position flags -----------------------------------------------------------------------------------
-- One ledger row per flipped fix and per event whose entry carries the device while the event runs
-- (event 0 when none does). Only the key and the flag are recorded: the fix itself does not change.
CREATE OR REPLACE FUNCTION trm_ledger_position_flag() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_key text := NEW.device_id || ' ' || trm_ledger_time(NEW.ts);
  v_events integer[];
  v_event integer;
BEGIN
  SELECT array_agg(DISTINCT en.event_id) INTO v_events
    FROM devices d JOIN entry_devices ed ON ed.device_id = d.id JOIN entries en ON en.id = ed.entry_id
    JOIN events e ON e.id = en.event_id
   WHERE d.imei = NEW.device_id AND NEW.ts BETWEEN e.starts_at AND e.ends_at;
  FOREACH v_event IN ARRAY coalesce(v_events, ARRAY[0]) LOOP
    PERFORM trm_ledger_append(v_event, 'positions', v_key, 'update',
                              jsonb_build_object('device_id', OLD.device_id, 'ts', OLD.ts, 'faulty', OLD.faulty),
                              jsonb_build_object('device_id', NEW.device_id, 'ts', NEW.ts, 'faulty', NEW.faulty),
                              nullif(btrim(current_setting('trm.reason', true)), ''),
                              nullif(btrim(current_setting('trm.regulation_article', true)), ''));
  END LOOP;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER positions_faulty_ledger AFTER UPDATE OF faulty ON positions
  FOR EACH ROW WHEN (OLD.faulty IS DISTINCT FROM NEW.faulty) EXECUTE FUNCTION trm_ledger_position_flag();

-- ---- check ----------------------------------------------------------------------------------------------------
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['entry_penalties_ledger', 'stage_results_ledger', 'penalty_formulas_ledger', 'entry_segment_starts_ledger',
                           'entry_segment_starts_ledger_target', 'geofences_ledger_update', 'speed_limit_zones_ledger_update',
                           'positions_faulty_ledger', 'timing_ledger_append_only', 'timing_ledger_no_truncate'] LOOP
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgname = t AND NOT tgisinternal) THEN
      RAISE EXCEPTION '010_timing_ledger: trigger % is missing', t;
    END IF;
  END LOOP;
END
$$;

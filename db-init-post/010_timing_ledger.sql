-- Phase 6, the stewards' record: `timing_ledger`, one row per insert, update and delete of a timing
-- decision, written by the database itself, so every writer is caught: Directus (any write path), the
-- processor's plain SQL, a person with psql. Directus's revisions see only its own API and its
-- retention (RETENTION_*) deletes activity; this table is not a Directus collection and nothing but
-- these triggers writes it.
--
-- What is recorded (statement triggers `<table>_ledger_insert|update|delete` with transition tables on the
-- timing tables the processor writes in batches; row triggers on the others):
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

-- ---- the tables and columns a Phase 6 file relies on ------------------------------------------------------
-- One check for 010-013 (005 and 007 carry their own, applied before it existed): `migration` names the
-- file in the error, `want` lists table.column.
CREATE OR REPLACE FUNCTION trm_require_columns(migration text, want text[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  w text;
BEGIN
  FOREACH w IN ARRAY want LOOP
    IF NOT EXISTS (SELECT FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = split_part(w, '.', 1) AND column_name = split_part(w, '.', 2)) THEN
      RAISE EXCEPTION '%: column public.% does not exist', migration, w
        USING HINT = 'db-init-post runs after the Directus schema apply: is the collection in snapshots/schema.yaml?';
    END IF;
  END LOOP;
END
$fn$;
SELECT trm_require_columns('010_timing_ledger', ARRAY[
  'entry_penalties.entry_id', 'entry_penalties.review_state', 'entry_penalties.override_reason', 'entry_penalties.override_seconds',
  'stage_results.entry_id', 'stage_results.stage_id', 'stage_results.status', 'penalty_formulas.event_id',
  'entry_segment_starts.entry_id', 'entry_segment_starts.target_at', 'geofences.event_id', 'geofences.retroactive',
  'speed_limit_zones.segment_id', 'speed_limit_zones.retroactive', 'entries.event_id', 'devices.imei',
  'entry_devices.device_id', 'events.starts_at', 'events.ends_at', 'positions.faulty']);

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

-- ---- appending --------------------------------------------------------------------------------------------
-- The hash of one row (the hashed text described at the top; src/commands/ledger.rs computes it again).
CREATE OR REPLACE FUNCTION trm_ledger_hash(p_event integer, p_seq bigint, p_at timestamptz, p_txid text, p_role text, p_user uuid,
                                           p_table text, p_row_key text, p_operation text, p_before jsonb, p_after jsonb,
                                           p_reason text, p_article text, p_prev text)
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT encode(sha256(convert_to(concat_ws('|',
           trm_ledger_field(p_event::text), trm_ledger_field(p_seq::text), trm_ledger_field(trm_ledger_time(p_at)),
           trm_ledger_field(p_txid), trm_ledger_field(p_role), trm_ledger_field(p_user::text),
           trm_ledger_field(p_table), trm_ledger_field(p_row_key), trm_ledger_field(p_operation),
           trm_ledger_field(p_before::text), trm_ledger_field(p_after::text), trm_ledger_field(p_reason),
           trm_ledger_field(p_article), trm_ledger_field(p_prev)), 'UTF8')), 'hex')
$fn$;

-- The Directus user the writing transaction claims (trm.directus_user), or NULL.
CREATE OR REPLACE FUNCTION trm_ledger_claimed_user() RETURNS uuid LANGUAGE sql STABLE AS $fn$
  SELECT CASE WHEN v ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN v::uuid END
    FROM (SELECT btrim(current_setting('trm.directus_user', true)) AS v) c
$fn$;

-- Takes the event's chain for the rest of the transaction and returns its head (event_seq, hash).
CREATE OR REPLACE FUNCTION trm_ledger_head(p_event integer, OUT event_seq bigint, OUT hash text) LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('trm timing_ledger'), p_event);
  SELECT l.event_seq, l.hash INTO event_seq, hash FROM timing_ledger l WHERE l.event_id = p_event ORDER BY l.event_seq DESC LIMIT 1;
  event_seq := coalesce(event_seq, 0);
  hash := coalesce(hash, repeat('0', 64));
END
$fn$;

-- One row appended (the row-level path: retroactive course rows, faulty flags). SECURITY DEFINER: the
-- writers (Directus's user, the processor's role) hold no privilege on the ledger.
CREATE OR REPLACE FUNCTION trm_ledger_append(p_event integer, p_table text, p_row_key text, p_operation text,
                                             p_before jsonb, p_after jsonb, p_reason text, p_article text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_event integer := coalesce(p_event, 0);
  v_user uuid := trm_ledger_claimed_user();
  v_at timestamptz := clock_timestamp();
  v_txid text := pg_current_xact_id()::text;
  v_role text := session_user;
  v_head record := trm_ledger_head(v_event);
BEGIN
  INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                             operation, before, after, reason, regulation_article, prev_hash, hash)
  VALUES (v_event, v_head.event_seq + 1, v_at, v_txid, v_role, v_user,
          CASE WHEN v_user IS NOT NULL THEN 'directus:' || v_user ELSE 'db:' || v_role END,
          p_table, p_row_key, p_operation, p_before, p_after, p_reason, p_article, v_head.hash,
          trm_ledger_hash(v_event, v_head.event_seq + 1, v_at, v_txid, v_role, v_user, p_table, p_row_key, p_operation,
                          p_before, p_after, p_reason, p_article, v_head.hash));
END
$fn$;
REVOKE ALL ON FUNCTION trm_ledger_append(integer, text, text, text, jsonb, jsonb, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION trm_ledger_head(integer) FROM PUBLIC;

-- The row trigger of the rarely written tables (retroactive course rows). TG_ARGV[0] says how to find
-- the row's event: 'event' (event_id) or 'segment' (segment_id, through its stage).
CREATE OR REPLACE FUNCTION trm_ledger_record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_before jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
  v_after jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
  v_row jsonb := coalesce(v_after, v_before);
BEGIN
  IF TG_OP = 'UPDATE' AND v_before = v_after THEN
    RETURN NULL;
  END IF;
  PERFORM trm_ledger_append(CASE TG_ARGV[0]
                              WHEN 'event' THEN (v_row ->> 'event_id')::integer
                              WHEN 'segment' THEN trm_event_of('segment', (v_row ->> 'segment_id')::integer)
                            END,
                            TG_TABLE_NAME, v_row ->> 'id', lower(TG_OP), v_before, v_after,
                            nullif(btrim(current_setting('trm.reason', true)), ''),
                            nullif(btrim(current_setting('trm.regulation_article', true)), ''));
  RETURN NULL;
END
$fn$;

-- The statement trigger of the timing tables the processor writes in batches: one call per statement,
-- the event's chain taken once, all rows appended in one INSERT (bench/ledger.sh measures why).
-- TG_ARGV[0]: how to find a row's event, 'entry' (entry_id -> entries.event_id) or 'event' (event_id);
-- TG_ARGV[1] (updates only, optional): the column whose change alone is recorded. An update that
-- changes nothing (an idempotent upsert) is no decision and is not recorded. The reason of a row is
-- the one stashed for it (011: taking a penalty's override back), a penalty's override_reason when its
-- review changed, or the transaction's trm.reason.
CREATE OR REPLACE FUNCTION trm_ledger_record_rows() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
DECLARE
  v_event_of text := CASE TG_ARGV[0] WHEN 'entry' THEN '(SELECT e.event_id FROM entries e WHERE e.id = x.entry_id)' ELSE 'x.event_id' END;
  v_rows text := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s AS event_id, x.id::text AS row_key, NULL::jsonb AS before, to_jsonb(x) AS after FROM new_rows x', v_event_of)
    WHEN 'DELETE' THEN format('SELECT %s AS event_id, x.id::text AS row_key, to_jsonb(x) AS before, NULL::jsonb AS after FROM old_rows x', v_event_of)
    ELSE format('SELECT %s AS event_id, x.id::text AS row_key, to_jsonb(o) AS before, to_jsonb(x) AS after
                   FROM old_rows o JOIN new_rows x ON x.id = o.id WHERE %s', v_event_of,
                CASE WHEN TG_NARGS > 1 THEN format('o.%1$I IS DISTINCT FROM x.%1$I', TG_ARGV[1]) ELSE 'to_jsonb(o) <> to_jsonb(x)' END)
  END;
  v_user uuid := trm_ledger_claimed_user();
  v_role text := session_user;
  v_actor text := CASE WHEN v_user IS NOT NULL THEN 'directus:' || v_user ELSE 'db:' || session_user END;
  v_txid text := pg_current_xact_id()::text;
  v_op text := lower(TG_OP);
  v_treason text := nullif(btrim(current_setting('trm.reason', true)), '');
  v_article text := nullif(btrim(current_setting('trm.regulation_article', true)), '');
  v_penalties boolean := TG_TABLE_NAME = 'entry_penalties';
  r record;
  v_event integer;
  v_head record;
  v_seq bigint;
  v_prev text;
  v_at timestamptz;
  v_reason text;
  a_event integer[] := '{}'; a_seq bigint[] := '{}'; a_at timestamptz[] := '{}'; a_key text[] := '{}';
  a_before jsonb[] := '{}'; a_after jsonb[] := '{}'; a_reason text[] := '{}'; a_prev text[] := '{}'; a_hash text[] := '{}';
BEGIN
  FOR r IN EXECUTE v_rows || ' ORDER BY 1, 2' LOOP
    IF v_event IS DISTINCT FROM coalesce(r.event_id, 0) THEN
      v_event := coalesce(r.event_id, 0);
      v_head := trm_ledger_head(v_event);
      v_seq := v_head.event_seq;
      v_prev := v_head.hash;
    END IF;
    v_reason := v_treason;
    IF v_penalties AND (r.before ->> 'review_state' IS DISTINCT FROM r.after ->> 'review_state'
                        OR r.before ->> 'override_seconds' IS DISTINCT FROM r.after ->> 'override_seconds') THEN
      v_reason := coalesce(trm_row_setting('reason', TG_TABLE_NAME, r.row_key),
                           CASE WHEN r.after ->> 'review_state' <> 'computed' THEN nullif(btrim(r.after ->> 'override_reason'), '') END,
                           v_treason);
      PERFORM trm_stash_row_setting('reason', TG_TABLE_NAME, r.row_key, NULL);
    END IF;
    v_seq := v_seq + 1;
    v_at := clock_timestamp();
    a_event := a_event || v_event; a_seq := a_seq || v_seq; a_at := a_at || v_at; a_key := a_key || r.row_key;
    a_before := a_before || r.before; a_after := a_after || r.after; a_reason := a_reason || v_reason; a_prev := a_prev || v_prev;
    v_prev := trm_ledger_hash(v_event, v_seq, v_at, v_txid, v_role, v_user, TG_TABLE_NAME, r.row_key, v_op, r.before, r.after,
                              v_reason, v_article, v_prev);
    a_hash := a_hash || v_prev;
  END LOOP;
  INSERT INTO timing_ledger (event_id, event_seq, recorded_at, txid, db_role, directus_user, actor, table_name, row_key,
                             operation, before, after, reason, regulation_article, prev_hash, hash)
  SELECT u.event_id, u.event_seq, u.recorded_at, v_txid, v_role, v_user, v_actor, TG_TABLE_NAME, u.row_key,
         v_op, u.before, u.after, u.reason, v_article, u.prev_hash, u.hash
    FROM unnest(a_event, a_seq, a_at, a_key, a_before, a_after, a_reason, a_prev, a_hash)
         AS u(event_id, event_seq, recorded_at, row_key, before, after, reason, prev_hash, hash);
  RETURN NULL;
END
$fn$;

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('entry_penalties', 'entry', NULL), ('stage_results', 'entry', NULL),
                                 ('penalty_formulas', 'event', NULL), ('entry_segment_starts', 'entry', 'target_at')) v(tbl, owner, col) LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION trm_ledger_record_rows(%L)', t.tbl || '_ledger_insert', t.tbl, t.owner);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION trm_ledger_record_rows(%s)', t.tbl || '_ledger_update', t.tbl,
                   CASE WHEN t.col IS NULL THEN quote_literal(t.owner) ELSE quote_literal(t.owner) || ', ' || quote_literal(t.col) END);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION trm_ledger_record_rows(%L)', t.tbl || '_ledger_delete', t.tbl, t.owner);
  END LOOP;
END
$$;
-- Retroactive course rows: a change to them reprocesses positions already received.
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('geofences', 'event'), ('speed_limit_zones', 'segment')) v(tbl, owner) LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT ON %I FOR EACH ROW WHEN (NEW.retroactive)
                    EXECUTE FUNCTION trm_ledger_record(%L)', t.tbl || '_ledger_insert', t.tbl, t.owner);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER UPDATE ON %I FOR EACH ROW WHEN (OLD.retroactive OR NEW.retroactive)
                    EXECUTE FUNCTION trm_ledger_record(%L)', t.tbl || '_ledger_update', t.tbl, t.owner);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %I FOR EACH ROW WHEN (OLD.retroactive)
                    EXECUTE FUNCTION trm_ledger_record(%L)', t.tbl || '_ledger_delete', t.tbl, t.owner);
  END LOOP;
END
$$;

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
  FOREACH t IN ARRAY ARRAY['entry_penalties_ledger_insert', 'entry_penalties_ledger_update', 'entry_penalties_ledger_delete',
                           'stage_results_ledger_insert', 'stage_results_ledger_update', 'stage_results_ledger_delete',
                           'penalty_formulas_ledger_insert', 'penalty_formulas_ledger_update', 'penalty_formulas_ledger_delete',
                           'entry_segment_starts_ledger_insert', 'entry_segment_starts_ledger_update', 'entry_segment_starts_ledger_delete',
                           'geofences_ledger_update', 'speed_limit_zones_ledger_update',
                           'positions_faulty_ledger', 'timing_ledger_append_only', 'timing_ledger_no_truncate'] LOOP
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgname = t AND NOT tgisinternal) THEN
      RAISE EXCEPTION '010_timing_ledger: trigger % is missing', t;
    END IF;
  END LOOP;
END
$$;

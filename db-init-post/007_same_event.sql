-- One event per row: what a row points at belongs to the event of its entry. Without this, a row of one
-- organisation could point at another organisation's course (an org-admin's create passes Directus's
-- validation on entry_id alone), and a recompute would read a segment of the wrong event.
--   * entries.class_id                 a class of the entry's event;
--   * entry_segment_starts.segment_id  a segment of a stage of the entry's event;
--   * entry_crossings.geofence_id      a geofence of the entry's event;
--   * entry_penalties.stage_id, .segment_id  a stage / segment of the entry's event;
--   * stage_results.stage_id           a stage of the entry's event.
-- Errors name the table, the column, the row pointed at, the event it should be in and the rule, with
-- SQLSTATE 23514 (check_violation); not the event the row is in (it may be another organisation's).
-- The triggers fire only when one of the columns changes (and on insert).

-- ---- the tables and columns this file relies on ------------------------------------------------------
DO $$
DECLARE
  want text[] := ARRAY[
    'entries.event_id', 'entries.class_id', 'classes.event_id', 'stages.event_id', 'segments.stage_id', 'geofences.event_id',
    'entry_segment_starts.entry_id', 'entry_segment_starts.segment_id',
    'entry_crossings.entry_id', 'entry_crossings.geofence_id',
    'entry_penalties.entry_id', 'entry_penalties.stage_id', 'entry_penalties.segment_id',
    'stage_results.entry_id', 'stage_results.stage_id'];
  w text;
BEGIN
  FOREACH w IN ARRAY want LOOP
    IF NOT EXISTS (SELECT FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = split_part(w, '.', 1) AND column_name = split_part(w, '.', 2)) THEN
      RAISE EXCEPTION '007_same_event: column public.% does not exist', w
        USING HINT = 'db-init-post runs after the Directus schema apply: is the collection in snapshots/schema.yaml?';
    END IF;
  END LOOP;
END
$$;

-- The event a referenced row belongs to: kind is 'class', 'stage', 'segment' or 'geofence'.
CREATE OR REPLACE FUNCTION trm_event_of(kind text, id integer) RETURNS integer LANGUAGE sql STABLE AS $fn$
  SELECT CASE kind
    WHEN 'class'    THEN (SELECT event_id FROM classes WHERE classes.id = trm_event_of.id)
    WHEN 'stage'    THEN (SELECT event_id FROM stages WHERE stages.id = trm_event_of.id)
    WHEN 'segment'  THEN (SELECT s.event_id FROM segments g JOIN stages s ON s.id = g.stage_id WHERE g.id = trm_event_of.id)
    WHEN 'geofence' THEN (SELECT event_id FROM geofences WHERE geofences.id = trm_event_of.id)
  END
$fn$;

-- Refuses a row whose `col` (a `kind`, see trm_event_of) is not in `own_event` (`own_what` says whose).
CREATE OR REPLACE FUNCTION trm_require_same_event(tbl text, col text, kind text, ref integer, own_event integer, own_what text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF ref IS NOT NULL AND trm_event_of(kind, ref) IS DISTINCT FROM own_event THEN
    RAISE EXCEPTION '%.%: % % is not in event %, % (rule %_same_event)',
                    tbl, col, kind, ref, coalesce(own_event::text, '(none)'), own_what, tbl
      USING ERRCODE = 'check_violation', CONSTRAINT = tbl || '_same_event', TABLE = tbl, COLUMN = col;
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION trm_entries_class_same_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM trm_require_same_event('entries', 'class_id', 'class', NEW.class_id, NEW.event_id, 'the entry''s event');
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entries_same_event BEFORE INSERT OR UPDATE OF event_id, class_id ON entries
  FOR EACH ROW EXECUTE FUNCTION trm_entries_class_same_event();

-- The rows of an entry: each column named in TG_ARGV as pairs (column, kind).
CREATE OR REPLACE FUNCTION trm_entry_row_same_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  entry_event integer;
  row_json jsonb := to_jsonb(NEW);
  i integer := 0;
BEGIN
  SELECT event_id INTO entry_event FROM entries WHERE id = NEW.entry_id;
  WHILE i < TG_NARGS LOOP
    PERFORM trm_require_same_event(TG_TABLE_NAME, TG_ARGV[i], TG_ARGV[i + 1], (row_json ->> TG_ARGV[i])::integer,
                                   entry_event, format('the event of entry %s', NEW.entry_id));
    i := i + 2;
  END LOOP;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entry_segment_starts_same_event BEFORE INSERT OR UPDATE OF entry_id, segment_id ON entry_segment_starts
  FOR EACH ROW EXECUTE FUNCTION trm_entry_row_same_event('segment_id', 'segment');
CREATE OR REPLACE TRIGGER entry_crossings_same_event BEFORE INSERT OR UPDATE OF entry_id, geofence_id ON entry_crossings
  FOR EACH ROW EXECUTE FUNCTION trm_entry_row_same_event('geofence_id', 'geofence');
CREATE OR REPLACE TRIGGER entry_penalties_same_event BEFORE INSERT OR UPDATE OF entry_id, stage_id, segment_id ON entry_penalties
  FOR EACH ROW EXECUTE FUNCTION trm_entry_row_same_event('stage_id', 'stage', 'segment_id', 'segment');
CREATE OR REPLACE TRIGGER stage_results_same_event BEFORE INSERT OR UPDATE OF entry_id, stage_id ON stage_results
  FOR EACH ROW EXECUTE FUNCTION trm_entry_row_same_event('stage_id', 'stage');

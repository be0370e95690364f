-- Rule messages that never name another organisation's rows (issue 22). A refusal is read by whoever
-- wrote the row, and the row may point at something of another organisation (that is why it is
-- refused): 004_course.sql and 005_timing.sql named the event the pointed-at row belongs to, which told
-- a club another club's event ids. From here on a rule's message names the table, the column, the row
-- the writer gave (their own value, echoed) and the rule, never the event of what it points at; a row
-- that does not exist gets the same sentence as one of another event.
-- Same functions, same triggers (004/005 attached them), same SQLSTATE and constraint names; only
-- the sentence changes. 007_same_event.sql already names only the row's own event and entry.

CREATE OR REPLACE FUNCTION trm_segments_same_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  stage_event integer;
  col text;
  fence integer;
BEGIN
  SELECT event_id INTO stage_event FROM stages WHERE id = NEW.stage_id;
  FOREACH col IN ARRAY ARRAY['entry_geofence_id', 'exit_geofence_id'] LOOP
    fence := CASE col WHEN 'entry_geofence_id' THEN NEW.entry_geofence_id ELSE NEW.exit_geofence_id END;
    CONTINUE WHEN fence IS NULL;
    IF trm_event_of('geofence', fence) IS DISTINCT FROM stage_event THEN
      RAISE EXCEPTION 'segments.%: geofence % is not in the event of the segment''s stage (rule segment_geofences_same_event)',
                      col, fence
        USING ERRCODE = 'check_violation', CONSTRAINT = 'segment_geofences_same_event', TABLE = 'segments', COLUMN = col;
    END IF;
  END LOOP;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION trm_stages_input_same_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.start_order_input_stage_id IS NOT NULL
     AND trm_event_of('stage', NEW.start_order_input_stage_id) IS DISTINCT FROM NEW.event_id THEN
    RAISE EXCEPTION 'stages.start_order_input_stage_id: stage % is not in this stage''s event (rule stage_input_same_event)',
                    NEW.start_order_input_stage_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'stage_input_same_event', TABLE = 'stages', COLUMN = 'start_order_input_stage_id';
  END IF;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION trm_penalty_formulas_owner() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  owner_event integer;
BEGIN
  CASE NEW.belongs_to_type
    WHEN 'segment' THEN
      NEW.segment_id := coalesce(NEW.segment_id, NEW.belongs_to_id);
      NEW.belongs_to_id := NEW.segment_id;
      owner_event := trm_event_of('segment', NEW.segment_id);
    WHEN 'speed_limit_zone' THEN
      NEW.speed_limit_zone_id := coalesce(NEW.speed_limit_zone_id, NEW.belongs_to_id);
      NEW.belongs_to_id := NEW.speed_limit_zone_id;
      SELECT s.event_id INTO owner_event
        FROM speed_limit_zones z JOIN segments g ON g.id = z.segment_id JOIN stages s ON s.id = g.stage_id
       WHERE z.id = NEW.speed_limit_zone_id;
    WHEN 'stage' THEN
      NEW.stage_id := coalesce(NEW.stage_id, NEW.belongs_to_id);
      NEW.belongs_to_id := NEW.stage_id;
      owner_event := trm_event_of('stage', NEW.stage_id);
    WHEN 'event' THEN
      NEW.belongs_to_id := NEW.event_id;
      owner_event := NEW.event_id;
    ELSE
      RETURN NEW; -- the CHECK names the bad type
  END CASE;
  IF NEW.belongs_to_id IS NOT NULL AND owner_event IS DISTINCT FROM NEW.event_id THEN
    RAISE EXCEPTION 'penalty_formulas: owner % % is not in the formula''s event (rule penalty_formula_owner_same_event)',
                    NEW.belongs_to_type, NEW.belongs_to_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'penalty_formula_owner_same_event', TABLE = 'penalty_formulas';
  END IF;
  RETURN NEW;
END
$fn$;

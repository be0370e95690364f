-- Phase 3, timing and penalties: the rules that make the processor's writes and the operators' reviews
-- safe together. Runs after the schema apply; everything is created only when missing.
--   * natural keys the processor writes with ON CONFLICT: entry_segment_starts (entry_id, segment_id),
--     entry_crossings (entry_id, geofence_id, ts), entry_penalties (entry_id, penalty_key),
--     stage_results (entry_id, stage_id);
--   * penalty_formulas: the typed polymorphic owner kept consistent (belongs_to_type/belongs_to_id and
--     exactly one typed column), the owner in the formula's event, brackets of one owner and type never
--     overlap (exclusion constraint on a numrange);
--   * entry_penalties: a reviewed (overridden / void) penalty keeps the numbers the operator saw and is
--     never deleted, so a recompute that deletes and re-inserts computed rows cannot touch it;
--   * stage_results: an official row is frozen until it is set back to provisional; published_at is
--     the database's clock.

-- ---- the tables and columns this file relies on ------------------------------------------------------
DO $$
DECLARE
  want text[] := ARRAY[
    'penalty_formulas.event_id', 'penalty_formulas.belongs_to_type', 'penalty_formulas.belongs_to_id',
    'penalty_formulas.segment_id', 'penalty_formulas.speed_limit_zone_id', 'penalty_formulas.stage_id',
    'penalty_formulas.type', 'penalty_formulas.offence_min', 'penalty_formulas.offence_max', 'penalty_formulas.operator',
    'entry_segment_starts.entry_id', 'entry_segment_starts.segment_id',
    'entry_crossings.entry_id', 'entry_crossings.geofence_id', 'entry_crossings.ts', 'entry_crossings.kind', 'entry_crossings.source',
    'entry_penalties.entry_id', 'entry_penalties.penalty_key', 'entry_penalties.review_state', 'entry_penalties.seconds',
    'entry_penalties.override_seconds', 'entry_penalties.override_reason', 'entry_penalties.overridden_at',
    'stage_results.entry_id', 'stage_results.stage_id', 'stage_results.status', 'stage_results.published_at'];
  w text;
BEGIN
  FOREACH w IN ARRAY want LOOP
    IF NOT EXISTS (SELECT FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = split_part(w, '.', 1) AND column_name = split_part(w, '.', 2)) THEN
      RAISE EXCEPTION '005_timing: column public.% does not exist', w
        USING HINT = 'db-init-post runs after the Directus schema apply: is the collection in snapshots/schema.yaml?';
    END IF;
  END LOOP;
END
$$;

-- ---- natural keys -----------------------------------------------------------------------------------------
DO $$
DECLARE
  specs text[][] := ARRAY[
    ARRAY['entry_segment_starts', 'entry_segment_starts_entry_id_segment_id_unique', 'entry_id, segment_id'],
    ARRAY['entry_crossings', 'entry_crossings_entry_id_geofence_id_ts_unique', 'entry_id, geofence_id, ts'],
    ARRAY['entry_penalties', 'entry_penalties_entry_id_penalty_key_unique', 'entry_id, penalty_key'],
    ARRAY['stage_results', 'stage_results_entry_id_stage_id_unique', 'entry_id, stage_id']];
  i int;
BEGIN
  FOR i IN 1 .. array_length(specs, 1) LOOP
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = specs[i][2] AND conrelid = format('public.%I', specs[i][1])::regclass) THEN
      EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I UNIQUE (%s)', specs[i][1], specs[i][2], specs[i][3]);
    END IF;
  END LOOP;
END
$$;

-- ---- indexes for the results query and the operators' lists ---------------------------------------------
-- All with two or more columns: Directus reports a single-column index as the field's `is_indexed`.
CREATE INDEX IF NOT EXISTS entry_crossings_geofence_id_ts_idx ON entry_crossings (geofence_id, ts);
CREATE INDEX IF NOT EXISTS entry_penalties_entry_id_stage_id_idx ON entry_penalties (entry_id, stage_id);
CREATE INDEX IF NOT EXISTS entry_penalties_stage_id_entry_id_idx ON entry_penalties (stage_id, entry_id);
CREATE INDEX IF NOT EXISTS stage_results_stage_id_total_idx ON stage_results (stage_id, total_seconds);
CREATE INDEX IF NOT EXISTS entry_segment_starts_segment_id_idx ON entry_segment_starts (segment_id, target_at);
CREATE INDEX IF NOT EXISTS penalty_formulas_owner_idx ON penalty_formulas (belongs_to_type, belongs_to_id, type);

-- ---- CHECKs ------------------------------------------------------------------------------------------------
DO $$
DECLARE
  checks text[][] := ARRAY[
    ARRAY['penalty_formulas', 'penalty_formulas_belongs_to_type_check', $c$belongs_to_type IN ('segment', 'speed_limit_zone', 'stage', 'event')$c$],
    ARRAY['penalty_formulas', 'penalty_formulas_operator_check', $c$operator IN ('fixed', 'per_unit', 'disqualification')$c$],
    ARRAY['penalty_formulas', 'penalty_formulas_bracket_check', $c$offence_max IS NULL OR offence_max > offence_min$c$],
    ARRAY['penalty_formulas', 'penalty_formulas_penalty_check', $c$penalty_seconds >= 0$c$],
    -- The typed owner: exactly the column named by belongs_to_type is set and equals belongs_to_id.
    ARRAY['penalty_formulas', 'penalty_formulas_owner_check', $c$CASE belongs_to_type
        WHEN 'segment' THEN segment_id IS NOT NULL AND speed_limit_zone_id IS NULL AND stage_id IS NULL AND belongs_to_id = segment_id
        WHEN 'speed_limit_zone' THEN speed_limit_zone_id IS NOT NULL AND segment_id IS NULL AND stage_id IS NULL AND belongs_to_id = speed_limit_zone_id
        WHEN 'stage' THEN stage_id IS NOT NULL AND segment_id IS NULL AND speed_limit_zone_id IS NULL AND belongs_to_id = stage_id
        WHEN 'event' THEN segment_id IS NULL AND speed_limit_zone_id IS NULL AND stage_id IS NULL AND belongs_to_id = event_id
        ELSE false END$c$],
    ARRAY['entry_crossings', 'entry_crossings_kind_check', $c$kind IN ('entry', 'exit')$c$],
    ARRAY['entry_crossings', 'entry_crossings_source_check', $c$source IN ('processor', 'manual')$c$],
    ARRAY['entry_penalties', 'entry_penalties_review_state_check', $c$review_state IN ('computed', 'overridden', 'void')$c$],
    ARRAY['entry_penalties', 'entry_penalties_override_check', $c$CASE review_state
        WHEN 'computed' THEN override_seconds IS NULL
        WHEN 'overridden' THEN override_seconds IS NOT NULL AND override_seconds >= 0 AND nullif(btrim(override_reason), '') IS NOT NULL
        WHEN 'void' THEN nullif(btrim(override_reason), '') IS NOT NULL
        ELSE false END$c$],
    ARRAY['entry_penalties', 'entry_penalties_seconds_check', $c$seconds >= 0$c$],
    ARRAY['stage_results', 'stage_results_status_check', $c$status IN ('provisional', 'official')$c$],
    ARRAY['stage_results', 'stage_results_official_published_check', $c$status <> 'official' OR published_at IS NOT NULL$c$],
    ARRAY['stage_results', 'stage_results_times_check', $c$finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at$c$]];
  i int;
BEGIN
  FOR i IN 1 .. array_length(checks, 1) LOOP
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = checks[i][2] AND conrelid = format('public.%I', checks[i][1])::regclass) THEN
      EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (%s)', checks[i][1], checks[i][2], checks[i][3]);
    END IF;
  END LOOP;
END
$$;

-- ---- penalty_formulas: the owner ----------------------------------------------------------------------------
-- Either form may be written: the typed column (the admin UI's dropdown) or belongs_to_type +
-- belongs_to_id (plain SQL); the trigger fills the other, then checks the owner is in the formula's event.
CREATE OR REPLACE FUNCTION trm_penalty_formulas_owner() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  owner_event integer;
BEGIN
  CASE NEW.belongs_to_type
    WHEN 'segment' THEN
      NEW.segment_id := coalesce(NEW.segment_id, NEW.belongs_to_id);
      NEW.belongs_to_id := NEW.segment_id;
      SELECT s.event_id INTO owner_event FROM segments g JOIN stages s ON s.id = g.stage_id WHERE g.id = NEW.segment_id;
    WHEN 'speed_limit_zone' THEN
      NEW.speed_limit_zone_id := coalesce(NEW.speed_limit_zone_id, NEW.belongs_to_id);
      NEW.belongs_to_id := NEW.speed_limit_zone_id;
      SELECT s.event_id INTO owner_event
        FROM speed_limit_zones z JOIN segments g ON g.id = z.segment_id JOIN stages s ON s.id = g.stage_id
       WHERE z.id = NEW.speed_limit_zone_id;
    WHEN 'stage' THEN
      NEW.stage_id := coalesce(NEW.stage_id, NEW.belongs_to_id);
      NEW.belongs_to_id := NEW.stage_id;
      SELECT event_id INTO owner_event FROM stages WHERE id = NEW.stage_id;
    WHEN 'event' THEN
      NEW.belongs_to_id := NEW.event_id;
      owner_event := NEW.event_id;
    ELSE
      RETURN NEW; -- the CHECK names the bad type
  END CASE;
  IF NEW.belongs_to_id IS NOT NULL AND owner_event IS DISTINCT FROM NEW.event_id THEN
    RAISE EXCEPTION 'penalty_formulas: owner % % belongs to event %, the formula to event % (rule penalty_formula_owner_same_event)',
                    NEW.belongs_to_type, NEW.belongs_to_id, coalesce(owner_event::text, '(none: no such owner)'), NEW.event_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'penalty_formula_owner_same_event', TABLE = 'penalty_formulas';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER penalty_formulas_owner BEFORE INSERT OR UPDATE ON penalty_formulas
  FOR EACH ROW EXECUTE FUNCTION trm_penalty_formulas_owner();

-- Brackets of one owner and penalty type never overlap: [offence_min, offence_max), an empty
-- offence_max is unbounded. The exclusion constraint is the guarantee (also under concurrent writes);
-- the trigger before it only turns the refusal into a message that names the other bracket.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'penalty_formulas_brackets_do_not_overlap') THEN
    ALTER TABLE penalty_formulas ADD CONSTRAINT penalty_formulas_brackets_do_not_overlap
      EXCLUDE USING gist (belongs_to_type WITH =, belongs_to_id WITH =, type WITH =,
                          numrange(offence_min, offence_max, '[)') WITH &&);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION trm_penalty_formulas_brackets() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  other record;
BEGIN
  SELECT id, offence_min, offence_max INTO other FROM penalty_formulas
   WHERE belongs_to_type = NEW.belongs_to_type AND belongs_to_id = NEW.belongs_to_id AND type = NEW.type
     AND id IS DISTINCT FROM NEW.id
     AND numrange(offence_min, offence_max, '[)') && numrange(NEW.offence_min, NEW.offence_max, '[)')
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'penalty_formulas: bracket [%, %) of % for % % overlaps formula % [%, %) (rule penalty_formulas_brackets_do_not_overlap)',
                    NEW.offence_min, coalesce(NEW.offence_max::text, 'no limit'), NEW.type, NEW.belongs_to_type, NEW.belongs_to_id,
                    other.id, other.offence_min, coalesce(other.offence_max::text, 'no limit')
      USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'penalty_formulas_brackets_do_not_overlap', TABLE = 'penalty_formulas';
  END IF;
  RETURN NEW;
END
$fn$;
-- Named to fire after penalty_formulas_owner (triggers fire in name order): the owner is filled first.
CREATE OR REPLACE TRIGGER penalty_formulas_p_brackets BEFORE INSERT OR UPDATE ON penalty_formulas
  FOR EACH ROW EXECUTE FUNCTION trm_penalty_formulas_brackets();

-- ---- entry_penalties: reviewed penalties are the operator's ------------------------------------------------
-- A recompute (the processor, in one transaction) deletes the computed penalties of an entry and stage and
-- inserts the new ones with ON CONFLICT (entry_id, penalty_key) DO NOTHING: an overridden or void penalty
-- of the same offence stays as the operator left it. These triggers make a processor bug loud instead of
-- silent: deleting a reviewed penalty, or changing the computed numbers under an operator's decision, fails.
CREATE OR REPLACE FUNCTION trm_entry_penalties_review() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.review_state <> 'computed' THEN
      RAISE EXCEPTION 'entry_penalties: penalty % of entry % is %: a reviewed penalty is not deleted (set review_state back to computed first; rule reviewed_penalty_kept)',
                      OLD.id, OLD.entry_id, OLD.review_state
        USING ERRCODE = 'check_violation', CONSTRAINT = 'reviewed_penalty_kept', TABLE = 'entry_penalties';
    END IF;
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.review_state <> 'computed' AND NEW.review_state <> 'computed'
     AND (NEW.entry_id, NEW.penalty_key, NEW.type, NEW.seconds, NEW.inputs::jsonb, NEW.formula_snapshot::jsonb)
         IS DISTINCT FROM (OLD.entry_id, OLD.penalty_key, OLD.type, OLD.seconds, OLD.inputs::jsonb, OLD.formula_snapshot::jsonb) THEN
    RAISE EXCEPTION 'entry_penalties: penalty % of entry % is %: its computed values stay as reviewed (set review_state back to computed to recompute it; rule reviewed_penalty_frozen)',
                    OLD.id, OLD.entry_id, OLD.review_state
      USING ERRCODE = 'check_violation', CONSTRAINT = 'reviewed_penalty_frozen', TABLE = 'entry_penalties';
  END IF;
  IF NEW.review_state = 'computed' THEN
    -- back to the processor's number: the override goes
    NEW.override_seconds := NULL;
    NEW.override_reason := NULL;
    NEW.overridden_by := NULL;
    NEW.overridden_at := NULL;
  ELSIF TG_OP = 'INSERT' OR OLD.review_state IS DISTINCT FROM NEW.review_state
        OR OLD.override_seconds IS DISTINCT FROM NEW.override_seconds THEN
    NEW.overridden_at := now();
  END IF;
  IF TG_OP = 'INSERT' AND NEW.computed_at IS NULL THEN
    NEW.computed_at := now();
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER entry_penalties_review BEFORE INSERT OR UPDATE OR DELETE ON entry_penalties
  FOR EACH ROW EXECUTE FUNCTION trm_entry_penalties_review();

-- ---- stage_results: official rows are frozen ------------------------------------------------------------------
CREATE OR REPLACE FUNCTION trm_stage_results_official() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status = 'official' THEN
      RAISE EXCEPTION 'stage_results: result % (entry %, stage %) is official: set it back to provisional before deleting it (rule official_results_frozen)',
                      OLD.id, OLD.entry_id, OLD.stage_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'official_results_frozen', TABLE = 'stage_results';
    END IF;
    RETURN OLD;
  END IF;
  -- Setting an official row back to provisional is a change of its own: nothing else may change with it.
  IF TG_OP = 'UPDATE' AND OLD.status = 'official'
     AND (NEW.entry_id, NEW.stage_id, NEW.started_at, NEW.finished_at, NEW.elapsed_seconds, NEW.penalty_seconds,
          NEW.total_seconds, NEW.position_overall, NEW.position_in_class)
         IS DISTINCT FROM (OLD.entry_id, OLD.stage_id, OLD.started_at, OLD.finished_at, OLD.elapsed_seconds, OLD.penalty_seconds,
          OLD.total_seconds, OLD.position_overall, OLD.position_in_class) THEN
    RAISE EXCEPTION 'stage_results: result % (entry %, stage %) is official since %: set status back to provisional before changing it (rule official_results_frozen)',
                    OLD.id, OLD.entry_id, OLD.stage_id, OLD.published_at
      USING ERRCODE = 'check_violation', CONSTRAINT = 'official_results_frozen', TABLE = 'stage_results';
  END IF;
  IF NEW.status = 'official' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'official') THEN
    NEW.published_at := now();
  ELSIF NEW.status = 'official' THEN
    NEW.published_at := OLD.published_at;
  ELSIF NEW.status <> 'official' THEN
    NEW.published_at := NULL;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER stage_results_official BEFORE INSERT OR UPDATE OR DELETE ON stage_results
  FOR EACH ROW EXECUTE FUNCTION trm_stage_results_official();

-- ---- check ----------------------------------------------------------------------------------------------------
DO $$
DECLARE
  w text;
BEGIN
  FOREACH w IN ARRAY ARRAY['entry_segment_starts_entry_id_segment_id_unique', 'entry_crossings_entry_id_geofence_id_ts_unique',
                           'entry_penalties_entry_id_penalty_key_unique', 'stage_results_entry_id_stage_id_unique'] LOOP
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = w AND contype = 'u') THEN
      RAISE EXCEPTION '005_timing: UNIQUE % is missing', w;
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'penalty_formulas_brackets_do_not_overlap' AND contype = 'x') THEN
    RAISE EXCEPTION '005_timing: exclusion constraint penalty_formulas_brackets_do_not_overlap is missing';
  END IF;
END
$$;

-- Phase 2, the course: what the Directus snapshot cannot say. Runs after the schema apply.
--   * composite uniques where order matters (stage order per event, segment order per stage,
--     waypoint order per segment);
--   * GiST indexes on the geometry the processor tests every fix against;
--   * geometry rules with errors that name the collection, the field and the rule: SRID 4326,
--     WGS 84 range, closed rings, valid polygons (OGC), non-empty;
--   * a segment's geofences and a stage's input stage belong to the same event;
--   * CHECKs mirroring the dropdowns, for writers that bypass Directus (seeds, the processor).
-- Everything is created only when missing, so the file can also run on a database that has it.

-- ---- the tables and columns this file relies on ------------------------------------------------------
DO $$
DECLARE
  want text[] := ARRAY[
    'stages.event_id', 'stages.sort_order', 'stages.status', 'stages.start_order_input_stage_id',
    'segments.stage_id', 'segments.sort_order', 'segments.type', 'segments.entry_geofence_id', 'segments.exit_geofence_id',
    'geofences.event_id', 'geofences.geometry', 'geofences.active',
    'waypoints.segment_id', 'waypoints.location', 'waypoints.sort_order', 'waypoints.tolerance_meters',
    'speed_limit_zones.segment_id', 'speed_limit_zones.geometry', 'speed_limit_zones.speed_limit_kmh'];
  w text;
BEGIN
  FOREACH w IN ARRAY want LOOP
    IF NOT EXISTS (SELECT FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = split_part(w, '.', 1) AND column_name = split_part(w, '.', 2)) THEN
      RAISE EXCEPTION '004_course: column public.% does not exist', w
        USING HINT = 'db-init-post runs after the Directus schema apply: is the collection in snapshots/schema.yaml?';
    END IF;
  END LOOP;
  -- Directus creates geometry(<type>, 4326) on PostGIS: the SRID is part of the column type.
  IF EXISTS (SELECT FROM (VALUES ('geofences', 'geometry', 'POLYGON'), ('speed_limit_zones', 'geometry', 'POLYGON'),
                                 ('waypoints', 'location', 'POINT')) AS v(t, c, ty)
             WHERE NOT EXISTS (SELECT FROM geometry_columns g WHERE g.f_table_schema = 'public' AND g.f_table_name = v.t
                                 AND g.f_geometry_column = v.c AND g.srid = 4326 AND g.type = v.ty)) THEN
    RAISE EXCEPTION '004_course: geofences.geometry / speed_limit_zones.geometry must be geometry(Polygon, 4326) and waypoints.location geometry(Point, 4326)'
      USING HINT = 'the snapshot declares them as geometry.Polygon / geometry.Point fields; PostGIS must be installed before the schema apply (db-init/004_postgis.sql)';
  END IF;
END
$$;

-- ---- composite uniques ------------------------------------------------------------------------------
DO $$
DECLARE
  spec text[];
  specs text[][] := ARRAY[
    ARRAY['stages',    'event_id',   'sort_order'],
    ARRAY['segments',  'stage_id',   'sort_order'],
    ARRAY['waypoints', 'segment_id', 'sort_order']];
  name text;
  i int;
BEGIN
  FOR i IN 1 .. array_length(specs, 1) LOOP
    name := format('%s_%s_%s_unique', specs[i][1], specs[i][2], specs[i][3]);
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = name AND conrelid = format('public.%I', specs[i][1])::regclass) THEN
      EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I UNIQUE (%I, %I)', specs[i][1], name, specs[i][2], specs[i][3]);
    END IF;
  END LOOP;
END
$$;

-- ---- indexes: the processor's lookups -----------------------------------------------------------------
-- GiST on the geometry, with the column the lookup also filters on as a second key (btree_gist). Two
-- columns on purpose: Directus reports a single-column index as the field's `is_indexed`, which would
-- make the database differ from the snapshot (and a later apply "fix" it).
CREATE INDEX IF NOT EXISTS geofences_geometry_gist ON geofences USING gist (geometry, event_id);
CREATE INDEX IF NOT EXISTS speed_limit_zones_geometry_gist ON speed_limit_zones USING gist (geometry, segment_id);
CREATE INDEX IF NOT EXISTS waypoints_location_gist ON waypoints USING gist (location, segment_id);

-- ---- CHECKs mirroring the dropdowns and ranges ---------------------------------------------------------
DO $$
DECLARE
  checks text[][] := ARRAY[
    ARRAY['stages', 'stages_status_check', $c$status IN ('planned', 'open', 'closed')$c$],
    ARRAY['stages', 'stages_start_order_strategy_check',
          $c$start_order_strategy IN ('manual', 'previous_stage_clean_result', 'inverse_top_n_then_natural', 'inverse_of_overall')$c$],
    ARRAY['stages', 'stages_start_order_input_not_self_check', $c$start_order_input_stage_id IS DISTINCT FROM id$c$],
    ARRAY['stages', 'stages_start_interval_check', $c$start_interval_seconds IS NULL OR start_interval_seconds >= 0$c$],
    ARRAY['segments', 'segments_type_check', $c$type IN ('liaison', 'special-stage', 'parc-ferme')$c$],
    ARRAY['segments', 'segments_target_duration_check', $c$target_duration_seconds IS NULL OR target_duration_seconds >= 0$c$],
    ARRAY['waypoints', 'waypoints_tolerance_check', $c$tolerance_meters > 0$c$],
    ARRAY['speed_limit_zones', 'speed_limit_zones_limit_check', $c$speed_limit_kmh > 0$c$]];
  i int;
BEGIN
  FOR i IN 1 .. array_length(checks, 1) LOOP
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = checks[i][2] AND conrelid = format('public.%I', checks[i][1])::regclass) THEN
      EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (%s)', checks[i][1], checks[i][2], checks[i][3]);
    END IF;
  END LOOP;
END
$$;

-- ---- geometry rules -------------------------------------------------------------------------------------
-- trm_course_geometry_check(column): a BEFORE INSERT OR UPDATE trigger. The error names the collection,
-- the field and the rule, with SQLSTATE 23514 (check_violation) and the rule as the constraint name.
CREATE OR REPLACE FUNCTION trm_course_geometry_check() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  col text := TG_ARGV[0];
  g geometry;
  ring int;
  rule text;
  reason text;
BEGIN
  EXECUTE format('SELECT ($1).%I', col) USING NEW INTO g;
  IF g IS NULL THEN
    RETURN NEW; -- NOT NULL is the column's business
  END IF;
  IF ST_IsEmpty(g) THEN
    rule := 'geometry_not_empty'; reason := 'the geometry is empty';
  ELSIF ST_SRID(g) <> 4326 THEN
    rule := 'srid_4326'; reason := format('SRID %s, not 4326 (WGS 84)', ST_SRID(g));
  ELSIF ST_XMin(g) < -180 OR ST_XMax(g) > 180 OR ST_YMin(g) < -90 OR ST_YMax(g) > 90 THEN
    rule := 'wgs84_range'; reason := format('coordinates out of range (longitude %s..%s, latitude %s..%s): [longitude, latitude] in degrees',
                                            ST_XMin(g), ST_XMax(g), ST_YMin(g), ST_YMax(g));
  ELSIF GeometryType(g) = 'POLYGON' THEN
    IF NOT ST_IsClosed(ST_ExteriorRing(g)) THEN
      rule := 'ring_closed'; reason := 'the polygon''s outer ring is not closed (its last point must repeat the first)';
    ELSE
      FOR ring IN 1 .. ST_NumInteriorRings(g) LOOP
        IF NOT ST_IsClosed(ST_InteriorRingN(g, ring)) THEN
          rule := 'ring_closed'; reason := format('hole %s of the polygon is not closed', ring);
          EXIT;
        END IF;
      END LOOP;
    END IF;
    IF rule IS NULL AND ST_NPoints(ST_ExteriorRing(g)) < 4 THEN
      rule := 'polygon_valid'; reason := 'the outer ring needs at least 4 points (3 corners, closed)';
    END IF;
    IF rule IS NULL AND NOT ST_IsValid(g) THEN
      rule := 'polygon_valid'; reason := format('the polygon is not valid: %s', ST_IsValidReason(g));
    END IF;
  END IF;
  IF rule IS NOT NULL THEN
    RAISE EXCEPTION '%.%: % (rule %)', TG_TABLE_NAME, col, reason, rule
      USING ERRCODE = 'check_violation', CONSTRAINT = rule, TABLE = TG_TABLE_NAME, COLUMN = col,
            DETAIL = format('rule %s on %s.%s', rule, TG_TABLE_NAME, col);
  END IF;
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE TRIGGER geofences_geometry_check BEFORE INSERT OR UPDATE OF geometry ON geofences
  FOR EACH ROW EXECUTE FUNCTION trm_course_geometry_check('geometry');
CREATE OR REPLACE TRIGGER speed_limit_zones_geometry_check BEFORE INSERT OR UPDATE OF geometry ON speed_limit_zones
  FOR EACH ROW EXECUTE FUNCTION trm_course_geometry_check('geometry');
CREATE OR REPLACE TRIGGER waypoints_location_check BEFORE INSERT OR UPDATE OF location ON waypoints
  FOR EACH ROW EXECUTE FUNCTION trm_course_geometry_check('location');

-- ---- one event per course -------------------------------------------------------------------------------
-- A segment's entry and exit geofences belong to the event of the segment's stage; a stage's input
-- stage (start order) belongs to the same event.
CREATE OR REPLACE FUNCTION trm_segments_same_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  stage_event integer;
  fence_event integer;
  col text;
  fence integer;
BEGIN
  SELECT event_id INTO stage_event FROM stages WHERE id = NEW.stage_id;
  FOREACH col IN ARRAY ARRAY['entry_geofence_id', 'exit_geofence_id'] LOOP
    fence := CASE col WHEN 'entry_geofence_id' THEN NEW.entry_geofence_id ELSE NEW.exit_geofence_id END;
    CONTINUE WHEN fence IS NULL;
    SELECT event_id INTO fence_event FROM geofences WHERE id = fence;
    IF fence_event IS DISTINCT FROM stage_event THEN
      RAISE EXCEPTION 'segments.%: geofence % belongs to event %, the segment''s stage % to event % (rule segment_geofences_same_event)',
                      col, fence, fence_event, NEW.stage_id, stage_event
        USING ERRCODE = 'check_violation', CONSTRAINT = 'segment_geofences_same_event', TABLE = 'segments', COLUMN = col;
    END IF;
  END LOOP;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER segments_same_event BEFORE INSERT OR UPDATE OF stage_id, entry_geofence_id, exit_geofence_id ON segments
  FOR EACH ROW EXECUTE FUNCTION trm_segments_same_event();

CREATE OR REPLACE FUNCTION trm_stages_input_same_event() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  input_event integer;
BEGIN
  IF NEW.start_order_input_stage_id IS NOT NULL THEN
    SELECT event_id INTO input_event FROM stages WHERE id = NEW.start_order_input_stage_id;
    IF input_event IS DISTINCT FROM NEW.event_id THEN
      RAISE EXCEPTION 'stages.start_order_input_stage_id: stage % belongs to event %, this stage to event % (rule stage_input_same_event)',
                      NEW.start_order_input_stage_id, input_event, NEW.event_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'stage_input_same_event', TABLE = 'stages', COLUMN = 'start_order_input_stage_id';
    END IF;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE OR REPLACE TRIGGER stages_input_same_event BEFORE INSERT OR UPDATE OF event_id, start_order_input_stage_id ON stages
  FOR EACH ROW EXECUTE FUNCTION trm_stages_input_same_event();

-- ---- check: what the processor relies on exists ----------------------------------------------------------
DO $$
DECLARE
  w text;
BEGIN
  FOREACH w IN ARRAY ARRAY['stages_event_id_sort_order_unique', 'segments_stage_id_sort_order_unique',
                           'waypoints_segment_id_sort_order_unique'] LOOP
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = w AND contype = 'u') THEN
      RAISE EXCEPTION '004_course: UNIQUE % is missing', w;
    END IF;
  END LOOP;
  FOREACH w IN ARRAY ARRAY['geofences_geometry_gist', 'speed_limit_zones_geometry_gist', 'waypoints_location_gist'] LOOP
    IF NOT EXISTS (SELECT FROM pg_indexes WHERE indexname = w AND indexdef LIKE '%USING gist%') THEN
      RAISE EXCEPTION '004_course: GiST index % is missing', w;
    END IF;
  END LOOP;
END
$$;

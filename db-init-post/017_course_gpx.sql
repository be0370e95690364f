-- Course import and export from a roadbook's OpenRally GPX (issue 26). The GPX is read and checked by
-- extensions/src/course-gpx (gpx.ts, plan.ts); this file writes the plan it makes, in the caller's
-- transaction, and reads a stage back in the same shape:
--   * trm_course_import(event_id, plan jsonb) -> jsonb {stage_id, created, updated, deleted, unchanged}:
--     the stage named plan.stage_name in the event (created after the event's last stage when missing),
--     its segments (by sort_order), waypoints (by segment and sort_order), the segments' boundary
--     geofences (named '<stage> start', '<stage> DSS', '<stage> ASS', '<stage> finish': circles of the
--     point's clear radius on the first point, the DSS, the ASS and the last point) and the speed zones
--     (by their dz waypoint; the polygon runs along the stage's track from the dz to the fz, as wide as
--     the dz's clear radius; a straight line when there is no track). Rows are found by those natural
--     keys and written only when a value differs, so importing the same file again changes nothing.
--     Rows the file no longer has are deleted (a segment with start lists or crossings is refused by
--     its foreign keys, and the whole import with it). A segment's target_duration_seconds and zones
--     drawn by hand (no dz waypoint) are the operators' and are never touched;
--   * trm_course_export(stage_id) -> jsonb: the stage as gpx.ts's Course (stageName, track, points).
-- Geometry is computed here, once: ST_Buffer on geography (metres) with 8 segments per quarter circle.

DO $$
DECLARE
  w text;
BEGIN
  FOREACH w IN ARRAY ARRAY['waypoints.kind', 'waypoints.name', 'waypoints.open_radius_meters', 'waypoints.roadbook_km',
                           'waypoints.roadbook', 'stages.track', 'speed_limit_zones.start_waypoint_id',
                           'speed_limit_zones.end_waypoint_id'] LOOP
    IF NOT EXISTS (SELECT FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = split_part(w, '.', 1) AND column_name = split_part(w, '.', 2)) THEN
      RAISE EXCEPTION '017_course_gpx: column public.% does not exist', w
        USING HINT = 'db-init-post runs after the Directus schema apply: is the field in snapshots/schema.yaml (scripts/schema/phase26.mjs)?';
    END IF;
  END LOOP;
END
$$;

-- The one shape of a geofence or zone built from a point or a line: a buffer of `radius` metres.
CREATE OR REPLACE FUNCTION trm_course_buffer(g geometry, radius numeric) RETURNS geometry
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT ST_SetSRID(ST_Buffer(g::geography, radius::float8, 'quad_segs=8')::geometry, 4326)
$fn$;

CREATE OR REPLACE FUNCTION trm_course_import(p_event integer, plan jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  stage_name text := plan ->> 'stage_name';
  v_stage integer;
  v_track geometry;
  created integer := 0;
  updated integer := 0;
  deleted integer := 0;
  unchanged integer := 0;
  n integer;
  seg jsonb;
  wp jsonb;
  zone jsonb;
  v_segment integer;
  v_waypoint integer;
  fence_ids jsonb := '{}'::jsonb;
  fence jsonb;
  v_fence integer;
  v_geom geometry;
  dz record;
  fz record;
  a float8;
  b float8;
  seg_orders integer[];
  wp_orders integer[];
  zone_starts integer[] := '{}';
BEGIN
  IF stage_name IS NULL OR btrim(stage_name) = '' THEN
    RAISE EXCEPTION 'trm_course_import: the plan names no stage' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT FROM events WHERE id = p_event) THEN
    RAISE EXCEPTION 'trm_course_import: event % does not exist', p_event USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- One import per event at a time (two imports of a new stage would create it twice).
  PERFORM pg_advisory_xact_lock(hashtext('trm_course_import'), p_event);

  IF jsonb_typeof(plan -> 'track') = 'array' THEN
    v_track := ST_SetSRID(ST_MakeLine(ARRAY(SELECT ST_MakePoint((p ->> 0)::float8, (p ->> 1)::float8)
                                              FROM jsonb_array_elements(plan -> 'track') WITH ORDINALITY AS t(p, i) ORDER BY i)), 4326);
  END IF;

  -- ---- the stage
  SELECT id INTO v_stage FROM stages WHERE event_id = p_event AND name = stage_name ORDER BY id LIMIT 1 FOR UPDATE;
  IF v_stage IS NULL THEN
    INSERT INTO stages (event_id, name, sort_order, track)
    SELECT p_event, stage_name, coalesce(max(sort_order), 0) + 1, v_track FROM stages WHERE event_id = p_event
    RETURNING id INTO v_stage;
    created := created + 1;
  ELSE
    UPDATE stages SET track = v_track WHERE id = v_stage AND ST_AsEWKB(track) IS DISTINCT FROM ST_AsEWKB(v_track);
    GET DIAGNOSTICS n = ROW_COUNT;
    updated := updated + n;
    unchanged := unchanged + 1 - n;
  END IF;

  -- ---- the segments' boundaries: '<stage> start', 'DSS', 'ASS', 'finish' geofences
  FOR fence IN SELECT f FROM jsonb_array_elements(plan -> 'fences') f LOOP
    v_geom := trm_course_buffer(ST_SetSRID(ST_MakePoint((fence ->> 'lon')::float8, (fence ->> 'lat')::float8), 4326),
                                (fence ->> 'radius_meters')::numeric);
    SELECT id INTO v_fence FROM geofences WHERE event_id = p_event AND name = fence ->> 'name' ORDER BY id LIMIT 1;
    IF v_fence IS NULL THEN
      INSERT INTO geofences (event_id, name, kind, geometry) VALUES (p_event, fence ->> 'name', fence ->> 'kind', v_geom)
      RETURNING id INTO v_fence;
      created := created + 1;
    ELSE
      UPDATE geofences SET kind = fence ->> 'kind', geometry = v_geom
       WHERE id = v_fence AND (kind, ST_AsEWKB(geometry)) IS DISTINCT FROM (fence ->> 'kind', ST_AsEWKB(v_geom));
      GET DIAGNOSTICS n = ROW_COUNT;
      updated := updated + n;
      unchanged := unchanged + 1 - n;
    END IF;
    fence_ids := fence_ids || jsonb_build_object(fence ->> 'key', v_fence);
  END LOOP;

  -- ---- segments and their waypoints
  seg_orders := ARRAY(SELECT (s ->> 'sort_order')::integer FROM jsonb_array_elements(plan -> 'segments') s);
  FOR seg IN SELECT s FROM jsonb_array_elements(plan -> 'segments') s LOOP
    SELECT id INTO v_segment FROM segments WHERE stage_id = v_stage AND sort_order = (seg ->> 'sort_order')::integer;
    IF v_segment IS NULL THEN
      INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id)
      VALUES (v_stage, (seg ->> 'sort_order')::integer, seg ->> 'type',
              (fence_ids ->> (seg ->> 'entry'))::integer, (fence_ids ->> (seg ->> 'exit'))::integer)
      RETURNING id INTO v_segment;
      created := created + 1;
    ELSE
      UPDATE segments SET type = seg ->> 'type', entry_geofence_id = (fence_ids ->> (seg ->> 'entry'))::integer,
                          exit_geofence_id = (fence_ids ->> (seg ->> 'exit'))::integer
       WHERE id = v_segment
         AND (type, entry_geofence_id, exit_geofence_id) IS DISTINCT FROM
             (seg ->> 'type', (fence_ids ->> (seg ->> 'entry'))::integer, (fence_ids ->> (seg ->> 'exit'))::integer);
      GET DIAGNOSTICS n = ROW_COUNT;
      updated := updated + n;
      unchanged := unchanged + 1 - n;
    END IF;

    wp_orders := ARRAY(SELECT (w ->> 'sort_order')::integer FROM jsonb_array_elements(seg -> 'waypoints') w);
    -- zones of this segment that the file no longer starts at a dz go first (they point at waypoints)
    DELETE FROM speed_limit_zones z
     WHERE z.segment_id = v_segment AND z.start_waypoint_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM jsonb_array_elements(plan -> 'zones') pz JOIN waypoints w ON w.segment_id = v_segment
                        AND w.sort_order = (pz ->> 'start')::integer
                        WHERE (pz ->> 'segment')::integer = (seg ->> 'sort_order')::integer AND w.id = z.start_waypoint_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;
    DELETE FROM waypoints WHERE segment_id = v_segment AND sort_order <> ALL (wp_orders);
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;
    FOR wp IN SELECT w FROM jsonb_array_elements(seg -> 'waypoints') w LOOP
      v_geom := ST_SetSRID(ST_MakePoint((wp ->> 'lon')::float8, (wp ->> 'lat')::float8), 4326);
      SELECT id INTO v_waypoint FROM waypoints WHERE segment_id = v_segment AND sort_order = (wp ->> 'sort_order')::integer;
      IF v_waypoint IS NULL THEN
        INSERT INTO waypoints (segment_id, sort_order, kind, name, location, tolerance_meters, open_radius_meters, roadbook_km, roadbook)
        VALUES (v_segment, (wp ->> 'sort_order')::integer, wp ->> 'kind', wp ->> 'name', v_geom, (wp ->> 'tolerance_meters')::integer,
                (wp ->> 'open_radius_meters')::integer, (wp ->> 'roadbook_km')::numeric, nullif(wp -> 'roadbook', 'null'::jsonb));
        created := created + 1;
      ELSE
        UPDATE waypoints SET kind = wp ->> 'kind', name = wp ->> 'name', location = v_geom,
                             tolerance_meters = (wp ->> 'tolerance_meters')::integer,
                             open_radius_meters = (wp ->> 'open_radius_meters')::integer,
                             roadbook_km = (wp ->> 'roadbook_km')::numeric, roadbook = nullif(wp -> 'roadbook', 'null'::jsonb)
         WHERE id = v_waypoint
           AND (kind, name, ST_AsEWKB(location), tolerance_meters, open_radius_meters, roadbook_km, roadbook::jsonb) IS DISTINCT FROM
               (wp ->> 'kind', wp ->> 'name', ST_AsEWKB(v_geom), (wp ->> 'tolerance_meters')::integer,
                (wp ->> 'open_radius_meters')::integer, (wp ->> 'roadbook_km')::numeric, nullif(wp -> 'roadbook', 'null'::jsonb));
        GET DIAGNOSTICS n = ROW_COUNT;
        updated := updated + n;
        unchanged := unchanged + 1 - n;
      END IF;
    END LOOP;
  END LOOP;

  -- ---- speed zones, by their dz waypoint
  FOR zone IN SELECT z FROM jsonb_array_elements(plan -> 'zones') z LOOP
    SELECT id INTO v_segment FROM segments WHERE stage_id = v_stage AND sort_order = (zone ->> 'segment')::integer;
    SELECT id, location, tolerance_meters INTO dz FROM waypoints WHERE segment_id = v_segment AND sort_order = (zone ->> 'start')::integer;
    SELECT id, location INTO fz FROM waypoints WHERE segment_id = v_segment AND sort_order = (zone ->> 'end')::integer;
    IF v_track IS NOT NULL THEN
      a := ST_LineLocatePoint(v_track, dz.location);
      b := ST_LineLocatePoint(v_track, fz.location);
    END IF;
    v_geom := trm_course_buffer(CASE WHEN v_track IS NOT NULL AND a < b THEN ST_LineSubstring(v_track, a, b)
                                     ELSE ST_MakeLine(dz.location, fz.location) END, dz.tolerance_meters);
    zone_starts := zone_starts || dz.id;
    UPDATE speed_limit_zones SET name = zone ->> 'name', geometry = v_geom, speed_limit_kmh = (zone ->> 'speed_limit_kmh')::integer,
                                 end_waypoint_id = fz.id
     WHERE start_waypoint_id = dz.id
       AND (name, ST_AsEWKB(geometry), speed_limit_kmh, end_waypoint_id) IS DISTINCT FROM
           (zone ->> 'name', ST_AsEWKB(v_geom), (zone ->> 'speed_limit_kmh')::integer, fz.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
      updated := updated + n;
    ELSIF EXISTS (SELECT FROM speed_limit_zones WHERE start_waypoint_id = dz.id) THEN
      unchanged := unchanged + 1;
    ELSE
      INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh, start_waypoint_id, end_waypoint_id)
      VALUES (v_segment, zone ->> 'name', v_geom, (zone ->> 'speed_limit_kmh')::integer, dz.id, fz.id);
      created := created + 1;
    END IF;
  END LOOP;

  -- ---- what the file no longer has
  DELETE FROM segments WHERE stage_id = v_stage AND sort_order <> ALL (seg_orders);
  GET DIAGNOSTICS n = ROW_COUNT;
  deleted := deleted + n;
  DELETE FROM geofences
   WHERE event_id = p_event AND name IN (stage_name || ' start', stage_name || ' DSS', stage_name || ' ASS', stage_name || ' finish')
     AND name NOT IN (SELECT f ->> 'name' FROM jsonb_array_elements(plan -> 'fences') f);
  GET DIAGNOSTICS n = ROW_COUNT;
  deleted := deleted + n;

  RETURN jsonb_build_object('stage_id', v_stage, 'created', created, 'updated', updated, 'deleted', deleted, 'unchanged', unchanged);
END
$fn$;

CREATE OR REPLACE FUNCTION trm_course_export(p_stage integer) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
  SELECT jsonb_build_object(
    'stageName', s.name,
    'track', (SELECT jsonb_agg(jsonb_build_array(ST_X(d.geom), ST_Y(d.geom)) ORDER BY d.path) FROM ST_DumpPoints(s.track) d),
    'points', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'kind', w.kind, 'name', w.name, 'lon', ST_X(w.location), 'lat', ST_Y(w.location),
               'clearMeters', w.tolerance_meters, 'openMeters', w.open_radius_meters,
               'roadbookKm', w.roadbook_km, 'roadbook', w.roadbook::jsonb,
               'speedKmh', (SELECT z.speed_limit_kmh FROM speed_limit_zones z WHERE z.start_waypoint_id = w.id ORDER BY z.id LIMIT 1))
             ORDER BY g.sort_order, w.sort_order)
        FROM segments g JOIN waypoints w ON w.segment_id = g.id
       WHERE g.stage_id = s.id), '[]'::jsonb))
  FROM stages s WHERE s.id = p_stage
$fn$;

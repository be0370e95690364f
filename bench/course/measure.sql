-- Measures the processor's lookups and the Phase 3 results query on a generated course
-- (bench/course/generate.sql). Prints `name|value` lines; bench/course.sh turns them into Markdown.
-- Each figure has its baseline in the same run: the same statements with the index dropped inside a
-- transaction that is rolled back (so plans are made without it), on the same data.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only on

-- A sample of real fixes, as the processor receives them.
CREATE TEMP TABLE sample AS
SELECT p.device_id, p.latitude, p.longitude, en.event_id
  FROM positions p JOIN devices d ON d.imei = p.device_id JOIN entry_devices ed ON ed.device_id = d.id
  JOIN entries en ON en.id = ed.entry_id
 WHERE NOT p.faulty
 ORDER BY random() LIMIT :sample;

-- Runs the processor's per-fix statement for every sampled fix; returns microseconds per fix and how
-- many fixes matched. Static SQL in PL/pgSQL is prepared once and reused, as the processor's prepared
-- statements are.
CREATE FUNCTION pg_temp.per_fix(what text) RETURNS TABLE (us_per_fix float8, hits bigint) LANGUAGE plpgsql AS $$
DECLARE
  r record;
  t0 timestamptz;
  n bigint := 0;
  h bigint := 0;
  fences integer[];
  zone integer;
BEGIN
  t0 := clock_timestamp();
  FOR r IN SELECT * FROM sample LOOP
    IF what = 'fences' THEN
      -- which active geofences of the entry's event contain the fix
      SELECT array_agg(g.id) INTO fences FROM geofences g
       WHERE g.event_id = r.event_id AND g.active
         AND ST_Contains(g.geometry, ST_SetSRID(ST_MakePoint(r.longitude, r.latitude), 4326));
      IF fences IS NOT NULL THEN h := h + 1; END IF;
    ELSE
      -- which speed-limit zone (the strictest, when zones overlap) the fix lies in
      SELECT z.speed_limit_kmh INTO zone FROM speed_limit_zones z
        JOIN segments sg ON sg.id = z.segment_id JOIN stages st ON st.id = sg.stage_id
       WHERE st.event_id = r.event_id AND z.active
         AND ST_Contains(z.geometry, ST_SetSRID(ST_MakePoint(r.longitude, r.latitude), 4326))
       ORDER BY z.speed_limit_kmh LIMIT 1;
      IF FOUND THEN h := h + 1; END IF;
    END IF;
    n := n + 1;
  END LOOP;
  RETURN QUERY SELECT (extract(epoch FROM clock_timestamp() - t0) * 1e6 / greatest(n, 1))::float8, h;
END
$$;

-- The results of one stage: per entry, start (exit of the first segment's entry geofence), finish
-- (entry into the last segment's exit geofence), elapsed over the special stages, penalties as
-- reviewed (override / void), total, and positions overall and in class.
CREATE FUNCTION pg_temp.stage_results_query(stage integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  EXECUTE $q$
    WITH seg AS (
      SELECT id, sort_order, type, entry_geofence_id, exit_geofence_id FROM segments WHERE stage_id = $1),
    times AS (
      SELECT e.id AS entry_id, e.class_id, seg.id AS segment_id, seg.type,
             (SELECT min(c.ts) FROM entry_crossings c
               WHERE c.entry_id = e.id AND c.geofence_id = seg.entry_geofence_id AND c.kind = 'exit') AS started,
             (SELECT min(c.ts) FROM entry_crossings c
               WHERE c.entry_id = e.id AND c.geofence_id = seg.exit_geofence_id AND c.kind = 'entry') AS finished
        FROM entries e CROSS JOIN seg
       WHERE e.event_id = (SELECT event_id FROM stages WHERE id = $1)),
    per_entry AS (
      SELECT entry_id, class_id, min(started) AS started_at, max(finished) AS finished_at,
             sum(extract(epoch FROM finished - started)) FILTER (WHERE type = 'special-stage')::int AS elapsed
        FROM times GROUP BY entry_id, class_id),
    pen AS (
      SELECT entry_id, sum(CASE review_state WHEN 'overridden' THEN override_seconds WHEN 'void' THEN 0 ELSE seconds END)::int AS p
        FROM entry_penalties WHERE stage_id = $1 GROUP BY entry_id)
    SELECT count(*) FROM (
      SELECT pe.entry_id, pe.started_at, pe.finished_at, pe.elapsed, coalesce(pen.p, 0) AS penalty,
             pe.elapsed + coalesce(pen.p, 0) AS total,
             rank() OVER (ORDER BY pe.elapsed + coalesce(pen.p, 0)) AS position_overall,
             rank() OVER (PARTITION BY pe.class_id ORDER BY pe.elapsed + coalesce(pen.p, 0)) AS position_in_class
        FROM per_entry pe LEFT JOIN pen ON pen.entry_id = pe.entry_id) r
  $q$ INTO n USING stage;
  RETURN n;
END
$$;

CREATE FUNCTION pg_temp.results_ms(stage integer, runs integer) RETURNS TABLE (ms_median float8, rows_out bigint) LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  times float8[] := '{}';
  n bigint;
BEGIN
  PERFORM pg_temp.stage_results_query(stage); -- warm
  FOR i IN 1 .. runs LOOP
    t0 := clock_timestamp();
    n := pg_temp.stage_results_query(stage);
    times := times || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
  END LOOP;
  RETURN QUERY SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t), n FROM unnest(times) t;
END
$$;

CREATE FUNCTION pg_temp.explain_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    RETURN NEXT line;
  END LOOP;
END
$$;

SELECT 'sizes|' || format('stages=%s segments=%s geofences=%s waypoints=%s speed_limit_zones=%s entries=%s positions=%s crossings=%s penalties=%s sample=%s',
  (SELECT count(*) FROM stages), (SELECT count(*) FROM segments), (SELECT count(*) FROM geofences),
  (SELECT count(*) FROM waypoints), (SELECT count(*) FROM speed_limit_zones), (SELECT count(*) FROM entries),
  (SELECT count(*) FROM positions), (SELECT count(*) FROM entry_crossings), (SELECT count(*) FROM entry_penalties),
  (SELECT count(*) FROM sample));
SELECT 'crossings_per_entry_stage|' || round((SELECT count(*) FROM entry_crossings)::numeric
                                             / nullif((SELECT count(*) FROM entries) * (SELECT count(*) FROM stages), 0), 1);

-- The plans, so the report shows which index serves each statement.
SELECT 'plan_fences|' || string_agg(l, ' / ') FROM (
  SELECT btrim(l) AS l FROM pg_temp.explain_lines(
    format('SELECT g.id FROM geofences g WHERE g.event_id = %s AND g.active AND ST_Contains(g.geometry, ST_SetSRID(ST_MakePoint(%s, %s), 4326))',
           (SELECT event_id FROM sample LIMIT 1), (SELECT longitude FROM sample LIMIT 1), (SELECT latitude FROM sample LIMIT 1))) l) x;
SELECT 'plan_zone|' || string_agg(l, ' / ') FROM (
  SELECT btrim(l) AS l FROM pg_temp.explain_lines(
    format('SELECT z.speed_limit_kmh FROM speed_limit_zones z JOIN segments sg ON sg.id = z.segment_id JOIN stages st ON st.id = sg.stage_id WHERE st.event_id = %s AND z.active AND ST_Contains(z.geometry, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY z.speed_limit_kmh LIMIT 1',
           (SELECT event_id FROM sample LIMIT 1), (SELECT longitude FROM sample LIMIT 1), (SELECT latitude FROM sample LIMIT 1))) l) x;

-- With the indexes (as db-init-post creates them).
SELECT 'fences_indexed|' || us_per_fix || '|' || hits FROM pg_temp.per_fix('fences');
SELECT 'zone_indexed|' || us_per_fix || '|' || hits FROM pg_temp.per_fix('zone');
SELECT 'results_indexed|' || ms_median || '|' || rows_out FROM pg_temp.results_ms(:stage, :runs);

-- Baselines: the same statements without the index, in a transaction that is rolled back.
BEGIN;
DROP INDEX geofences_geometry_gist;
SELECT 'fences_baseline|' || us_per_fix || '|' || hits FROM pg_temp.per_fix('fences');
ROLLBACK;
BEGIN;
DROP INDEX speed_limit_zones_geometry_gist;
SELECT 'zone_baseline|' || us_per_fix || '|' || hits FROM pg_temp.per_fix('zone');
ROLLBACK;
BEGIN;
ALTER TABLE entry_crossings DROP CONSTRAINT entry_crossings_entry_id_geofence_id_ts_unique;
DROP INDEX entry_crossings_geofence_id_ts_idx;
DROP INDEX entry_penalties_entry_id_stage_id_idx;
DROP INDEX entry_penalties_stage_id_entry_id_idx;
SELECT 'results_baseline|' || ms_median || '|' || rows_out FROM pg_temp.results_ms(:stage, :baseline_runs);
ROLLBACK;

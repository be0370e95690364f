-- A Rally Albania-sized course and its telemetry, generated in the database (fast on 2 cores).
-- psql variables (defaults in bench/course.sh): entries (300), fixes (positions per entry),
-- crossings (per entry per stage, ~40), seed (random seed).
-- Shape: 6 stages of 7/7/7/7/6/6 segments (40) along routes across Albania; each segment has an entry
-- and an exit geofence (shared between consecutive segments) plus checkpoint geofences (~300 in all,
-- 32-vertex circles of 150-400 m), 50 waypoints (2,000), 5 speed-limit zones (200, villages of
-- ~600 m-1.2 km); 300 entries with one tracker each; positions along the routes with GPS noise;
-- crossings, penalties and results as the processor would write them.
-- Expects the schema of snapshots/schema.yaml + db-init-post on an empty database.
\set ON_ERROR_STOP 1
SELECT setseed(:seed);

BEGIN;
INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Bench Club', 'bench-club');
INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
SELECT id, 'Rally Albania (bench)', 'rally-albania-bench', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'Europe/Tirane'
  FROM organizations WHERE slug = 'bench-club';
INSERT INTO classes (event_id, code, name, sort_order)
SELECT e.id, c.code, c.code, 10 * c.n FROM events e,
       unnest(ARRAY['M-1','M-2','M-3','M-4','Q-1','Q-2','C-1','C-2','S-1','S-2']) WITH ORDINALITY AS c(code, n);

-- Stages: one route per day, a polyline of 8 points crossing the country (lon 19.4-20.9, lat 39.9-42.4).
CREATE TEMP TABLE route AS
SELECT s AS stage_no,
       ST_SetSRID(ST_MakeLine(ARRAY(
         SELECT ST_MakePoint(19.4 + 1.5 * random(), 39.9 + 2.5 * ((s - 1) / 6.0 + k / 48.0 + 0.01 * random()))
           FROM generate_series(0, 7) k ORDER BY k)), 4326) AS path
  FROM generate_series(1, 6) s;

INSERT INTO stages (event_id, name, sort_order, role, starts_at, start_interval_seconds, start_order_strategy, status)
SELECT e.id, format('Stage %s', r.stage_no), r.stage_no, CASE r.stage_no WHEN 1 THEN 'prologue' ELSE 'stage' END,
       timestamptz '2026-06-07T06:00:00Z' + (r.stage_no - 1) * interval '1 day', 60,
       CASE r.stage_no WHEN 1 THEN 'manual' ELSE 'previous_stage_clean_result' END, 'open'
  FROM route r, events e;

-- Segment boundaries: n+1 gates per stage along the route; gate k is the exit of segment k and the
-- entry of segment k+1.
CREATE TEMP TABLE gate AS
SELECT r.stage_no, g AS gate_no, n_seg,
       ST_LineInterpolatePoint(r.path, g::float / n_seg) AS pt
  FROM route r
  CROSS JOIN LATERAL (SELECT CASE WHEN r.stage_no <= 4 THEN 7 ELSE 6 END AS n_seg) n
  CROSS JOIN LATERAL generate_series(0, n.n_seg) g;

INSERT INTO geofences (event_id, name, kind, geometry, manual_verification, retroactive, active)
SELECT e.id, format('S%s gate %s', g.stage_no, g.gate_no),
       CASE WHEN g.gate_no = 0 THEN 'start' WHEN g.gate_no = g.n_seg THEN 'finish' ELSE 'checkpoint' END,
       ST_Buffer(g.pt::geography, 250, 8)::geometry, false, false, true
  FROM gate g, events e;

INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id, target_duration_seconds)
SELECT s.id, g.gate_no + 1,
       CASE WHEN g.gate_no % 2 = 0 THEN 'liaison' ELSE 'special-stage' END,
       fin.id, fout.id, 3600 + (random() * 3600)::int
  FROM gate g
  JOIN stages s ON s.sort_order = g.stage_no
  JOIN geofences fin ON fin.name = format('S%s gate %s', g.stage_no, g.gate_no)
  JOIN geofences fout ON fout.name = format('S%s gate %s', g.stage_no, g.gate_no + 1)
 WHERE g.gate_no < g.n_seg;

-- The segment's own line (for waypoints, zones and positions).
CREATE TEMP TABLE seg_line AS
SELECT sg.id AS segment_id, st.sort_order AS stage_no, sg.sort_order AS seg_no,
       ST_LineSubstring(r.path, (sg.sort_order - 1)::float / g.n_seg, sg.sort_order::float / g.n_seg) AS line
  FROM segments sg JOIN stages st ON st.id = sg.stage_id JOIN route r ON r.stage_no = st.sort_order
  JOIN (SELECT DISTINCT stage_no, n_seg FROM gate) g ON g.stage_no = st.sort_order;

-- Checkpoint geofences off the gates: 6-7 per segment, ~300 geofences in all.
INSERT INTO geofences (event_id, name, kind, geometry, manual_verification, retroactive, active)
SELECT e.id, format('S%s seg %s CP%s', l.stage_no, l.seg_no, k), CASE WHEN k % 3 = 0 THEN 'refuel' ELSE 'waypoint' END,
       ST_Buffer(ST_LineInterpolatePoint(l.line, k / 7.0)::geography, 150 + 250 * random(), 8)::geometry,
       k % 5 = 0, false, true
  FROM seg_line l, events e, generate_series(1, 6) k;

INSERT INTO waypoints (segment_id, location, tolerance_meters, sort_order)
SELECT l.segment_id, ST_LineInterpolatePoint(l.line, k / 51.0), CASE WHEN k % 10 = 0 THEN 200 ELSE 90 END, k
  FROM seg_line l, generate_series(1, 50) k;

INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh, retroactive, active)
SELECT l.segment_id, format('S%s seg %s village %s', l.stage_no, l.seg_no, k),
       ST_Buffer(ST_LineInterpolatePoint(l.line, k / 6.0 + 0.05)::geography, 300 + 300 * random(), 8)::geometry,
       (ARRAY[30, 50, 50, 70])[1 + (random() * 3)::int], false, true
  FROM seg_line l, generate_series(1, 5) k;

INSERT INTO penalty_formulas (event_id, belongs_to_type, belongs_to_id, type, offence_min, offence_max, operator, penalty_seconds)
SELECT e.id, 'event', e.id, 'speeding', b.lo, b.hi, b.op, b.pen
  FROM events e, (VALUES (0::numeric, 10::numeric, 'fixed', 60), (10, 20, 'per_unit', 30), (20, NULL, 'fixed', 1800)) b(lo, hi, op, pen);

-- Entries, one tracker each.
INSERT INTO devices (id, imei, model)
SELECT gen_random_uuid(), (350000000000000 + n)::text, 'FMB920' FROM generate_series(1, :entries) n;
INSERT INTO entries (event_id, class_id, race_number, status)
SELECT e.id, (SELECT id FROM classes c ORDER BY c.sort_order OFFSET (n % 10) LIMIT 1), 100 + n, 'started'
  FROM events e, generate_series(1, :entries) n;
-- Registered with the event's organisation first (db-init-post/023).
INSERT INTO organization_devices (organization_id, device_id)
SELECT DISTINCT e.organization_id, d.id FROM entries en JOIN events e ON e.id = en.event_id
  JOIN devices d ON d.imei = (350000000000000 + en.race_number - 100)::text
ON CONFLICT DO NOTHING;
INSERT INTO entry_devices (entry_id, device_id)
SELECT en.id, d.id FROM entries en JOIN devices d ON d.imei = (350000000000000 + en.race_number - 100)::text;
COMMIT;

-- Positions: each tracker drives the stages in turn; a fix every few seconds along the route, with
-- ~30 m of noise. :fixes per entry in all.
INSERT INTO positions (device_id, ts, latitude, longitude, altitude, angle, speed, satellites, priority, codec, attributes)
SELECT d.imei,
       timestamptz '2026-06-07T06:00:00Z' + (st - 1) * interval '1 day' + (en.race_number - 100) * interval '1 minute' + i * interval '5 seconds',
       ST_Y(p) + (random() - 0.5) * 0.0006, ST_X(p) + (random() - 0.5) * 0.0006,
       300 + 500 * random(), 360 * random(), 20 + 100 * random(), 9, 0, '8E', '{}'::jsonb
  FROM entries en
  JOIN entry_devices ed ON ed.entry_id = en.id JOIN devices d ON d.id = ed.device_id
  CROSS JOIN generate_series(1, 6) st
  JOIN route r ON r.stage_no = st
  CROSS JOIN LATERAL generate_series(0, :fixes / 6 - 1) i
  CROSS JOIN LATERAL (SELECT ST_LineInterpolatePoint(r.path, i::float / (:fixes / 6))) AS pt(p);

-- Crossings as the processor writes them: per entry and stage, an exit of each segment's entry
-- geofence and an entry into its exit geofence, plus checkpoint crossings, ~:crossings in all.
INSERT INTO entry_crossings (entry_id, geofence_id, ts, kind, source, position_ts, device_id)
SELECT en.id, x.geofence_id, x.ts, x.kind, 'processor', x.ts, ed.device_id
  FROM entries en JOIN entry_devices ed ON ed.entry_id = en.id
  CROSS JOIN LATERAL (
    SELECT sg.entry_geofence_id AS geofence_id, 'exit' AS kind,
           st.starts_at + (en.race_number - 100) * interval '1 minute' + (sg.sort_order - 1) * interval '70 minutes'
             + (random() * 120) * interval '1 second' AS ts
      FROM segments sg JOIN stages st ON st.id = sg.stage_id
    UNION ALL
    SELECT sg.exit_geofence_id, 'entry',
           st.starts_at + (en.race_number - 100) * interval '1 minute' + sg.sort_order * interval '70 minutes'
             - (random() * 600) * interval '1 second'
      FROM segments sg JOIN stages st ON st.id = sg.stage_id
    UNION ALL
    SELECT g.id, k.kind, st.starts_at + (en.race_number - 100) * interval '1 minute' + (sg.sort_order - 1) * interval '70 minutes'
             + (k.n * 10 + (g.id % 60)) * interval '1 minute'
      FROM segments sg JOIN stages st ON st.id = sg.stage_id
      JOIN geofences g ON g.name LIKE format('S%s seg %s CP%%', st.sort_order, sg.sort_order)
      CROSS JOIN (VALUES (0, 'entry'), (1, 'exit')) k(n, kind)
     WHERE (g.id + en.id) % 6 < 2
  ) x
ON CONFLICT (entry_id, geofence_id, ts) DO NOTHING;

-- Penalties (a few per entry and stage) and provisional results, as the processor writes them.
INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, formula_id, formula_snapshot, inputs, seconds)
SELECT en.id, st.id, 'speeding', format('speeding:stage=%s:%s', st.id, k), f.id, to_jsonb(f)::json,
       json_build_object('peak_kmh', 60 + k * 7), f.penalty_seconds
  FROM entries en CROSS JOIN stages st CROSS JOIN generate_series(1, 3) k
  JOIN penalty_formulas f ON f.offence_min = 0 AND f.type = 'speeding'
 WHERE (en.id + st.id + k) % 4 = 0;
ANALYZE;

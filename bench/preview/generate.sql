-- A Rally Albania-sized event for the preview benchmark (issue 26): 300 entries in 10 classes, 8 stages
-- (the first manual, then previous_stage_clean_result and inverse_of_overall alternating, so the dry
-- run of the next stage's start order ranks by elapsed and by overall time), one result per entry and
-- stage, an event-wide speeding formula of three brackets and about one speeding penalty per entry and
-- stage with its offence in inputs (as the processor writes them), plus a few reviewed ones.
-- psql variables: entries (300), stages (8), seed.
\set ON_ERROR_STOP 1
SELECT setseed(:seed);
BEGIN;
INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Bench Club', 'bench-club');
INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
SELECT id, 'Rally Albania (preview bench)', 'rally-albania-preview', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'Europe/Tirane'
  FROM organizations WHERE slug = 'bench-club';
INSERT INTO classes (event_id, code, name, sort_order)
SELECT e.id, c.code, c.code, 10 * c.n FROM events e,
       unnest(ARRAY['M-1','M-2','M-3','M-4','Q-1','Q-2','C-1','C-2','S-1','S-2']) WITH ORDINALITY AS c(code, n);
INSERT INTO stages (event_id, name, sort_order, starts_at, start_interval_seconds, start_order_strategy)
SELECT e.id, format('Stage %s', s), s, timestamptz '2026-06-07T06:00:00Z' + (s - 1) * interval '1 day', 60,
       CASE WHEN s = 1 THEN 'manual' WHEN s % 2 = 0 THEN 'previous_stage_clean_result' ELSE 'inverse_of_overall' END
  FROM events e, generate_series(1, :stages) s;
INSERT INTO entries (event_id, class_id, race_number, status)
SELECT e.id, (SELECT id FROM classes WHERE event_id = e.id ORDER BY sort_order OFFSET (n % 10) LIMIT 1), 100 + n, 'started'
  FROM events e, generate_series(1, :entries) n;
INSERT INTO penalty_formulas (event_id, belongs_to_type, belongs_to_id, type, offence_min, offence_max, operator, penalty_seconds)
SELECT e.id, 'event', e.id, 'speeding', b.lo, b.hi, b.op, b.s
  FROM events e, (VALUES (0::numeric, 20::numeric, 'per_unit', 15), (20, 40, 'per_unit', 30), (40, NULL, 'fixed', 3600)) b(lo, hi, op, s);
COMMIT;
-- Penalties as the processor writes them (their offence in inputs, evaluated by trm_penalty), then the
-- results they add to.
BEGIN;
CREATE TEMP TABLE offence AS
SELECT en.id AS entry_id, st.id AS stage_id, round((random() * 45)::numeric, 1) AS km_h_over
  FROM entries en CROSS JOIN stages st WHERE random() < 0.9;
INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, formula_id, formula_snapshot, inputs, seconds)
SELECT o.entry_id, o.stage_id, 'speeding', format('speeding:%s', o.stage_id), (p.bracket ->> 'id')::integer,
       trm_formula_snapshot('event', e.id, 'speeding'), jsonb_build_object('offence', o.km_h_over)::json, p.seconds
  FROM offence o JOIN entries en ON en.id = o.entry_id JOIN events e ON e.id = en.event_id
  CROSS JOIN LATERAL trm_formula_penalty('event', e.id, 'speeding', o.km_h_over) p;
INSERT INTO stage_results (entry_id, stage_id, started_at, finished_at, elapsed_seconds, penalty_seconds, total_seconds, status)
SELECT en.id, st.id, st.starts_at, st.starts_at + make_interval(secs => x.elapsed), x.elapsed, coalesce(p.s, 0), x.elapsed + coalesce(p.s, 0), 'provisional'
  FROM entries en CROSS JOIN stages st
  -- (en.id in the subquery: a LATERAL that names no outer column is evaluated once, for every row)
  CROSS JOIN LATERAL (SELECT (9000 + (random() * 5400) + 0 * en.id)::int AS elapsed) x
  LEFT JOIN LATERAL (SELECT sum(seconds)::int AS s FROM entry_penalties WHERE entry_id = en.id AND stage_id = st.id) p ON true;
COMMIT;
ANALYZE;

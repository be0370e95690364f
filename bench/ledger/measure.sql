-- The timing ledger's cost, measured in pairs (bench/ledger.sh prepares the two databases; its header
-- states the method). Runs in a third, driver database with dblink: one session `a` on the database
-- with the ledger, one session `b` on its copy without it (or, with COMPARE, a second ledger design),
-- both kept open for the whole run so each keeps its own cached plans and neither variant is
-- re-planned by the other's toggle (there is none: the variants are two databases).
--
-- One pair = each statement measured once in a and once in b, back to back, the order swapped every
-- pair; each measurement is `BEGIN; CALL bench_mark(); <statement>; CALL bench_done()` sent as one string (no
-- round trip inside the timed part), then its figures read and the transaction ROLLED BACK, so every
-- measurement starts from the same committed table state. Per measurement: wall time (clock_timestamp)
-- and the backend's own CPU time (/proc/<backend pid>/schedstat, nanoseconds on a CPU: not the time
-- spent waiting for one on a loaded machine), and the ledger rows the statement appended.
-- The first :warmup pairs are dropped. Prints `name|pairs|median|p25|p75|within|med_a|med_b|cpu_median|
-- cpu_p25|cpu_p75|cpu_within|cpu_a|cpu_b|ledger_rows_a|ledger_rows_b` (ratios a/b; ms; `within`: pairs
-- whose ratio is at most 1.3). Needs :conn_a, :conn_b (libpq strings), :pairs, :warmup.
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('a', :'conn_a') \g /dev/null
SELECT dblink_connect('b', :'conn_b') \g /dev/null
SET bench.pairs = :pairs;
SET bench.warmup = :warmup;
CREATE TEMP TABLE bench_times (pair integer, name text, variant text, ms double precision, cpu_ms double precision, ledger_rows bigint);
DO $bench$
DECLARE
  -- the processor's batch statements (bench/ledger.sh seeds the rows they change: each row a change)
  v_event text := $q$(SELECT id FROM events WHERE slug = 'bench-ledger')$q$;
  statements text[][] := ARRAY[
    ARRAY['penalty_upserts', format($q$
      WITH en AS (SELECT array_agg(id ORDER BY id) AS ids FROM entries WHERE event_id = %1$s),
           st AS (SELECT id FROM stages WHERE event_id = %1$s)
      INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds)
      SELECT en.ids[k %% 300 + 1], st.id, 'speeding', 'bench:' || k, jsonb_build_object('peak_kmh', 70 + k %% 40), 1000 + k %% 900
        FROM en, st, generate_series(0, 999) k
      ON CONFLICT (entry_id, penalty_key) DO UPDATE SET seconds = EXCLUDED.seconds, inputs = EXCLUDED.inputs$q$, v_event)],
    ARRAY['results_upsert', format($q$
      INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
      SELECT e.id, s.id, 3700 + e.n, 5, 3705 + e.n, 301 - e.n, 301 - e.n
        FROM (SELECT id, row_number() OVER (ORDER BY id)::integer AS n FROM entries WHERE event_id = %1$s) e,
             (SELECT id FROM stages WHERE event_id = %1$s) s
      ON CONFLICT (entry_id, stage_id) DO UPDATE SET elapsed_seconds = EXCLUDED.elapsed_seconds, penalty_seconds = EXCLUDED.penalty_seconds,
        total_seconds = EXCLUDED.total_seconds, position_overall = EXCLUDED.position_overall, position_in_class = EXCLUDED.position_in_class$q$, v_event)],
    -- an amendment (the seed published them and took them back): the publication makes its result version
    ARRAY['results_publish', format($q$SET LOCAL trm.reason = 'bench: amended after review';
      CALL bench_mark();
      UPDATE stage_results SET status = 'official' WHERE stage_id = (SELECT id FROM stages WHERE event_id = %1$s)$q$, v_event)]];
  v_pairs integer := current_setting('bench.pairs')::integer;
  v_warmup integer := current_setting('bench.warmup')::integer;
  v_pair integer;
  i integer;
  v text;
  r record;
BEGIN
  FOR v_pair IN 1 .. v_warmup + v_pairs LOOP
    FOR i IN 1 .. array_length(statements, 1) LOOP
      FOREACH v IN ARRAY CASE WHEN v_pair % 2 = 0 THEN ARRAY['a', 'b'] ELSE ARRAY['b', 'a'] END LOOP
        PERFORM dblink_exec(v, 'BEGIN; ' || CASE WHEN statements[i][1] = 'results_publish' THEN '' ELSE 'CALL bench_mark(); ' END
                               || statements[i][2] || '; CALL bench_done()');
        SELECT * INTO r FROM dblink(v, 'SELECT * FROM bench_result()') AS t(ms double precision, cpu_ms double precision, ledger_rows bigint);
        PERFORM dblink_exec(v, 'ROLLBACK');
        IF v_pair > v_warmup THEN
          INSERT INTO bench_times VALUES (v_pair - v_warmup, statements[i][1], v, r.ms, r.cpu_ms, r.ledger_rows);
        END IF;
      END LOOP;
    END LOOP;
    -- the rolled-back rows' dead versions (and the ledger's dead index entries, whose keys the next
    -- measurement inserts again) cleared in both, outside the timed part: each pair sees the same state
    PERFORM dblink_exec(s.c, 'VACUUM entry_penalties, stage_results, timing_ledger, result_versions, result_version_entries')
       FROM unnest(ARRAY['a', 'b']) s(c);
  END LOOP;
END
$bench$;
-- Part two: the same writes as the processor sends them: the rows as data in the statement text (a
-- multi-row VALUES list, parsed by the server as a client's batch is), autocommitted (the commit and
-- its WAL flush included), timed by this driver around the round trip on loopback. Each pair changes
-- every row again (the values move with the pair) and commits, so the ledger grows in a as it does in
-- production; the publication is followed, untimed, by its take-back (with a reason) so the next pair
-- publishes again. CPU: the backend's schedstat read before and after, outside the timed part.
DO $sent$
DECLARE
  v_pairs integer := current_setting('bench.pairs')::integer;
  v_warmup integer := current_setting('bench.warmup')::integer;
  v_ids text[];
  v_stage text;
  v_pair integer;
  v_sql text;
  v_name text;
  v text;
  t0 timestamptz;
  c0 bigint;
  s0 bigint;
  v_ms double precision;
  r record;
BEGIN
  SELECT ids, stage INTO v_ids, v_stage FROM dblink('a', $q$SELECT array_agg(e.id::text ORDER BY e.id), min(s.id)::text
      FROM entries e JOIN events ev ON ev.id = e.event_id JOIN stages s ON s.event_id = ev.id WHERE ev.slug = 'bench-ledger'$q$)
    AS t(ids text[], stage text);
  FOR v_pair IN 1 .. v_warmup + v_pairs LOOP
    FOREACH v_name IN ARRAY ARRAY['penalty_upserts_sent', 'results_upsert_sent', 'results_publish_sent'] LOOP
      v_sql := CASE v_name
        WHEN 'penalty_upserts_sent' THEN
          'INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds) VALUES '
          || (SELECT string_agg(format('(%L, %s, %L, %L, %L, %s)', v_ids[k % 300 + 1], v_stage, 'speeding', 'bench:' || k,
                                       jsonb_build_object('peak_kmh', 70 + (k + v_pair) % 40), 1000 + (k + v_pair) % 900), ', ')
                FROM generate_series(0, 999) k)
          || ' ON CONFLICT (entry_id, penalty_key) DO UPDATE SET seconds = EXCLUDED.seconds, inputs = EXCLUDED.inputs'
        WHEN 'results_upsert_sent' THEN
          'INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class) VALUES '
          || (SELECT string_agg(format('(%L, %s, %s, %s, %s, %s, %s)', v_ids[n], v_stage, 3700 + n + v_pair, 5, 3705 + n + v_pair,
                                       (n + v_pair) % 300 + 1, (n + v_pair) % 300 + 1), ', ')
                FROM generate_series(1, 300) n)
          || ' ON CONFLICT (entry_id, stage_id) DO UPDATE SET elapsed_seconds = EXCLUDED.elapsed_seconds, penalty_seconds = EXCLUDED.penalty_seconds,'
          || ' total_seconds = EXCLUDED.total_seconds, position_overall = EXCLUDED.position_overall, position_in_class = EXCLUDED.position_in_class'
        ELSE format($q$BEGIN; SET LOCAL trm.reason = 'bench: amended after review'; UPDATE stage_results SET status = 'official' WHERE stage_id = %s; COMMIT$q$, v_stage)
      END;
      FOREACH v IN ARRAY CASE WHEN v_pair % 2 = 0 THEN ARRAY['a', 'b'] ELSE ARRAY['b', 'a'] END LOOP
        SELECT * INTO r FROM dblink(v, 'SELECT bench_cpu_ns(), coalesce((SELECT max(seq) FROM timing_ledger), 0)') AS t(cpu bigint, seq bigint);
        c0 := r.cpu; s0 := r.seq;
        t0 := clock_timestamp();
        PERFORM dblink_exec(v, v_sql);
        v_ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        SELECT * INTO r FROM dblink(v, 'SELECT bench_cpu_ns(), coalesce((SELECT max(seq) FROM timing_ledger), 0)') AS t(cpu bigint, seq bigint);
        IF v_pair > v_warmup THEN
          INSERT INTO bench_times VALUES (v_pair - v_warmup, v_name, v, v_ms, (r.cpu - c0) / 1e6, r.seq - s0);
        END IF;
        IF v_name = 'results_publish_sent' THEN
          PERFORM dblink_exec(v, format($q$BEGIN; SET LOCAL trm.reason = 'bench: taken back for review';
                                         UPDATE stage_results SET status = 'provisional' WHERE stage_id = %s; COMMIT$q$, v_stage));
        END IF;
      END LOOP;
    END LOOP;
    PERFORM dblink_exec(s.c, 'VACUUM entry_penalties, stage_results') FROM unnest(ARRAY['a', 'b']) s(c);
  END LOOP;
END
$sent$;
SELECT dblink_disconnect('a'), dblink_disconnect('b') \g /dev/null
WITH p AS (
  SELECT a.name, a.pair, a.ms / b.ms AS ratio, a.cpu_ms / b.cpu_ms AS cpu_ratio, a.ms AS ms_a, b.ms AS ms_b, a.cpu_ms AS cpu_a,
         b.cpu_ms AS cpu_b, a.ledger_rows AS rows_a, b.ledger_rows AS rows_b
    FROM bench_times a JOIN bench_times b ON b.name = a.name AND b.pair = a.pair AND b.variant = 'b'
   WHERE a.variant = 'a'
)
SELECT name, count(*),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ratio)::numeric, 2),
       round(percentile_cont(0.25) WITHIN GROUP (ORDER BY ratio)::numeric, 2),
       round(percentile_cont(0.75) WITHIN GROUP (ORDER BY ratio)::numeric, 2),
       count(*) FILTER (WHERE ratio <= 1.3),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_a)::numeric, 1),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms_b)::numeric, 1),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_ratio)::numeric, 2),
       round(percentile_cont(0.25) WITHIN GROUP (ORDER BY cpu_ratio)::numeric, 2),
       round(percentile_cont(0.75) WITHIN GROUP (ORDER BY cpu_ratio)::numeric, 2),
       count(*) FILTER (WHERE cpu_ratio <= 1.3),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_a)::numeric, 1),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_b)::numeric, 1),
       max(rows_a), max(rows_b)
  FROM p GROUP BY name ORDER BY array_position(ARRAY['penalty_upserts', 'results_upsert', 'results_publish', 'penalty_upserts_sent', 'results_upsert_sent', 'results_publish_sent'], name) \g (format=unaligned tuples_only)

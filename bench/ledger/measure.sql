-- The timing ledger's cost on the processor's batch write path (bench/ledger.sh): the same statements
-- with the ledger's triggers on and off (ALTER TABLE ... DISABLE TRIGGER, re-enabled at the end),
-- alternating, RUNS times each after one unrecorded warm-up (the first inserts); medians in milliseconds, server-side (clock_timestamp around each
-- statement). Needs :runs. Prints rows `name|with_ms|without_ms|ledger_rows_per_run`.
\set ON_ERROR_STOP 1
SET bench.runs = :runs;
CREATE TEMP TABLE bench_times (name text, ledger boolean, ms double precision, ledger_rows bigint);
DO $bench$
DECLARE
  v_event integer := (SELECT id FROM events WHERE slug = 'bench-ledger');
  v_stage integer := (SELECT id FROM stages WHERE event_id = v_event);
  v_entries integer[] := (SELECT array_agg(id ORDER BY id) FROM entries WHERE event_id = v_event);
  v_run integer;
  v_on boolean;
  v_t0 timestamptz;
  v_rows bigint;
  ledger_triggers text[][] := ARRAY[
    ARRAY['entry_penalties', 'entry_penalties_ledger_insert'], ARRAY['entry_penalties', 'entry_penalties_ledger_update'],
    ARRAY['stage_results', 'stage_results_ledger_insert'], ARRAY['stage_results', 'stage_results_ledger_update']];
  i integer;
BEGIN
  FOR v_run IN 0 .. current_setting('bench.runs')::integer * 2 LOOP
    v_on := v_run % 2 = 1;
    FOR i IN 1 .. 4 LOOP
      EXECUTE format('ALTER TABLE %I %s TRIGGER %I', ledger_triggers[i][1], CASE WHEN v_on THEN 'ENABLE' ELSE 'DISABLE' END, ledger_triggers[i][2]);
    END LOOP;
    -- 1,000 penalty upserts, every one a change (the seconds move each run).
    v_rows := (SELECT count(*) FROM timing_ledger);
    v_t0 := clock_timestamp();
    INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds)
    SELECT v_entries[k % 300 + 1], v_stage, 'speeding', 'bench:' || k, jsonb_build_object('peak_kmh', 60 + k % 40), (v_run * 7 + k) % 900
      FROM generate_series(0, 999) k
    ON CONFLICT (entry_id, penalty_key) DO UPDATE SET seconds = EXCLUDED.seconds, inputs = EXCLUDED.inputs;
    INSERT INTO bench_times SELECT 'penalty_upserts', v_on, extract(epoch FROM clock_timestamp() - v_t0) * 1000,
                                    (SELECT count(*) FROM timing_ledger) - v_rows WHERE v_run > 0;
    -- The results of the stage, 300 entries, recomputed (every row a change).
    v_rows := (SELECT count(*) FROM timing_ledger);
    v_t0 := clock_timestamp();
    INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
    SELECT id, v_stage, 3600 + n, v_run, 3600 + n + v_run, n, n
      FROM (SELECT id, row_number() OVER (ORDER BY id)::integer AS n FROM entries WHERE event_id = v_event) e
    ON CONFLICT (entry_id, stage_id) DO UPDATE SET elapsed_seconds = EXCLUDED.elapsed_seconds, penalty_seconds = EXCLUDED.penalty_seconds,
      total_seconds = EXCLUDED.total_seconds, position_overall = EXCLUDED.position_overall, position_in_class = EXCLUDED.position_in_class;
    INSERT INTO bench_times SELECT 'results_upsert', v_on, extract(epoch FROM clock_timestamp() - v_t0) * 1000,
                                    (SELECT count(*) FROM timing_ledger) - v_rows WHERE v_run > 0;
    -- Publishing them: 300 rows turn official.
    v_rows := (SELECT count(*) FROM timing_ledger);
    -- (the publication also makes the stage's result version, db-init-post/013, in both variants: an
    -- amendment from the second run on, whose reason is the transaction's)
    PERFORM set_config('trm.reason', 'bench: next run', true);
    v_t0 := clock_timestamp();
    UPDATE stage_results SET status = 'official' WHERE stage_id = v_stage;
    INSERT INTO bench_times SELECT 'results_publish', v_on, extract(epoch FROM clock_timestamp() - v_t0) * 1000,
                                    (SELECT count(*) FROM timing_ledger) - v_rows WHERE v_run > 0;
    -- Back to provisional for the next run (an amendment, with its reason; not measured).
    UPDATE stage_results SET status = 'provisional' WHERE stage_id = v_stage;
    PERFORM set_config('trm.reason', '', true);
  END LOOP;
  FOR i IN 1 .. 4 LOOP
    EXECUTE format('ALTER TABLE %I ENABLE TRIGGER %I', ledger_triggers[i][1], ledger_triggers[i][2]);
  END LOOP;
END
$bench$;
SELECT name, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE ledger)::numeric, 1),
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE NOT ledger)::numeric, 1),
             max(ledger_rows) FILTER (WHERE ledger)
  FROM bench_times GROUP BY name ORDER BY name \g (format=unaligned tuples_only)

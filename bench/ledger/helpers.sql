-- bench/ledger.sh: the timer of one measurement, created in the measured database before it is copied
-- (so both variants carry it). `CALL bench_mark()` (a procedure: no result row, so dblink_exec takes it) notes the wall clock, the backend's CPU time (the first field
-- of /proc/<pid>/schedstat: nanoseconds on a CPU; readable by the superuser that runs the bench) and the
-- ledger's last seq; `CALL bench_done()` the same after the statement; bench_result() returns the differences
-- (ms, CPU ms, ledger rows appended). Transaction-local settings: nothing is written to a table.
CREATE OR REPLACE FUNCTION bench_cpu_ns() RETURNS bigint LANGUAGE sql AS $fn$
  SELECT split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::bigint
$fn$;
CREATE OR REPLACE PROCEDURE bench_mark() LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config('bench.seq0', coalesce((SELECT max(seq) FROM timing_ledger), 0)::text, true);
  PERFORM set_config('bench.cpu0', bench_cpu_ns()::text, true);
  PERFORM set_config('bench.t0', extract(epoch FROM clock_timestamp())::text, true);
END
$fn$;
CREATE OR REPLACE PROCEDURE bench_done() LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM set_config('bench.t1', extract(epoch FROM clock_timestamp())::text, true);
  PERFORM set_config('bench.cpu1', bench_cpu_ns()::text, true);
END
$fn$;
CREATE OR REPLACE FUNCTION bench_result(OUT ms double precision, OUT cpu_ms double precision, OUT ledger_rows bigint) LANGUAGE sql AS $fn$
  SELECT (current_setting('bench.t1')::numeric - current_setting('bench.t0')::numeric)::double precision * 1000,
         (current_setting('bench.cpu1')::bigint - current_setting('bench.cpu0')::bigint) / 1e6::double precision,
         (SELECT count(*) FROM timing_ledger WHERE seq > current_setting('bench.seq0')::bigint)
$fn$;

#!/usr/bin/env bash
# The timing ledger's cost (issue 25) on the processor's batch write path: 1,000 penalty upserts, a
# 300-entry results upsert and a 300-entry publication (an amendment), with the ledger and without it,
# on the real schema (db-init + the Directus snapshot + db-init-post, applied by trm-init with the real
# Directus). Prints Markdown (the figures for docs/benchmarks.md). One command, unattended.
#
# Method (round 7): the two variants are two databases with the same committed state: the bench
# database is migrated and seeded (one event, 300 entries, its 1,000 penalties and 300 results, the
# results published and taken back, so the measured publication is an amendment), then copied
# (CREATE DATABASE ... TEMPLATE); in the copy the ledger's statement triggers on the two tables are
# dropped and nothing else (the versions, protest-window, same-event and reason triggers stay). The
# production schema has no switch: nothing a writer can set turns the ledger off. A driver session
# (bench/ledger/measure.sql, dblink) keeps one session open on each database and measures in pairs:
# each statement once with and once without, back to back, the order swapped every pair, each inside
# a transaction that is rolled back (every measurement starts from the same table state; neither
# session is ever re-planned by the other's toggle). WARMUP pairs are dropped. Per pair the ratio
# with/without of the server-side wall time and of the backend's CPU time (/proc/<pid>/schedstat: the
# time it ran, not the time it waited for a CPU, so it depends much less on the machine's load);
# reported: median and interquartile range of the pair ratios, and how many pairs were within 1.3x.
# Part two (round 9) measures the same writes as the processor sends them: the rows as data in the
# statement text, autocommitted (commit and WAL flush included), timed by the driver around the round
# trip. Then each statement once more, committed, with the ledger, and `trm-init ledger verify`.
#
# Env: PAIRS (40), WARMUP (5), KEEP_DB=1 keeps the databases; COMPARE=FILE.sql compares two ledger
# designs instead: the copy keeps the ledger and gets FILE applied (A = as migrated, B = with FILE);
# LEDGER_DESIGN=FILE measures a candidate design against no ledger (FILE applied to A after the seed).
# Needs PostgreSQL with PostGIS and dblink (scripts/pg-up.sh), run as a superuser (schedstat is read
# with pg_read_file), and Directus (scripts/install-directus.sh).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
log() { echo "[bench/ledger] $*" >&2; }
PAIRS=${PAIRS:-40}
WARMUP=${WARMUP:-5}
COMPARE=${COMPARE:-}
LEDGER_DESIGN=${LEDGER_DESIGN:-}
[[ -z $COMPARE || -f $COMPARE ]] || { echo "bench/ledger: COMPARE=$COMPARE: no such file" >&2; exit 2; }
[[ -z $LEDGER_DESIGN || -f $LEDGER_DESIGN ]] || { echo "bench/ledger: LEDGER_DESIGN=$LEDGER_DESIGN: no such file" >&2; exit 2; }

trm_pg
dx=$(scripts/install-directus.sh)
trm_node
db=bench_ledger_$$
cleanup() {
  [[ -n ${KEEP_DB:-} ]] && return
  for d in "$db" "${db}_b" "${db}_driver"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

# trm-init only applies the schema here (what is measured is PostgreSQL's work): the debug build will do.
cargo build -q --bin trm-init >&2
bin=$(trm_bin debug)
psql -X -q -d postgres -c "CREATE DATABASE $db"
log "schema: db-init, Directus bootstrap + snapshot, db-init-post on $db"
trm_real_schema "$db" "$bin" "$dx"

log "seed: one event, 300 entries, 1,000 penalties, 300 results published and taken back"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f bench/ledger/helpers.sql >&2
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >&2 <<'SQL'
WITH o AS (INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Bench club', 'bench-club') RETURNING id),
     e AS (INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
           SELECT id, 'Bench rally', 'bench-ledger', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'UTC' FROM o RETURNING id),
     c AS (INSERT INTO classes (event_id, code, name, sort_order) SELECT id, 'C-2', 'Cars', 10 FROM e RETURNING id, event_id),
     s AS (INSERT INTO stages (event_id, name, sort_order, starts_at) SELECT id, 'SS1', 1, '2026-06-07T06:00:00Z' FROM e RETURNING id)
INSERT INTO entries (event_id, class_id, race_number, status) SELECT c.event_id, c.id, n, 'started' FROM c, generate_series(1, 300) n;
WITH en AS (SELECT array_agg(id ORDER BY id) AS ids FROM entries WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger')),
     st AS (SELECT id FROM stages WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger'))
INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds)
SELECT en.ids[k % 300 + 1], st.id, 'speeding', 'bench:' || k, jsonb_build_object('peak_kmh', 60 + k % 40), k % 900
  FROM en, st, generate_series(0, 999) k;
INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
SELECT e.id, s.id, 3600 + e.n, 0, 3600 + e.n, e.n, e.n
  FROM (SELECT id, row_number() OVER (ORDER BY id)::integer AS n FROM entries WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger')) e,
       (SELECT id FROM stages WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger')) s;
UPDATE stage_results SET status = 'official' WHERE stage_id = (SELECT id FROM stages WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger'));
BEGIN;
SET LOCAL trm.reason = 'bench: taken back for review';
UPDATE stage_results SET status = 'provisional' WHERE stage_id = (SELECT id FROM stages WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger'));
COMMIT;
VACUUM ANALYZE;
SQL
if [[ -n $LEDGER_DESIGN ]]; then
  log "A: $db with $LEDGER_DESIGN applied after the seed (a candidate design; B stays without a ledger)"
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$LEDGER_DESIGN" >&2
fi
psql -X -q -d postgres -c "CREATE DATABASE ${db}_b TEMPLATE $db"
if [[ -n $COMPARE ]]; then
  log "B: a copy of $db with $COMPARE applied"
  psql -X -q -v ON_ERROR_STOP=1 -d "${db}_b" -f "$COMPARE" >&2
  label_a="A (as migrated)" label_b="B (with \`$COMPARE\`)"
else
  log "B: a copy of $db without the ledger's triggers on entry_penalties and stage_results"
  psql -X -q -v ON_ERROR_STOP=1 -d "${db}_b" >&2 <<'SQL'
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT tgname, tgrelid::regclass AS tbl FROM pg_trigger
            WHERE tgrelid IN ('entry_penalties'::regclass, 'stage_results'::regclass) AND tgname ~ '_ledger_(insert|update|delete)$' LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tbl);
  END LOOP;
END
$$;
SQL
  label_a="with ledger${LEDGER_DESIGN:+ (candidate design \`$LEDGER_DESIGN\`)}" label_b="without"
fi
psql -X -q -v ON_ERROR_STOP=1 -d "${db}_b" -c "VACUUM ANALYZE" >&2
psql -X -q -d postgres -c "CREATE DATABASE ${db}_driver"

conn() { echo "host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD dbname=$1"; }
log "measuring: $WARMUP warm-up pairs, then $PAIRS pairs"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date -u +%H:%M)
out=$(psql -X -q -d "${db}_driver" -v conn_a="$(conn "$db")" -v conn_b="$(conn "${db}_b")" -v pairs="$PAIRS" -v warmup="$WARMUP" \
  -f bench/ledger/measure.sql)
t_end=$(date -u +%H:%M)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

log "each statement once more with the ledger, committed; then ledger verify"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >&2 <<'SQL'
WITH en AS (SELECT array_agg(id ORDER BY id) AS ids FROM entries WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger')),
     st AS (SELECT id FROM stages WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger'))
INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds)
SELECT en.ids[k % 300 + 1], st.id, 'speeding', 'bench:' || k, jsonb_build_object('peak_kmh', 70 + k % 40), 1000 + k % 900
  FROM en, st, generate_series(0, 999) k
ON CONFLICT (entry_id, penalty_key) DO UPDATE SET seconds = EXCLUDED.seconds, inputs = EXCLUDED.inputs;
INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
SELECT e.id, s.id, 3700 + e.n, 5, 3705 + e.n, 301 - e.n, 301 - e.n
  FROM (SELECT id, row_number() OVER (ORDER BY id)::integer AS n FROM entries WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger')) e,
       (SELECT id FROM stages WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger')) s
ON CONFLICT (entry_id, stage_id) DO UPDATE SET elapsed_seconds = EXCLUDED.elapsed_seconds, penalty_seconds = EXCLUDED.penalty_seconds,
  total_seconds = EXCLUDED.total_seconds, position_overall = EXCLUDED.position_overall, position_in_class = EXCLUDED.position_in_class;
BEGIN;
SET LOCAL trm.reason = 'bench: amended after review';
UPDATE stage_results SET status = 'official' WHERE stage_id = (SELECT id FROM stages WHERE event_id = (SELECT id FROM events WHERE slug = 'bench-ledger'));
COMMIT;
SQL
verify=$(DB_DATABASE=$db "$bin" ledger verify --event bench-ledger 2>&1) && verify_rc=0 || verify_rc=$?

val() { grep "^$1|" <<<"$out" | cut -d'|' -f"$2"; }
row() {
  echo "| $2 | $(val "$1" 7) / $(val "$1" 8) ms | **$(val "$1" 3)x** ($(val "$1" 4)-$(val "$1" 5)) | $(val "$1" 6) of $(val "$1" 2) \
| $(val "$1" 13) / $(val "$1" 14) ms | **$(val "$1" 9)x** ($(val "$1" 10)-$(val "$1" 11)) | $(val "$1" 12) of $(val "$1" 2) | $(val "$1" 15) / $(val "$1" 16) |"
}

cat <<MD
### Timing ledger on the processor's batch path (\`bench/ledger.sh\`, pairs)

$label_a against $label_b: one event, 300 entries; $PAIRS pairs after $WARMUP warm-up pairs, each
statement measured in both variants back to back (order swapped every pair), each in a transaction
rolled back; per pair the ratio A/B of the server-side wall time and of the backend's CPU time.
PostgreSQL $(psql -X -qtA -d "$db" -c 'SHOW server_version'). $t_start-$t_end UTC; load average (1, 5, 15 min)
before: $load_before; after: $load_after ($(nproc) cores).

| statement | wall, median A / B | wall ratio, median (IQR) | pairs <= 1.3x | CPU, median A / B | CPU ratio, median (IQR) | pairs <= 1.3x | ledger rows A / B |
|---|---|---|---|---|---|---|---|
$(row penalty_upserts "1,000 penalty upserts (\`INSERT ... ON CONFLICT (entry_id, penalty_key) DO UPDATE\`, each a change)")
$(row results_upsert "300-entry results upsert (\`ON CONFLICT (entry_id, stage_id) DO UPDATE\`)")
$(row results_publish "300-entry publication, an amendment (\`UPDATE stage_results SET status = 'official'\`)")

The same writes as the processor sends them (\`bench/ledger/measure.sql\`, part two): the rows as data in
the statement text (a multi-row \`VALUES\` list), autocommitted (commit and WAL flush included), timed
by the driver around the round trip on loopback; each pair changes every row again and commits, so A's
ledger grows as in production; the publication is taken back, untimed, after each measurement.

| statement | wall, median A / B | wall ratio, median (IQR) | pairs <= 1.3x | CPU, median A / B | CPU ratio, median (IQR) | pairs <= 1.3x | ledger rows A / B |
|---|---|---|---|---|---|---|---|
$(row penalty_upserts_sent "1,000 penalty upserts, sent as data and committed")
$(row results_upsert_sent "300-entry results upsert, sent as data and committed")
$(row results_publish_sent "300-entry publication (an amendment), committed")

Then each statement once committed on A and \`trm-init ledger verify --event bench-ledger\` (exit $verify_rc): $verify
MD

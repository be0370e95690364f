#!/usr/bin/env bash
# The course benchmark (issues 12 and 13): a Rally Albania-sized course and a few million positions on
# the real schema (db-init + the Directus snapshot + db-init-post, applied by trm-init with the real
# Directus), then the processor's lookups per fix (which active geofences contain a fix, which
# speed-limit zone it lies in) and the results query of one stage, each next to its baseline without
# the index in the same run. Prints Markdown (figures for docs/benchmarks.md).
# Env: ENTRIES (300), FIXES (positions per entry, 10000), SAMPLE (fixes looked up, 5000), RUNS (results
# query runs, 20), KEEP_DB=1 keeps the database. Needs PostgreSQL with PostGIS (scripts/pg-up.sh) and
# Directus (scripts/install-directus.sh).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
log() { echo "[bench/course] $*" >&2; }
ENTRIES=${ENTRIES:-300} FIXES=${FIXES:-10000} SAMPLE=${SAMPLE:-5000} RUNS=${RUNS:-20} BASELINE_RUNS=${BASELINE_RUNS:-3}

trm_pg
dx=$(scripts/install-directus.sh)
trm_node
db=bench_course_$$
cleanup() { [[ -n ${KEEP_DB:-} ]] || psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

cargo build --release --bin trm-init >&2
bin=$TRM_RELEASE_BIN
psql -X -q -d postgres -c "CREATE DATABASE $db"
log "schema: db-init, Directus bootstrap + snapshot, db-init-post on $db"
trm_real_schema "$db" "$bin" "$dx"

log "generating: $ENTRIES entries, $FIXES positions each"
t0=$(date +%s.%N)
psql -X -q -d $db -v entries="$ENTRIES" -v fixes="$FIXES" -v seed=0.42 -f bench/course/generate.sql >&2
t1=$(date +%s.%N)
gen_s=$(echo "$t1 - $t0" | bc)
log "generated in ${gen_s}s; measuring"
out=$(psql -X -q -d $db -v sample="$SAMPLE" -v stage="$(psql -X -qtA -d $db -c 'SELECT id FROM stages WHERE sort_order = 3')" \
        -v runs="$RUNS" -v baseline_runs="$BASELINE_RUNS" -f bench/course/measure.sql)
val() { grep "^$1|" <<<"$out" | cut -d'|' -f"${2:-2}"; }
ratio() { echo "scale=1; $1 / $2" | bc; }
fmt() { printf '%.1f' "$1"; }

cat <<MD
### Course lookups and stage results (\`bench/course.sh\`)

Generated course: $(val sizes) (generation ${gen_s%.*} s). Crossings per entry per stage: $(val crossings_per_entry_stage).
Server-side time, prepared statements run once per sampled fix, PostgreSQL $(psql -X -qtA -d $db -c 'SHOW server_version') + PostGIS $(psql -X -qtA -d $db -c "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"); baseline = same statement, same data, index dropped in a rolled-back transaction.

| lookup | with index | baseline (no index) | speed-up | fixes matched |
|---|---|---|---|---|
| active geofences containing a fix (\`ST_Contains\`, GiST) | $(fmt "$(val fences_indexed)") µs/fix | $(fmt "$(val fences_baseline)") µs/fix | $(ratio "$(val fences_baseline)" "$(val fences_indexed)")x | $(val fences_indexed 3) / $SAMPLE |
| speed-limit zone (and its limit) of a fix | $(fmt "$(val zone_indexed)") µs/fix | $(fmt "$(val zone_baseline)") µs/fix | $(ratio "$(val zone_baseline)" "$(val zone_indexed)")x | $(val zone_indexed 3) / $SAMPLE |
| results of one stage ($(val results_indexed 3) entries, median of $RUNS, baseline of $BASELINE_RUNS) | $(fmt "$(val results_indexed)") ms | $(fmt "$(val results_baseline)") ms | $(ratio "$(val results_baseline)" "$(val results_indexed)")x | |

Plans (EXPLAIN, costs off): geofences: \`$(val plan_fences)\`; speed-limit zone: \`$(val plan_zone)\`.
MD

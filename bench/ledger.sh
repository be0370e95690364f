#!/usr/bin/env bash
# The timing ledger's cost (issue 25) on the processor's batch write path: 1,000 penalty upserts, a
# 300-entry results upsert and its publication, with the ledger's triggers on and off in the same run
# (bench/ledger/measure.sql), on the real schema (db-init + the Directus snapshot + db-init-post, applied
# by trm-init with the real Directus). Prints Markdown (figures for docs/benchmarks.md).
# Env: RUNS (11 per variant), KEEP_DB=1 keeps the database. Needs PostgreSQL with PostGIS
# (scripts/pg-up.sh) and Directus (scripts/install-directus.sh).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
log() { echo "[bench/ledger] $*" >&2; }
RUNS=${RUNS:-11}

trm_pg
dx=$(scripts/install-directus.sh)
trm_node
db=bench_ledger_$$
cleanup() { [[ -n ${KEEP_DB:-} ]] || psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# trm-init only applies the schema here (what is measured is PostgreSQL's work): the debug build will do.
cargo build -q --bin trm-init >&2
bin=$(trm_bin debug)
psql -X -q -d postgres -c "CREATE DATABASE $db"
log "schema: db-init, Directus bootstrap + snapshot, db-init-post on $db"
trm_real_schema "$db" "$bin" "$dx"

log "one event, 300 entries, one stage"
psql -X -q -v ON_ERROR_STOP=1 -d $db >&2 <<'SQL'
WITH o AS (INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Bench club', 'bench-club') RETURNING id),
     e AS (INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
           SELECT id, 'Bench rally', 'bench-ledger', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'UTC' FROM o RETURNING id),
     c AS (INSERT INTO classes (event_id, code, name, sort_order) SELECT id, 'C-2', 'Cars', 10 FROM e RETURNING id, event_id),
     s AS (INSERT INTO stages (event_id, name, sort_order, starts_at) SELECT id, 'SS1', 1, '2026-06-07T06:00:00Z' FROM e RETURNING id)
INSERT INTO entries (event_id, class_id, race_number, status) SELECT c.event_id, c.id, n, 'started' FROM c, generate_series(1, 300) n;
SQL
log "measuring, $RUNS runs per variant"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
out=$(psql -X -q -d $db -v runs="$RUNS" -f bench/ledger/measure.sql)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
val() { grep "^$1|" <<<"$out" | cut -d'|' -f"$2"; }
ratio() { echo "scale=2; $1 / $2" | bc; }
row() { echo "| $2 | $(val "$1" 2) ms | $(val "$1" 3) ms | $(ratio "$(val "$1" 2)" "$(val "$1" 3)")x | $(val "$1" 4) |"; }
verify=$(DB_DATABASE=$db "$bin" ledger verify --event bench-ledger 2>&1 || true)

cat <<MD
### Timing ledger on the processor's batch path (\`bench/ledger.sh\`)

One event, 300 entries; each statement in one transaction as the processor sends it; server-side time,
median of $RUNS runs per variant, the two alternating in one session; baseline = the same statements with
the ledger's triggers disabled (the publication makes its result version in both). PostgreSQL $(psql -X -qtA -d $db -c 'SHOW server_version').
Load average (1, 5, 15 min) before the measurement: $load_before; after: $load_after ($(nproc) cores).

| statement | with ledger | without | ratio | ledger rows per run |
|---|---|---|---|---|
$(row penalty_upserts "1,000 penalty upserts (\`INSERT ... ON CONFLICT (entry_id, penalty_key) DO UPDATE\`, each a change)")
$(row results_upsert "300-entry results upsert (\`ON CONFLICT (entry_id, stage_id) DO UPDATE\`)")
$(row results_publish "300-entry publication (\`UPDATE stage_results SET status = 'official'\`)")

Then \`trm-init ledger verify --event bench-ledger\`: $verify
MD

#!/usr/bin/env bash
# Produces snapshots/schema.yaml with the real Directus: a throwaway database with db-init/ applied
# (so the raw tables positions and migrations_applied exist, as in production), `bootstrap`, `start`,
# the data model created through the REST API (scripts/schema/run.mjs: every phaseN.mjs), then
# `schema snapshot`. Then checks the file: no raw table in it, and on another fresh database
# (db-init pre, bootstrap, apply, db-init-post) it applies, takes the composite uniques, and reads back
# identical. Needs PostgreSQL (TRM_TEST_PG, or scripts/pg-up.sh is run), Directus
# (scripts/install-directus.sh) and cargo (trm-init runs the db-init folders).
# Usage: scripts/make-snapshot.sh [OUT]   (default snapshots/schema.yaml)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TRM_REPO"
repo=$TRM_REPO
out=$(readlink -f "${1:-snapshots/schema.yaml}")
log() { echo "[make-snapshot] $*" >&2; }

trm_pg
dx=$(scripts/install-directus.sh)
trm_node

port=${SNAPSHOT_PORT:-18155}
build_db=snapshot_build_$$
check_db=snapshot_check_$$
tmp=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $build_db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $check_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

export SECRET=make-snapshot-secret-make-snapshot-secret TELEMETRY=false LOG_LEVEL=warn
export ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=make-snapshot-pw PORT=$port HOST=127.0.0.1
export PUBLIC_URL=http://127.0.0.1:$port
directus() { (cd "$dx" && node cli.js "$@"); }
cargo build -q --bin trm-init >&2
trm_init() {
  env -u TRM_INIT_CONFIG TRM_INIT_DB_INIT__PRE_DIR=$repo/db-init TRM_INIT_DB_INIT__POST_DIR=$repo/db-init-post \
    TRM_INIT_HEALTH__LISTEN=127.0.0.1:0 "$(trm_bin debug)" "$@"
}
# Tables Directus must never track: the raw tables of db-init and trm-init's own state.
raw_tables='positions|migrations_applied|trm_init_schema_state|recompute_outbox|timing_ledger|timing_ledger_rows'

log "building on database $build_db"
psql -X -q -d postgres -c "CREATE DATABASE $build_db"
export DB_DATABASE=$build_db
trm_init db-init --phase pre >&2
directus bootstrap >&2
(cd "$dx" && exec node cli.js start) >&2 &
server=$!
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$port/server/ping" >/dev/null 2>&1 && break; sleep 0.1; done
DIRECTUS_URL=http://127.0.0.1:$port node scripts/schema/run.mjs >&2
kill "$server"; wait "$server" 2>/dev/null || true; server=
mkdir -p "$(dirname "$out")"
directus schema snapshot --yes "$out" >&2
log "wrote $out"
if grep -En "^ *(- )?(collection|related_collection): ($raw_tables)\$" "$out" >&2; then
  log "FAILED: raw tables appear in the snapshot (lines above); they must never be Directus collections"
  exit 1
fi

log "checking: apply on a fresh database ($check_db) and read it back"
psql -X -q -d postgres -c "CREATE DATABASE $check_db"
export DB_DATABASE=$check_db
trm_init db-init --phase pre >&2
directus bootstrap >&2
directus schema apply --yes "$out" >&2
trm_init db-init --phase post >&2
directus schema snapshot --yes "$tmp/readback.yaml" >&2
if diff -u "$out" "$tmp/readback.yaml" >&2; then
  log "ok: the snapshot applies on a fresh database and reads back identical"
else
  log "FAILED: the snapshot read back differently (diff above)"
  exit 1
fi

#!/usr/bin/env bash
# Produces snapshots/schema.yaml with the real Directus: a throwaway database, `bootstrap`, `start`,
# the slice-1 collections created through the REST API (scripts/slice1-schema.mjs), then
# `schema snapshot`. Then checks the file: applied to another fresh database it reads back identical.
# Needs PostgreSQL (TRM_TEST_PG, or scripts/pg-up.sh is run) and Directus (scripts/install-directus.sh).
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

export DB_CLIENT=pg DB_HOST=$PGHOST DB_PORT=$PGPORT DB_USER=$PGUSER DB_PASSWORD=$PGPASSWORD
export SECRET=make-snapshot-secret-make-snapshot-secret TELEMETRY=false LOG_LEVEL=warn
export ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=make-snapshot-pw PORT=$port HOST=127.0.0.1
export PUBLIC_URL=http://127.0.0.1:$port
directus() { (cd "$dx" && node cli.js "$@"); }

log "building on database $build_db"
psql -X -q -d postgres -c "CREATE DATABASE $build_db"
export DB_DATABASE=$build_db
directus bootstrap >&2
(cd "$dx" && exec node cli.js start) >&2 &
server=$!
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$port/server/ping" >/dev/null 2>&1 && break; sleep 0.1; done
DIRECTUS_URL=http://127.0.0.1:$port node scripts/slice1-schema.mjs >&2
kill "$server"; wait "$server" 2>/dev/null || true; server=
mkdir -p "$(dirname "$out")"
directus schema snapshot --yes "$out" >&2
log "wrote $out"

log "checking: apply on a fresh database ($check_db) and read it back"
psql -X -q -d postgres -c "CREATE DATABASE $check_db"
export DB_DATABASE=$check_db
directus bootstrap >&2
directus schema apply --yes "$out" >&2
directus schema snapshot --yes "$tmp/readback.yaml" >&2
if diff -u "$out" "$tmp/readback.yaml" >&2; then
  log "ok: the snapshot applies on a fresh database and reads back identical"
else
  log "FAILED: the snapshot read back differently (diff above)"
  exit 1
fi

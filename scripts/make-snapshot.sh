#!/usr/bin/env bash
# Produces snapshots/schema.yaml with the real Directus: a throwaway database, `bootstrap`, `start`,
# the collections created through the REST API (scripts/slice1-schema.mjs, then the course and timing
# ones: scripts/schema/course.mjs), then
# `schema snapshot`. Then checks the file: applied to another fresh database it reads back identical.
# Needs PostgreSQL (TRM_TEST_PG, or scripts/pg-up.sh is run) and Directus (scripts/install-directus.sh).
# Usage: scripts/make-snapshot.sh [OUT]   (default snapshots/schema.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$(readlink -f "${1:-snapshots/schema.yaml}")
log() { echo "[make-snapshot] $*" >&2; }

[[ -n ${TRM_TEST_PG:-} ]] || eval "$(scripts/pg-up.sh)"
dx=$(scripts/install-directus.sh)
export PATH=$(dirname "$(readlink -f "${TRM_CACHE:-$HOME/.cache/trm-init}/node")"):$PATH
declare -A pg
for kv in $TRM_TEST_PG; do pg[${kv%%=*}]=${kv#*=}; done
export PGHOST=${pg[host]} PGPORT=${pg[port]} PGUSER=${pg[user]} PGPASSWORD=${pg[password]:-}

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
# PostGIS (db-init/004_postgis.sql) before Directus creates geometry columns.
psql -X -q -d $build_db -v ON_ERROR_STOP=1 -f db-init/004_postgis.sql >/dev/null
export DB_DATABASE=$build_db
directus bootstrap >&2
(cd "$dx" && exec node cli.js start) >&2 &
server=$!
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$port/server/ping" >/dev/null 2>&1 && break; sleep 0.1; done
DIRECTUS_URL=http://127.0.0.1:$port node scripts/slice1-schema.mjs >&2
DIRECTUS_URL=http://127.0.0.1:$port node scripts/schema/course.mjs >&2
kill "$server"; wait "$server" 2>/dev/null || true; server=
mkdir -p "$(dirname "$out")"
directus schema snapshot --yes "$out" >&2
log "wrote $out"

log "checking: apply on a fresh database ($check_db) and read it back"
psql -X -q -d postgres -c "CREATE DATABASE $check_db"
psql -X -q -d $check_db -v ON_ERROR_STOP=1 -f db-init/004_postgis.sql >/dev/null
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

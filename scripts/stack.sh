#!/usr/bin/env bash
# The whole stack on one machine, without Docker: a throwaway PostgreSQL cluster, Node 22 + Directus
# 11.17.4 (from the npm registry, cached in ~/.cache/trm-init), and trm-init as PID 1 of the stack
# (a new PID namespace when run as root). Directus on :8055, trm-init's health on :8056.
# Ctrl-C stops Directus, trm-init and the cluster cleanly. The cluster's data stays in .stack/ so the
# next run is a warm boot (the schema step is skipped by fingerprint); --fresh starts from nothing.
#
# --seed loads the dogfood seed (seed/rally-albania-2026.yaml, idempotent) once Directus answers.
#
# Usage: scripts/stack.sh [--fresh] [--seed]
# Env:   ADMIN_EMAIL, ADMIN_PASSWORD   the first admin (defaults printed at start)
#        STACK_DIR (.stack)  STACK_PG_PORT (55432)  PORT (8055)  HOST (127.0.0.1)
#        STACK_PROFILE (debug | release: how trm-init is built)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TRM_REPO"
repo=$TRM_REPO
log() { echo "[stack] $*" >&2; }

fresh=false
seed=false
for arg in "$@"; do
  case $arg in
    --fresh) fresh=true ;;
    --seed) seed=true ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) log "unknown argument $arg"; exit 64 ;;
  esac
done

stack=$(mkdir -p "${STACK_DIR:-.stack}" && cd "${STACK_DIR:-.stack}" && pwd)
pg_port=${STACK_PG_PORT:-55432}
export PORT=${PORT:-8055} HOST=${HOST:-127.0.0.1}
export ADMIN_EMAIL=${ADMIN_EMAIL:-admin@example.com}
export ADMIN_PASSWORD=${ADMIN_PASSWORD:-trm-dev-admin}
am_root=false
[[ $(id -u) == 0 ]] && am_root=true

# ---- packages a fresh Debian lacks -------------------------------------------------------------------
need=()
command -v cargo >/dev/null || { log "cargo is missing: install Rust (https://rustup.rs) first"; exit 69; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v npm >/dev/null || [[ -x $TRM_CACHE/node ]] || need+=(npm)
command -v curl >/dev/null || need+=(curl)
command -v unshare >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
  $am_root || { log "missing packages: ${need[*]} (run as root, or install them)"; exit 69; }
  log "installing ${need[*]} from Debian's packages"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  # Debian starts a 'main' cluster with the package; the stack does not use it.
fi
pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")

# ---- Node 22 + Directus 11.17.4 (cached) -------------------------------------------------------------
dx=$(scripts/install-directus.sh)
trm_node
ln -sfn "$dx" "$stack/directus"   # config/dev.toml runs .stack/directus/cli.js
log "node $(node --version), Directus in $dx"
if $seed && [[ ! -d seed/node_modules/@directus/sdk ]]; then
  log "installing the seed loader's packages (seed/package-lock.json)"
  (cd seed && npm ci --no-audit --no-fund >&2)
fi

# ---- trm-init ------------------------------------------------------------------------------------------
profile=${STACK_PROFILE:-debug}
if [[ $profile == release ]]; then cargo build --release --bin trm-init >&2; else cargo build --bin trm-init >&2; fi
trm_init=$(trm_bin "$profile")

# ---- the throwaway PostgreSQL cluster ------------------------------------------------------------------
pgdata=$stack/pg
if $fresh; then
  log "--fresh: removing $pgdata and $stack/uploads"
  rm -rf "$pgdata" "$stack/uploads" "$stack/db-password"
fi
as_pg() { if $am_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
if $am_root && ! runuser -u postgres -- test -x "$stack"; then
  # initdb and postgres refuse to run as root; the postgres user must reach the data folder.
  pgdata=/var/tmp/trm-stack-$(echo -n "$stack" | sha256sum | cut -c1-12)/pg
  log "postgres cannot reach $stack; the cluster lives in $pgdata"
fi
[[ -f $stack/db-password ]] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$stack/db-password"
chmod 600 "$stack/db-password"
if [[ ! -f $pgdata/PG_VERSION ]]; then
  log "creating the throwaway cluster in $pgdata"
  mkdir -p "$pgdata"
  pwfile=$(mktemp)
  cp "$stack/db-password" "$pwfile"
  if $am_root; then chown postgres: "$pgdata" "$pwfile"; fi
  as_pg "$pg_bin/initdb" -D "$pgdata" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$pwfile" -E UTF8 >&2
  rm -f "$pwfile"
fi
pg_stop() {
  as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast -w stop >&2 || true
}
log "starting PostgreSQL on 127.0.0.1:$pg_port"
as_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pgdata" start >&2
trap pg_stop EXIT
db_password=$(cat "$stack/db-password")
PGPASSWORD=$db_password "$pg_bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = 'directus'" | grep -q 1 ||
  PGPASSWORD=$db_password "$pg_bin/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
    -c "CREATE DATABASE directus"

# ---- Directus's and trm-init's environment -------------------------------------------------------------
export DB_CLIENT=pg DB_HOST=127.0.0.1 DB_PORT=$pg_port DB_DATABASE=directus DB_USER=postgres
export DB_PASSWORD=$db_password
[[ -f $stack/secret ]] || head -c 48 /dev/urandom | base64 | tr -d '/+=' >"$stack/secret"
export SECRET=$(cat "$stack/secret")
export PUBLIC_URL=${PUBLIC_URL:-http://localhost:$PORT}
export TELEMETRY=${TELEMETRY:-false}
export STORAGE_LOCATIONS=local STORAGE_LOCAL_ROOT=$stack/uploads EXTENSIONS_PATH=$stack/extensions
mkdir -p "$stack/uploads" "$stack/extensions"
# The project's extensions, built from extensions/ and laid out as in the image. Without Redis and
# RECOMPUTE_STREAM in the environment the flag endpoint answers 503 and says what is missing.
log "building extensions/"
(cd "$repo/extensions" && npm ci --no-audit --no-fund --prefer-offline >&2 && npm run build >&2)
rm -rf "$stack/extensions/trm-extensions" && mkdir -p "$stack/extensions/trm-extensions"
cp -r "$repo/extensions/package.json" "$repo/extensions/dist" "$stack/extensions/trm-extensions/"
export TRM_INIT_CONFIG=$repo/config/dev.toml
# config/dev.toml names .stack/directus; follow STACK_DIR when it is elsewhere.
export TRM_INIT_SCHEMA__DIRECTUS="[\"node\", \"$stack/directus/cli.js\"]"
export TRM_INIT_CHILD__COMMAND="[\"env\", \"-C\", \"$stack/directus\", \"node\", \"cli.js\", \"start\"]"
export TRM_INIT_HEALTH__LISTEN=${TRM_INIT_HEALTH__LISTEN:-127.0.0.1:8056}
export TRM_INIT_HEALTH__UPSTREAM=${TRM_INIT_HEALTH__UPSTREAM:-http://127.0.0.1:$PORT/server/ping}

log "Directus:    http://localhost:$PORT  (admin: $ADMIN_EMAIL / $ADMIN_PASSWORD, set on the first boot)"
log "health:      http://$TRM_INIT_HEALTH__LISTEN/healthz"
log "PostgreSQL:  postgres://postgres:<$stack/db-password>@127.0.0.1:$pg_port/directus"
log "Ctrl-C stops everything"

# ---- trm-init as PID 1 of the stack --------------------------------------------------------------------
# In the background so this shell can pass Ctrl-C / TERM on to trm-init and wait for its clean exit
# before stopping the cluster. stdin is closed: trm-init's children must not take over the terminal.
if $am_root; then
  unshare --pid --fork --mount-proc --kill-child=SIGTERM "$trm_init" </dev/null &
else
  log "not root: trm-init runs without its own PID namespace (a child subreaper instead of PID 1)"
  "$trm_init" </dev/null &
fi
runner=$!
if $seed; then
  # In the background, so Ctrl-C still reaches trm-init; gives up when trm-init exits first.
  (
    until curl -fsS "http://127.0.0.1:$PORT/server/ping" >/dev/null 2>&1; do
      kill -0 "$runner" 2>/dev/null || exit 0
      sleep 1
    done
    DIRECTUS_URL=http://127.0.0.1:$PORT node seed/load.mjs --quiet >&2 || log "the seed exited with $? (see above)"
  ) &
fi
stop() {
  log "stopping (trm-init forwards the signal to Directus)"
  # The process that is trm-init: the runner itself, or unshare's child.
  target=$(cat "/proc/$runner/task/$runner/children" 2>/dev/null | awk '{print $1}')
  kill -TERM "${target:-$runner}" 2>/dev/null || true
}
trap stop INT TERM
code=0
while :; do
  wait "$runner" && code=0 || code=$?
  kill -0 "$runner" 2>/dev/null || break   # a trapped signal interrupted `wait`; trm-init still runs
done
log "trm-init exited with $code; stopping PostgreSQL"
exit "$code"

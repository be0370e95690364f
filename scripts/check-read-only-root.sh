#!/usr/bin/env bash
# Does Directus 11.17.4 (under trm-init) run with a read-only root filesystem, given only the paths
# deploy/kubernetes mounts writable (/tmp, node_modules/.cache, node_modules/.directus, uploads)?
# Boots trm-init + the real Directus on a fresh database inside a mount namespace (root remounted
# read-only), checks /readyz, /admin/ and the extension sources, and that the log has no EROFS.
# Run as root; loopback only; ~2 minutes. Exit 0 when it holds.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [[ ${1:-} == --inside ]]; then
  dx=$2
  mount --make-rprivate /
  mkdir -p "$dx/uploads" "$dx/extensions" "$dx/node_modules/.cache" "$dx/node_modules/.directus"
  for m in / $(findmnt -rn -o TARGET | grep -E '^/(root|work|home|usr|var|opt|srv)' || true); do
    mount -o remount,bind,ro "$m" 2>/dev/null || true
  done
  for w in /tmp "$dx/node_modules/.cache" "$dx/node_modules/.directus" "$dx/uploads"; do mount -t tmpfs tmpfs "$w"; done
  if touch "$dx/.write-probe" 2>/dev/null; then echo "the root filesystem is still writable" >&2; exit 1; fi
  cd "$dx" && exec "$repo/target/x86_64-unknown-linux-gnu/release/trm-init"
fi
log() { echo "[ro-root] $*" >&2; }
[[ -n ${TRM_TEST_PG:-} ]] || eval "$(scripts/pg-up.sh)"
dx=$(scripts/install-directus.sh)
export PATH=$(dirname "$(readlink -f "${TRM_CACHE:-$HOME/.cache/trm-init}/node")"):$PATH
cargo build --release --bin trm-init >&2
declare -A pg
for kv in $TRM_TEST_PG; do pg[${kv%%=*}]=${kv#*=}; done
export PGHOST=${pg[host]} PGPORT=${pg[port]} PGUSER=${pg[user]} PGPASSWORD=${pg[password]:-}
db=ro_root_$$
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
out=$(mktemp -d)
read -r port health <<<"$(/usr/bin/python3 -c "
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))")"
export DB_CLIENT=pg DB_HOST=$PGHOST DB_PORT=$PGPORT DB_USER=$PGUSER DB_PASSWORD=$PGPASSWORD DB_DATABASE=$db
export SECRET=ro-root-check-secret-ro-root-check-secret TELEMETRY=false HOST=127.0.0.1 PORT=$port
export ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=ro-root-pw HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1
export TRM_INIT_SCHEMA__DIRECTUS="[\"node\", \"$dx/cli.js\"]" TRM_INIT_SCHEMA__SNAPSHOT=$repo/snapshots/schema.yaml
export TRM_INIT_CHILD__COMMAND="[\"node\", \"$dx/cli.js\", \"start\"]"
export TRM_INIT_DB_INIT__PRE_DIR=$repo/db-init TRM_INIT_DB_INIT__POST_DIR=$repo/db-init-post
export TRM_INIT_HEALTH__LISTEN=127.0.0.1:$health TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:$port/server/ping
unset TRM_INIT_CONFIG
unshare --mount --pid --fork --mount-proc "$0" --inside "$dx" >"$out/log" 2>&1 &
ns=$!
cleanup() {
  set +e
  inner=$(pgrep -P "$ns")
  [[ -n $inner ]] && kill -TERM "$inner"
  for _ in $(seq 1 100); do kill -0 "$ns" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$ns" 2>/dev/null
  wait "$ns" 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  rm -rf "$out"
}
trap cleanup EXIT
ok=0
for _ in $(seq 1 1500); do
  curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$health/readyz" 2>/dev/null && { ok=1; break; }
  kill -0 "$ns" 2>/dev/null || break
  sleep 0.2
done
((ok)) || { tail -40 "$out/log" >&2; log "FAIL: never ready"; exit 1; }
admin=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/admin/")
ext=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/extensions/sources/index.js")
erofs=$(grep -c EROFS "$out/log" || true)
log "ready; /admin/ $admin, extension sources $ext, EROFS lines in the log: $erofs"
[[ $admin == 200 && $ext == 200 && $erofs == 0 ]] || { grep EROFS "$out/log" | head -5 >&2; log FAIL; exit 1; }
log "OK: Directus runs with a read-only root filesystem"

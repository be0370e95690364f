#!/usr/bin/env bash
# Boot to first healthy answer (Directus's GET /server/ping = 200), in one run, interleaved:
#   trm-init (release build, full preflight)  vs  bench/baselines/seed-entrypoint.sh  vs  bare `cli.js start`
# on a warm database (Directus installed, snapshot applied, migrations recorded) and on an empty one
# (a fresh database per run; a bare start cannot boot there, so it is not measured).
# Every command runs with the same environment, from Directus's folder (as in the image). Directus's
# update check goes through an unreachable proxy for all three, so the npm registry's latency is not
# measured. Prints a Markdown table for docs/benchmarks.md.
# Usage: bench/boot.sh [RUNS]   (default 5)   Env: BASELINES (default bench/baselines)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
runs=${1:-5}
baselines=${BASELINES:-$repo/bench/baselines}
log() { echo "[bench] $*" >&2; }

[[ -n ${TRM_TEST_PG:-} ]] || eval "$(scripts/pg-up.sh)"
dx=$(scripts/install-directus.sh)
export PATH=$(dirname "$(readlink -f "${TRM_CACHE:-$HOME/.cache/trm-init}/node")"):$PATH
cargo build --release --bin trm-init >&2
trm=$repo/target/x86_64-unknown-linux-gnu/release/trm-init

declare -A pg
for kv in $TRM_TEST_PG; do pg[${kv%%=*}]=${kv#*=}; done
export PGHOST=${pg[host]} PGPORT=${pg[port]} PGUSER=${pg[user]} PGPASSWORD=${pg[password]:-}
admin_sql() { psql -X -q -d postgres -c "$1" >/dev/null 2>&1; }

port=${BENCH_PORT:-18455}
health=$((port + 1))
export DB_CLIENT=pg DB_HOST=$PGHOST DB_PORT=$PGPORT DB_USER=$PGUSER DB_PASSWORD=$PGPASSWORD
export SECRET=bench-secret-bench-secret-bench-secret TELEMETRY=false HOST=127.0.0.1 PORT=$port
export PUBLIC_URL=http://127.0.0.1:$port ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=bench-admin-pw
export HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
# trm-init
export TRM_INIT_SCHEMA__DIRECTUS="[\"node\", \"$dx/cli.js\"]" TRM_INIT_SCHEMA__SNAPSHOT=$repo/snapshots/schema.yaml
export TRM_INIT_CHILD__COMMAND="[\"node\", \"$dx/cli.js\", \"start\"]"
export TRM_INIT_DB_INIT__PRE_DIR=$repo/db-init TRM_INIT_DB_INIT__POST_DIR=$repo/db-init-post
export TRM_INIT_HEALTH__LISTEN=127.0.0.1:$health TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:$port/server/ping
unset TRM_INIT_CONFIG
# the shell baseline
export DIRECTUS_CLI=$dx/cli.js SNAPSHOT=$repo/snapshots/schema.yaml NODE=node DB_INIT_DIR=$repo/db-init

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# boot NAME DB CMD...: seconds from spawn to the first pong, then TERM and wait.
boot() {
  local name=$1 db=$2; shift 2
  local start end pid
  # Every boot starts from the same quiet state (no pending checkpoint from a CREATE/DROP DATABASE).
  admin_sql "CHECKPOINT"
  sleep 1
  start=$(date +%s.%N)
  (cd "$dx" && DB_DATABASE=$db exec "$@") >"$out/$name.log" 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/server/ping" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then log "$name did not boot:"; tail -20 "$out/$name.log" >&2; exit 1; fi
    sleep 0.02
  done
  end=$(date +%s.%N)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # nothing may keep the port
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/server/ping" 2>/dev/null || break; sleep 0.05; done
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}'
}

warm=bench_warm_$$
log "preparing the warm database $warm (one full trm-init boot)"
admin_sql "DROP DATABASE IF EXISTS $warm WITH (FORCE)"
admin_sql "CREATE DATABASE $warm"
boot prepare "$warm" "$trm" >/dev/null
grep -q "fingerprint recorded" "$out/prepare.log" || { log "the warm-up boot did not apply the schema"; cat "$out/prepare.log" >&2; exit 1; }

declare -A t
for i in $(seq 1 "$runs"); do
  log "run $i/$runs"
  # The order rotates from run to run, so no case always follows the same one.
  order=(trm seed bare trm seed)
  for who in "${order[@]:$(( (i - 1) % 3 )):3}"; do
    case $who in
      trm)
        t[trm_warm]+=" $(boot trm_warm "$warm" "$trm")"
        grep -q "bootstrap and schema apply skipped" "$out/trm_warm.log" || { log "warm trm-init did not skip:"; cat "$out/trm_warm.log" >&2; exit 1; }
        t[trm_pre]+=" $(sed -n 's/.*preflight: ok in \([0-9]*\) ms.*/\1/p' "$out/trm_warm.log" | head -n1)" ;;
      seed) t[seed_warm]+=" $(boot seed_warm "$warm" "$baselines/seed-entrypoint.sh")" ;;
      bare) t[bare_warm]+=" $(boot bare_warm "$warm" node "$dx/cli.js" start)" ;;
    esac
  done
  for who in trm seed; do
    db=bench_empty_${who}_$$
    admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    admin_sql "CREATE DATABASE $db"
    if [[ $who == trm ]]; then t[trm_empty]+=" $(boot trm_empty "$db" "$trm")"
    else t[seed_empty]+=" $(boot seed_empty "$db" "$baselines/seed-entrypoint.sh")"; fi
  done
done
for db in "$warm" "bench_empty_trm_$$" "bench_empty_seed_$$"; do admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done

stats() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f", m, a[1], a[NR]}'; }
median() { stats "$1" | cut -d' ' -f1; }
row() { read -r m lo hi <<<"$(stats "${t[$2]}")"; printf '| %s | %s | %.2f | %.2f – %.2f | %s |\n' "$1" "$3" "$m" "$lo" "$hi" "$4"; }
ratio() { awk -v a="$(median "${t[$1]}")" -v b="$(median "${t[$2]}")" 'BEGIN {printf "%.2f", a / b}'; }

echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), PostgreSQL on loopback, $runs runs each, interleaved"
echo
echo "| boot | database | median s | min – max s | ratio |"
echo "|---|---|---|---|---|"
row "trm-init (preflight + start)" trm_warm warm "$(ratio trm_warm bare_warm)x bare start"
row "seed-entrypoint.sh" seed_warm warm "$(ratio seed_warm bare_warm)x bare start"
row "bare \`cli.js start\`" bare_warm warm "1.00x"
row "trm-init (preflight + start)" trm_empty empty "$(ratio trm_empty seed_empty)x shell sequence"
row "seed-entrypoint.sh" seed_empty empty "1.00x"
echo
read -r m lo hi <<<"$(stats "${t[trm_pre]}")"
echo "trm-init's whole warm preflight (connect, lock, db-init pre, fingerprint check, db-init post), from its own log: median $m ms (min $lo, max $hi)."

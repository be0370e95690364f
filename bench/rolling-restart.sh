#!/usr/bin/env bash
# Rolling restart under load, side by side: child.drain set vs 0, in one run.
#   3 replicas (trm-init release build + real Directus 11.17.4), one PostgreSQL database, a real Redis
#   (CACHE_STORE / RATE_LIMITER_STORE / SYNCHRONIZATION_STORE = redis), behind HAProxy health-checking
#   each trm-init's /readyz; a steady rate of authenticated reads (GET /items/organizations with a
#   static token) through HAProxy; the replicas restarted one after another (SIGTERM, wait until the
#   new one is UP in HAProxy, next). Pass 1: replicas stop with child.drain = DRAIN; pass 2: with 0.
# Prints a Markdown table (failed requests, p50/p99/max latency, seconds per replica) for
# docs/benchmarks.md. Loopback only; every loop is bounded; everything started is stopped at exit.
# Usage: bench/rolling-restart.sh   Env: RATE (req/s, default 20), DRAIN (default 5s)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
repo=$TRM_REPO
rate=${RATE:-20}
drain=${DRAIN:-5s}
log() { echo "[bench] $(date -u +%H:%M:%S) $*" >&2; }
die() { log "$*"; exit 1; }

command -v haproxy >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >&2; }
command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2; }
trm_pg
dx=$(scripts/install-directus.sh)
trm_node
cargo build --release --bin trm-init >&2
trm=$TRM_RELEASE_BIN

admin_sql() { psql -X -q -d postgres -c "$1" >/dev/null; }

free_ports() { /usr/bin/python3 -c "
import socket
ss = [socket.socket() for _ in range($1)]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))"; }
read -r redis_port lb_port stats_port dx1 dx2 dx3 h1 h2 h3 <<<"$(free_ports 9)"
dx_port=("" "$dx1" "$dx2" "$dx3")
health_port=("" "$h1" "$h2" "$h3")

work=$(mktemp -d)
db=bench_roll_$$
pids=()
cleanup() {
  set +e
  touch "$work/stop"
  for i in 1 2 3; do [[ -f $work/trm$i.pid ]] && kill -TERM "$(cat "$work/trm$i.pid")" 2>/dev/null; done
  for _ in $(seq 1 100); do
    alive=0
    for i in 1 2 3; do [[ -f $work/trm$i.pid ]] && kill -0 "$(cat "$work/trm$i.pid")" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.2
  done
  for i in 1 2 3; do [[ -f $work/trm$i.pid ]] && kill -KILL "$(cat "$work/trm$i.pid")" 2>/dev/null; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

log "redis on $redis_port, haproxy on $lb_port, Directus on $dx1 $dx2 $dx3, trm-init health on $h1 $h2 $h3"
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"
admin_sql "CREATE DATABASE $db"

# What every replica shares, as deploy/ sets it: one database, one SECRET, Redis for Directus's system
# caches, rate limiter and synchronization (its data cache off).
export DB_DATABASE=$db
export SECRET=bench-rolling-secret-bench-rolling-secret TELEMETRY=false HOST=127.0.0.1
export ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=bench-admin-pw LOG_LEVEL=warn
export CACHE_ENABLED=false CACHE_STORE=redis RATE_LIMITER_STORE=redis SYNCHRONIZATION_STORE=redis
export REDIS=redis://127.0.0.1:$redis_port
export HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
export TRM_INIT_SCHEMA__DIRECTUS="[\"node\", \"$dx/cli.js\"]" TRM_INIT_SCHEMA__SNAPSHOT=$repo/snapshots/schema.yaml
export TRM_INIT_SCHEMA__STEP_SCRIPT=$repo/directus-step/step.mjs
export TRM_INIT_CHILD__COMMAND="[\"node\", \"$dx/cli.js\", \"start\"]"
export TRM_INIT_DB_INIT__PRE_DIR=$repo/db-init TRM_INIT_DB_INIT__POST_DIR=$repo/db-init-post
export TRM_INIT_CHILD__REPLICAS=3 TRM_INIT_CHILD__STOP_GRACE=8s
unset TRM_INIT_CONFIG

# start I DRAIN: replica I (trm-init + Directus), stopping later with child.drain = DRAIN.
start() {
  local i=$1
  (cd "$dx" && PORT=${dx_port[$i]} PUBLIC_URL=http://127.0.0.1:${dx_port[$i]} \
    TRM_INIT_CHILD__DRAIN=$2 TRM_INIT_HEALTH__LISTEN=127.0.0.1:${health_port[$i]} \
    TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:${dx_port[$i]}/server/ping \
    exec "$trm") >>"$work/trm$i.log" 2>&1 &
  echo $! >"$work/trm$i.pid"
}
ready() { curl -fsS -o /dev/null -m 2 "http://127.0.0.1:${health_port[$1]}/readyz" 2>/dev/null; }
wait_ready() {
  for _ in $(seq 1 1800); do ready "$1" && return 0; sleep 0.1; done
  tail -30 "$work/trm$1.log" >&2
  die "replica $1 not ready within 180 s"
}
# HAProxy's view of replica I: UP, DOWN, ...
lb_status() { curl -fsS -m 2 "http://127.0.0.1:$stats_port/stats;csv" 2>/dev/null | awk -F, -v s="dx$1" '$1=="directus" && $2==s {print $18}'; }
wait_lb() {
  for _ in $(seq 1 600); do [[ $(lb_status "$1") == "$2"* ]] && return 0; sleep 0.05; done
  die "HAProxy never saw replica $1 as $2 (now: $(lb_status "$1"))"
}

log "first boot of replica 1 (empty database: db-init, bootstrap, schema apply)"
start 1 "$drain"
wait_ready 1
log "replicas 2 and 3"
start 2 "$drain"
start 3 "$drain"
wait_ready 2
wait_ready 3
grep -h "child.replicas" "$work"/trm*.log | head -3 >&2 || true

cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
listen stats
  bind 127.0.0.1:$stats_port
  stats enable
  stats uri /stats
backend directus
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 1s fall 1 rise 2
  server dx1 127.0.0.1:$dx1 check port $h1
  server dx2 127.0.0.1:$dx2 check port $h2
  server dx3 127.0.0.1:$dx3 check port $h3
frontend web
  bind 127.0.0.1:$lb_port
  default_backend directus
EOF
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do wait_lb "$i" UP; done

# A static token for the admin, and a few rows to read.
lb=http://127.0.0.1:$lb_port
login=$(curl -fsS -m 10 -H 'Content-Type: application/json' -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" "$lb/auth/login")
access=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])' <<<"$login")
token=bench-static-token-$$-$RANDOM$RANDOM
curl -fsS -m 10 -o /dev/null -X PATCH -H "Authorization: Bearer $access" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\"}" "$lb/users/me"
for n in 1 2 3 4 5; do
  curl -fsS -m 10 -o /dev/null -H "Authorization: Bearer $access" -H 'Content-Type: application/json' \
    -d "{\"name\":\"Club $n\",\"slug\":\"club-$n\"}" "$lb/items/organizations"
done
read_url="$lb/items/organizations?limit=5&sort=slug"
curl -fsS -m 10 -o /dev/null -H "Authorization: Bearer $token" "$read_url" || die "the authenticated read fails"

# pass NAME NEXT_DRAIN: load on; restart 1, 2, 3 (each restarted with child.drain = NEXT_DRAIN); load off.
declare -A per
pass() {
  local name=$1 next=$2 i t0 t1 pid
  rm -f "$work/stop"
  /usr/bin/python3 "$repo/bench/rolling-load.py" "$read_url" "$token" "$rate" "$work/stop" "$work/$name.json" >/dev/null &
  local load=$!
  sleep 5
  for i in 1 2 3; do
    pid=$(cat "$work/trm$i.pid")
    t0=$(date +%s.%N)
    kill -TERM "$pid"
    for _ in $(seq 1 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "replica $i did not exit within 40 s"
    wait "$pid" 2>/dev/null || true
    start "$i" "$next"
    wait_ready "$i"
    wait_lb "$i" UP
    t1=$(date +%s.%N)
    per[$name]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"
    log "$name: replica $i restarted in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
  done
  sleep 5
  touch "$work/stop"
  wait "$load" || die "the load generator failed"
  log "$name: $(cat "$work/$name.json")"
}

log "pass 1: child.drain = $drain"
pass drain 0s
log "pass 2: child.drain = 0"
pass nodrain 0s

field() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); v=d[sys.argv[2]]; print(v if not isinstance(v, dict) else (', '.join(f'{k}: {n}' for k, n in v.items()) or '-'))" "$work/$1.json" "$2"; }
row() {
  local secs
  secs=$(tr ' ' '\n' <<<"${per[$1]}" | grep . | paste -sd/ -)
  printf '| %s | %s | %s | %s (%s) | %s | %s | %s | %s |\n' "$2" "$(field "$1" sent)" "$(field "$1" answered)" \
    "$(field "$1" failed)" "$(field "$1" failures)" "$(field "$1" p50_ms)" "$(field "$1" p99_ms)" "$(field "$1" max_ms)" "$secs"
}
echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); 3 replicas (trm-init + Directus 11.17.4), Redis, HAProxy $(haproxy -v | head -1 | awk '{print $3}'), $rate req/s of authenticated reads through HAProxy"
echo
echo "| replicas stop with | requests | answered | failed (why) | p50 ms | p99 ms | max ms | s per replica (1/2/3) |"
echo "|---|---|---|---|---|---|---|---|"
row drain "child.drain = $drain"
row nodrain "child.drain = 0"

# Sourced by bench/boot.sh and bench/compile-cache.sh (bash only): one Directus/trm-init boot timed to the
# first pong, and what every boot shares. Needs `log` and `runs`; sets up PostgreSQL (trm_pg), the cached
# Directus (dx) and Node 22, the release trm-init (trm), Directus's and trm-init's environment pointed at this
# checkout, a working folder with no package.json above (work), a log folder (out) and the black hole
# (hole_port: accepts TCP connections, never answers). Functions: admin_sql, free_port, boot, stats, median.
repo=$TRM_REPO
trm_pg
dx=$(scripts/install-directus.sh)
trm_node
cargo build --release --bin trm-init >&2
trm=$TRM_RELEASE_BIN

admin_sql() { psql -X -q -d postgres -c "$1" >/dev/null 2>&1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=${BENCH_PORT:-$(free_port)}
health=$(free_port)
export SECRET=bench-secret-bench-secret-bench-secret TELEMETRY=false HOST=127.0.0.1 PORT=$port
export PUBLIC_URL=http://127.0.0.1:$port ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=bench-admin-pw
export NO_PROXY=127.0.0.1,localhost
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy
# trm-init: the image's configuration, pointed at this checkout and the cached Directus
export TRM_INIT_SCHEMA__DIRECTUS="[\"node\", \"$dx/cli.js\"]" TRM_INIT_SCHEMA__SNAPSHOT=$repo/snapshots/schema.yaml
export TRM_INIT_SCHEMA__STEP_SCRIPT=$repo/directus-step/step.mjs
export TRM_INIT_CHILD__COMMAND="[\"node\", \"$dx/cli.js\", \"start\"]"
export TRM_INIT_DB_INIT__PRE_DIR=$repo/db-init TRM_INIT_DB_INIT__POST_DIR=$repo/db-init-post
export TRM_INIT_HEALTH__LISTEN=127.0.0.1:$health TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:$port/server/ping
unset TRM_INIT_CONFIG
# the shell baseline
export DIRECTUS_CLI=$dx/cli.js SNAPSHOT=$repo/snapshots/schema.yaml NODE=node DB_INIT_DIR=$repo/db-init

out=$(mktemp -d)
work=$(mktemp -d) # the working directory of every boot: no package.json above, no update-check cache
# The black hole: accepts TCP connections and never answers (counts them).
hole_port=$(free_port)
python3 - "$hole_port" "$out/hole.count" <<'PY' &
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128)
held, n = [], 0
while True:
    c, _ = s.accept(); held.append(c); n += 1
    open(sys.argv[2], "w").write(str(n))
PY
hole_pid=$!
trap 'kill $hole_pid 2>/dev/null; rm -rf "$out" "$work"' EXIT

# boot NAME DB EGRESS CMD...: seconds from spawn to the first pong, then TERM and wait.
boot() {
  local name=$1 db=$2 egress=$3; shift 3
  local start end pid proxy=()
  [[ $egress == blackhole ]] && proxy=(HTTPS_PROXY=http://127.0.0.1:$hole_port)
  admin_sql "CHECKPOINT"
  sleep 1
  start=$(date +%s.%N)
  (cd "$work" && exec env DB_DATABASE="$db" "${proxy[@]}" "$@") >"$out/$name.log" 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/server/ping" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then log "$name did not boot:"; tail -20 "$out/$name.log" >&2; exit 1; fi
    sleep 0.02
  done
  end=$(date +%s.%N)
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/server/ping" 2>/dev/null || break; sleep 0.05; done
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}'
}

stats() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f %.2f %.2f", m, a[1], a[NR]}'; }
median() { stats "$1" | cut -d' ' -f1; }

#!/usr/bin/env bash
# Health benchmark (issue 4). trm-init supervises a real Directus 11.17.4 (or, with
# BENCH_UPSTREAM=fake, a small Python HTTP server answering pong) and serves /healthz; measured here:
#   1. `trm-init health` wall time against `curl -sf` and `busybox wget -q -O-` on the same /healthz (hyperfine);
#   2. /healthz throughput and latency under load against Directus's /server/ping hit directly (wrk);
#   3. upstream pings per second while /healthz is flooded at ~5,000 probes/s, and at full speed;
#   4. trm-init's resident memory before, during and after the flood.
# Prints a Markdown section for docs/benchmarks.md (also written to $OUT/health.md).
# Needs: hyperfine, wrk, curl, busybox, python3; for Directus: PostgreSQL (scripts/pg-up.sh) and the
# Directus install (scripts/install-directus.sh).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
log() { echo "[bench-health] $*" >&2; }

BIN=${TRM_BIN:-$TRM_RELEASE_BIN}
UPSTREAM_KIND=${BENCH_UPSTREAM:-directus}
PORT_UP=${BENCH_PORT_UPSTREAM:-18155}
PORT_H=${BENCH_PORT_HEALTH:-18156}
DURATION=${BENCH_DURATION:-10s}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/trm-bench-health.XXXX)}
mkdir -p "$OUT"
[ -x "$BIN" ] || { log "building $BIN"; cargo build --release --bin trm-init >&2; }
for tool in hyperfine wrk curl busybox python3; do
  command -v "$tool" >/dev/null || { log "missing $tool"; exit 1; }
done

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

HEALTHZ=http://127.0.0.1:$PORT_H/healthz
export TRM_INIT_HEALTH__LISTEN=127.0.0.1:$PORT_H
export TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:$PORT_UP/server/ping
export TRM_INIT_LOG__LEVEL="info,trm_init::health::upstream=debug"

if [ "$UPSTREAM_KIND" = directus ]; then
  trm_pg
  DX_DIR=$(scripts/install-directus.sh)
  trm_node
  db=trm_bench_health
  psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
    psql -X -q -d postgres -c "CREATE DATABASE $db"
  export DB_DATABASE=$db
  export SECRET=bench-health-secret-0123456789abcdef ADMIN_EMAIL=bench@example.com ADMIN_PASSWORD=bench-health-pw
  export HOST=127.0.0.1 PORT=$PORT_UP LOG_STYLE=raw LOG_LEVEL=info TELEMETRY=false
  log "directus bootstrap ($DX_DIR)"
  (cd "$OUT" && node "$DX_DIR/cli.js" bootstrap) >"$OUT/bootstrap.log" 2>&1
  child=(node "$DX_DIR/cli.js" start)
  upstream_name="Directus $(node -p "require('$DX_DIR/node_modules/directus/package.json').version" 2>/dev/null || echo 11) /server/ping (Node $(node --version))"
else
  cat >"$OUT/fake.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        print("ping", self.headers.get("User-Agent"), flush=True)
        self.send_response(200); self.send_header("Content-Length", "4"); self.end_headers(); self.wfile.write(b"pong")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
  child=(python3 "$OUT/fake.py" "$PORT_UP")
  upstream_name="a Python http.server fake answering pong"
fi

log "starting trm-init supervising: ${child[*]}"
# From $OUT: Directus writes node_modules/.directus/ into its working folder.
(cd "$OUT" && exec "$BIN" run --no-preflight -- "${child[@]}" >"$OUT/child.log" 2>"$OUT/trm-init.log") &
trm_pid=$!
pids+=("$trm_pid")
for _ in $(seq 600); do
  curl -sf "$HEALTHZ" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$HEALTHZ" >/dev/null || { log "/healthz never became 200"; tail "$OUT/trm-init.log" >&2; exit 1; }
ready_line=$(grep -m1 "answered pong after" "$OUT/trm-init.log" | sed 's/.*answered pong after \([0-9.]*\) s.*/\1/' || true)
sleep 3 # let the start-up burst settle (and the quiet trim run)
rss() { awk '/VmRSS/{print $2}' "/proc/$trm_pid/status"; }
pings() { grep -c "upstream ping" "$OUT/trm-init.log" || true; }
# The same, counted on the upstream's side (its request log; trm-init's pings carry User-Agent trm-init).
seen() { grep -c 'trm-init' "$OUT/child.log" || true; }
rss_idle=$(rss)

# 1. Client wall time.
log "hyperfine: trm-init health vs curl vs busybox wget"
hyperfine -N --warmup 20 --runs "${BENCH_RUNS:-300}" --export-json "$OUT/client.json" \
  -n "trm-init health" "$BIN health --url $HEALTHZ" \
  -n "curl -sf" "curl -sf $HEALTHZ" \
  -n "busybox wget -q -O-" "busybox wget -q -O- $HEALTHZ" >"$OUT/hyperfine.txt" 2>&1
read -r t_trm t_curl t_wget < <(python3 -c '
import json,sys
r={x["command"]:x for x in json.load(open(sys.argv[1]))["results"]}
print(*("%.2f" % (r[n]["mean"]*1000) for n in ["trm-init health","curl -sf","busybox wget -q -O-"]))' "$OUT/client.json")
sd() { python3 -c 'import json,sys; r={x["command"]:x for x in json.load(open(sys.argv[1]))["results"]}; print("%.2f" % (r[sys.argv[2]]["stddev"]*1000))' "$OUT/client.json" "$1"; }

# 2. Throughput and latency.
wrk_run() { # name url script... -> prints "req/s p50 p99", saves output
  local name=$1 url=$2; shift 2
  wrk -t2 -c"${BENCH_CONNS:-32}" -d"$DURATION" --latency "$@" "$url" >"$OUT/wrk-$name.txt" 2>&1
  python3 - "$OUT/wrk-$name.txt" <<'EOF'
import re,sys
t=open(sys.argv[1]).read()
def ms(v):
    n=float(re.match(r"[\d.]+",v).group()); u=v[len(re.match(r"[\d.]+",v).group()):]
    return n*{"us":0.001,"ms":1,"s":1000}.get(u,1)
rps=float(re.search(r"Requests/sec:\s+([\d.]+)",t).group(1))
p50=ms(re.search(r"^\s+50%\s+(\S+)",t,re.M).group(1)); p99=ms(re.search(r"^\s+99%\s+(\S+)",t,re.M).group(1))
non2xx=re.search(r"Non-2xx or 3xx responses:\s+(\d+)",t); err=re.search(r"Socket errors:.*",t)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {non2xx.group(1) if non2xx else 0}")
EOF
}
log "wrk: /healthz through trm-init (full speed)"
p0=$(pings); q0=$(seen); s0=$(date +%s.%N)
read -r h_rps h_p50 h_p99 h_bad < <(wrk_run healthz "$HEALTHZ")
s1=$(date +%s.%N); p1=$(pings); q1=$(seen); rss_flood=$(rss)
full_pings_per_s=$(python3 -c "print(f'{($p1-$p0)/($s1-$s0):.2f}')")
full_seen_per_s=$(python3 -c "print(f'{($q1-$q0)/($s1-$s0):.2f}')")
log "wrk: upstream /server/ping directly"
read -r u_rps u_p50 u_p99 u_bad < <(wrk_run upstream "http://127.0.0.1:$PORT_UP/server/ping")

# 3. A ~5,000 probes/s flood: 55 connections, each waiting 10 ms between requests.
echo 'function delay() return 10 end' >"$OUT/delay.lua"
log "wrk: ~5,000 probes/s on /healthz"
sleep 3
p0=$(pings); q0=$(seen); s0=$(date +%s.%N)
read -r f_rps f_p50 f_p99 f_bad < <(BENCH_CONNS=55 wrk_run flood "$HEALTHZ" -s "$OUT/delay.lua")
s1=$(date +%s.%N); p1=$(pings); q1=$(seen)
flood_pings_per_s=$(python3 -c "print(f'{($p1-$p0)/($s1-$s0):.2f}')")
flood_seen_per_s=$(python3 -c "print(f'{($q1-$q0)/($s1-$s0):.2f}')")
sleep 4
rss_after=$(rss)

# 3b. The floor: a second trm-init with cache_ttl = 0 probing the same upstream, flooded at full speed.
log "wrk: full speed on a trm-init with health.cache_ttl = 0s"
TRM_INIT_HEALTH__LISTEN=127.0.0.1:$((PORT_H + 1)) TRM_INIT_HEALTH__CACHE_TTL=0s \
  "$BIN" run --no-preflight -- sleep 3600 >/dev/null 2>"$OUT/trm-init-ttl0.log" &
pids+=("$!")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((PORT_H + 1))/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
z0=$(grep -c "upstream ping" "$OUT/trm-init-ttl0.log" || true); s0=$(date +%s.%N)
read -r z_rps z_p50 z_p99 z_bad < <(wrk_run ttl0 "http://127.0.0.1:$((PORT_H + 1))/healthz")
s1=$(date +%s.%N); z1=$(grep -c "upstream ping" "$OUT/trm-init-ttl0.log" || true)
ttl0_pings_per_s=$(python3 -c "print(f'{($z1-$z0)/($s1-$s0):.2f}')")

# 4. Signal forwarding while /healthz is flooded: a third trm-init supervises a Python child that logs
# CLOCK_MONOTONIC when SIGUSR1 arrives; the driver logs it just before kill(trm-init, SIGUSR1).
cat >"$OUT/sigchild.py" <<'EOF'
import signal, sys, time
out = open(sys.argv[1], "a", buffering=1)
signal.signal(signal.SIGUSR1, lambda *a: out.write(f"{time.monotonic_ns()}\n"))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    signal.pause()
EOF
cat >"$OUT/sigdriver.py" <<'EOF'
import os, signal, statistics, sys, time
pid, log, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lat = []
for _ in range(n):
    before = len(open(log).read().split())
    t = time.monotonic_ns()
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while len(lines := open(log).read().split()) <= before and time.monotonic() < deadline:
        time.sleep(0.0001)
    lat.append((int(lines[-1]) - t) / 1e6 if len(lines) > before else 5000.0)
    time.sleep(0.02)
lat.sort()
print(f"{statistics.median(lat):.2f} {lat[int(len(lat) * 0.95) - 1]:.2f} {lat[-1]:.2f}")
EOF
: >"$OUT/signals.log"
PORT_S=$((PORT_H + 2))
TRM_INIT_HEALTH__LISTEN=127.0.0.1:$PORT_S "$BIN" run --no-preflight -- python3 "$OUT/sigchild.py" "$OUT/signals.log" \
  >/dev/null 2>"$OUT/trm-init-signals.log" &
sig_pid=$!
pids+=("$sig_pid")
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT_S/livez" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5
log "signal latency, quiet"
read -r q_med q_p95 q_max < <(python3 "$OUT/sigdriver.py" "$sig_pid" "$OUT/signals.log" 100)
log "signal latency, another process's /healthz flooded (the same CPU contention)"
wrk -t2 -c32 -d15s "http://127.0.0.1:$((PORT_H + 1))/healthz" >"$OUT/wrk-signals-other.txt" 2>&1 &
wrk_pid=$!
sleep 1
read -r o_med o_p95 o_max < <(python3 "$OUT/sigdriver.py" "$sig_pid" "$OUT/signals.log" 100)
wait "$wrk_pid" || true
o_rps=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$OUT/wrk-signals-other.txt")
log "signal latency, /healthz flooded"
wrk -t2 -c32 -d15s "http://127.0.0.1:$PORT_S/healthz" >"$OUT/wrk-signals.txt" 2>&1 &
wrk_pid=$!
sleep 1
read -r l_med l_p95 l_max < <(python3 "$OUT/sigdriver.py" "$sig_pid" "$OUT/signals.log" 100)
wait "$wrk_pid" || true
l_rps=$(awk '/Requests\/sec/{printf "%.0f", $2}' "$OUT/wrk-signals.txt")

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
cat <<EOF | tee "$OUT/health.md"
Run $(date -u +%Y-%m-%dT%H:%MZ) by \`bench/health.sh\` on $(nproc) CPUs ($cpu), shared with other work;
upstream: $upstream_name, supervised by trm-init (release build, $(stat -c %s "$BIN") bytes).
Directus answered its first pong ${ready_line:-?} s after start.

**Probe client wall time** (hyperfine -N, ${BENCH_RUNS:-300} runs each, the same /healthz answering 200):

| client | mean ms | σ ms | ratio to curl |
|---|---|---|---|
| \`trm-init health\` | $t_trm | $(sd "trm-init health") | $(ratio "$t_trm" "$t_curl") |
| \`curl -sf\` | $t_curl | $(sd "curl -sf") | 1.00 |
| \`busybox wget -q -O-\` | $t_wget | $(sd "busybox wget -q -O-") | $(ratio "$t_wget" "$t_curl") |

**Throughput and latency** (wrk -t2 -c${BENCH_CONNS:-32} -d$DURATION, keep-alive; load generator on the same CPUs):

| endpoint | req/s | p50 ms | p99 ms | non-2xx |
|---|---|---|---|---|
| trm-init /healthz | $h_rps | $h_p50 | $h_p99 | $h_bad |
| upstream /server/ping directly | $u_rps | $u_p50 | $u_p99 | $u_bad |

/healthz / direct ping throughput: $(ratio "$h_rps" "$u_rps")x.

**Upstream pings while /healthz is flooded** (health.cache_ttl = 1s, the default):

| probe rate | pings/s sent (trm-init's log) | pings/s received (upstream's log) |
|---|---|---|
| $f_rps probes/s (wrk -c55 with 10 ms between requests) | $flood_pings_per_s | $flood_seen_per_s |
| $h_rps probes/s (full speed) | $full_pings_per_s | $full_seen_per_s |

With \`health.cache_ttl = "0s"\` (the 100 ms floor applies), flooded at full speed ($z_rps probes/s):
$ttl0_pings_per_s upstream pings/s.

**Signal forwarding while flooded** (SIGUSR1 to trm-init until the supervised child's handler runs;
100 signals, 20 ms apart; median / p95 / max ms):

| health server | median | p95 | max |
|---|---|---|---|
| quiet | $q_med | $q_p95 | $q_max |
| quiet, while another trm-init's /healthz is flooded ($o_rps probes/s): CPU contention alone | $o_med | $o_p95 | $o_max |
| its own /healthz flooded by wrk -t2 -c32 ($l_rps probes/s over the run) | $l_med | $l_p95 | $l_max |

trm-init resident memory: ${rss_idle} kB quiet before, ${rss_flood} kB right after the full-speed flood,
${rss_after} kB 4 s after the last flood.
EOF
log "raw outputs in $OUT"

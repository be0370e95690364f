#!/usr/bin/env bash
# Issue 27 item 1 in the real container and in the rehearsal: a warm restart to the first `pong` of
# /server/ping under trm-init against a bare `node cli.js start` of the same image on the same database,
# egress open (no proxy: Directus's npm update check goes out as it would in production), interleaved,
# in one run. Prints Markdown for docs/benchmarks.md.
#
# Eight ways of restarting, each measured once per round, the order rotating round by round:
#   engine    trm   `docker start` of a stopped container of the image (trm-init as PID 1, as shipped:
#                   the compile cache of earlier boots, child.direct_start, whatever the image defaults to)
#             nohook the same, created with `TRM_INIT_CHILD__RESOLVE_HOOK=false` (everything else as shipped)
#             off   the same, created with `TRM_INIT_CHILD__COMPILE_CACHE=false`,
#                   `TRM_INIT_CHILD__DIRECT_START=false` and `TRM_INIT_CHILD__RESOLVE_HOOK=false` (trm-init
#                   without the technique)
#             bare  the same image with `--entrypoint node` and `cli.js start`: no trm-init, no cache
#   rehearsal trm / nohook / off / bare: the same four, on the image's files `docker export`ed into a folder and
#                   booted with `unshare --pid --fork --mount-proc --root` as the image's USER (as
#                   tests/image_rehearsal.rs runs a container), no engine.
# One database for all eight: booted cold once by the image (schema, migrations, access), so every restart
# afterwards finds it warm (trm-init skips its preflight by fingerprint). Each way is started once, untimed,
# before the rounds (its first boot: the runtime compile cache of the engine's containers and of the
# rehearsal's folder fills then; Directus's own first start on the database happens there too).
# Stops: every way is stopped as `docker stop -t 5` stops a container (TERM, KILL after 5 s; the rehearsal
# sends the same to its PID 1), untimed. The bare start needs the KILL: Directus's shutdown ends by
# re-raising SIGTERM at itself with its handler removed, and a PID 1 (the container's, or the rehearsal's
# namespace init) never receives a signal it has no handler for, so node stays alive, idle, after
# "Directus shut down OK" (in the engine that is the 137 of a stopped bare container). The bench of round 7
# waited for that exit without a limit in the rehearsal, which is why its bare start seemed never to
# answer: the rounds never got past the first stop.
# The rehearsal gets what the engine gives a container: the host's /etc/resolv.conf and /etc/hosts (bound
# read-only over the exported placeholders, as tests/image_rehearsal.rs does; --network host copies
# them), HOME from the image's /etc/passwd and a HOSTNAME.
# Needs: root, scripts/pg-up.sh's PostgreSQL, the engine (scripts/docker-up.sh) and the stand-ins. The image
# is `docker build` of the checkout (layer cache: seconds when its inputs have not changed).
# Usage: bench/container-restart.sh [ROUNDS] (default 5). Logs: /tmp/bench-restart-rehearsal.log.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
rounds=${1:-5}
log() { echo "[bench container-restart] $*" >&2; }
t_start=$(date +%s)
# In a session of its own: a dockerd this script starts must outlive a kill of the bench's process group.
eval "$(setsid --wait scripts/docker-up.sh)"
trm_pg
stand-ins/build.sh >&2
image=trm-directus:bench
docker build --pull=false --force-rm -q -t "$image" . >/dev/null

db=bench_restart_$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
health=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
env=(DB_CLIENT=pg DB_HOST="$DB_HOST" DB_PORT="$DB_PORT" DB_USER="$DB_USER" DB_PASSWORD="$DB_PASSWORD"
  DB_DATABASE="$db" SECRET=bench-secret-bench-secret-bench-secret ADMIN_EMAIL=admin@example.com
  ADMIN_PASSWORD=bench-admin HOST=127.0.0.1 PORT="$port" TELEMETRY=false
  TRM_INIT_HEALTH__LISTEN=127.0.0.1:$health TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:$port/server/ping
  'TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS=["postgis"]')
off=(TRM_INIT_CHILD__COMPILE_CACHE=false TRM_INIT_CHILD__DIRECT_START=false TRM_INIT_CHILD__RESOLVE_HOOK=false)
nohook=(TRM_INIT_CHILD__RESOLVE_HOOK=false)
denv=()
for e in "${env[@]}"; do denv+=(-e "$e"); done

# The rehearsal's root: the image's own files, outside the engine (ownership kept: tar runs as root).
root=$(mktemp -d /tmp/bench-restart.XXXXXX)
declare -A ctr
# The rehearsal's PID 1 (outer view) while one runs, for cleanup: rehearsal_start runs in `$(restart ...)`.
pidfile=$root.pid
cleanup() {
  for id in "${ctr[@]}"; do docker rm -f "$id" >/dev/null 2>&1 || true; done
  if [[ -s $pidfile ]]; then kill -KILL "$(cat "$pidfile")" 2>/dev/null || true; fi
  rm -f "$pidfile"
  rm -rf --one-file-system "$root" "$root.run.sh"
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
source bench/rehearsal-root.sh
rehearsal_root "$image" "$root"
image_env+=(HOME="$image_home" HOSTNAME=rehearsal)

# rehearsal_start CMD -- ENV...: the inner unshare (its private mount namespace holds the /dev bind
# mount) runs CMD as PID 1 of a new PID namespace; sets rehearsal_pid (the outer unshare).
rehearsal_start() {
  local cmd=() script=$root.run.sh
  while [[ $1 != -- ]]; do cmd+=("$1"); shift; done
  shift
  {
    echo 'set -e'
    echo "mount --rbind /dev '$root/dev'"
    echo "mount --bind -o ro /etc/resolv.conf '$root/etc/resolv.conf'"
    echo "mount --bind -o ro /etc/hosts '$root/etc/hosts'"
    printf 'exec unshare --pid --fork --mount-proc --root=%q --wd=%q --setuid=%s --setgid=%s --' \
      "$root" "$image_workdir" "$image_uid" "$image_gid"
    printf ' %q' "${cmd[@]}"
    echo
  } >"$script"
  env -i "${image_env[@]}" "$@" unshare --mount --propagation private -- /bin/sh "$script" \
    >>/tmp/bench-restart-rehearsal.log 2>&1 &
  rehearsal_pid=$!
}
# rehearsal_stop: `docker stop -t 5` of the rehearsal: TERM to its PID 1, KILL if alive after 5 s.
rehearsal_stop() {
  local pid1="" i
  until pid1=$(pgrep -P "$rehearsal_pid"); do sleep 0.05; done
  echo "$pid1" >"$pidfile"
  kill -TERM "$pid1" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid1" 2>/dev/null || true
  wait "$rehearsal_pid" || true
  : >"$pidfile"
}

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%d", (b-a)*1000}'; }
# up WHAT: until the first pong; a boot that ends before it fails the run (its log says why).
up() {
  until curl -fs -o /dev/null "http://127.0.0.1:$port/server/ping"; do
    case $1 in
      rehearsal_*) kill -0 "$rehearsal_pid" 2>/dev/null || { log "$1 ended before its first pong:"; tail -20 /tmp/bench-restart-rehearsal.log >&2; exit 1; } ;;
      *) [[ $(docker inspect -f '{{.State.Running}}' "${ctr[$1]}") == true ]] || { log "$1 ended before its first pong:"; docker logs --tail 20 "${ctr[$1]}" >&2; exit 1; } ;;
    esac
    sleep 0.05
  done
}
# restart WAY: ms from the start to the first pong, then stopped (not timed).
restart() {
  local way=$1 t0 t
  t0=$(now)
  case $way in
    engine_*) docker start "${ctr[$way]}" >/dev/null ;;
    rehearsal_trm) rehearsal_start "${image_entrypoint[@]}" -- "${env[@]}" ;;
    rehearsal_off) rehearsal_start "${image_entrypoint[@]}" -- "${env[@]}" "${off[@]}" ;;
    rehearsal_nohook) rehearsal_start "${image_entrypoint[@]}" -- "${env[@]}" "${nohook[@]}" ;;
    rehearsal_bare) rehearsal_start node cli.js start -- "${env[@]}" ;;
  esac
  up "$way"
  t=$(ms "$t0" "$(now)")
  case $way in
    engine_*) docker stop -t 5 "${ctr[$way]}" >/dev/null ;;
    *) rehearsal_stop ;;
  esac
  echo "$t"
}

log "cold boot of $db by the image (untimed: it only makes the database warm)"
ctr[engine_trm]=$(docker create --network host --pull never "${denv[@]}" "$image")
offenv=()
for e in "${off[@]}"; do offenv+=(-e "$e"); done
ctr[engine_off]=$(docker create --network host --pull never "${denv[@]}" "${offenv[@]}" "$image")
ctr[engine_nohook]=$(docker create --network host --pull never "${denv[@]}" -e "${nohook[0]}" "$image")
ctr[engine_bare]=$(docker create --network host --pull never "${denv[@]}" --entrypoint node "$image" cli.js start)
ways=(engine_trm engine_nohook engine_off engine_bare rehearsal_trm rehearsal_nohook rehearsal_off rehearsal_bare)
for way in "${ways[@]}"; do
  t=$(restart "$way")
  log "$way: first start (untimed) took $t ms"
done

declare -A times
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$rounds"); do
  for j in $(seq 0 7); do
    way=${ways[$(((i + j) % 8))]}
    t=$(restart "$way")
    log "round $i $way: $t ms"
    times[$way]+=" $t"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
took=$(($(date +%s) - t_start))

median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk 'NR==1 {lo=$1} {hi=$1} END {print lo " – " hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
# wins A B: in how many rounds A was faster than B (the same round's pair).
wins() {
  paste <(tr ' ' '\n' <<<"${times[$1]}" | sed '/^$/d') <(tr ' ' '\n' <<<"${times[$2]}" | sed '/^$/d') |
    awk '$1 < $2 {n++} END {print n + 0 "/" NR}'
}
declare -A med
for way in "${ways[@]}"; do med[$way]=$(median <<<"${times[$way]}"); done

echo "$(date -u +%F), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), PostgreSQL on loopback, one warm database, egress open, $rounds rounds, the eight ways interleaved; load average $load_before before the rounds, $load_after after; the whole run took $((took / 60)) min $((took % 60)) s."
echo
echo "| warm restart to first pong | engine: median ms | min – max | ratio vs bare | rehearsal: median ms | min – max | ratio vs bare |"
echo "|---|---|---|---|---|---|---|"
for row in "bare bare \`node cli.js start\` of the same image (no trm-init)" \
  "off trm-init without the technique (\`child.compile_cache = false\`, \`child.direct_start = false\`, \`child.resolve_hook = false\`)" \
  "nohook trm-init as shipped but \`child.resolve_hook = false\`" \
  "trm trm-init as the image ships it"; do
  w=${row%% *} name=${row#* }
  e=engine_$w r=rehearsal_$w
  if [[ $w == bare ]]; then
    re="1.00x" rr="1.00x"
  else
    re="$(ratio "${med[$e]}" "${med[engine_bare]}")x (faster in $(wins "$e" engine_bare) rounds)"
    rr="$(ratio "${med[$r]}" "${med[rehearsal_bare]}")x (faster in $(wins "$r" rehearsal_bare) rounds)"
  fi
  echo "| $name | ${med[$e]} | $(range <<<"${times[$e]}") | $re | ${med[$r]} | $(range <<<"${times[$r]}") | $rr |"
done

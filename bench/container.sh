#!/usr/bin/env bash
# The image in the real engine, side by side in one run (prints Markdown for docs/benchmarks.md):
#   * cold boot (empty database) and warm restart to the first `pong`: the project's image (trm-init as
#     PID 1) in the engine, the same image's filesystem booted the rehearsal's way (no engine: `docker
#     export`ed into a folder, then `unshare --pid --fork --mount-proc --root` as USER, as
#     tests/image_rehearsal.rs runs a container), and the official image's own boot (`bootstrap && pm2-runtime`, in a variant of the Directus stand-in;
#     pm2 is the one Directus 11.17.4 depends on, 6.0.14 from the npm registry, where the official image
#     installs it globally), to the first `pong` of /server/ping;
#   * `docker stop` time and exit code, both;
#   * image size and the size of each layer the project adds over directus/directus:11.17.4;
#   * rebuild time after a change to snapshots/ only vs after a change to src/.
# Needs: root, scripts/pg-up.sh's PostgreSQL, the engine (scripts/docker-up.sh) and the stand-ins.
# Usage: bench/container.sh [RUNS] (default 3; medians; the three boots interleaved, order rotating).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
runs=${1:-3}
log() { echo "[bench container] $*" >&2; }
eval "$(scripts/docker-up.sh)"
trm_pg
stand-ins/build.sh >&2
image=trm-directus:bench
docker build --pull=false --force-rm -q -t "$image" . >/dev/null

# The official boot, as directus/directus's shell-form CMD runs it: /bin/sh -c as PID 1, bootstrap, then
# pm2-runtime as the shell's child (the shell is what docker stop signals).
pm2_image=trm-stand-in/directus-pm2:11.17.4
ctx=$(mktemp -d)
cat >"$ctx/ecosystem.config.cjs" <<'JS'
// The official image's process file, in its essentials: one Directus (cli.js start) under pm2-runtime.
module.exports = { apps: [{ name: 'directus', script: 'cli.js', args: ['start'], exec_mode: 'fork', instances: 1 }] };
JS
cat >"$ctx/Dockerfile" <<'DF'
FROM directus/directus:11.17.4
COPY ecosystem.config.cjs /directus/ecosystem.config.cjs
CMD ["/bin/sh", "-c", "node cli.js bootstrap && node_modules/.bin/pm2-runtime start ecosystem.config.cjs"]
DF
docker build --pull=false --force-rm -q -t "$pm2_image" "$ctx" >/dev/null 2>&1
rm -rf "$ctx"

# The rehearsal's root: the image's own files, outside the engine (ownership kept: tar runs as root).
rehearsal_root=$(mktemp -d /tmp/bench-rehearsal.XXXXXX)
source bench/rehearsal-root.sh
rehearsal_root "$image" "$rehearsal_root"
trap 'rm -rf --one-file-system "$rehearsal_root" "$rehearsal_root.run.sh"' EXIT

# rehearsal_start ENV...: sets rehearsal_pid, the inner unshare (the /dev bind mount lives in its private
# mount namespace); trm-init is its child. Called in run_one's shell, which then waits for it.
rehearsal_start() {
  local script=$rehearsal_root.run.sh
  {
    echo 'set -e'
    echo "mount --rbind /dev '$rehearsal_root/dev'"
    printf 'exec unshare --pid --fork --mount-proc --root=%q --wd=%q --setuid=%s --setgid=%s --' \
      "$rehearsal_root" "$image_workdir" "$image_uid" "$image_gid"
    printf ' %q' "${image_entrypoint[@]}"
    echo
  } >"$script"
  env -i "${image_env[@]}" "$@" unshare --mount --propagation private -- /bin/sh "$script" \
    >>/tmp/bench-rehearsal.log 2>&1 &
  rehearsal_pid=$!
}
# The rehearsal's `docker stop`: STOPSIGNAL (TERM) to PID 1, then its exit status in rehearsal_code.
rehearsal_stop() {
  local pid1=""
  until pid1=$(pgrep -P "$rehearsal_pid"); do sleep 0.05; done
  kill -TERM "$pid1"
  rehearsal_code=0
  wait "$rehearsal_pid" || rehearsal_code=$?
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%d", (b-a)*1000}'; }

# run_one KIND DB -> "cold_ms warm_ms stop_ms exit_code"; KIND is trm (engine), rehearsal or pm2.
run_one() {
  local kind=$1 db=$2 port health id="" t0 cold warm stop code
  port=$(free_port) health=$(free_port)
  psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
  local env=(DB_CLIENT=pg DB_HOST="$DB_HOST" DB_PORT="$DB_PORT" DB_USER="$DB_USER" DB_PASSWORD="$DB_PASSWORD"
    DB_DATABASE="$db" SECRET=bench-secret-bench-secret-bench-secret ADMIN_EMAIL=admin@example.com
    ADMIN_PASSWORD=bench-admin HOST=127.0.0.1 PORT="$port" TELEMETRY=false
    HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost)
  if [[ $kind != pm2 ]]; then
    env+=(TRM_INIT_HEALTH__LISTEN=127.0.0.1:$health TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:$port/server/ping
      'TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS=["postgis"]')
  fi
  local denv=()
  for e in "${env[@]}"; do denv+=(-e "$e"); done
  # Until the first pong; a boot that ends before it fails the run (its log says why).
  up() {
    until curl -fs -o /dev/null "http://127.0.0.1:$port/server/ping"; do
      if [[ $kind == rehearsal ]] && ! kill -0 "$rehearsal_pid" 2>/dev/null; then
        log "the rehearsal boot ended before its first pong: /tmp/bench-rehearsal.log"; tail -20 /tmp/bench-rehearsal.log >&2; exit 1
      elif [[ $kind != rehearsal && -n ${id:-} && $(docker inspect -f '{{.State.Running}}' "$id") != true ]]; then
        log "container $id ended before its first pong:"; docker logs --tail 20 "$id" >&2; exit 1
      fi
      sleep 0.1
    done
  }
  case $kind in
    rehearsal)
      t0=$(now); rehearsal_start "${env[@]}"; up; cold=$(ms "$t0" "$(now)")
      until curl -fs -o /dev/null "http://127.0.0.1:$health/readyz"; do sleep 0.1; done
      t0=$(now); rehearsal_stop; stop=$(ms "$t0" "$(now)"); code=$rehearsal_code
      t0=$(now); rehearsal_start "${env[@]}"; up; warm=$(ms "$t0" "$(now)")
      rehearsal_stop
      ;;
    *)
      [[ $kind == trm ]] && img=$image || img=$pm2_image
      t0=$(now); id=$(docker run -d --network host --pull never "${denv[@]}" "$img"); up; cold=$(ms "$t0" "$(now)")
      if [[ $kind == trm ]]; then
        until [[ $(docker inspect -f '{{.State.Health.Status}}' "$id") == healthy ]]; do sleep 0.1; done
      fi
      t0=$(now); docker stop "$id" >/dev/null; stop=$(ms "$t0" "$(now)")
      code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
      t0=$(now); docker start "$id" >/dev/null; up; warm=$(ms "$t0" "$(now)")
      docker rm -f "$id" >/dev/null
      ;;
  esac
  psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
  echo "$cold $warm $stop $code"
}

declare -A res
kinds=(trm rehearsal pm2)
for kind in "${kinds[@]}"; do : >"/tmp/bench-container-$kind"; done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$runs"); do
  for j in 0 1 2; do
    kind=${kinds[$(((i + j) % 3))]}
    r=$(run_one "$kind" "bench_ctr_${kind}_$$_$i")
    log "$kind run $i: cold/warm/stop ms, exit: $r"
    echo "$r" >>"/tmp/bench-container-$kind"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for kind in "${kinds[@]}"; do
  for col in 1 2 3; do res[$kind,$col]=$(awk -v c=$col '{print $c}' "/tmp/bench-container-$kind" | median); done
  res[$kind,4]=$(awk '{print $4}' "/tmp/bench-container-$kind" | sort -u | tr '\n' ' ')
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

echo "$(date -u +%F), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $load_before before, $load_after after."
echo
echo "| to first pong (median of $runs) | trm-init image, engine | same image, rehearsal (no engine) | official boot (pm2-runtime) | engine / rehearsal | engine / official |"
echo "|---|---|---|---|---|---|"
for row in "1 cold boot, empty database" "2 warm restart (\`docker start\` / rehearsal start)"; do
  c=${row%% *} name=${row#* }
  echo "| $name | ${res[trm,$c]} ms | ${res[rehearsal,$c]} ms | ${res[pm2,$c]} ms | $(ratio "${res[trm,$c]}" "${res[rehearsal,$c]}")x | $(ratio "${res[trm,$c]}" "${res[pm2,$c]}")x |"
done
echo "| \`docker stop\` (rehearsal: TERM to PID 1) | ${res[trm,3]} ms (exit ${res[trm,4]% }) | ${res[rehearsal,3]} ms (exit ${res[rehearsal,4]% }) | ${res[pm2,3]} ms (exit ${res[pm2,4]% }) | $(ratio "${res[trm,3]}" "${res[rehearsal,3]}")x | $(ratio "${res[trm,3]}" "${res[pm2,3]}")x |"
echo

base=$(docker image inspect -f '{{.Size}}' directus/directus:11.17.4)
total=$(docker image inspect -f '{{.Size}}' "$image")
echo "Image: $((total / 1000000)) MB, of which $(((total - base) / 1000000)) MB over the base (directus/directus:11.17.4 stand-in, $((base / 1000000)) MB)."
echo
echo "| layer the project adds | size |"
echo "|---|---|"
n_base=$(docker history -q directus/directus:11.17.4 | wc -l)
docker history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' "$image" | head -n -"$n_base" | tac |
  awk -F'\t' '{c=$2; sub(/^\/bin\/sh -c #\(nop\) */, "", c); sub(/(file|dir):[0-9a-f]+ /, " ", c); gsub(/  +/, " ", c); if (length(c) > 90) c = substr(c, 1, 90) "..."; gsub(/\|/, "\\|", c); print "| `" c "` | " $1 " |"}'
echo

# Rebuilds: a change to snapshots/ only rebuilds the late layers; a change to src/ rebuilds trm-init.
rebuild() {
  local file=$1 comment=$2 t0 t
  cp "$file" "$file.bench-orig"
  echo "$comment bench $(date +%s%N)" >>"$file"
  t0=$(now); docker build --pull=false --force-rm -q -t trm-directus:bench-rebuild . >/dev/null; t=$(ms "$t0" "$(now)")
  mv "$file.bench-orig" "$file"
  echo "$t"
}
snap=$(rebuild snapshots/README.md "<!--")
src=$(rebuild src/exit.rs "//")
docker rmi trm-directus:bench-rebuild >/dev/null 2>&1 || true
docker build --pull=false -q -t "$image" . >/dev/null   # back to the checkout's layers
echo "| rebuild after a change to | time |"
echo "|---|---|"
echo "| \`snapshots/\` only | ${snap} ms |"
echo "| \`src/\` | ${src} ms ($(ratio "$src" "$snap")x) |"

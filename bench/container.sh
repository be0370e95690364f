#!/usr/bin/env bash
# The image in the real engine, side by side in one run (prints Markdown for docs/benchmarks.md):
#   * cold boot (empty database) and warm restart to `healthy`: the project's image (trm-init as PID 1)
#     vs the official image's own boot (`bootstrap && pm2-runtime`, in a variant of the Directus stand-in;
#     pm2 is the one Directus 11.17.4 depends on, 6.0.14 from the npm registry, where the official image
#     installs it globally), to the first `pong` of /server/ping;
#   * `docker stop` time and exit code, both;
#   * image size and the size of each layer the project adds over directus/directus:11.17.4;
#   * rebuild time after a change to snapshots/ only vs after a change to src/.
# Needs: root, scripts/pg-up.sh's PostgreSQL, the engine (scripts/docker-up.sh) and the stand-ins.
# Usage: bench/container.sh [RUNS] (default 3; medians).
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%d", (b-a)*1000}'; }

# run_one KIND DB -> "cold_ms warm_ms stop_ms exit_code"
run_one() {
  local kind=$1 db=$2 port health id t0 cold warm stop code
  port=$(free_port) health=$(free_port)
  psql -X -q -d postgres -c "CREATE DATABASE $db" >/dev/null
  local env=(-e DB_CLIENT=pg -e DB_HOST="$DB_HOST" -e DB_PORT="$DB_PORT" -e DB_USER="$DB_USER" -e DB_PASSWORD="$DB_PASSWORD"
    -e DB_DATABASE="$db" -e SECRET=bench-secret-bench-secret-bench-secret -e ADMIN_EMAIL=admin@example.com
    -e ADMIN_PASSWORD=bench-admin -e HOST=127.0.0.1 -e PORT="$port" -e TELEMETRY=false
    -e HTTPS_PROXY=http://127.0.0.1:9 -e NO_PROXY=127.0.0.1,localhost)
  if [[ $kind == trm ]]; then
    env+=(-e TRM_INIT_HEALTH__LISTEN=127.0.0.1:$health -e TRM_INIT_HEALTH__UPSTREAM=http://127.0.0.1:$port/server/ping
      -e 'TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS=["postgis"]')
    img=$image
  else
    img=$pm2_image
  fi
  up() { until curl -fs -o /dev/null "http://127.0.0.1:$port/server/ping"; do sleep 0.1; done; }
  t0=$(now); id=$(docker run -d --network host --pull never "${env[@]}" "$img"); up; cold=$(ms "$t0" "$(now)")
  if [[ $kind == trm ]]; then
    until [[ $(docker inspect -f '{{.State.Health.Status}}' "$id") == healthy ]]; do sleep 0.1; done
  fi
  t0=$(now); docker stop "$id" >/dev/null; stop=$(ms "$t0" "$(now)")
  code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
  t0=$(now); docker start "$id" >/dev/null; up; warm=$(ms "$t0" "$(now)")
  docker rm -f "$id" >/dev/null
  psql -X -q -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
  echo "$cold $warm $stop $code"
}

declare -A res
for kind in trm pm2; do
  : >"/tmp/bench-container-$kind"
  for i in $(seq 1 "$runs"); do
    r=$(run_one "$kind" "bench_ctr_${kind}_$$_$i")
    log "$kind run $i: cold/warm/stop ms, exit: $r"
    echo "$r" >>"/tmp/bench-container-$kind"
  done
  for col in 1 2 3; do res[$kind,$col]=$(awk -v c=$col '{print $c}' "/tmp/bench-container-$kind" | median); done
  res[$kind,4]=$(awk '{print $4}' "/tmp/bench-container-$kind" | sort -u | tr '\n' ' ')
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

echo "| to first pong (median of $runs) | trm-init image | official boot (pm2-runtime) | ratio |"
echo "|---|---|---|---|"
echo "| cold boot, empty database | ${res[trm,1]} ms | ${res[pm2,1]} ms | $(ratio "${res[trm,1]}" "${res[pm2,1]}")x |"
echo "| warm \`docker start\` | ${res[trm,2]} ms | ${res[pm2,2]} ms | $(ratio "${res[trm,2]}" "${res[pm2,2]}")x |"
echo "| \`docker stop\` | ${res[trm,3]} ms (exit ${res[trm,4]% }) | ${res[pm2,3]} ms (exit ${res[pm2,4]% }) | $(ratio "${res[trm,3]}" "${res[pm2,3]}")x |"
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

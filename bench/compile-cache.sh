#!/usr/bin/env bash
# Issue 27: a warm restart to the first pong (Directus's GET /server/ping = 200) with Node's compile cache,
# in one run, interleaved, egress open, on one warm database (Directus installed, snapshot applied):
#   bare      `node cli.js start`, no NODE_COMPILE_CACHE (the baseline)
#   off       trm-init, child.compile_cache = false (the restart before this issue)
#   cache     trm-init, child.compile_cache_dir a writable cache that earlier boots filled (a restart)
#   image     trm-init, child.compile_cache_dir a fresh copy of what the image build makes
#             (compile-cache/warm.mjs, as in the Dockerfile): a new replica's first boot / a read-only root
#   runjs     as `cache`, with child.direct_start = false: the child through cli/run.js start (before
#             issue 27 item 1's direct start); off, cache and image start @directus/api's start.js
# Each round runs the five in a rotated order. Prints a Markdown table for docs/benchmarks.md with the
# load average. Usage: bench/compile-cache.sh [ROUNDS]   (default 5)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
repo=$TRM_REPO
runs=${1:-5}
log() { echo "[bench] $*" >&2; }

source "$repo/bench/boot-common.sh"
caches=$(mktemp -d)
trap 'kill $hole_pid 2>/dev/null; rm -rf "$out" "$work" "$caches"' EXIT
unset NODE_COMPILE_CACHE

log "the build-time cache: compile-cache/warm.mjs (as the Dockerfile runs it)"
warm_start=$(date +%s.%N)
env DB_CLIENT=pg DB_HOST=127.0.0.1 DB_PORT=9 DB_DATABASE=warm DB_USER=warm SECRET=warm \
  NODE_COMPILE_CACHE="$caches/image" node compile-cache/warm.mjs "$dx" >&2
warm_s=$(awk -v a="$warm_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
image_entries=$(find "$caches/image" -type f | wc -l)
image_size=$(du -sm "$caches/image" | cut -f1)
mkdir "$caches/runtime"

db=bench_cc_$$
log "preparing the warm database $db (one full trm-init boot, which also fills the runtime cache)"
admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"
admin_sql "CREATE DATABASE $db"
boot prepare "$db" open env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/runtime" "$trm" >/dev/null
grep -q "fingerprint recorded" "$out/prepare.log" || { log "the warm-up boot did not apply the schema"; cat "$out/prepare.log" >&2; exit 1; }
# One cli/run.js start too, so the runtime cache also holds the CLI's modules (what a restart before
# direct_start had cached): both restart variants then start from a filled cache.
boot warmup "$db" open env TRM_INIT_CHILD__DIRECT_START=false TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/runtime" "$trm" >/dev/null
runtime_entries=$(find "$caches/runtime" -type f | wc -l)

declare -A t
order=(bare off cache image runjs bare off cache image runjs)
for i in $(seq 1 "$runs"); do
  log "round $i/$runs"
  for who in "${order[@]:$(( (i - 1) % 5 )):5}"; do
    case $who in
      bare) t[bare]+=" $(boot bare "$db" open node "$dx/cli.js" start)" ;;
      off) t[off]+=" $(boot off "$db" open env TRM_INIT_CHILD__COMPILE_CACHE=false "$trm")" ;;
      cache)
        t[cache]+=" $(boot cache "$db" open env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/runtime" "$trm")"
        grep -q "the main child gets NODE_COMPILE_CACHE" "$out/cache.log" || { log "no cache:"; cat "$out/cache.log" >&2; exit 1; } ;;
      image)
        rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
        t[image]+=" $(boot image "$db" open env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" "$trm")" ;;
      runjs)
        t[runjs]+=" $(boot runjs "$db" open env TRM_INIT_CHILD__DIRECT_START=false TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/runtime" "$trm")"
        grep -q "the main child gets NODE_COMPILE_CACHE" "$out/runjs.log" || { log "no cache:"; cat "$out/runjs.log" >&2; exit 1; } ;;
    esac
  done
  for who in off cache image runjs; do
    grep -q "bootstrap and schema apply skipped" "$out/$who.log" || { log "$who did not skip the step:"; cat "$out/$who.log" >&2; exit 1; }
  done
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"

ratio() { awk -v a="$(median "${t[$1]}")" -v b="$(median "${t[$2]}")" 'BEGIN {printf "%.2f", a / b}'; }
row() { read -r m lo hi <<<"$(stats "${t[$2]}")"; printf '| %s | %.2f | %.2f – %.2f | %s |\n' "$1" "$m" "$lo" "$hi" "$3"; }
faster() { local n=0 a b; read -ra a <<<"${t[$1]}"; read -ra b <<<"${t[bare]}"; for k in "${!a[@]}"; do awk -v x="${a[$k]}" -v y="${b[$k]}" 'BEGIN {exit !(x < y)}' && n=$((n + 1)); done; echo "$n/${#a[@]}"; }

echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), PostgreSQL on loopback, warm database, egress open, $runs rounds, interleaved; load average at the end: $load"
echo
echo "| warm restart to first pong | median s | min – max s | ratio vs bare \`cli.js start\` |"
echo "|---|---|---|---|"
row "bare \`node cli.js start\`, no cache" bare "1.00x"
row "trm-init, cache of earlier boots, \`child.direct_start = false\` (cli/run.js start, before)" runjs "$(ratio runjs bare)x (faster in $(faster runjs) rounds)"
row "trm-init, \`child.compile_cache = false\` (start.js)" off "$(ratio off bare)x"
row "trm-init, compile cache filled by earlier boots (restart; start.js)" cache "$(ratio cache bare)x (faster in $(faster cache) rounds)"
row "trm-init, the image build's cache only (first boot; start.js)" image "$(ratio image bare)x (faster in $(faster image) rounds)"
echo
echo "Cache vs no cache under trm-init: $(ratio cache off)x (restart), $(ratio image off)x (build-time cache only). start.js vs cli/run.js start (both with the cache of earlier boots): $(ratio cache runjs)x."
echo "Build-time cache: $image_entries entries, $image_size MB, made by compile-cache/warm.mjs in $warm_s s; after one real boot the runtime cache holds $runtime_entries entries."

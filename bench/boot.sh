#!/usr/bin/env bash
# Boot to the first healthy answer (Directus's GET /server/ping = 200), in one run, interleaved:
#   trm-init (release build, full preflight, default child.skip_update_check = true)
#   vs the shell sequence bench/baselines/seed-entrypoint.sh (db-init, cli.js bootstrap, cli.js schema apply, cli.js start)
#   vs a bare `cli.js start` (warm only: it cannot boot an empty database)
# in four conditions: a cold boot on an empty database and a warm restart (Directus installed, snapshot
# applied, migrations recorded), each with egress open (Directus's npm update check reaches the registry)
# and black-holed (HTTPS_PROXY points at a local port that accepts connections and never answers, as a
# locked-down production network does). Every command runs with the same environment, from a folder with
# no package.json above it (so the update check has no cache, as in a fresh container).
# trm-init boots as in the image: every trm-init boot gets a fresh copy of the build-time compile cache
# (compile-cache/warm.mjs, as the Dockerfile makes it) as child.compile_cache_dir, i.e. a new replica's
# first boot; the step and the child both read it. A cold trm-init boot also runs as "before": as this
# script measured it until issue 27 (no compile cache on the host: child.compile_cache = false, and the
# child through cli/run.js start: child.direct_start = false), against the same shell runs. Since issue
# 27 round 7 trm-init preloads the main child (child.preload, default: Directus's modules load during the
# preflight); "no preload" boots the same trm-init with child.preload = false, cold and warm, in the same runs.
# Since round 10 Directus's Node processes start with the resolve hook (child.resolve_hook, default: relative
# ES module imports answered without Node 22 re-reading each package's package.json per file); "no hook"
# boots the same trm-init with child.resolve_hook = false, cold and warm. "Before" has it off too.
# Prints a Markdown table for docs/benchmarks.md.
# Usage: bench/boot.sh [RUNS]   (default 3)
# Env: BASELINES (default bench/baselines), EGRESS (default "open blackhole"; "open" measures only that)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
repo=$TRM_REPO
runs=${1:-3}
baselines=${BASELINES:-$repo/bench/baselines}
log() { echo "[bench] $*" >&2; }

source "$repo/bench/boot-common.sh"
caches=$(mktemp -d)
trap 'kill $hole_pid 2>/dev/null; rm -rf "$out" "$work" "$caches"' EXIT
unset NODE_COMPILE_CACHE
log "the build-time compile cache: compile-cache/warm.mjs (as the Dockerfile runs it)"
env DB_CLIENT=pg DB_HOST=127.0.0.1 DB_PORT=9 DB_DATABASE=warm DB_USER=warm SECRET=warm \
  NODE_COMPILE_CACHE="$caches/image" node compile-cache/warm.mjs "$dx" >&2

warm=bench_warm_$$
log "preparing the warm database $warm (one full trm-init boot)"
admin_sql "DROP DATABASE IF EXISTS $warm WITH (FORCE)"
admin_sql "CREATE DATABASE $warm"
rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
boot prepare "$warm" open env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" "$trm" >/dev/null
grep -q "fingerprint recorded" "$out/prepare.log" || { log "the warm-up boot did not apply the schema"; cat "$out/prepare.log" >&2; exit 1; }

declare -A t
for i in $(seq 1 "$runs"); do
  for egress in ${EGRESS:-open blackhole}; do
    log "run $i/$runs, egress $egress"
    order=(trm seed bare changed nopre nohook trm seed bare changed nopre)
    for who in "${order[@]:$(( (i - 1) % 6 )):6}"; do
      case $who in
        nohook)
          rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
          t[trm_warm_nohook_$egress]+=" $(boot trm_warm_nohook "$warm" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" TRM_INIT_CHILD__RESOLVE_HOOK=false "$trm")"
          grep -q "child.resolve_hook = false" "$out/trm_warm_nohook.log" || { log "child.resolve_hook = false not taken:"; cat "$out/trm_warm_nohook.log" >&2; exit 1; } ;;
        nopre)
          rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
          t[trm_warm_nopre_$egress]+=" $(boot trm_warm_nopre "$warm" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" TRM_INIT_CHILD__PRELOAD=false "$trm")"
          grep -q "main child not preloaded (child.preload = false)" "$out/trm_warm_nopre.log" || { log "child.preload = false still preloaded:"; cat "$out/trm_warm_nopre.log" >&2; exit 1; } ;;
        changed)
          # The path a changed snapshot takes: the fingerprint says "run", so the whole step runs
          # (helper, bootstrap, diff, guard, apply) on the warm database.
          rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
          t[trm_changed_$egress]+=" $(boot trm_changed "$warm" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" TRM_INIT_SCHEMA__SKIP_UNCHANGED=false "$trm")"
          grep -q "the database already matches the snapshot" "$out/trm_changed.log" || { log "the changed path did not run the step:"; cat "$out/trm_changed.log" >&2; exit 1; } ;;
        trm)
          rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
          t[trm_warm_$egress]+=" $(boot trm_warm "$warm" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" "$trm")"
          grep -q "bootstrap and schema apply skipped" "$out/trm_warm.log" || { log "warm trm-init did not skip:"; cat "$out/trm_warm.log" >&2; exit 1; }
          grep -q "the preflight had no work (every step skipped): the main child is started after it, not preloaded" "$out/trm_warm.log" || { log "warm trm-init preloaded (a warm restart has nothing to overlap):"; cat "$out/trm_warm.log" >&2; exit 1; }
          grep -q "module resolution hook: Directus's Node processes start with --import" "$out/trm_warm.log" || { log "warm trm-init without the resolve hook:"; cat "$out/trm_warm.log" >&2; exit 1; } ;;
        seed) t[seed_warm_$egress]+=" $(boot seed_warm "$warm" "$egress" "$baselines/seed-entrypoint.sh")" ;;
        bare) t[bare_warm_$egress]+=" $(boot bare_warm "$warm" "$egress" node "$dx/cli.js" start)" ;;
      esac
    done
    cold=(trm seed runjs nopre nohook trm seed runjs nopre)
    for who in "${cold[@]:$(( (i - 1) % 5 )):5}"; do
      db=bench_empty_${who}_$$
      admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"
      admin_sql "CREATE DATABASE $db"
      case $who in
        trm)
          rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
          t[trm_cold_$egress]+=" $(boot trm_cold "$db" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" "$trm")"
          t[trm_step_$egress]+=" $(sed -n 's/.*directus schema: ok in \([0-9]*\) ms.*/\1/p' "$out/trm_cold.log" | head -n1)"
          grep -q "the preloaded main child starts Directus's server (go)" "$out/trm_cold.log" || { log "cold trm-init did not preload:"; cat "$out/trm_cold.log" >&2; exit 1; } ;;
        nopre)
          rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
          t[trm_cold_nopre_$egress]+=" $(boot trm_cold_nopre "$db" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" TRM_INIT_CHILD__PRELOAD=false "$trm")"
          t[trm_step_nopre_$egress]+=" $(sed -n 's/.*directus schema: ok in \([0-9]*\) ms.*/\1/p' "$out/trm_cold_nopre.log" | head -n1)" ;;
        nohook)
          rm -rf "$caches/copy" && cp -a "$caches/image" "$caches/copy"
          t[trm_cold_nohook_$egress]+=" $(boot trm_cold_nohook "$db" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE_DIR="$caches/copy" TRM_INIT_CHILD__RESOLVE_HOOK=false "$trm")"
          t[trm_step_nohook_$egress]+=" $(sed -n 's/.*directus schema: ok in \([0-9]*\) ms.*/\1/p' "$out/trm_cold_nohook.log" | head -n1)" ;;
        runjs)
          t[trm_cold_runjs_$egress]+=" $(boot trm_cold_runjs "$db" "$egress" env TRM_INIT_CHILD__COMPILE_CACHE=false TRM_INIT_CHILD__DIRECT_START=false TRM_INIT_CHILD__RESOLVE_HOOK=false "$trm")"
          t[trm_step_runjs_$egress]+=" $(sed -n 's/.*directus schema: ok in \([0-9]*\) ms.*/\1/p' "$out/trm_cold_runjs.log" | head -n1)" ;;
        seed) t[seed_cold_$egress]+=" $(boot seed_cold "$db" "$egress" "$baselines/seed-entrypoint.sh")" ;;
      esac
    done
  done
done
holes=$(cat "$out/hole.count" 2>/dev/null || echo 0)
for db in "$warm" "bench_empty_trm_$$" "bench_empty_seed_$$" "bench_empty_runjs_$$" "bench_empty_nopre_$$" "bench_empty_nohook_$$"; do admin_sql "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done

ratio() { awk -v a="$(median "${t[$1]}")" -v b="$(median "${t[$2]}")" 'BEGIN {printf "%.2f", a / b}'; }
row() { read -r m lo hi <<<"$(stats "${t[$2]}")"; printf '| %s | %s | %s | %.2f | %.2f – %.2f | %s |\n' "$1" "$3" "$4" "$m" "$lo" "$hi" "$5"; }

echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), PostgreSQL on loopback, $runs runs each, interleaved"
echo
echo "| boot | database | egress | median s | min – max s | ratio |"
echo "|---|---|---|---|---|---|"
egresses=(${EGRESS:-open blackhole})
for e in "${egresses[@]}"; do
  row "trm-init (preflight + start; preload)" trm_cold_$e cold "$e" "$(ratio trm_cold_$e seed_cold_$e)x shell sequence"
  row "trm-init, \`child.preload = false\`" trm_cold_nopre_$e cold "$e" "$(ratio trm_cold_nopre_$e seed_cold_$e)x shell sequence"
  row "trm-init, \`child.resolve_hook = false\`" trm_cold_nohook_$e cold "$e" "$(ratio trm_cold_nohook_$e seed_cold_$e)x shell sequence"
  row "trm-init before: no compile cache, \`child.direct_start = false\`, no resolve hook" trm_cold_runjs_$e cold "$e" "$(ratio trm_cold_runjs_$e seed_cold_$e)x shell sequence"
  row "seed-entrypoint.sh" seed_cold_$e cold "$e" "1.00x"
done
for e in "${egresses[@]}"; do
  row "trm-init (preflight + start; preload)" trm_warm_$e warm "$e" "$(ratio trm_warm_$e bare_warm_$e)x bare start, $(ratio trm_warm_$e seed_warm_$e)x shell sequence"
  row "trm-init, \`child.preload = false\`" trm_warm_nopre_$e warm "$e" "$(ratio trm_warm_nopre_$e bare_warm_$e)x bare start"
  row "trm-init, \`child.resolve_hook = false\`" trm_warm_nohook_$e warm "$e" "$(ratio trm_warm_nohook_$e bare_warm_$e)x bare start"
  row "seed-entrypoint.sh" seed_warm_$e warm "$e" "$(ratio seed_warm_$e bare_warm_$e)x bare start"
  row "bare \`cli.js start\`" bare_warm_$e warm "$e" "1.00x"
  row "trm-init, step forced (changed-snapshot path)" trm_changed_$e warm "$e" "$(ratio trm_changed_$e trm_warm_$e)x trm-init warm, $(ratio trm_changed_$e seed_warm_$e)x shell sequence"
done
echo
if [[ ${#egresses[@]} -eq 2 ]]; then
  echo "Black-holed vs open, trm-init: cold $(ratio trm_cold_blackhole trm_cold_open)x, warm $(ratio trm_warm_blackhole trm_warm_open)x;" \
       "shell sequence: cold $(ratio seed_cold_blackhole seed_cold_open)x, warm $(ratio seed_warm_blackhole seed_warm_open)x;" \
       "bare start: $(ratio bare_warm_blackhole bare_warm_open)x."
  echo "Warm restart, trm-init black-holed vs a bare \`cli.js start\` black-holed: $(ratio trm_warm_blackhole bare_warm_blackhole)x."
fi
echo "Cold, trm-init as in the image (build-time cache, start.js) vs before (no cache, cli/run.js): $(for e in "${egresses[@]}"; do echo -n "$e $(ratio trm_cold_$e trm_cold_runjs_$e)x "; done)"
echo "Resolve hook vs \`child.resolve_hook = false\` (same trm-init, same cache): $(for e in "${egresses[@]}"; do echo -n "$e cold $(ratio trm_cold_$e trm_cold_nohook_$e)x, warm $(ratio trm_warm_$e trm_warm_nohook_$e)x "; done)"
echo "Preload vs \`child.preload = false\` (same trm-init, same cache): $(for e in "${egresses[@]}"; do echo -n "$e cold $(ratio trm_cold_$e trm_cold_nopre_$e)x, warm $(ratio trm_warm_$e trm_warm_nopre_$e)x "; done)"
read -r m lo hi <<<"$(stats "${t[trm_step_open]}")"
echo "trm-init's Directus step on an empty database (one Node process: bootstrap, diff, guard, apply; beside the preload), from its own log: median $m ms (min $lo, max $hi)."
read -r m lo hi <<<"$(stats "${t[trm_step_nopre_open]}")"
echo "The same step with \`child.preload = false\` (alone): median $m ms (min $lo, max $hi)."
read -r m lo hi <<<"$(stats "${t[trm_step_nohook_open]}")"
echo "The same step with \`child.resolve_hook = false\` (beside the preload): median $m ms (min $lo, max $hi)."
read -r m lo hi <<<"$(stats "${t[trm_step_runjs_open]}")"
echo "The same step before (no compile cache): median $m ms (min $lo, max $hi)."
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Connections that reached the black hole over the whole run (the baselines' update checks): $holes."

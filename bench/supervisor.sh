#!/usr/bin/env bash
# Supervisor benchmark: trm-init (--no-preflight) side by side with tini-static, catatonit and dumb-init
# (Debian packages) in one run. Measures resident memory while supervising `sleep` as PID 1 of a fresh
# PID namespace, wall time of `INIT -- true` (hyperfine), and binary size. Prints a Markdown report.
# Needs root (unshare). Usage: bench/supervisor.sh [path/to/trm-init]   (default: the release build)
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
trm=${1:-$TRM_RELEASE_BIN}
[[ -x $trm ]] || cargo build --release --bin trm-init >&2
for tool in tini-static catatonit dumb-init hyperfine; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq tini catatonit dumb-init hyperfine >&2; break; }
done
trm=$(readlink -f "$trm")
declare -A cmd=(
  [trm-init]="$trm --no-preflight --"
  [tini-static]="$(command -v tini-static) --"
  [catatonit]="$(command -v catatonit) --"
  [dumb-init]="$(command -v dumb-init)"
)
order=(trm-init tini-static catatonit dumb-init)

# Resident memory of the init 3 s into supervising `sleep`, as PID 1; median of 5 runs, in kB.
rss_of() {
  local samples=() i
  for i in 1 2 3 4 5; do
    unshare --pid --fork --mount-proc ${cmd[$1]} sleep 30 >/dev/null 2>&1 &
    local outer=$! inner=""
    for _ in $(seq 200); do
      inner=$(cat /proc/$outer/task/*/children 2>/dev/null | awk '{print $1}')
      [[ -n $inner ]] && break; sleep 0.01
    done
    sleep 3   # steady state: after start-up (and trm-init's one-second start-up trim)
    samples+=("$(awk '/^VmRSS:/ {print $2}' /proc/$inner/status)")
    kill -KILL "$inner" 2>/dev/null || true
    wait "$outer" 2>/dev/null || true
  done
  printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A rss size
for n in "${order[@]}"; do
  rss[$n]=$(rss_of "$n")
  bin=${cmd[$n]%% *}
  size[$n]=$(stat -c %s "$bin")
done

json=$(mktemp)
hyperfine -N --warmup 20 --runs 300 --export-json "$json" \
  -n trm-init "$trm --no-preflight -- true" \
  -n tini-static "$(command -v tini-static) -- true" \
  -n catatonit "$(command -v catatonit) -- true" \
  -n dumb-init "$(command -v dumb-init) true" >&2
declare -A mean
while read -r name value; do mean[$name]=$value; done < <(python3 -c '
import json,sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["command"], r["mean"]*1000)' "$json")
rm -f "$json"

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "Measured $(date -u '+%F %H:%M') UTC on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r); load average $load_before at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
echo
echo "| init | RSS supervising sleep (kB, median of 5) | RSS / tini-static | \`INIT -- true\` mean (ms) | time / tini-static | binary (bytes) |"
echo "|---|---|---|---|---|---|"
for n in "${order[@]}"; do
  printf '| %s | %s | %s | %.2f | %s | %s |\n' "$n" "${rss[$n]}" "$(ratio "${rss[$n]}" "${rss[tini-static]}")" \
    "${mean[$n]}" "$(ratio "${mean[$n]}" "${mean[tini-static]}")" "${size[$n]}"
done

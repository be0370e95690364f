#!/usr/bin/env bash
# Runs the whole suite as a fresh machine would: a fresh clone of HEAD, with empty caches in a
# temporary folder — cargo's home (registry and git checkouts), the npm cache and TRM_CACHE (Node 22,
# Directus, the deploy validators, the Docker engine's data) — while the toolchains and the machine's
# own configuration (~/.npmrc, Debian's packages) stay, as they do on a fresh machine.
# Prints the wall time and the test counts at the end; exits with .ci/run's code.
#   scripts/fresh-check.sh [--keep]     --keep leaves the temporary folder for a look afterwards
set -euo pipefail
keep=false
case ${1:-} in
  --keep) keep=true ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "fresh-check: unknown argument '$1' (see --help)" >&2; exit 64 ;;
esac
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/trm-fresh-check.XXXXXX)
$keep || trap 'rm -rf "$tmp"' EXIT
log() { echo "[fresh-check] $*" >&2; }

git clone --quiet --no-hardlinks "$repo" "$tmp/repo"
log "fresh clone of $(git -C "$repo" rev-parse --short HEAD) in $tmp/repo; caches in $tmp"
mkdir -p "$tmp/cargo-home" "$tmp/npm-cache" "$tmp/trm-cache"
# rustup's proxies (cargo, rustc) stay on PATH; they find their toolchain through RUSTUP_HOME, not
# CARGO_HOME, so the toolchain stays while the package cache starts empty.
export CARGO_HOME=$tmp/cargo-home
export npm_config_cache=$tmp/npm-cache
export TRM_CACHE=$tmp/trm-cache
export CI=true

start=$(date +%s)
set +e
(cd "$tmp/repo" && bash .ci/run </dev/null) 2>&1 | tee "$tmp/run.log"
code=${PIPESTATUS[0]}
set -e
wall=$(($(date +%s) - start))
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$tmp/run.log" \
  | awk '{p += $4; f += $6} END {print p + 0, "passed,", f + 0, "failed"}')
log "exit $code after $((wall / 60)) min $((wall % 60)) s: cargo test: $passed"
$keep && log "log and caches kept in $tmp"
exit "$code"

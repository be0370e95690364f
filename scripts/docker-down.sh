#!/usr/bin/env bash
# Stops the tests' private dockerd (scripts/docker-up.sh) by the pid in its pidfile: TERM, then KILL
# after 20 s. Its containers stop with it; images and build cache stay in $TRM_CACHE/docker.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pidfile=$TRM_CACHE/docker/run/dockerd.pid
pid=$(cat "$pidfile" 2>/dev/null || true)
[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || exit 0
kill -TERM "$pid"
for _ in $(seq 1 200); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
echo "[docker-down] dockerd $pid still running after 20 s: KILL" >&2
kill -KILL "$pid"

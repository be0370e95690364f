#!/usr/bin/env bash
# Starts the tests' own Docker engine (a private dockerd, run as root) and prints what to export:
#   eval "$(scripts/docker-up.sh)"   ->  DOCKER_HOST, DOCKER_BUILDKIT=0, TRM_DOCKERD_PID
# Installs Debian's docker.io when dockerd is missing. Everything the engine keeps lives under
# $TRM_CACHE/docker (data root: images, build cache and the stand-ins stay between runs); its socket,
# pidfile and exec root are its own, so it never touches a system dockerd. overlay2 when this kernel
# and filesystem allow it, vfs otherwise. No bridge, no iptables: containers run with --network host and
# all traffic stays on 127.0.0.1. Already running (pidfile alive, socket answering): prints the same lines.
# Stop it with scripts/docker-down.sh (by its pid). DOCKER_BUILDKIT=0: the machine's 28.x client would
# otherwise ask for BuildKit (the buildx plugin is not packaged); the classic builder uses local tags.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
log() { echo "[docker-up] $*" >&2; }

root=$TRM_CACHE/docker
run=$root/run
sock=$run/docker.sock
pidfile=$run/dockerd.pid
mkdir -p "$root/data" "$run"

if ! command -v dockerd >/dev/null; then
  log "installing Debian's docker.io"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >&2
fi

export DOCKER_HOST=unix://$sock DOCKER_BUILDKIT=0
answering() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

pid=$(cat "$pidfile" 2>/dev/null || true)
if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && answering; then
  :
else
  # The driver the data root was first created with, else overlay2 if it mounts here, else vfs.
  driver=$(cat "$root/storage-driver" 2>/dev/null || true)
  if [[ -z $driver ]]; then
    probe=$(mktemp -d "$root/overlay-probe.XXXX")
    mkdir -p "$probe"/{l,u,w,m}
    if mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null; then
      umount "$probe/m"
      driver=overlay2
    else
      driver=vfs
    fi
    rm -rf "$probe"
    echo "$driver" >"$root/storage-driver"
  fi
  log "starting dockerd ($driver, data root $root/data, socket $sock)"
  dockerd --data-root "$root/data" --exec-root "$run/exec" -H "unix://$sock" --pidfile "$pidfile" \
    --storage-driver "$driver" --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
    --userland-proxy=false --log-level warn >"$root/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 300); do
    answering && break
    if ! kill -0 $! 2>/dev/null; then
      log "dockerd exited; its log ($root/dockerd.log):"
      tail -20 "$root/dockerd.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  answering || { log "dockerd did not answer on $sock within 30 s (log: $root/dockerd.log)"; exit 1; }
  pid=$(cat "$pidfile")
fi
echo "export DOCKER_HOST=unix://$sock DOCKER_BUILDKIT=0 TRM_DOCKERD_PID=$pid"

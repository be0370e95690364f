#!/usr/bin/env bash
# Runs every test on a fresh Debian machine: installs and starts what the tests need (PostgreSQL from
# Debian's packages, Node 22 + Directus 11.17.4 from the npm registry, cached in ~/.cache/trm-init),
# then `cargo test`. Extra arguments go to cargo test (e.g. a test name filter).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$TRM_REPO"
log() { echo "[test] $*" >&2; }

need_pkgs=()
command -v unshare >/dev/null || need_pkgs+=(util-linux)
command -v nsenter >/dev/null || need_pkgs+=(util-linux)
command -v psql >/dev/null || need_pkgs+=(postgresql-client)
command -v busybox >/dev/null || need_pkgs+=(busybox-static)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v ps >/dev/null || need_pkgs+=(procps)
command -v file >/dev/null || need_pkgs+=(file)
command -v script >/dev/null || need_pkgs+=(bsdutils)
command -v npm >/dev/null || need_pkgs+=(npm)
command -v redis-server >/dev/null || need_pkgs+=(redis-server)
command -v redis-cli >/dev/null || need_pkgs+=(redis-tools)
command -v dockerd >/dev/null || need_pkgs+=(docker.io)                # tests/container_*.rs: the real engine
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)           # stand-ins/: the Debian base
[[ -x /usr/bin/docker-registry ]] || need_pkgs+=(docker-registry)     # tests/container_ci.rs pushes to it
[[ -x /usr/bin/chromium ]] || need_pkgs+=(chromium)   # tests/dogfood.rs drives the admin UI headless
# tests/metrics.rs parses /metrics with the Prometheus client's OpenMetrics parser (Debian's python3).
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || need_pkgs+=(python3-prometheus-client)
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

eval "$(scripts/pg-up.sh)"
eval "$(scripts/deploy-tools.sh)"
dx_dir=$(scripts/install-directus.sh)
export TRM_TEST_DIRECTUS_DIR=$dx_dir
trm_node
log "node $(node --version), Directus in $TRM_TEST_DIRECTUS_DIR"

# Node packages of the seed loader and the browser test (exact versions from their lockfiles), then the
# seed's own checks: its types (tsc over the JSDoc) and unit tests.
for dir in seed tests/browser; do
  (cd "$dir" && npm ci --no-audit --no-fund >&2)
done
(cd seed && npm run --silent typecheck >&2 && npm test >&2)
# The resolve hook of Directus's Node processes (child.resolve_hook): every answer against Node's own,
# on fixtures and on the whole module load of the Directus above.
node --test 'directus-step/test/*.test.mjs' >&2
# The extensions' packages (extensions/package-lock.json) into the npm cache, once and online; the tests
# then build extensions/ with `npm ci --offline` (tests/support: extensions_path).
(cd extensions && npm ci --no-audit --no-fund --prefer-offline >&2)

# Every package of Cargo.lock into cargo's package cache, for every target: the tests run cargo
# offline (tests/support: cargo_locked_offline), and a fresh machine's cache holds only what a build
# needed. Done here, before the tests run in parallel, so no test waits on cargo's package lock.
cargo fetch --locked --quiet >&2
cargo build --release --bin trm-init >&2
export TRM_TEST_RELEASE_BIN=$TRM_RELEASE_BIN

# The tests' own Docker engine, stopped by its pid when this script ends; the stand-in base images
# (cached in its data root, rebuilt when their inputs change) and the image from the Dockerfile, which
# tests/container_*.rs run (they would build both themselves; here the cost shows in the log).
eval "$(scripts/docker-up.sh)"
trap 'scripts/docker-down.sh' EXIT
stand-ins/build.sh >&2
start=$SECONDS
docker build --pull=false --force-rm -q -t trm-directus:test . >&2
log "image trm-directus:test built in $((SECONDS - start))s"
cargo test --no-fail-fast "$@" 2>&1

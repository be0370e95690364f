#!/usr/bin/env bash
# Installs the validators the deploy/ tests use, into a Python virtual environment cached in
# ~/.cache/trm-init/deploy-venv (PyPI, pinned):
#   * kubernetes-validate: validates manifests against the Kubernetes OpenAPI schemas it bundles;
#   * docker-compose 1.29.2 (files only, no dependencies): for Docker's own compose_spec.json, against
#     which deploy/swarm/stack.yaml is validated with jsonschema.
# kustomize is `kubectl kustomize` (kubectl is part of this machine kind's image; no Debian package or
# registry we reach ships kustomize). Prints `export` lines: eval "$(scripts/deploy-tools.sh)".
set -euo pipefail
log() { echo "[deploy-tools] $*" >&2; }
venv=${TRM_CACHE:-$HOME/.cache/trm-init}/deploy-venv
# Debian's Python (a pyenv python on PATH may lack the venv module's ensurepip).
py=/usr/bin/python3
if [[ ! -x $venv/bin/kubernetes-validate || ! -d $(echo "$venv"/lib/python3*/site-packages/compose) ]]; then
  if ! $py -m venv --help >/dev/null 2>&1 || ! $py -c 'import ensurepip' 2>/dev/null; then
    log "installing python3-venv"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
  fi
  log "creating $venv"
  rm -rf "$venv"
  $py -m venv "$venv" >&2
  "$venv/bin/pip" install -q kubernetes-validate==1.37.0 >&2
  "$venv/bin/pip" install -q --no-deps docker-compose==1.29.2 >&2
fi
command -v kubectl >/dev/null || log "kubectl not found: the kustomize render test will fail and say so"
echo "export TRM_TEST_DEPLOY_VENV=$venv"

# Sourced by scripts/*.sh and bench/*.sh for what they all need (bash only; not run on its own):
#   TRM_REPO          the repository root (every default path is inside it)
#   TRM_CACHE         where Node 22 and Directus are cached (~/.cache/trm-init)
#   TRM_RELEASE_BIN   the release build of trm-init (the static target)
#   trm_bin PROFILE   the path of the debug or release build
#   trm_node          puts the cached Node 22 first on PATH
#   trm_pg            TRM_TEST_PG (scripts/pg-up.sh when unset) as PG* and Directus DB_* variables
#   trm_real_schema DB BIN DX   the real schema on database DB: db-init pre, Directus bootstrap +
#                     snapshot, db-init post, run by the trm-init BIN with the Directus in DX (benchmarks)
TRM_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TRM_CACHE=${TRM_CACHE:-$HOME/.cache/trm-init}
TRM_TARGET=x86_64-unknown-linux-gnu
TRM_RELEASE_BIN=$TRM_REPO/target/$TRM_TARGET/release/trm-init

trm_bin() { echo "$TRM_REPO/target/$TRM_TARGET/${1:-release}/trm-init"; }

trm_node() {
  PATH=$(dirname "$(readlink -f "$TRM_CACHE/node")"):$PATH
  export PATH
}

trm_pg() {
  [[ -n ${TRM_TEST_PG:-} ]] || eval "$("$TRM_REPO/scripts/pg-up.sh")"
  export TRM_TEST_PG
  local kv host port user password
  for kv in $TRM_TEST_PG; do
    case ${kv%%=*} in
      host) host=${kv#*=} ;;
      port) port=${kv#*=} ;;
      user) user=${kv#*=} ;;
      password) password=${kv#*=} ;;
    esac
  done
  export PGHOST=$host PGPORT=$port PGUSER=$user PGPASSWORD=${password:-}
  export DB_CLIENT=pg DB_HOST=$host DB_PORT=$port DB_USER=$user DB_PASSWORD=${password:-}
}

trm_real_schema() {
  local db=$1 bin=$2 dx=$3
  env -u TRM_INIT_CONFIG DB_DATABASE="$db" SECRET=bench-schema-secret-bench-schema-secret ADMIN_EMAIL=admin@example.com \
    ADMIN_PASSWORD=bench-pw TELEMETRY=false HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost \
    TRM_INIT_HEALTH__LISTEN=127.0.0.1:0 \
    TRM_INIT_SCHEMA__DIRECTUS="[\"node\", \"$dx/cli.js\"]" TRM_INIT_SCHEMA__SNAPSHOT="$TRM_REPO/snapshots/schema.yaml" \
    TRM_INIT_SCHEMA__STEP_SCRIPT="$TRM_REPO/directus-step/step.mjs" \
    TRM_INIT_DB_INIT__PRE_DIR="$TRM_REPO/db-init" TRM_INIT_DB_INIT__POST_DIR="$TRM_REPO/db-init-post" \
    bash -c '"$0" db-init --phase pre && "$0" schema && "$0" db-init --phase post' "$bin" >&2
}

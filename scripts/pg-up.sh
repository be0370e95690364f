#!/usr/bin/env bash
# Installs (if missing) and starts Debian's PostgreSQL, and gives it the test role.
# Prints the variables the tests read, as `export` lines: eval "$(scripts/pg-up.sh)".
# Role: trm / trm-test-pw (superuser: each test creates its own database). Port: PGPORT or 5432.
set -euo pipefail
log() { echo "[pg-up] $*" >&2; }
if ! command -v pg_ctlcluster >/dev/null || [[ -z $(ls /usr/lib/postgresql 2>/dev/null) ]]; then
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql postgresql-contrib >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
# PostGIS for the course geometry (db-init/004_postgis.sql). Installed before the server starts: a
# running server must not see its packages change under it.
if [[ ! -e /usr/share/postgresql/$version/extension/postgis.control ]]; then
  log "installing PostGIS (postgresql-$version-postgis-3) from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "postgresql-$version-postgis-3" >&2
fi
port=${PGPORT:-5432}
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  log "creating cluster $version/main"
  pg_createcluster "$version" main -p "$port" >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -qx online; then
  log "starting cluster $version/main"
  pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.2; done
su postgres -c "psql -X -q -p $port -d postgres" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trm') THEN
    CREATE ROLE trm LOGIN SUPERUSER PASSWORD 'trm-test-pw';
  ELSE
    ALTER ROLE trm LOGIN SUPERUSER PASSWORD 'trm-test-pw';
  END IF;
END \$\$;
SQL
log "PostgreSQL $version ready on 127.0.0.1:$port (role trm)"
echo "export TRM_TEST_PG='host=127.0.0.1 port=$port user=trm password=trm-test-pw dbname=postgres'"

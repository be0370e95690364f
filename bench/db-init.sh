#!/usr/bin/env bash
# Benchmark: `trm-init db-init --phase pre` against the shell + psql runner it replaces
# (bench/baselines/apply-db-init.sh), side by side in the same run, on the local PostgreSQL.
#   warm  : the 3 real db-init files, all already applied (nothing to do)
#   cold3 : the 3 real files on an empty database
#   cold1k: 1,000 generated small files on an empty database (one CREATE TABLE + INSERT each); plus,
#           for reference, the same SQL as ONE psql script in ONE transaction (the server's own floor)
# Prints a Markdown table (mean ± σ, ratio trm-init / shell). Env: BASELINE (path of apply-db-init.sh),
# TRM_INIT (binary; default: the release build), RUNS (default 10), RUNS_1K (default 3).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
root=$TRM_REPO
baseline=${BASELINE:-$root/bench/baselines/apply-db-init.sh}
bin=${TRM_INIT:-$TRM_RELEASE_BIN}
runs=${RUNS:-10}
runs_1k=${RUNS_1K:-3}
[[ -x $bin ]] || { echo "build first: cargo build --release (or set TRM_INIT)" >&2; exit 1; }
[[ -f $baseline ]] || { echo "baseline not found: $baseline (set BASELINE)" >&2; exit 1; }
trm_pg
psql_admin() { psql -X -q -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d postgres -c "$1" >/dev/null 2>&1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# hyperfine's --prepare runs through sh: a small script, not a shell function.
cat > "$work/recreate" <<SH
#!/bin/sh
psql -X -q -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d postgres -c "DROP DATABASE IF EXISTS \$1 WITH (FORCE)" >/dev/null 2>&1
psql -X -q -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d postgres -c "CREATE DATABASE \$1" >/dev/null
SH
chmod +x "$work/recreate"
recreate() { "$work/recreate" "$1"; }
mkdir -p "$work/post" "$work/k1"
for i in $(seq -w 1 1000); do
  printf 'CREATE TABLE bench_%s (id int PRIMARY KEY, v text);\nINSERT INTO bench_%s VALUES (1, %s);\n' "$i" "$i" "'x'" > "$work/k1/${i}_t.sql"
done
real=$root/db-init

trm() { echo "env DB_DATABASE=$1 TRM_INIT_DB_INIT__PRE_DIR=$2 TRM_INIT_DB_INIT__POST_DIR=$work/post $bin db-init --phase pre"; }
shell() { echo "env DB_DATABASE=$1 DB_INIT_DIR=$2 $baseline"; }

# warm: one database migrated once, then both runners find nothing to do
recreate bench_warm
eval "$(trm bench_warm "$real")" 2>/dev/null >/dev/null

hyperfine -N --style basic --warmup 2 --runs "$runs" --export-json "$work/warm.json" \
  -n "trm-init warm (3 files)" "$(trm bench_warm "$real")" \
  -n "shell warm (3 files)" "$(shell bench_warm "$real")" >&2
hyperfine --style basic --runs "$runs" --export-json "$work/cold3.json" \
  -n "trm-init cold (3 files)" --prepare "$work/recreate bench_cold_a" "$(trm bench_cold_a "$real")" \
  -n "shell cold (3 files)" --prepare "$work/recreate bench_cold_b" "$(shell bench_cold_b "$real")" >&2
cat "$work"/k1/*.sql > "$work/k1-all.sql"
hyperfine --style basic --runs "$runs_1k" --export-json "$work/cold1k.json" \
  -n "trm-init cold (1,000 files)" --prepare "$work/recreate bench_k1_a" "$(trm bench_k1_a "$work/k1")" \
  -n "shell cold (1,000 files)" --prepare "$work/recreate bench_k1_b" "$(shell bench_k1_b "$work/k1")" \
  -n "floor: same SQL, one psql -1 -f" --prepare "$work/recreate bench_k1_c" \
  "psql -X -q -h $DB_HOST -p $DB_PORT -U $DB_USER -d bench_k1_c -1 -f $work/k1-all.sql" >&2

for db in bench_warm bench_cold_a bench_cold_b bench_k1_a bench_k1_b bench_k1_c; do psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
print("| case | trm-init | shell + psql | ratio |")
print("|---|---|---|---|")
for case, label in [("warm", "warm, 3 files (nothing to do)"), ("cold3", "cold, 3 files"), ("cold1k", "cold, 1,000 small files")]:
    r = json.load(open(f"{work}/{case}.json"))["results"]
    t, s = r[0], r[1]
    fmt = lambda x: f"{x['mean']*1000:.1f} ms ± {x['stddev']*1000:.1f}" if x['mean'] < 1 else f"{x['mean']:.2f} s ± {x['stddev']:.2f}"
    print(f"| {label} | {fmt(t)} | {fmt(s)} | {t['mean']/s['mean']:.3f}x |")
    if len(r) > 2:
        print(f"| {label}: server floor (same SQL, one psql session, one transaction) | | {fmt(r[2])} | trm-init / floor {t['mean']/r[2]['mean']:.2f}x |")
PY

#!/usr/bin/env bash
# The preview benchmark (issue 26): a Rally Albania-sized event (ENTRIES entries, STAGES stages, about
# one speeding penalty per entry and stage, an event-wide formula of three brackets) on the real schema,
# served by the real Directus 11.17.4 with the project's extensions. Measures through the API, as the
# admin UI calls it, the median of RUNS requests of:
#   - POST /penalty-preview of new brackets for the event-wide formula (every stage affected: every
#     penalty re-evaluated by trm_penalty, every stage's positions, every next stage's start order);
#   - POST /penalty-preview of one penalty voided (one stage);
#   - the baseline: GET /items/stage_results of all the event's results (a plain results query) in the
#     same run, against the same Directus.
# Prints Markdown with the load average (figures for docs/benchmarks.md).
# Env: ENTRIES (300), STAGES (8), RUNS (20), PORT (18255), KEEP_DB=1 keeps the database. Needs
# PostgreSQL with PostGIS (scripts/pg-up.sh), Directus (scripts/install-directus.sh), Node 22 and the
# extensions' npm packages (npm ci in extensions/).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$TRM_REPO"
log() { echo "[bench/preview] $*" >&2; }
ENTRIES=${ENTRIES:-300} STAGES=${STAGES:-8} RUNS=${RUNS:-20} PORT=${PORT:-18255}

trm_pg
dx=$(scripts/install-directus.sh)
trm_node
db=bench_preview_$$
tmp=$(mktemp -d)
server=
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  [[ -n ${KEEP_DB:-} ]] || psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# trm-init only lays the schema here (what is measured is Directus and PostgreSQL): the debug build will do.
cargo build --bin trm-init >&2
psql -X -q -d postgres -c "CREATE DATABASE $db"
log "schema: db-init, Directus bootstrap + snapshot, db-init-post on $db"
trm_real_schema "$db" "$(trm_bin debug)" "$dx"
log "generating: $ENTRIES entries, $STAGES stages"
psql -X -q -d $db -v entries="$ENTRIES" -v stages="$STAGES" -v seed=0.26 -f bench/preview/generate.sql >&2
(cd extensions && npm run -s build >&2)
mkdir -p "$tmp/ext/trm-extensions"
cp -r extensions/package.json extensions/dist "$tmp/ext/trm-extensions/"

export DB_DATABASE=$db SECRET=bench-preview-secret-bench-preview-secret TELEMETRY=false LOG_LEVEL=warn
export ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=bench-pw HOST=127.0.0.1 PORT PUBLIC_URL=http://127.0.0.1:$PORT
export HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost EXTENSIONS_PATH=$tmp/ext
export PRESSURE_LIMITER_ENABLED=false RATE_LIMITER_ENABLED=false TEMP_PATH=$tmp/directus-temp
(cd "$dx" && exec node cli.js start) >"$tmp/directus.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do curl -fsS "http://127.0.0.1:$PORT/server/ping" >/dev/null 2>&1 && break; sleep 0.1; done
base=http://127.0.0.1:$PORT
token=$(curl -fsS -H 'content-type: application/json' -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" "$base/auth/login" |
        node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).data.access_token))')

q() { psql -X -qtA -d $db -c "$1"; }
event=$(q "SELECT id FROM events WHERE slug = 'rally-albania-preview'")
formula=$(q "SELECT min(id) FROM penalty_formulas WHERE event_id = $event")
stages=$(q "SELECT string_agg(id::text, ',') FROM stages WHERE event_id = $event")
penalty=$(q "SELECT min(p.id) FROM entry_penalties p JOIN stages s ON s.id = p.stage_id WHERE s.event_id = $event AND s.sort_order = 1")
penalties=$(q "SELECT count(*) FROM entry_penalties p JOIN entries e ON e.id = p.entry_id WHERE e.event_id = $event")
results=$(q "SELECT count(*) FROM stage_results r JOIN entries e ON e.id = r.entry_id WHERE e.event_id = $event")
brackets=$(q "SELECT json_agg(json_build_object('id', id, 'offence_min', offence_min, 'offence_max', offence_max, 'operator', operator,
                        'penalty_seconds', CASE WHEN operator = 'per_unit' THEN penalty_seconds * 2 ELSE penalty_seconds END) ORDER BY offence_min)
                FROM penalty_formulas WHERE event_id = $event")
echo "{\"formula\": $formula, \"brackets\": $brackets}" >"$tmp/brackets.json"
echo "{\"penalty\": $penalty, \"review_state\": \"void\"}" >"$tmp/void.json"

# One request: prints its time in ms; fails unless 200.
once() {
  local method=$1 path=$2 data=${3:-}
  local args=(-sS -o "$tmp/answer" -w '%{http_code} %{time_total}' -H "authorization: Bearer $token" -X "$method")
  [[ -n $data ]] && args+=(-H 'content-type: application/json' --data-binary "@$data")
  local out; out=$(curl "${args[@]}" "$base$path")
  [[ ${out%% *} == 200 ]] || { log "$method $path answered ${out%% *}: $(head -c 300 "$tmp/answer")"; exit 1; }
  echo "${out#* } * 1000" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m}'; }
measure() { for _ in $(seq 1 "$RUNS"); do once "$@"; done | median; }

results_path="/items/stage_results?filter%5Bstage_id%5D%5B_in%5D=$stages&limit=-1&fields=entry_id,stage_id,elapsed_seconds,total_seconds,position_overall"
# Warm-up: Directus's schema cache, the extension's first call, PostgreSQL's plans.
once GET "$results_path" >/dev/null; once POST /penalty-preview "$tmp/brackets.json" >/dev/null; once POST /penalty-preview "$tmp/void.json" >/dev/null
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
base_ms=$(measure GET "$results_path")
all_ms=$(measure POST /penalty-preview "$tmp/brackets.json")
once POST /penalty-preview "$tmp/brackets.json" >/dev/null
affected=$(node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1])).data; console.log(`${d.penalties} penalties, ${d.stages.length} stages, ${d.stages.reduce((n,s)=>n+s.changed_entries,0)} changed result lines, next stages: ${d.stages.filter(s=>s.next_stage).map(s=>`${s.next_stage.name} (${s.next_stage.strategy}) ${s.next_stage.error ?? s.next_stage.order.filter(r=>r.before!==r.after).length + " moved"}`).join(", ")}`)' "$tmp/answer")
one_ms=$(measure POST /penalty-preview "$tmp/void.json")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { printf '%.1f' "$(echo "scale=3; $1 / $2" | bc)"; }

cat <<MD
### The preview of a penalty change (\`bench/preview.sh\`)

Generated event: $ENTRIES entries, $STAGES stages, $penalties speeding penalties (offence in \`inputs\`), $results results; an
event-wide formula of three brackets. Through the API of Directus 11.17.4 with the project's extensions (as the admin UI
calls it, as a Directus admin), PostgreSQL $(q 'SHOW server_version'), median of $RUNS requests each after a warm-up, on
$(nproc) cores; load average $load_before before, $load_after after.

| request | median | vs the plain results query |
|---|---|---|
| baseline: \`GET /items/stage_results\` of all $results results | $base_ms ms | 1.0x |
| \`POST /penalty-preview\`, new brackets for the event-wide formula ($affected) | $all_ms ms | $(ratio "$all_ms" "$base_ms")x |
| \`POST /penalty-preview\`, one penalty voided (one stage and its next stage's start order) | $one_ms ms | $(ratio "$one_ms" "$base_ms")x |
MD

//! The course (Phase 2) and timing (Phase 3) schema on the real stack: trm-init as PID 1 boots the real
//! Directus 11.17.4 on PostgreSQL + PostGIS once (cold boot: db-init, snapshot, db-init-post), and every
//! test here shares that Directus and its database, each in its own event.
//! - SQL as the processor runs it: the GiST lookups, idempotent crossings, penalties and results in one
//!   transaction, a recompute that keeps reviewed penalties, frozen official results, and the rules
//!   (invalid polygons, overlapping brackets, the typed owner, order uniques) refusing bad rows.
//! - The REST API as the admin: a course from GeoJSON read back identical, an invalid polygon refused
//!   with a clear error, a geofence used by a segment not deletable, operators listing crossings and
//!   penalties, overriding a penalty and publishing a stage's results.

use trm_test_support as common;

use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(300);

static NEXT_EVENT: AtomicU32 = AtomicU32::new(1);
static TOKEN: OnceLock<String> = OnceLock::new();

/// The one stack every test here uses (support's `shared_stack`): booted on first use.
fn shared() -> &'static SharedStack {
    shared_stack("course", BOOT, |stack| {
        let log = stack.boot.log();
        assert!(log.contains("snapshot applied"), "cold boot applies the snapshot:\n{log}");
        assert!(log.contains("db-init post: ok"), "cold boot runs db-init-post:\n{log}");
    })
}

/// The admin's access token on the shared stack.
fn token() -> &'static str {
    TOKEN.get_or_init(|| directus_login(shared().boot.ports.directus))
}

fn sql(sql: &str) -> String {
    shared().db.query(sql)
}

fn sql_err(statement: &str) -> String {
    match psql_result(&shared().db.name, statement) {
        Ok(out) => panic!("the database accepted what it must refuse: {statement}\n-> {out}"),
        Err(e) => e,
    }
}

/// A new organization + event (+ one class) for one test; returns (event_id, class_id).
fn new_event(tag: &str) -> (i64, i64) {
    let n = NEXT_EVENT.fetch_add(1, Ordering::SeqCst);
    let slug = format!("{tag}-{n}");
    let ids = sql(&format!(
        "WITH o AS (INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Club {slug}', 'club-{slug}') RETURNING id),
              e AS (INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
                    SELECT id, 'Rally {slug}', '{slug}', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'Europe/Tirane' FROM o
                    RETURNING id),
              c AS (INSERT INTO classes (event_id, code, name, sort_order) SELECT id, 'C-2', 'Cars 2', 10 FROM e RETURNING id, event_id)
         SELECT event_id || ',' || id FROM c"
    ));
    let (e, c) = ids.split_once(',').unwrap_or_else(|| panic!("new event: {ids}"));
    (e.parse().expect("event id"), c.parse().expect("class id"))
}

/// An entry with one tracker, registered with the event's organisation (db-init-post/023); returns
/// (entry_id, device_id).
fn new_entry(event: i64, class: i64, race_number: i64) -> (i64, String) {
    let row = sql(&format!(
        "WITH d AS (INSERT INTO devices (id, imei, model) VALUES (gen_random_uuid(), '35{event:06}{race_number:07}', 'FMB920') RETURNING id),
              en AS (INSERT INTO entries (event_id, class_id, race_number, status) VALUES ({event}, {class}, {race_number}, 'started') RETURNING id)
         SELECT en.id || ',' || d.id FROM en, d"
    ));
    let (e, d) = row.split_once(',').unwrap_or_else(|| panic!("new entry: {row}"));
    sql(&format!(
        "INSERT INTO organization_devices (organization_id, device_id) SELECT organization_id, '{d}' FROM events WHERE id = {event}"
    ));
    sql(&format!("INSERT INTO entry_devices (entry_id, device_id) VALUES ({e}, '{d}')"));
    (e.parse().expect("entry id"), d.to_string())
}

/// A GeoJSON rectangle from its corners (literal coordinates, so they read back bit for bit).
fn square(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]})
}

fn wkt_square(lon: f64, lat: f64, size: f64) -> String {
    format!(
        "ST_GeomFromText('POLYGON(({lon} {lat},{x} {lat},{x} {y},{lon} {y},{lon} {lat}))', 4326)",
        x = lon + size,
        y = lat + size
    )
}

/// A stage with one special-stage segment between two geofences, by SQL; returns (stage, segment, start, finish).
fn sql_course(event: i64) -> (i64, i64, i64, i64) {
    let row = sql(&format!(
        "WITH s AS (INSERT INTO stages (event_id, name, sort_order, starts_at, status) VALUES ({event}, 'SS1', 1, '2026-06-07T06:00:00Z', 'open') RETURNING id),
              a AS (INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({event}, 'start', 'start', {}) RETURNING id),
              b AS (INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({event}, 'finish', 'finish', {}) RETURNING id),
              g AS (INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id)
                    SELECT s.id, 1, 'special-stage', a.id, b.id FROM s, a, b RETURNING id, stage_id, entry_geofence_id, exit_geofence_id)
         SELECT concat_ws(',', stage_id, id, entry_geofence_id, exit_geofence_id) FROM g",
        wkt_square(19.80, 41.30, 0.01),
        wkt_square(19.90, 41.30, 0.01)
    ));
    let v: Vec<i64> = row.split(',').map(|x| x.parse().unwrap_or_else(|_| panic!("course row: {row}"))).collect();
    (v[0], v[1], v[2], v[3])
}

fn api(method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let s = shared();
    let text = body.map(Value::to_string);
    let (status, answer) = http(s.boot.ports.directus, method, path, Some(token()), text.as_deref());
    let value = serde_json::from_str(&answer).unwrap_or(Value::String(answer));
    (status, value)
}

fn api_ok(method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, answer) = api(method, path, body);
    assert!((200..300).contains(&status), "{method} {path}: {status} {answer}");
    answer
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

// ---------------------------------------------------------------------------------------------------
// The processor's side, in SQL

#[test]
fn boot_created_every_collection_and_rule() {
    let collections =
        sql("SELECT string_agg(collection, ',' ORDER BY collection) FROM directus_collections WHERE collection IN
           ('stages','segments','geofences','waypoints','speed_limit_zones','penalty_formulas','entry_segment_starts',
            'entry_crossings','entry_penalties','stage_results')");
    assert_eq!(
        collections,
        "entry_crossings,entry_penalties,entry_segment_starts,geofences,penalty_formulas,segments,speed_limit_zones,\
         stage_results,stages,waypoints"
    );
    assert_eq!(
        sql("SELECT string_agg(f_table_name || '.' || f_geometry_column || ':' || type || ':' || srid, ' ' ORDER BY f_table_name)
               FROM geometry_columns WHERE f_table_schema = 'public'"),
        "geofences.geometry:POLYGON:4326 speed_limit_zones.geometry:POLYGON:4326 stages.track:LINESTRING:4326 \
         waypoints.location:POINT:4326",
        "the course's geometry, with the roadbook track of a stage (issue 26)"
    );
    assert_eq!(
        sql("SELECT count(*) FROM migrations_applied WHERE filename IN ('004_postgis.sql', 'post/004_course.sql', 'post/005_timing.sql')"),
        "3"
    );
    // The admin UI's map: geometry fields use the map interface.
    let field = api_ok("GET", "/fields/geofences/geometry", None);
    assert_eq!(field["data"]["type"], "geometry.Polygon", "{field}");
    assert_eq!(field["data"]["meta"]["interface"], "map", "{field}");
}

#[test]
fn processor_lookups_use_the_gist_indexes() {
    let (event, _) = new_event("gist");
    let (_, segment, start, _) = sql_course(event);
    // A realistic number of geofences and zones, so the planner has a choice to make.
    sql(&format!(
        "INSERT INTO geofences (event_id, name, kind, geometry)
         SELECT {event}, 'cp ' || n, 'checkpoint', ST_Buffer(ST_SetSRID(ST_MakePoint(19.5 + (n % 20) * 0.07, 40.0 + (n / 20) * 0.15), 4326)::geography, 300, 8)::geometry
           FROM generate_series(1, 300) n;
         INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh)
         SELECT {segment}, 'village ' || n, ST_Buffer(ST_SetSRID(ST_MakePoint(19.5 + (n % 20) * 0.07, 40.0 + (n / 20) * 0.15), 4326)::geography, 800, 8)::geometry, 50
           FROM generate_series(1, 200) n;
         INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh) VALUES ({segment}, 'start village', {}, 30);
         ANALYZE geofences; ANALYZE speed_limit_zones;",
        wkt_square(19.80, 41.30, 0.02)
    ));
    let fences = format!(
        "SELECT g.id FROM geofences g WHERE g.event_id = {event} AND g.active
           AND ST_Contains(g.geometry, ST_SetSRID(ST_MakePoint(19.805, 41.305), 4326))"
    );
    assert_eq!(sql(&fences), start.to_string(), "the start geofence contains the fix");
    let plan = sql(&format!("EXPLAIN {fences}"));
    assert!(plan.contains("geofences_geometry_gist"), "the geofence lookup uses the GiST index:\n{plan}");

    let zone = format!(
        "SELECT z.speed_limit_kmh FROM speed_limit_zones z JOIN segments sg ON sg.id = z.segment_id
           JOIN stages st ON st.id = sg.stage_id
          WHERE st.event_id = {event} AND z.active AND ST_Contains(z.geometry, ST_SetSRID(ST_MakePoint(19.805, 41.305), 4326))
          ORDER BY z.speed_limit_kmh LIMIT 1"
    );
    assert_eq!(sql(&zone), "30", "the fix lies in the 30 km/h zone");
    let plan = sql(&format!("EXPLAIN {zone}"));
    assert!(plan.contains("speed_limit_zones_geometry_gist"), "the zone lookup uses the GiST index:\n{plan}");
}

#[test]
fn processor_writes_crossings_penalties_and_results_and_a_recompute_keeps_reviews() {
    let (event, class) = new_event("proc");
    let (stage, segment, start, finish) = sql_course(event);
    let (entry, device) = new_entry(event, class, 301);

    // Crossings: inserted twice, the second time is a no-op.
    let crossings = format!(
        "INSERT INTO entry_crossings (entry_id, geofence_id, ts, kind, device_id, position_ts, source) VALUES
           ({entry}, {start}, '2026-06-07T08:00:00Z', 'exit', '{device}', '2026-06-07T08:00:01Z', 'processor'),
           ({entry}, {finish}, '2026-06-07T09:00:00Z', 'entry', '{device}', '2026-06-07T09:00:02Z', 'processor')
         ON CONFLICT (entry_id, geofence_id, ts) DO NOTHING RETURNING id"
    );
    assert_eq!(sql(&crossings).lines().count(), 2, "first insert writes two crossings");
    assert_eq!(sql(&crossings), "", "the second insert is a no-op");
    assert_eq!(sql(&format!("SELECT count(*) FROM entry_crossings WHERE entry_id = {entry}")), "2");

    // A formula (bracket) and penalties + results in one transaction.
    let formula = sql(&format!(
        "INSERT INTO penalty_formulas (event_id, belongs_to_type, belongs_to_id, type, offence_min, offence_max, operator, penalty_seconds)
         VALUES ({event}, 'segment', {segment}, 'speeding', 0, 10, 'fixed', 60) RETURNING id"
    ));
    let write = |penalties: &str, result_status: &str| {
        format!(
            "BEGIN;
             DELETE FROM entry_penalties WHERE entry_id = {entry} AND stage_id = {stage} AND review_state = 'computed';
             INSERT INTO entry_penalties (entry_id, stage_id, segment_id, type, penalty_key, formula_id, formula_snapshot, inputs, seconds)
             VALUES {penalties}
             ON CONFLICT (entry_id, penalty_key) DO NOTHING;
             INSERT INTO stage_results (entry_id, stage_id, started_at, finished_at, elapsed_seconds, penalty_seconds, total_seconds,
                                        position_overall, position_in_class, status)
             SELECT {entry}, {stage}, '2026-06-07T08:00:00Z', '2026-06-07T09:00:00Z', 3600, s, 3600 + s, 1, 1, '{result_status}'
               FROM (SELECT coalesce(sum(CASE review_state WHEN 'overridden' THEN override_seconds WHEN 'void' THEN 0 ELSE seconds END), 0)::int AS s
                       FROM entry_penalties WHERE entry_id = {entry} AND stage_id = {stage}) p
             ON CONFLICT (entry_id, stage_id) DO UPDATE
               SET penalty_seconds = EXCLUDED.penalty_seconds, total_seconds = EXCLUDED.total_seconds
               WHERE stage_results.status = 'provisional';
             COMMIT;"
        )
    };
    let p = |key: &str, secs: i64| {
        format!("({entry}, {stage}, {segment}, 'speeding', '{key}', {formula}, '{{\"penalty_seconds\": 60}}', '{{\"peak_kmh\": 57}}', {secs})")
    };
    // One transaction: a failing results row leaves no penalty behind.
    let failed = psql_result(&shared().db.name, &write(&p("speeding:a", 60), "bogus"));
    assert!(failed.is_err(), "an invalid result status is refused");
    assert_eq!(
        sql(&format!("SELECT count(*) FROM entry_penalties WHERE entry_id = {entry}")),
        "0",
        "nothing half-written"
    );

    sql(&write(&format!("{}, {}", p("speeding:a", 60), p("speeding:b", 60)), "provisional"));
    assert_eq!(sql(&format!("SELECT total_seconds FROM stage_results WHERE entry_id = {entry}")), "3720");

    // The operator overrides one penalty.
    sql(&format!(
        "UPDATE entry_penalties SET review_state = 'overridden', override_seconds = 0, override_reason = 'radar not calibrated'
          WHERE entry_id = {entry} AND penalty_key = 'speeding:a'"
    ));
    assert_eq!(
        sql(&format!("SELECT overridden_at IS NOT NULL FROM entry_penalties WHERE penalty_key = 'speeding:a' AND entry_id = {entry}")),
        "t",
        "the database stamps the override"
    );

    // Recompute: new numbers for both offences and a new one; the overridden one keeps its review.
    sql(&write(&format!("{}, {}, {}", p("speeding:a", 300), p("speeding:b", 120), p("speeding:c", 60)), "provisional"));
    assert_eq!(
        sql(&format!(
            "SELECT string_agg(penalty_key || '=' || seconds || '/' || review_state || '/' || coalesce(override_seconds::text, '-'), ' ' ORDER BY penalty_key)
               FROM entry_penalties WHERE entry_id = {entry}"
        )),
        "speeding:a=60/overridden/0 speeding:b=120/computed/- speeding:c=60/computed/-"
    );
    assert_eq!(sql(&format!("SELECT total_seconds FROM stage_results WHERE entry_id = {entry}")), "3780");

    // A processor bug cannot silently drop or rewrite a reviewed penalty.
    let e = sql_err(&format!("DELETE FROM entry_penalties WHERE entry_id = {entry}"));
    assert!(e.contains("reviewed_penalty_kept"), "{e}");
    let e = sql_err(&format!(
        "UPDATE entry_penalties SET seconds = 999 WHERE entry_id = {entry} AND penalty_key = 'speeding:a'"
    ));
    assert!(e.contains("reviewed_penalty_frozen"), "{e}");
    let e = sql_err(&format!(
        "UPDATE entry_penalties SET review_state = 'overridden' WHERE entry_id = {entry} AND penalty_key = 'speeding:b'"
    ));
    assert!(e.contains("decision_needs_reason"), "an override needs a reason (db-init-post/011): {e}");

    // Official results are frozen until set back to provisional.
    sql(&format!("UPDATE stage_results SET status = 'official' WHERE entry_id = {entry}"));
    assert_eq!(sql(&format!("SELECT published_at IS NOT NULL FROM stage_results WHERE entry_id = {entry}")), "t");
    let e = sql_err(&format!("UPDATE stage_results SET total_seconds = 1 WHERE entry_id = {entry}"));
    assert!(e.contains("official_results_frozen") && e.contains("provisional"), "{e}");
    let e = sql_err(&format!(
        "UPDATE stage_results SET status = 'provisional', total_seconds = 1 WHERE entry_id = {entry}"
    ));
    assert!(e.contains("official_results_frozen"), "setting back and changing is two steps: {e}");
    let e = sql_err(&format!("DELETE FROM stage_results WHERE entry_id = {entry}"));
    assert!(e.contains("official_results_frozen"), "{e}");
    // The processor's upsert leaves an official row alone.
    sql(&write(&p("speeding:d", 60), "provisional"));
    assert_eq!(
        sql(&format!("SELECT total_seconds || ' ' || status FROM stage_results WHERE entry_id = {entry}")),
        "3780 official"
    );
    // Taking an official result back says why (db-init-post/011).
    let e = sql_err(&format!("UPDATE stage_results SET status = 'provisional' WHERE entry_id = {entry}"));
    assert!(e.contains("decision_needs_reason"), "{e}");
    sql(&format!(
        "BEGIN; SET LOCAL trm.reason = 'protest 1 upheld'; UPDATE stage_results SET status = 'provisional' WHERE entry_id = {entry}; COMMIT;"
    ));
    sql(&format!("UPDATE stage_results SET total_seconds = 3840 WHERE entry_id = {entry}"));
    assert_eq!(
        sql(&format!("SELECT total_seconds || ' ' || status || ' ' || (published_at IS NULL) FROM stage_results WHERE entry_id = {entry}")),
        "3840 provisional true"
    );
}

#[test]
fn the_database_refuses_bad_course_and_formula_rows_with_clear_errors() {
    let (event, _) = new_event("rules");
    let (stage, segment, start, finish) = sql_course(event);

    // Geometry rules name the collection, the field and the rule.
    let bow_tie = "ST_GeomFromText('POLYGON((19 41, 20 42, 20 41, 19 42, 19 41))', 4326)";
    let e = sql_err(&format!(
        "INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({event}, 'x', 'checkpoint', {bow_tie})"
    ));
    assert!(e.contains("geofences.geometry") && e.contains("polygon_valid") && e.contains("Self-intersection"), "{e}");
    let open_ring = r#"ST_SetSRID(ST_GeomFromGeoJSON('{"type":"Polygon","coordinates":[[[19,41],[20,41],[20,42],[19,42]]]}'), 4326)"#;
    let e = sql_err(&format!("INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh) VALUES ({segment}, 'x', {open_ring}, 50)"));
    assert!(e.contains("speed_limit_zones.geometry") && e.contains("ring_closed"), "{e}");
    let e = sql_err(&format!(
        "INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({event}, 'x', 'checkpoint', ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))', 3857))"
    ));
    assert!(e.contains("SRID"), "SRID 4326 is enforced: {e}");
    let e = sql_err(&format!(
        "INSERT INTO waypoints (segment_id, location, tolerance_meters, sort_order) VALUES ({segment}, ST_SetSRID(ST_MakePoint(41.3, 190), 4326), 90, 1)"
    ));
    assert!(e.contains("waypoints.location") && e.contains("wgs84_range"), "{e}");

    // Order is unique where it matters.
    let e = sql_err(&format!("INSERT INTO stages (event_id, name, sort_order) VALUES ({event}, 'again', 1)"));
    assert!(e.contains("stages_event_id_sort_order_unique"), "{e}");
    let e = sql_err(&format!(
        "INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id) VALUES ({stage}, 1, 'liaison', {start}, {finish})"
    ));
    assert!(e.contains("segments_stage_id_sort_order_unique"), "{e}");

    // A segment's geofences come from its own event.
    let (other, _) = new_event("rules-other");
    let foreign = sql(&format!(
        "INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({other}, 'elsewhere', 'finish', {}) RETURNING id",
        wkt_square(20.0, 41.0, 0.01)
    ));
    let e = sql_err(&format!(
        "INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id) VALUES ({stage}, 2, 'liaison', {finish}, {foreign})"
    ));
    assert!(e.contains("segment_geofences_same_event"), "{e}");

    // Penalty brackets: the typed owner is kept consistent, brackets never overlap.
    let insert = |owner: &str, lo: &str, hi: &str| {
        format!(
            "INSERT INTO penalty_formulas (event_id, belongs_to_type, {owner}, type, offence_min, offence_max, operator, penalty_seconds)
             VALUES ({event}, 'segment', {segment}, 'speeding', {lo}, {hi}, 'fixed', 60) RETURNING belongs_to_id || ',' || segment_id"
        )
    };
    assert_eq!(
        sql(&insert("segment_id", "0", "10")),
        format!("{segment},{segment}"),
        "the typed column fills belongs_to_id"
    );
    assert_eq!(
        sql(&insert("belongs_to_id", "10", "20")),
        format!("{segment},{segment}"),
        "belongs_to_id fills the typed column"
    );
    let e = sql_err(&insert("segment_id", "15", "NULL"));
    assert!(e.contains("penalty_formulas_brackets_do_not_overlap") && e.contains("overlaps formula"), "{e}");
    sql(&insert("segment_id", "20", "NULL"));
    let e = sql_err(&format!(
        "INSERT INTO penalty_formulas (event_id, belongs_to_type, stage_id, type, offence_min, penalty_seconds) VALUES ({other}, 'stage', {stage}, 'late-start', 0, 60)"
    ));
    assert!(e.contains("penalty_formula_owner_same_event"), "{e}");
    let e = sql_err(&format!(
        "INSERT INTO penalty_formulas (event_id, belongs_to_type, segment_id, stage_id, type, offence_min, penalty_seconds)
         VALUES ({event}, 'segment', {segment}, {stage}, 'late-start', 0, 60)"
    ));
    assert!(e.contains("penalty_formulas_owner_check"), "one owner only: {e}");
    // Disjoint brackets of another type on the same owner are fine.
    sql(&format!(
        "INSERT INTO penalty_formulas (event_id, belongs_to_type, segment_id, type, offence_min, penalty_seconds) VALUES ({event}, 'segment', {segment}, 'late-arrival', 0, 60)"
    ));
}

/// The one bracket evaluator (db-init-post/016_penalty_brackets.sql): every operator and every edge of a
/// bracket, on brackets given as JSON (a proposal, an old version) and on the brackets stored for an owner.
#[test]
fn the_bracket_evaluator_applies_every_operator_at_every_edge() {
    // Speeding over the limit, in km/h: 0-10 a flat minute, 10-20 30 s per started km/h above 10, 20-40
    // nothing (a gap), 40 and more disqualification (with 600 s on top, as some regulations give).
    let brackets = r#"[{"offence_min": 0, "offence_max": 10, "operator": "fixed", "penalty_seconds": 60},
                       {"offence_min": 10, "offence_max": 20, "operator": "per_unit", "penalty_seconds": 30},
                       {"offence_min": 40, "offence_max": null, "operator": "disqualification", "penalty_seconds": 600}]"#;
    let evaluate = |offence: &str| {
        sql(&format!(
            "SELECT coalesce((SELECT concat_ws(' ', bracket ->> 'offence_min', seconds, disqualified) FROM trm_penalty('{brackets}'::jsonb, {offence})), 'none')"
        ))
    };
    for (offence, expected, why) in [
        ("-0.5", "none", "below the first bracket"),
        ("0", "0 60 f", "a bracket's start is inclusive (fixed)"),
        ("9.999", "0 60 f", "fixed does not grow inside its bracket"),
        ("10", "10 0 f", "the end is exclusive: 10 is in the next bracket, per_unit counts 0 units at its start"),
        ("10.001", "10 30 f", "per_unit: every started unit above offence_min counts"),
        ("11", "10 30 f", "per_unit: one whole unit"),
        ("19.5", "10 300 f", "per_unit: 9.5 units started = 10"),
        ("20", "none", "the end is exclusive, and the gap costs nothing"),
        ("39.999", "none", "still in the gap"),
        ("40", "40 600 t", "disqualification at its inclusive start"),
        ("100000", "40 600 t", "an open end has no upper limit"),
    ] {
        assert_eq!(evaluate(offence), expected, "offence {offence}: {why}");
    }

    // Refusals: SQLSTATE 22023 with the bracket's number and the reason, never a guess.
    for (bad, needle) in [
        (
            r#"[{"offence_min": 0, "operator": "double", "penalty_seconds": 1}]"#,
            "penalty bracket 1: operator double is not fixed, per_unit or disqualification",
        ),
        (r#"[{"operator": "fixed", "penalty_seconds": 1}]"#, "penalty bracket 1: offence_min is required"),
        (r#"[{"offence_min": 0, "operator": "fixed"}]"#, "penalty bracket 1: penalty_seconds is required"),
        (
            r#"[{"offence_min": 5, "offence_max": 5, "operator": "fixed", "penalty_seconds": 1}]"#,
            "penalty bracket 1: offence_max 5 is not above offence_min 5",
        ),
        (
            r#"[{"offence_min": 0, "operator": "fixed", "penalty_seconds": 1}, {"id": 9, "offence_min": 3, "operator": "fixed", "penalty_seconds": 2}]"#,
            "penalty bracket 2 (formula 9): offence 4 is also in bracket 1",
        ),
    ] {
        let e = sql_err(&format!("SELECT * FROM trm_penalty('{bad}'::jsonb, 4)"));
        assert!(e.contains(needle) && e.contains("rule penalty_bracket_valid"), "{bad}: {e}");
    }
    let e = sql_err(&format!("SELECT * FROM trm_penalty('{brackets}'::jsonb, NULL)"));
    assert!(e.contains("the offence is NULL"), "{e}");

    // The same brackets stored for a segment: trm_formula_penalty reads the enabled ones and hands back
    // the row it applied, as entry_penalties.formula_snapshot keeps it.
    let (event, _) = new_event("brackets");
    let (_, segment, _, _) = sql_course(event);
    let ids = sql(&format!(
        "INSERT INTO penalty_formulas (event_id, belongs_to_type, segment_id, type, offence_min, offence_max, operator, penalty_seconds, enabled)
         VALUES ({event}, 'segment', {segment}, 'speeding', 0, 10, 'fixed', 60, true),
                ({event}, 'segment', {segment}, 'speeding', 10, 20, 'per_unit', 30, true),
                ({event}, 'segment', {segment}, 'speeding', 40, NULL, 'disqualification', 600, true),
                ({event}, 'segment', {segment}, 'missed-waypoint', 1, NULL, 'per_unit', 1800, false)
         RETURNING id"
    ));
    let first_id = ids.lines().next().expect("formula ids");
    let stored = |penalty_type: &str, offence: &str| {
        sql(&format!(
            "SELECT coalesce((SELECT concat_ws(' ', bracket ->> 'id', bracket ->> 'operator', seconds, disqualified)
                                FROM trm_formula_penalty('segment', {segment}, '{penalty_type}', {offence})), 'none')"
        ))
    };
    assert_eq!(stored("speeding", "5"), format!("{first_id} fixed 60 f"));
    assert!(stored("speeding", "12.2").ends_with(" per_unit 90 f"), "{}", stored("speeding", "12.2"));
    assert!(stored("speeding", "41").ends_with(" disqualification 600 t"));
    assert_eq!(stored("speeding", "25"), "none");
    assert_eq!(stored("missed-waypoint", "3"), "none", "a disabled bracket does not apply");
    assert_eq!(sql(&format!("SELECT jsonb_array_length(trm_formula_brackets('segment', {segment}, 'speeding'))")), "3");
}

/// What an entry's rows point at belongs to the entry's event (db-init-post/007_same_event.sql): the
/// error names the table, the column, the row pointed at, the event it should be in and the rule (never
/// the other event, which may be another organisation's); rows of the same event are accepted.
#[test]
fn an_entry_s_rows_point_only_into_the_entry_s_event() {
    let (event, class) = new_event("same");
    let (entry, _) = new_entry(event, class, 1);
    let (stage, segment, start, _) = sql_course(event);
    let (other, other_class) = new_event("same-other");
    let (other_stage, other_segment, other_fence, _) = sql_course(other);

    let e = sql_err(&format!("UPDATE entries SET class_id = {other_class} WHERE id = {entry}"));
    assert!(
        e.contains(&format!("entries.class_id: class {other_class} is not in event {event}, the entry's event"))
            && e.contains("entries_same_event"),
        "{e}"
    );
    for (what, statement, rule) in [
        (
            "a start in another event's segment",
            format!("INSERT INTO entry_segment_starts (entry_id, segment_id, start_position, target_at) VALUES ({entry}, {other_segment}, 1, now())"),
            "entry_segment_starts_same_event",
        ),
        (
            "a crossing of another event's geofence",
            format!("INSERT INTO entry_crossings (entry_id, geofence_id, ts, kind) VALUES ({entry}, {other_fence}, now(), 'entry')"),
            "entry_crossings_same_event",
        ),
        (
            "a penalty in another event's stage",
            format!("INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, seconds) VALUES ({entry}, {other_stage}, 'other', 'x', 1)"),
            "entry_penalties_same_event",
        ),
        (
            "a penalty in another event's segment",
            format!("INSERT INTO entry_penalties (entry_id, segment_id, type, penalty_key, seconds) VALUES ({entry}, {other_segment}, 'other', 'y', 1)"),
            "entry_penalties_same_event",
        ),
        (
            "a result of another event's stage",
            format!("INSERT INTO stage_results (entry_id, stage_id) VALUES ({entry}, {other_stage})"),
            "stage_results_same_event",
        ),
    ] {
        let e = sql_err(&statement);
        assert!(e.contains(rule) && e.contains(&format!("is not in event {event}, the event of entry {entry}")), "{what}: {e}");
    }
    // The same rows in the entry's own event are fine; an update is checked like an insert.
    sql(&format!(
        "INSERT INTO entry_segment_starts (entry_id, segment_id, start_position, target_at) VALUES ({entry}, {segment}, 1, now());
         INSERT INTO entry_crossings (entry_id, geofence_id, ts, kind) VALUES ({entry}, {start}, now(), 'entry');
         INSERT INTO entry_penalties (entry_id, stage_id, segment_id, type, penalty_key, seconds) VALUES ({entry}, {stage}, {segment}, 'other', 'z', 1);
         INSERT INTO stage_results (entry_id, stage_id) VALUES ({entry}, {stage})"
    ));
    let e = sql_err(&format!("UPDATE entry_crossings SET geofence_id = {other_fence} WHERE entry_id = {entry}"));
    assert!(e.contains("entry_crossings.geofence_id"), "an update is checked too: {e}");
}

// ---------------------------------------------------------------------------------------------------
// The operators' side, through the REST API as the admin

#[test]
fn a_course_created_from_geojson_reads_back_identical() {
    let (event, _) = new_event("rest-course");
    let fences = api_ok(
        "POST",
        "/items/geofences",
        Some(&json!([
            {"event_id": event, "name": "Start SS1", "kind": "start", "geometry": square(19.8123, 41.3275, 19.8163, 41.3315)},
            {"event_id": event, "name": "Finish SS1", "kind": "finish", "geometry": square(19.9501, 41.2108, 19.9541, 41.2148),
             "manual_verification": true, "retroactive": true},
        ])),
    );
    let start = id_of(&fences["data"][0]);
    let finish = id_of(&fences["data"][1]);
    let stage = id_of(
        &api_ok(
            "POST",
            "/items/stages",
            Some(
                &json!({"event_id": event, "name": "Tirana - Elbasan", "sort_order": 1, "starts_at": "2026-06-07T06:00:00",
                         "start_interval_seconds": 60, "start_order_strategy": "inverse_top_n_then_natural",
                         "start_order_strategy_params": {"top_n": 15}}),
            ),
        )["data"],
    );
    let segment = id_of(
        &api_ok(
            "POST",
            "/items/segments",
            Some(&json!({"stage_id": stage, "sort_order": 1, "type": "special-stage", "entry_geofence_id": start,
                         "exit_geofence_id": finish, "target_duration_seconds": 5400})),
        )["data"],
    );
    let points: Vec<Value> = [[19.8412, 41.2903], [19.8705, 41.2611], [19.9126, 41.2354]]
        .iter()
        .enumerate()
        .map(|(i, at)| {
            json!({"segment_id": segment, "sort_order": i + 1, "tolerance_meters": 90,
                   "location": {"type": "Point", "coordinates": at}})
        })
        .collect();
    api_ok("POST", "/items/waypoints", Some(&Value::Array(points.clone())));
    api_ok(
        "POST",
        "/items/speed_limit_zones",
        Some(
            &json!({"segment_id": segment, "name": "Peqin", "geometry": square(19.86, 41.04, 19.87, 41.05), "speed_limit_kmh": 50}),
        ),
    );

    // Read back: the same GeoJSON and values.
    let back = api_ok("GET", &format!("/items/geofences/{start}"), None);
    assert_eq!(back["data"]["geometry"], square(19.8123, 41.3275, 19.8163, 41.3315), "{back}");
    let back =
        api_ok("GET", &format!("/items/geofences/{finish}?fields=manual_verification,retroactive,active,kind"), None);
    assert_eq!(
        back["data"],
        json!({"manual_verification": true, "retroactive": true, "active": true, "kind": "finish"})
    );
    let back = api_ok(
        "GET",
        &format!("/items/waypoints?filter[segment_id][_eq]={segment}&sort=sort_order&fields=location,sort_order"),
        None,
    );
    let got: Vec<Value> = back["data"].as_array().expect("waypoints").iter().map(|w| w["location"].clone()).collect();
    let want: Vec<Value> = points.iter().map(|p| p["location"].clone()).collect();
    assert_eq!(got, want);
    let back = api_ok("GET", &format!("/items/stages/{stage}"), None);
    assert_eq!(back["data"]["status"], "planned", "a new stage is planned: {back}");
    assert_eq!(back["data"]["start_order_strategy_params"], json!({"top_n": 15}));
    let back = api_ok("GET", &format!("/items/speed_limit_zones?filter[segment_id][_eq]={segment}"), None);
    assert_eq!(back["data"][0]["geometry"], square(19.86, 41.04, 19.87, 41.05));

    // Stored in WGS 84, where the processor finds it.
    assert_eq!(
        sql(&format!(
            "SELECT g.id FROM geofences g WHERE g.event_id = {event} AND g.active
               AND ST_Contains(g.geometry, ST_SetSRID(ST_MakePoint(19.814, 41.329), 4326))"
        )),
        start.to_string()
    );
}

#[test]
fn an_invalid_polygon_is_refused_with_a_clear_error() {
    let (event, _) = new_event("rest-invalid");
    let bow_tie = json!({"type": "Polygon", "coordinates": [[[19.0, 41.0], [20.0, 42.0], [20.0, 41.0], [19.0, 42.0], [19.0, 41.0]]]});
    let (status, answer) = api(
        "POST",
        "/items/geofences",
        Some(&json!({"event_id": event, "name": "bow tie", "kind": "checkpoint", "geometry": bow_tie})),
    );
    assert!(status >= 400, "a self-intersecting polygon is refused: {status} {answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("geofences.geometry") && message.contains("polygon_valid"),
        "the error names the collection and the rule: {answer}"
    );

    let open = json!({"type": "Polygon", "coordinates": [[[19.0, 41.0], [20.0, 41.0], [20.0, 42.0], [19.0, 42.0]]]});
    let (status, answer) = api(
        "POST",
        "/items/geofences",
        Some(&json!({"event_id": event, "name": "open", "kind": "checkpoint", "geometry": open})),
    );
    assert!(status >= 400, "an unclosed ring is refused: {status} {answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("geofences") && message.contains("non-closed"), "{answer}");
    assert_eq!(sql(&format!("SELECT count(*) FROM geofences WHERE event_id = {event}")), "0");
}

#[test]
fn a_geofence_used_by_a_segment_cannot_be_deleted() {
    let (event, _) = new_event("rest-restrict");
    let (_, segment, start, _) = sql_course(event);
    let (status, answer) = api("DELETE", &format!("/items/geofences/{start}"), None);
    assert!(status >= 400, "deleting a geofence a segment uses is refused: {status} {answer}");
    assert_eq!(sql(&format!("SELECT count(*) FROM geofences WHERE id = {start}")), "1");
    // Without the segment it can go; the segment's waypoints go with the segment.
    sql(&format!(
        "INSERT INTO waypoints (segment_id, location, tolerance_meters, sort_order) VALUES ({segment}, ST_SetSRID(ST_MakePoint(19.85, 41.3), 4326), 90, 1)"
    ));
    api_ok("DELETE", &format!("/items/segments/{segment}"), None);
    assert_eq!(sql(&format!("SELECT count(*) FROM waypoints WHERE segment_id = {segment}")), "0");
    api_ok("DELETE", &format!("/items/geofences/{start}"), None);
}

#[test]
fn operators_list_crossings_and_penalties_override_a_penalty_and_publish_results() {
    let (event, class) = new_event("rest-ops");
    let (stage, _, start, finish) = sql_course(event);
    let (entry, device) = new_entry(event, class, 302);
    let (other, _) = new_entry(event, class, 303);
    // The processor's writes.
    sql(&format!(
        "INSERT INTO entry_crossings (entry_id, geofence_id, ts, kind, device_id, position_ts) VALUES
           ({entry}, {start}, '2026-06-07T08:00:00Z', 'exit', '{device}', '2026-06-07T08:00:00Z'),
           ({entry}, {finish}, '2026-06-07T09:00:00Z', 'entry', '{device}', '2026-06-07T09:00:00Z')
         ON CONFLICT DO NOTHING;
         INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds) VALUES
           ({entry}, {stage}, 'speeding', 'speeding:1', '{{\"peak_kmh\": 71}}', 300),
           ({entry}, {stage}, 'missed-waypoint', 'wp:7', '{{\"waypoint\": 7}}', 900);
         INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
         VALUES ({entry}, {stage}, 3600, 1200, 4800, 2, 2), ({other}, {stage}, 3500, 0, 3500, 1, 1);"
    ));

    let list = api_ok(
        "GET",
        &format!("/items/entry_crossings?filter[entry_id][_eq]={entry}&sort=ts&fields=kind,geofence_id,source"),
        None,
    );
    assert_eq!(
        list["data"],
        json!([{"kind": "exit", "geofence_id": start, "source": "processor"}, {"kind": "entry", "geofence_id": finish, "source": "processor"}])
    );
    let list = api_ok("GET", &format!("/items/entry_penalties?filter[entry_id][_eq]={entry}&sort=penalty_key"), None);
    let penalties = list["data"].as_array().expect("penalties");
    assert_eq!(penalties.len(), 2, "{list}");
    assert_eq!(penalties[0]["penalty_key"], "speeding:1");
    assert_eq!(penalties[0]["review_state"], "computed");
    assert_eq!(penalties[0]["inputs"], json!({"peak_kmh": 71}));
    let speeding = id_of(&penalties[0]);

    // Override: seconds and a reason; the database stamps the time.
    let (status, answer) = api(
        "PATCH",
        &format!("/items/entry_penalties/{speeding}"),
        Some(&json!({"review_state": "overridden", "override_seconds": 60})),
    );
    assert!(status >= 400, "an override without a reason is refused: {status} {answer}");
    let done = api_ok(
        "PATCH",
        &format!("/items/entry_penalties/{speeding}"),
        Some(
            &json!({"review_state": "overridden", "override_seconds": 60, "override_reason": "GPS drift in the village"}),
        ),
    );
    assert_eq!(done["data"]["review_state"], "overridden");
    assert!(done["data"]["overridden_at"].is_string(), "overridden_at is set: {done}");
    assert_eq!(done["data"]["seconds"], 300, "the computed value stays for the record");

    // Publish the stage's results.
    api_ok(
        "PATCH",
        "/items/stage_results",
        Some(&json!({"query": {"filter": {"stage_id": {"_eq": stage}}}, "data": {"status": "official"}})),
    );
    let results =
        api_ok("GET", &format!("/items/stage_results?filter[stage_id][_eq]={stage}&sort=position_overall"), None);
    for r in results["data"].as_array().expect("results") {
        assert_eq!(r["status"], "official", "{results}");
        assert!(r["published_at"].is_string(), "published_at is set: {results}");
    }
    let mine = id_of(&results["data"][1]);
    let (status, answer) = api("PATCH", &format!("/items/stage_results/{mine}"), Some(&json!({"total_seconds": 4000})));
    assert!(status >= 400, "an official result is frozen: {status} {answer}");
    assert!(answer.to_string().contains("official_results_frozen"), "{answer}");
    // Taking it back is an amendment: refused without a reason (db-init-post/011), accepted with one.
    let (status, answer) =
        api("PATCH", &format!("/items/stage_results/{mine}"), Some(&json!({"status": "provisional"})));
    assert_eq!(status, 400, "an amendment without a reason: {answer}");
    assert!(answer.to_string().contains("needs a reason"), "{answer}");
    let s = shared();
    let (status, answer) = http_with(
        s.boot.ports.directus,
        "PATCH",
        &format!("/items/stage_results/{mine}"),
        Some(token()),
        &[("X-TRM-Reason", "timing error at the finish")],
        Some(r#"{"status": "provisional"}"#),
    );
    assert_eq!(status, 200, "{answer}");
    let fixed = api_ok("PATCH", &format!("/items/stage_results/{mine}"), Some(&json!({"total_seconds": 4000})));
    assert_eq!(fixed["data"]["total_seconds"], 4000);
    assert!(fixed["data"]["published_at"].is_null(), "{fixed}");
}

//! The extensions end to end: the real Directus 11.17.4 booted by trm-init with the bundle built from
//! extensions/, real PostgreSQL, real Redis (Debian's redis-server on a free port).
//! - Flagging a window commits the positions and one outbox row; the relay puts one message on the
//!   stream; a user of another organisation gets 403; with Redis down the request is accepted, kept, and
//!   delivered exactly once when Redis is back.
//! - Opening a stage materializes its start list; reopening recomputes without duplicates and keeps the
//!   rows a timekeeper overrode; a stage whose strategy cannot be applied is refused.

use trm_test_support as common;

use common::*;
use serde_json::Value;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(240);
const STOP: Duration = Duration::from_secs(30);
const STREAM: &str = "recompute:requests";

const ORG_A: &str = "a0000000-0000-4000-8000-00000000000a";
const ORG_B: &str = "b0000000-0000-4000-8000-00000000000b";
const DEVICE: &str = "d0000000-0000-4000-8000-00000000000d";
const IMEI: &str = "356307042441013";

/// A stack with the extensions configured: Redis URL and stream name in Directus's environment.
fn boot(db: &TestDb, redis: &RedisServer) -> Boot {
    let ports = Ports::free();
    let mut env = boot_env(db, ports);
    env.push(("REDIS".into(), redis.url()));
    env.push(("RECOMPUTE_STREAM".into(), STREAM.into()));
    // Directus sheds load with 503 when its event loop lags, which this shared 2-core machine causes;
    // these tests are about the extensions, not that limiter.
    env.push(("PRESSURE_LIMITER_ENABLED".into(), "false".into()));
    // The relay reads Directus's Redis settings by Directus's own rule (extensions/test/redis-settings.json):
    // with REDIS set, Directus's own clients are on Redis too.
    let boot = Boot::start(&env, ports);
    boot.wait_healthy(BOOT);
    assert!(boot.log().contains("Loaded extensions: trm-extensions"), "the bundle was not loaded:\n{}", boot.log());
    boot
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Creates an active Directus user through the API (as admin); returns its id.
fn create_user(port: u16, admin: &str, email: &str, password: &str) -> String {
    let body = format!(r#"{{"email":"{email}","password":"{password}","status":"active"}}"#);
    let (status, text) = http(port, "POST", "/users", Some(admin), Some(&body));
    assert_eq!(status, 200, "POST /users {email}: {text}");
    json(&text)["data"]["id"].as_str().expect("user id").to_string()
}

/// Organisation A (owns the device, runs an event active now with the device on entry 301) and
/// organisation B (runs nothing with it). Returns the event id and the time of the first of the ten fixes.
fn seed_event(db: &TestDb) -> (String, String) {
    db.query(&format!(
        "INSERT INTO organizations (id, name, slug) VALUES ('{ORG_A}', 'Club A', 'club-a'), ('{ORG_B}', 'Club B', 'club-b');
         INSERT INTO devices (id, imei, model) VALUES ('{DEVICE}', '{IMEI}', 'FMB920');
         INSERT INTO organization_devices (organization_id, device_id, registered_at) VALUES ('{ORG_A}', '{DEVICE}', now());"
    ));
    let event = db.query(&format!(
        "INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
         VALUES ('{ORG_A}', 'Rally A', 'rally-a', 'rally', now() - interval '1 day', now() + interval '1 day', 'UTC')
         RETURNING id"
    ));
    let class = db.query(&format!(
        "INSERT INTO classes (event_id, code, name, sort_order) VALUES ({event}, 'C-2', 'Cars', 10) RETURNING id"
    ));
    let entry = db.query(&format!(
        "INSERT INTO entries (event_id, class_id, race_number, status) VALUES ({event}, {class}, 301, 'registered')
         RETURNING id"
    ));
    db.query(&format!("INSERT INTO entry_devices (entry_id, device_id) VALUES ({entry}, '{DEVICE}')"));
    // Ten fixes, one a minute, starting about an hour ago (one fixed base, so no minute rolls over between
    // this and the window a test computes from it).
    let base = utc(db, "date_trunc('minute', now()) - interval '1 hour'");
    db.query(&format!(
        "INSERT INTO positions (device_id, ts, latitude, longitude, altitude, angle, speed, satellites, priority, codec, attributes)
         SELECT '{IMEI}', '{base}'::timestamptz + n * interval '1 minute', 41.3, 19.8, 100, 90, 60, 9, 0, '8E', '{{}}'
           FROM generate_series(0, 9) n"
    ));
    (event, base)
}

fn utc(db: &TestDb, expr: &str) -> String {
    db.query(&format!("SELECT to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"))
}

fn flag(port: u16, token: &str, from: &str, to: &str, faulty: bool, reason: &str) -> (u16, Value) {
    let body = format!(r#"{{"imei":"{IMEI}","from":"{from}","to":"{to}","faulty":{faulty},"reason":"{reason}"}}"#);
    let (status, text) = http(port, "POST", "/faulty-positions", Some(token), Some(&body));
    (status, if text.is_empty() { Value::Null } else { json(&text) })
}

fn faulty_count(db: &TestDb) -> String {
    db.query(&format!("SELECT count(*) FROM positions WHERE device_id = '{IMEI}' AND faulty"))
}

#[test]
fn flagging_faulty_positions_reaches_the_stream_once_even_across_a_redis_outage() {
    let db = TestDb::fresh("ext_faulty");
    let mut redis = RedisServer::start();
    let stack = boot(&db, &redis);
    let port = stack.ports.directus;
    let (event, base) = seed_event(&db);
    let admin = directus_login(port);
    let director = create_user(port, &admin, "director.a@example.com", "director-pw-1");
    let other = create_user(port, &admin, "admin.b@example.com", "other-pw-1");
    db.query(&format!(
        "INSERT INTO organization_users (organization_id, user_id, role) VALUES
           ('{ORG_A}', '{director}', 'race-director'), ('{ORG_B}', '{other}', 'org-admin')"
    ));
    let director_token = login(port, "director.a@example.com", "director-pw-1");
    let other_token = login(port, "admin.b@example.com", "other-pw-1");
    let from = utc(&db, &format!("'{base}'::timestamptz + interval '2 minutes'"));
    let to = utc(&db, &format!("'{base}'::timestamptz + interval '5 minutes'"));

    // 1. Flag a window: 4 fixes (both ends included), one message on the stream.
    let (status, answer) = flag(port, &director_token, &from, &to, true, "multipath in the canyon");
    assert_eq!(status, 202, "{answer}");
    let first_id = answer["data"]["request_id"].as_str().expect("request_id").to_string();
    assert_eq!(faulty_count(&db), "4");
    assert!(eventually(Duration::from_secs(20), || redis.stream(STREAM).len() == 1), "no message:\n{}", stack.log());
    let (_, message) = redis.stream(STREAM).remove(0);
    let expect = [
        ("version", "1"),
        ("request_id", first_id.as_str()),
        ("device_imei", IMEI),
        ("faulty", "true"),
        ("reason", "multipath in the canyon"),
        ("user_id", director.as_str()),
        ("positions_changed", "4"),
    ];
    for (field, value) in expect {
        assert_eq!(message.get(field).map(String::as_str), Some(value), "field {field} of {message:?}");
    }
    assert_eq!(message["event_ids"], format!("[{event}]"));
    // The timing ledger (db-init-post/010) has each flipped fix, with the director and the reason.
    assert_eq!(
        db.query(&format!(
            "SELECT count(*) || ' ' || min(actor) || ' ' || min(reason) FROM timing_ledger WHERE table_name = 'positions' AND event_id = {event}"
        )),
        format!("4 directus:{director} multipath in the canyon")
    );
    assert_eq!(message["window_start"], from.replace('Z', ".000Z"));
    assert_eq!(message["window_end"], to.replace('Z', ".000Z"));
    assert!(message["requested_at"].ends_with('Z'), "{message:?}");

    // 2. A user of another organisation: 403, nothing changed, nothing queued.
    let (status, answer) = flag(port, &other_token, &from, &to, false, "not mine to clear");
    assert_eq!(status, 403, "{answer}");
    assert_eq!(faulty_count(&db), "4");
    assert_eq!(db.query("SELECT count(*) FROM recompute_outbox"), "1");

    // 3. Redis down: the flag is still accepted and committed, the request waits in the outbox.
    redis.stop();
    let (status, answer) = flag(port, &director_token, &from, &to, false, "fixes checked, they were fine");
    assert_eq!(status, 202, "{answer}");
    let second_id = answer["data"]["request_id"].as_str().expect("request_id").to_string();
    assert_eq!(faulty_count(&db), "0", "the positions are updated while Redis is down");
    let pending =
        format!("SELECT count(*) FROM recompute_outbox WHERE request_id = '{second_id}' AND delivered_at IS NULL");
    assert_eq!(db.query(&pending), "1");
    // The relay notices the outage and keeps the row pending through more than one round (every 5 s).
    let noticed = eventually(Duration::from_secs(20), || stack.log().contains("recompute relay: Redis: "));
    assert!(noticed, "the relay did not notice Redis was down:\n{}", stack.log());
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(db.query(&pending), "1", "not delivered while Redis is down");

    // 4. Redis back: the request arrives, exactly once, after the first one.
    redis.resume();
    assert!(eventually(Duration::from_secs(30), || redis.stream(STREAM).len() >= 2), "not delivered:\n{}", stack.log());
    std::thread::sleep(Duration::from_secs(11)); // two more relay rounds: nothing is sent again
    let entries = redis.stream(STREAM);
    let ids: Vec<&str> = entries.iter().map(|(_, f)| f["request_id"].as_str()).collect();
    assert_eq!(ids, [first_id.as_str(), second_id.as_str()], "each request exactly once, in order");
    assert_eq!(entries[1].1["faulty"], "false");
    assert_eq!(db.query("SELECT count(*) FROM recompute_outbox WHERE delivered_at IS NULL"), "0");

    let (code, log) = stack.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");
}

/// Entries 11 (#7), 12 (#12), 13 (#55), 14 (#100, withdrawn), 15 (#301, no result on the input stage).
#[test]
fn opening_a_stage_materializes_its_start_list_and_reopening_keeps_overrides() {
    let db = TestDb::fresh("ext_stage");
    let redis = RedisServer::start();
    let stack = boot(&db, &redis);
    let port = stack.ports.directus;
    let (event, _) = seed_event(&db);
    let class = db.query(&format!("SELECT id FROM classes WHERE event_id = {event}"));
    let mut entry = std::collections::HashMap::new();
    for (number, status) in
        [(7, "registered"), (12, "registered"), (55, "registered"), (100, "withdrawn"), (302, "registered")]
    {
        let id = db.query(&format!(
            "INSERT INTO entries (event_id, class_id, race_number, status) VALUES ({event}, {class}, {number}, '{status}')
             RETURNING id"
        ));
        entry.insert(number, id);
    }
    entry.insert(301, db.query(&format!("SELECT id FROM entries WHERE event_id = {event} AND race_number = 301")));
    let s1 = db.query(&format!(
        "INSERT INTO stages (event_id, name, sort_order, starts_at, start_interval_seconds, start_order_strategy, status)
         VALUES ({event}, 'SS1', 1, '2026-06-07T08:00:00Z', 60, 'manual', 'closed') RETURNING id"
    ));
    let s2 = db.query(&format!(
        "INSERT INTO stages (event_id, name, sort_order, starts_at, start_interval_seconds, start_order_strategy,
                             start_order_input_stage_id, status)
         VALUES ({event}, 'SS2', 2, '2026-06-08T07:00:00Z', 120, 'previous_stage_clean_result', {s1}, 'planned')
         RETURNING id"
    ));
    // Segments start and end at geofences of the same event (the course schema requires both).
    let fence = db.query(&format!(
        "INSERT INTO geofences (event_id, name, geometry) VALUES ({event}, 'CP1', \
         ST_GeomFromText('POLYGON((19.80 41.30, 19.81 41.30, 19.81 41.31, 19.80 41.31, 19.80 41.30))', 4326)) RETURNING id"
    ));
    let liaison = db.query(&format!(
        "INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id, target_duration_seconds) \
         VALUES ({s2}, 1, 'liaison', {fence}, {fence}, 1800) RETURNING id"
    ));
    let special = db.query(&format!(
        "INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id, target_duration_seconds) \
         VALUES ({s2}, 2, 'special-stage', {fence}, {fence}, NULL) RETURNING id"
    ));
    // SS1 clean times (penalties must not count): #55 fastest clean, #7, then #12; #301 has none.
    for (number, elapsed, total) in [(55, 1000, 1900), (7, 1100, 1100), (12, 1200, 1200), (100, 900, 900)] {
        db.query(&format!(
            "INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, status)
             VALUES ({}, {s1}, {elapsed}, {}, {total}, 'provisional')",
            entry[&number],
            total - elapsed
        ));
    }
    let admin = directus_login(port);
    let set_status = |status: &str| {
        let (code, text) = http(
            port,
            "PATCH",
            &format!("/items/stages/{s2}"),
            Some(&admin),
            Some(&format!(r#"{{"status":"{status}"}}"#)),
        );
        assert_eq!(code, 200, "PATCH stages/{s2} status={status}: {text}");
    };
    let list = |segment: &str| {
        db.query(&format!(
            "SELECT string_agg(e.race_number || '@' || s.start_position || '@' ||
                               to_char(s.target_at AT TIME ZONE 'UTC', 'HH24:MI'), ' ' ORDER BY s.start_position, e.race_number)
               FROM entry_segment_starts s JOIN entries e ON e.id = s.entry_id WHERE s.segment_id = {segment}"
        ))
    };
    let rows = format!("SELECT count(*) FROM entry_segment_starts WHERE segment_id IN ({liaison}, {special})");

    // Open: 5 starters (the withdrawn #100 is left out) x 2 segments, in SS1's clean-time order.
    set_status("open");
    assert!(
        eventually(Duration::from_secs(20), || db.query(&rows) == "10"),
        "start list not written ({} rows):\n{}",
        db.query(&rows),
        stack.log()
    );
    assert_eq!(list(&liaison), "55@1@07:00 7@2@07:02 12@3@07:04 301@4@07:06 302@5@07:08");
    assert_eq!(list(&special), "55@1@07:30 7@2@07:32 12@3@07:34 301@4@07:36 302@5@07:38");

    // A timekeeper reseeds #12's special stage; #301 gets the fastest SS1 result; the stage is closed and
    // reopened. (The stage is open: moving a published start by hand says why, db-init-post/011.)
    db.query(&format!(
        "BEGIN; SET LOCAL trm.reason = 'late at the start control';
         UPDATE entry_segment_starts SET target_at = '2026-06-08T09:00:00Z', manual_override = true
          WHERE entry_id = {} AND segment_id = {special};
         COMMIT;",
        entry[&12]
    ));
    db.query(&format!(
        "INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, status)
         VALUES ({}, {s1}, 500, 0, 500, 'provisional')",
        entry[&301]
    ));
    set_status("closed");
    set_status("open");
    let recomputed = eventually(Duration::from_secs(20), || list(&liaison).starts_with("301@1@"));
    assert!(recomputed, "not recomputed: {}\n{}", list(&liaison), stack.log());
    assert_eq!(db.query(&rows), "10", "reopening adds no duplicates");
    assert_eq!(list(&liaison), "301@1@07:00 55@2@07:02 7@3@07:04 12@4@07:06 302@5@07:08");
    assert_eq!(
        list(&special),
        "301@1@07:30 55@2@07:32 7@3@07:34 12@3@09:00 302@5@07:38",
        "the overridden row is kept as the timekeeper left it"
    );

    // A strategy that cannot be applied is refused before the stage opens.
    let (code, text) = http(
        port,
        "PATCH",
        &format!("/items/stages/{s1}"),
        Some(&admin),
        Some(
            r#"{"status":"open","start_order_strategy":"inverse_top_n_then_natural","start_order_strategy_params":{}}"#,
        ),
    );
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("inverse_top_n_then_natural needs"), "{text}");
    assert_eq!(db.query(&format!("SELECT status FROM stages WHERE id = {s1}")), "closed");

    let (code, log) = stack.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");
}

/// The extensions' own unit tests (Node's test runner: ordering strategies, ties, entries without a
/// result, targets, request parsing, authorization, the message) and their type check, on the sources
/// the bundle is built from.
#[test]
fn extension_unit_tests_and_type_check_pass() {
    extensions_path(); // installs the locked packages offline (and builds) first
    for script in ["test", "typecheck"] {
        let out = std::process::Command::new("npm")
            .args(["run", script])
            .current_dir(repo_dir("extensions"))
            .output()
            .expect("npm runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "npm run {script} failed:\n{text}");
        if script == "test" {
            assert!(text.contains("# fail 0") && !text.contains("# pass 0"), "{text}");
        }
    }
}

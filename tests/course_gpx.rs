//! Course import and export from a roadbook's OpenRally GPX (issue 26) on the real stack: trm-init as
//! PID 1 boots Directus 11.17.4 with the project's extensions on PostgreSQL + PostGIS once, and every
//! test here shares it, each in its own event.
//! - The command (`seed/import-course.mjs`, `seed/export-course.mjs`, @directus/sdk) with the sample
//!   course `seed/courses/rally-albania-2026-ss1.gpx`: stages, segments, waypoints, DSS/ASS geofences
//!   and speed zones along the track in one import; a second import changes no row; a changed file
//!   updates the rows in place; import(export(course)) is the same course.
//! - A refused file: every problem with its line, element and reason, and nothing written.
//! - By hand: a race director corrects a waypoint's roadbook fields and a zone's waypoints in Directus;
//!   a zone pointed at a waypoint of another segment is refused through Directus and in SQL, and a
//!   zone's waypoint does not move to another segment (db-init-post/030).
//! - Who may: org-admins and race-directors of the event's organisation (and admins); a marshal, a
//!   viewer, another organisation's race-director and an anonymous caller may not, and "not yours"
//!   reads exactly like "does not exist".

use trm_test_support as common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(300);
const NODE_STEP: Duration = Duration::from_secs(60);
const PASSWORD: &str = "course-gpx-pw-1";
const ORG_A: &str = "0a000000-0000-4000-8000-00000000026a";
const ORG_B: &str = "0b000000-0000-4000-8000-00000000026b";
const SAMPLE: &str = "seed/courses/rally-albania-2026-ss1.gpx";
const STAGE: &str = "SS1 Shkodër - Theth";

static NEXT_EVENT: AtomicU32 = AtomicU32::new(1);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The users of the two organisations, by role: (email, organisation, role).
const USERS: [(&str, &str, &str); 5] = [
    ("rd.a@example.org", ORG_A, "race-director"),
    ("admin.a@example.org", ORG_A, "org-admin"),
    ("marshal.a@example.org", ORG_A, "marshal"),
    ("viewer.a@example.org", ORG_A, "viewer"),
    ("rd.b@example.org", ORG_B, "race-director"),
];

/// The one stack every test here uses (support's `shared_stack`), with the two organisations and their
/// users: booted on first use.
fn shared() -> &'static SharedStack {
    shared_stack("course_gpx", BOOT, |stack| {
        require(
            "the seed's npm packages",
            repo().join("seed/node_modules/@directus/sdk").exists(),
            "run `npm ci` in seed/; scripts/test.sh does this",
        );
        let boot = &stack.boot;
        assert!(boot.log().contains("Loaded extensions: trm-extensions"), "the bundle was not loaded:\n{}", boot.log());
        stack.add_members(&[(ORG_A, "Club A", "club-a"), (ORG_B, "Club B", "club-b")], &USERS, PASSWORD);
    })
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn sql(statement: &str) -> String {
    shared().db.query(statement)
}

/// A new event of organisation A for one test; returns (event id, slug).
fn new_event(tag: &str) -> (i64, String) {
    let slug = format!("{tag}-{}", NEXT_EVENT.fetch_add(1, Ordering::SeqCst));
    let id = sql(&format!(
        "INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
         VALUES ('{ORG_A}', 'Rally {slug}', '{slug}', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'Europe/Tirane') RETURNING id"
    ));
    (id.parse().unwrap_or_else(|_| panic!("event id: {id}")), slug)
}

fn login(email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let (status, text) = http(shared().boot.ports.directus, "POST", "/auth/login", None, Some(&body));
    assert_eq!(status, 200, "login {email}: {text}");
    parse(&text)["data"]["access_token"].as_str().map(str::to_string).expect("access_token")
}

/// `node SCRIPT ARGS` as `email` against the shared stack.
fn node(script: &str, args: &[&str], email: &str) -> Outcome {
    let s = shared();
    let mut cmd = Command::new("node");
    cmd.arg(repo().join(script))
        .args(args)
        .current_dir(repo())
        .env("DIRECTUS_URL", format!("http://127.0.0.1:{}", s.boot.ports.directus))
        .env("SEED_EMAIL", email)
        .env("SEED_PASSWORD", PASSWORD)
        .env_remove("DIRECTUS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_to_end(cmd, NODE_STEP)
}

fn import(file: &str, slug: &str, email: &str) -> Outcome {
    node("seed/import-course.mjs", &[file, "--event", slug, "--organization", "club-a"], email)
}

/// An import that must succeed; returns its outcome.
fn import_ok(file: &str, slug: &str, email: &str) -> Outcome {
    let out = import(file, slug, email);
    assert_eq!(out.code(), 0, "import {file} into {slug} as {email}: {}{}", out.stdout, out.stderr);
    out
}

/// The counts the command prints: (created, updated, deleted, unchanged).
fn tally(out: &Outcome) -> (u32, u32, u32, u32) {
    let text = &out.stdout;
    let count = |what: &str| -> u32 {
        let end = text.find(&format!(" {what}")).unwrap_or_else(|| panic!("no '{what}' count in: {text}"));
        text[..end]
            .rsplit([' ', ';'])
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("count {what}: {text}"))
    };
    (count("created"), count("updated"), count("deleted"), count("unchanged"))
}

/// Every row of the event's course with its row version (xmin): equal strings mean no row was written.
fn course_rows(event: i64) -> String {
    sql(&format!(
        "SELECT string_agg(r, E'\\n' ORDER BY r) FROM (
           SELECT 'stage ' || s.id || ' ' || s.xmin || ' ' || s.name AS r FROM stages s WHERE s.event_id = {event}
           UNION ALL SELECT 'geofence ' || g.id || ' ' || g.xmin || ' ' || g.name || ' ' || g.kind FROM geofences g WHERE g.event_id = {event}
           UNION ALL SELECT 'segment ' || g.id || ' ' || g.xmin || ' ' || g.sort_order || ' ' || g.type
             FROM segments g JOIN stages s ON s.id = g.stage_id WHERE s.event_id = {event}
           UNION ALL SELECT 'waypoint ' || w.id || ' ' || w.xmin || ' ' || g.sort_order || '.' || w.sort_order || ' ' || w.kind || ' ' || w.tolerance_meters
             FROM waypoints w JOIN segments g ON g.id = w.segment_id JOIN stages s ON s.id = g.stage_id WHERE s.event_id = {event}
           UNION ALL SELECT 'zone ' || z.id || ' ' || z.xmin || ' ' || z.name || ' ' || z.speed_limit_kmh
             FROM speed_limit_zones z JOIN segments g ON g.id = z.segment_id JOIN stages s ON s.id = g.stage_id WHERE s.event_id = {event}) x"
    ))
}

fn count_of(out: &str, prefix: &str) -> usize {
    out.lines().filter(|l| l.starts_with(prefix)).count()
}

fn tmp_file(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write the test GPX");
    (dir, path.to_string_lossy().into_owned())
}

#[test]
fn the_sample_course_imports_in_one_go_and_a_second_import_writes_no_row() {
    let (event, slug) = new_event("sample");
    let first = import(SAMPLE, &slug, "rd.a@example.org");
    assert_eq!(first.code(), 0, "import: {}{}", first.stdout, first.stderr);
    // 1 stage, 4 geofences (start, DSS, ASS, finish), 3 segments, 13 waypoints, 2 zones
    assert_eq!(tally(&first), (23, 0, 0, 0), "{}", first.stdout);
    assert!(first.stdout.contains("13 points (2 roadbook notes left out)"), "{}", first.stdout);
    let rows = course_rows(event);
    assert_eq!(
        [
            count_of(&rows, "stage "),
            count_of(&rows, "geofence "),
            count_of(&rows, "segment "),
            count_of(&rows, "waypoint "),
            count_of(&rows, "zone ")
        ],
        [1, 4, 3, 13, 2],
        "{rows}"
    );
    // The roadbook's structure: liaison to the DSS, the special stage, liaison to Theth.
    let shape = sql(&format!(
        "SELECT string_agg(g.sort_order || ':' || g.type || ':' || coalesce(en.name, '-') || ':' || coalesce(ex.name, '-') || ':' ||
                           (SELECT string_agg(w.kind, ' ' ORDER BY w.sort_order) FROM waypoints w WHERE w.segment_id = g.id), ' | ' ORDER BY g.sort_order)
           FROM segments g JOIN stages s ON s.id = g.stage_id
           LEFT JOIN geofences en ON en.id = g.entry_geofence_id LEFT JOIN geofences ex ON ex.id = g.exit_geofence_id
          WHERE s.event_id = {event}"
    ));
    assert_eq!(
        shape,
        format!(
            "1:liaison:{STAGE} start:{STAGE} DSS:timecontrol dz fz | 2:special-stage:{STAGE} DSS:{STAGE} ASS:dss wpv wpm dz fz wps wpe ass | \
             3:liaison:{STAGE} ASS:{STAGE} finish:neutralization timecontrol"
        )
    );
    // A waypoint keeps its radii and roadbook facts; the tolerance is the clear radius.
    assert_eq!(
        sql(&format!(
            "SELECT concat_ws(' ', w.name, w.tolerance_meters, w.open_radius_meters, w.roadbook_km, w.roadbook::text, ST_AsText(w.location))
               FROM waypoints w JOIN segments g ON g.id = w.segment_id JOIN stages s ON s.id = g.stage_id
              WHERE s.event_id = {event} AND w.kind = 'wps'"
        )),
        "WPS3 90 800 51.200 {\"danger\": 3} POINT(19.70183 42.37205)"
    );
    // Each zone runs along the track from its dz to its fz: it holds the track between them (and the two
    // points), is a valid polygon, and carries the limit.
    let zones = sql(&format!(
        "SELECT string_agg(concat_ws(' ', z.name, z.speed_limit_kmh, ST_IsValid(z.geometry),
                  ST_Covers(z.geometry, ST_LineSubstring(s.track, ST_LineLocatePoint(s.track, a.location), ST_LineLocatePoint(s.track, b.location))),
                  ST_Covers(z.geometry, a.location) AND ST_Covers(z.geometry, b.location), a.kind || '-' || b.kind), ', ' ORDER BY z.speed_limit_kmh DESC)
           FROM speed_limit_zones z JOIN segments g ON g.id = z.segment_id JOIN stages s ON s.id = g.stage_id
           JOIN waypoints a ON a.id = z.start_waypoint_id JOIN waypoints b ON b.id = z.end_waypoint_id
          WHERE s.event_id = {event}"
    ));
    assert_eq!(zones, "Koplik 50 t t t dz-fz, Boga 30 t t t dz-fz");
    // The DSS geofence is the circle of the DSS's clear radius (200 m): it holds the point, not 250 m away.
    assert_eq!(
        sql(&format!(
            "SELECT concat_ws(' ', kind, ST_Covers(geometry, ST_SetSRID(ST_MakePoint(19.51077, 42.26642), 4326)),
                    ST_DWithin(geometry::geography, ST_SetSRID(ST_MakePoint(19.51077, 42.26642), 4326)::geography, 150),
                    ST_Covers(geometry, ST_Project(ST_SetSRID(ST_MakePoint(19.51077, 42.26642), 4326)::geography, 250, 0)::geometry))
               FROM geofences WHERE event_id = {event} AND name = '{STAGE} DSS'"
        )),
        "start t t f"
    );

    let again = import(SAMPLE, &slug, "rd.a@example.org");
    assert_eq!(again.code(), 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(tally(&again), (0, 0, 0, 23), "{}", again.stdout);
    assert_eq!(course_rows(event), rows, "a second import of the same file writes no row");
}

#[test]
fn export_then_import_gives_the_same_course() {
    let (event, slug) = new_event("roundtrip");
    import_ok(SAMPLE, &slug, "admin.a@example.org");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let exported = dir.path().join("exported.gpx").to_string_lossy().into_owned();
    let out = node(
        "seed/export-course.mjs",
        &["--event", &slug, "--organization", "club-a", "--stage", STAGE, "--output", &exported],
        "rd.a@example.org",
    );
    assert_eq!(out.code(), 0, "export: {}{}", out.stdout, out.stderr);
    let gpx = std::fs::read_to_string(&exported).expect("the exported file");
    assert!(gpx.contains("xmlns:openrally=\"http://www.openrally.org/xmlschemas/GpxExtensions/v1.0.0\""), "{gpx}");
    assert_eq!(gpx.matches("<wpt ").count(), 13, "the timed points only: {gpx}");

    let before = course_rows(event);
    let again = import_ok(&exported, &slug, "rd.a@example.org");
    assert_eq!(
        tally(&again),
        (0, 0, 0, 23),
        "importing the export into the same event changes nothing: {}",
        again.stdout
    );
    assert_eq!(course_rows(event), before);

    // Into another event: the same course, and its export is the same file.
    let (other, other_slug) = new_event("roundtrip-copy");
    assert_eq!(tally(&import_ok(&exported, &other_slug, "rd.a@example.org")), (23, 0, 0, 0));
    let strip = |rows: String| -> std::collections::BTreeSet<String> {
        rows.lines()
            .map(|l| {
                l.split(' ')
                    .enumerate()
                    .filter(|(i, _)| *i != 1 && *i != 2)
                    .map(|(_, w)| w)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(strip(course_rows(other)), strip(course_rows(event)), "same rows but ids and row versions");
    let copy = node(
        "seed/export-course.mjs",
        &["--event", &other_slug, "--organization", "club-a", "--stage", STAGE],
        "rd.a@example.org",
    );
    assert_eq!(copy.code(), 0, "{}{}", copy.stdout, copy.stderr);
    assert_eq!(copy.stdout, gpx, "export(import(export(course))) = export(course)");
}

#[test]
fn a_changed_file_updates_the_rows_in_place() {
    let (event, slug) = new_event("changed");
    import_ok(SAMPLE, &slug, "rd.a@example.org");
    let ids = |kind: &str| {
        sql(&format!(
            "SELECT string_agg(w.id::text, ',' ORDER BY w.id) FROM waypoints w JOIN segments g ON g.id = w.segment_id
               JOIN stages s ON s.id = g.stage_id WHERE s.event_id = {event} AND w.kind = '{kind}'"
        ))
    };
    let (wpm, dz) = (ids("wpm"), ids("dz"));
    let sample = std::fs::read_to_string(repo().join(SAMPLE)).expect("the sample");
    let changed = sample
        .replace(r#"<openrally:wpm open="800" clear="90"/>"#, r#"<openrally:wpm open="800" clear="120"/>"#)
        .replace("<openrally:speed>50</openrally:speed>", "<openrally:speed>60</openrally:speed>");
    assert_ne!(changed, sample);
    let (_dir, file) = tmp_file("changed.gpx", &changed);
    let out = import_ok(&file, &slug, "rd.a@example.org");
    assert_eq!(tally(&out), (0, 2, 0, 21), "the WPM and the Koplik zone change: {}", out.stdout);
    assert_eq!((ids("wpm"), ids("dz")), (wpm.clone(), dz.clone()), "the same rows, updated");
    assert_eq!(
        sql(&format!(
            "SELECT concat_ws(' ', (SELECT string_agg(w.tolerance_meters::text, ',') FROM waypoints w WHERE w.id IN ({wpm})),
                    (SELECT string_agg(z.speed_limit_kmh::text, ',' ORDER BY z.speed_limit_kmh) FROM speed_limit_zones z WHERE z.start_waypoint_id IN ({dz})))"
        )),
        "120 30,60"
    );
}

#[test]
fn a_refused_file_names_line_element_and_reason_and_writes_nothing() {
    let (event, slug) = new_event("refused");
    let sample = std::fs::read_to_string(repo().join(SAMPLE)).expect("the sample");
    let broken = sample
        .replace(r#"<openrally:wpm open="800" clear="90"/>"#, r#"<openrally:wpm open="800"/>"#)
        .replace(r#"<openrally:fz clear="60"/>"#, r#"<openrally:wpc clear="60"/>"#)
        .replace(r#"<wpt lat="42.389260""#, r#"<wpt lat="92.389260""#)
        .replace("<openrally:fuel/>", "<openrally:fuelstop/>");
    let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).map(|i| i + 1).expect(needle);
    let (_dir, file) = tmp_file("broken.gpx", &broken);
    let out = import(&file, &slug, "rd.a@example.org");
    assert_eq!(out.code(), 65, "{}{}", out.stdout, out.stderr);
    let stderr = &out.stderr;
    assert!(
        stderr.contains(&format!(
            "{file}:{}: <openrally:wpm>: missing radius: <openrally:wpm> needs clear=\"<metres>\" (TRM times the point within its clear radius)",
            line_of("<openrally:wpm open=\"800\"/>")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:{}: <openrally:dz>: zone without an end: no <openrally:fz> before the special stage finish (line {})",
            line_of("name=\"Boga\""),
            line_of("name=\"ASS SS1\"") - 3
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:{}: <wpt>: coordinates out of range: lat=\"92.389260\" (latitude is -90 to 90)",
            line_of("lat=\"92.389260\"")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:{}: <openrally:fuelstop>: unknown OpenRally element: v1.0.0 has no <fuelstop>",
            line_of("fuelstop")
        )),
        "{stderr}"
    );
    assert!(stderr.contains("refused (4 problems); nothing was written"), "{stderr}");
    assert_eq!(course_rows(event), "", "nothing was written");
}

/// POST /course-gpx/import as `token` (None: anonymous); returns (status, answer).
fn import_api(token: Option<&str>, slug: &str, organization: Option<&str>, gpx: &str) -> (u16, Value) {
    let body = json!({"event": slug, "organization": organization, "gpx": gpx}).to_string();
    let (status, text) = http(shared().boot.ports.directus, "POST", "/course-gpx/import", token, Some(&body));
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn export_api(token: Option<&str>, slug: &str) -> (u16, String) {
    let path = format!(
        "/course-gpx/export?event={slug}&organization=club-a&stage={}",
        STAGE.replace(' ', "%20").replace('ë', "%C3%AB")
    );
    http(shared().boot.ports.directus, "GET", &path, token, None)
}

#[test]
fn only_org_admins_and_race_directors_of_the_event_s_organisation_import_and_export() {
    let (event, slug) = new_event("access");
    let gpx = std::fs::read_to_string(repo().join(SAMPLE)).expect("the sample");
    let refusal = |slug: &str, org: &str| json!({"errors": [{"message": format!("no event \"{slug}\" in organisation \"{org}\" whose course you may change (only its organisation's org-admins and race-directors may)"), "extensions": {}}]});

    for email in ["marshal.a@example.org", "viewer.a@example.org", "rd.b@example.org"] {
        let token = login(email);
        assert_eq!(
            import_api(Some(&token), &slug, Some("club-a"), &gpx),
            (403, refusal(&slug, "club-a")),
            "{email} imports"
        );
        assert_eq!(export_api(Some(&token), &slug).0, 403, "{email} exports");
    }
    // Another organisation's race-director gets, for a real event of club A, exactly what anyone gets for
    // an event that does not exist.
    let rd_b = login("rd.b@example.org");
    let missing = format!("{slug}-missing");
    let (status, answer) = import_api(Some(&rd_b), &missing, Some("club-a"), &gpx);
    assert_eq!((status, answer), (403, refusal(&missing, "club-a")));
    let rd_a = login("rd.a@example.org");
    assert_eq!(import_api(Some(&rd_a), &missing, Some("club-a"), &gpx), (403, refusal(&missing, "club-a")));
    assert_eq!(import_api(None, &slug, Some("club-a"), &gpx).0, 401, "anonymous");
    assert_eq!(course_rows(event), "", "no refused caller wrote anything");

    let (status, answer) = import_api(Some(&rd_a), &slug, Some("club-a"), &gpx);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["created"], 23, "{answer}");
    let (status, answer) = import_api(Some(&login("admin.a@example.org")), &slug, None, &gpx);
    assert_eq!(status, 200, "the org-admin, without naming the organisation: {answer}");
    assert_eq!(answer["data"]["unchanged"], 23, "{answer}");
    let (status, text) = export_api(Some(&rd_a), &slug);
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("<?xml") && text.contains(STAGE), "{text}");
    // A bad file through the endpoint: 400 with the problems as data.
    let (status, answer) = import_api(Some(&rd_a), &slug, None, &gpx.replace(r#"clear="200"/>"#, "/>"));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "INVALID_GPX", "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["problems"].as_array().map(Vec::len),
        Some(3),
        "DSS, WPE and ASS: {answer}"
    );
}

/// `METHOD path` with a JSON body as `token`, against the shared stack.
fn api(token: &str, method: &str, path: &str, body: &Value) -> (u16, String) {
    http(shared().boot.ports.directus, method, path, Some(token), Some(&body.to_string()))
}

#[test]
fn a_race_director_corrects_the_roadbook_fields_by_hand_and_a_zone_s_waypoints_stay_on_its_segment() {
    let (event, slug) = new_event("by-hand");
    import_ok(SAMPLE, &slug, "rd.a@example.org");
    let in_event = "JOIN segments g ON g.id = z.segment_id JOIN stages s ON s.id = g.stage_id";
    let zone_of = |name: &str| {
        sql(&format!(
            "SELECT z.id FROM speed_limit_zones z {in_event} WHERE s.event_id = {event} AND z.name = '{name}'"
        ))
    };
    let (koplik, boga) = (zone_of("Koplik"), zone_of("Boga"));
    assert!(!koplik.is_empty() && !boga.is_empty(), "the sample's zones Koplik and Boga: {}", course_rows(event));
    let boga_dz = sql(&format!("SELECT start_waypoint_id FROM speed_limit_zones WHERE id = {boga}"));
    let koplik_fz = sql(&format!("SELECT end_waypoint_id FROM speed_limit_zones WHERE id = {koplik}"));
    let rd_a = login("rd.a@example.org");

    // The roadbook's fields of a waypoint, a zone's own waypoints and a stage's track: written by hand.
    let (status, text) = api(
        &rd_a,
        "PATCH",
        &format!("/items/waypoints/{koplik_fz}"),
        &json!({"name": "Koplik end (corrected)", "open_radius_meters": 120, "roadbook_km": 19.95, "roadbook": {"note": "after the bridge"}}),
    );
    assert_eq!(status, 200, "a race director corrects a waypoint's roadbook fields: {text}");
    assert_eq!(
        sql(&format!(
            "SELECT name || ' ' || open_radius_meters || ' ' || roadbook_km FROM waypoints WHERE id = {koplik_fz}"
        )),
        "Koplik end (corrected) 120 19.950"
    );
    let (status, text) =
        api(&rd_a, "PATCH", &format!("/items/speed_limit_zones/{koplik}"), &json!({"end_waypoint_id": koplik_fz}));
    assert_eq!(status, 200, "a zone's own waypoint, set again: {text}");

    // A waypoint of another segment (Boga's dz is on the special) is refused, through Directus and in SQL,
    // and the refusal names only the writer's own value and the rule.
    let (status, text) =
        api(&rd_a, "PATCH", &format!("/items/speed_limit_zones/{koplik}"), &json!({"start_waypoint_id": boga_dz}));
    let rule = "(rule speed_limit_zone_waypoints_same_segment)";
    assert!(
        status == 400 && text.contains(&format!("waypoint {boga_dz} is not on the zone's segment {rule}")),
        "expected 400 naming the rule, got {status} {text}"
    );
    let db = &shared().db.name;
    let by_sql =
        psql_result(db, &format!("UPDATE speed_limit_zones SET end_waypoint_id = {boga_dz} WHERE id = {koplik}"));
    assert!(matches!(&by_sql, Err(e) if e.contains(rule)), "the rule holds for psql too: {by_sql:?}");
    // A waypoint a zone runs from or to does not move to another segment under it.
    let special = sql(&format!("SELECT segment_id FROM speed_limit_zones WHERE id = {boga}"));
    let moved = psql_result(db, &format!("UPDATE waypoints SET segment_id = {special} WHERE id = {koplik_fz}"));
    assert!(matches!(&moved, Err(e) if e.contains(rule)), "a zone's waypoint moved away: {moved:?}");
    assert_eq!(
        sql(&format!("SELECT start_waypoint_id <> {boga_dz} AND end_waypoint_id = {koplik_fz} FROM speed_limit_zones WHERE id = {koplik}")),
        "t",
        "nothing refused was written"
    );
}

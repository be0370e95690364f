//! The dogfood acceptance on one real stack (trm-init as PID 1, Directus 11.17.4, PostgreSQL), booted
//! once on an empty database and shared by every step, in order:
//! 1. the seed (seed/load.mjs, @directus/sdk) writes Rally Albania 2026; a second run changes nothing;
//! 2. a row edited in Directus is reported as a conflict and left alone, `--update` restores it;
//! 3. the composite unique refuses a second entry 301 in the same event, with a clear error;
//! 4. entry 301 reads back with class, vehicle, crew and devices in one request (`fields=*.*`);
//! 5. headless Chromium (Debian's `chromium`) logs in to the admin UI and sees entry 301 with its class
//!    in the entries collection; the screenshot goes to target/screenshots/ (and to docs/ with
//!    TRM_UPDATE_SCREENSHOT=1);
//! 6. the same as an organisation role: the seed's pilot (race-director of the club, no admin) logs in
//!    to the admin UI and sees entry 301, and reorders the event's classes and stages through
//!    `POST /utils/sort` (drag-sorting), which moves only the event's own rows.

use trm_test_support as common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(240);
const STOP: Duration = Duration::from_secs(30);
const NODE_STEP: Duration = Duration::from_secs(180);
/// Rows the dogfood file describes: organization, user, membership, event, 18 classes, vehicle and its
/// registration, 3 devices and their registrations, entry, crew member, 3 entry devices.
const ROWS: usize = 35;
const PILOT: &str = "pilot.301@example.org";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `node SCRIPT ARGS` with the stack's URL and admin; returns the outcome.
fn node(script: &str, args: &[&str], extra: &[(&str, String)], ports: Ports) -> Outcome {
    let mut cmd = Command::new("node");
    cmd.arg(repo().join(script))
        .args(args)
        .env("DIRECTUS_URL", format!("http://127.0.0.1:{}", ports.directus))
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_to_end(cmd, NODE_STEP)
}

fn seed(args: &[&str], ports: Ports) -> Outcome {
    node("seed/load.mjs", args, &[], ports)
}

/// Row counts of every table the seed writes, in one line.
fn counts(db: &TestDb) -> String {
    db.query(
        "SELECT concat_ws(' ', (SELECT count(*) FROM organizations), (SELECT count(*) FROM directus_users),
                (SELECT count(*) FROM organization_users), (SELECT count(*) FROM events),
                (SELECT count(*) FROM classes), (SELECT count(*) FROM vehicles),
                (SELECT count(*) FROM organization_vehicles), (SELECT count(*) FROM devices),
                (SELECT count(*) FROM organization_devices), (SELECT count(*) FROM entries),
                (SELECT count(*) FROM entry_crew), (SELECT count(*) FROM entry_devices))",
    )
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn fresh_stack_is_seeded_idempotently_reads_back_and_the_admin_ui_lists_entry_301() {
    for (what, path, how) in [
        ("the seed's npm packages", "seed/node_modules/@directus/sdk", "run `npm ci` in seed/"),
        (
            "the browser test's npm packages",
            "tests/browser/node_modules/puppeteer-core",
            "run `npm ci` in tests/browser/",
        ),
    ] {
        require(what, repo().join(path).exists(), &format!("{how}; scripts/test.sh does this"));
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    require("Chromium", std::path::Path::new(&chromium).exists(), "apt-get install chromium (scripts/test.sh does)");

    let db = TestDb::fresh("dogfood");
    let ports = Ports::free();
    let env = boot_env(&db, ports);
    let boot = Boot::start(&env, ports);
    boot.wait_healthy(BOOT);

    // 1. Seed twice: everything created once, then nothing.
    let first = seed(&[], ports);
    assert_eq!(first.code(), 0, "first seed:\n{}{}", first.stdout, first.stderr);
    assert!(first.stdout.contains(&format!("seed: {ROWS} created, 0 unchanged")), "{}", first.stdout);
    let after_first = counts(&db);
    assert_eq!(after_first, "1 2 1 1 18 1 1 3 3 1 1 3", "rows per table (directus_users: admin + pilot)");
    let second = seed(&[], ports);
    assert_eq!(second.code(), 0, "second seed:\n{}{}", second.stdout, second.stderr);
    assert!(second.stdout.contains(&format!("seed: 0 created, {ROWS} unchanged")), "{}", second.stdout);
    assert_eq!(counts(&db), after_first, "the second run duplicated nothing");
    assert_eq!(
        db.query(&format!(
            "SELECT concat_ws(' ', phone, birth_date, nationality) FROM directus_users WHERE email = '{PILOT}'"
        )),
        "+355 69 000 0301 1980-05-17 AL"
    );
    assert_eq!(
        db.query(&format!(
            "SELECT ou.role FROM organization_users ou JOIN organizations o ON o.id = ou.organization_id
              JOIN directus_users u ON u.id = ou.user_id WHERE o.slug = 'msc-albania' AND u.email = '{PILOT}'"
        )),
        "race-director"
    );

    // 2. A value edited in Directus is a conflict: reported, left alone; --update writes the file's value.
    let token = directus_login(ports.directus);
    let m1 = db.query("SELECT id FROM classes WHERE code = 'M-1'");
    let (status, body) = http(
        ports.directus,
        "PATCH",
        &format!("/items/classes/{m1}"),
        Some(&token),
        Some(r#"{"name":"MOTO < 450cc"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let conflict = seed(&["--quiet"], ports);
    assert_eq!(conflict.code(), 2, "conflicts left alone exit 2:\n{}{}", conflict.stdout, conflict.stderr);
    assert!(
        conflict.stdout.contains(
            "CONFLICT   classes M-1 (rally-albania-2026): name is \"MOTO < 450cc\" in Directus, \"MOTO under 450cc\" in the seed"
        ),
        "{}",
        conflict.stdout
    );
    assert!(
        conflict.stdout.contains(&format!("0 created, {} unchanged, 1 conflicting", ROWS - 1)),
        "{}",
        conflict.stdout
    );
    assert_eq!(db.query(&format!("SELECT name FROM classes WHERE id = {m1}")), "MOTO < 450cc", "left alone");
    let update = seed(&["--update"], ports);
    assert_eq!(update.code(), 0, "{}{}", update.stdout, update.stderr);
    assert!(update.stdout.contains(&format!("0 created, {} unchanged, 1 updated", ROWS - 1)), "{}", update.stdout);
    assert_eq!(db.query(&format!("SELECT name FROM classes WHERE id = {m1}")), "MOTO under 450cc");

    // 3. A second entry 301 in the same event is refused by the composite unique; 302 is fine.
    let event = db.query("SELECT id FROM events WHERE slug = 'rally-albania-2026'");
    let class = db.query("SELECT id FROM classes WHERE code = 'C-1'");
    let duplicate = format!(r#"{{"event_id":{event},"class_id":{class},"race_number":301}}"#);
    let (status, body) = http(ports.directus, "POST", "/items/entries", Some(&token), Some(&duplicate));
    assert_eq!(status, 400, "a second #301 must be refused: {body}");
    let error = &json(&body)["errors"][0];
    assert_eq!(error["extensions"]["code"], "RECORD_NOT_UNIQUE", "{body}");
    assert_eq!(
        error["message"], "Value for field \"event_id, race_number\" in collection \"entries\" has to be unique.",
        "the error names the columns: {body}"
    );
    assert_eq!(db.query("SELECT count(*) FROM entries"), "1");
    let other = format!(r#"{{"event_id":{event},"class_id":{class},"race_number":302}}"#);
    let (status, body) = http(ports.directus, "POST", "/items/entries", Some(&token), Some(&other));
    assert_eq!(status, 200, "#302 is another entry: {body}");
    let id302 = json(&body)["data"]["id"].as_i64().expect("the new entry's id");
    let (status, body) = http(ports.directus, "DELETE", &format!("/items/entries/{id302}"), Some(&token), None);
    assert_eq!(status, 204, "{body}");

    // 4. Entry 301 with its class, vehicle, crew and devices in one request.
    let (status, body) =
        http(ports.directus, "GET", "/items/entries?filter[race_number][_eq]=301&fields=*.*", Some(&token), None);
    assert_eq!(status, 200, "{body}");
    let doc = json(&body);
    let entries = doc["data"].as_array().expect("data");
    assert_eq!(entries.len(), 1, "{body}");
    let entry = &entries[0];
    assert_eq!(entry["status"], "registered");
    assert_eq!(entry["event_id"]["slug"], "rally-albania-2026");
    assert_eq!(entry["class_id"]["code"], "C-2");
    assert_eq!(entry["vehicle_id"]["plate"], "AA-001-AA");
    assert_eq!(entry["vehicle_id"]["model"], "Land Cruiser 70");
    let pilot = db.query(&format!("SELECT id FROM directus_users WHERE email = '{PILOT}'"));
    let crew = entry["crew"].as_array().expect("crew");
    assert_eq!(crew.len(), 1, "{body}");
    assert_eq!(crew[0]["role"], "pilot");
    assert_eq!(crew[0]["user_id"], pilot.as_str());
    let devices = entry["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 3, "{body}");
    let worn: Vec<&Value> = devices.iter().filter(|d| !d["assigned_user_id"].is_null()).collect();
    assert_eq!(worn.len(), 1, "one body-worn device: {body}");
    assert_eq!(worn[0]["assigned_user_id"], pilot.as_str());
    let worn_device = worn[0]["device_id"].as_str().expect("device_id");
    assert_eq!(db.query(&format!("SELECT model FROM devices WHERE id = '{worn_device}'")), "Teltonika FMB003");

    // 5. The admin UI in a real browser.
    let shots = repo().join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("target/screenshots");
    let png = shots.join("admin-ui-entries.png");
    let _ = std::fs::remove_file(&png);
    let browser = node(
        "tests/browser/admin-ui.mjs",
        &[],
        &[("SCREENSHOT", png.to_string_lossy().into_owned()), ("CHROMIUM", chromium.clone())],
        ports,
    );
    assert_eq!(browser.code(), 0, "admin UI:\n{}{}\nstack log:\n{}", browser.stdout, browser.stderr, boot.log());
    for step in ["ok: the login page renders", "logs in", "ok: the entries collection lists #301 with class C-2"] {
        assert!(browser.stdout.contains(step), "{}", browser.stdout);
    }
    assert!(browser.stdout.contains("row: 301 | C-2 CAR Series production (T2)"), "{}", browser.stdout);
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000, "a real PNG: {} bytes", bytes.len());
    if std::env::var("TRM_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        std::fs::copy(&png, repo().join("docs/admin-ui-entries.png")).expect("docs/admin-ui-entries.png");
    }

    // 6. An organisation role: the pilot, race-director of the club (not an admin).
    const PILOT_PASSWORD: &str = "dogfood-pilot-pw";
    let login = format!(r#"{{"password":"{PILOT_PASSWORD}","role":"{MEMBER_ROLE}"}}"#);
    let (status, body) = http(ports.directus, "PATCH", &format!("/users/{pilot}"), Some(&token), Some(&login));
    assert_eq!(status, 200, "{body}");
    let png = shots.join("admin-ui-entries-race-director.png");
    let browser = node(
        "tests/browser/admin-ui.mjs",
        &[],
        &[
            ("ADMIN_EMAIL", PILOT.to_string()),
            ("ADMIN_PASSWORD", PILOT_PASSWORD.to_string()),
            ("SCREENSHOT", png.to_string_lossy().into_owned()),
            ("CHROMIUM", chromium),
        ],
        ports,
    );
    assert_eq!(
        browser.code(),
        0,
        "admin UI as race-director:\n{}{}\nstack log:\n{}",
        browser.stdout,
        browser.stderr,
        boot.log()
    );
    for step in [format!("ok: {PILOT} logs in"), "ok: the entries collection lists #301 with class C-2".to_string()] {
        assert!(browser.stdout.contains(&step), "{}", browser.stdout);
    }
    let body = format!(r#"{{"email":"{PILOT}","password":"{PILOT_PASSWORD}"}}"#);
    let (status, text) = http(ports.directus, "POST", "/auth/login", None, Some(&body));
    assert_eq!(status, 200, "{text}");
    let director = json(&text)["data"]["access_token"].as_str().unwrap_or_default().to_string();
    let classes = || {
        db.query(&format!("SELECT string_agg(code, ',' ORDER BY sort_order) FROM classes WHERE event_id = {event} AND code IN ('M-1', 'M-2', 'M-3')"))
    };
    assert_eq!(classes(), "M-1,M-2,M-3");
    let id = |code: &str| db.query(&format!("SELECT id FROM classes WHERE event_id = {event} AND code = '{code}'"));
    let sort = format!(r#"{{"item":{},"to":{}}}"#, id("M-1"), id("M-3"));
    let (status, text) = http(ports.directus, "POST", "/utils/sort/classes", Some(&director), Some(&sort));
    assert_eq!(status, 200, "the race-director drags class M-1 onto M-3: {text}");
    assert_eq!(classes(), "M-2,M-3,M-1", "M-1 takes M-3's place, the classes between move up");
    let stage = |n: u32| {
        let body = format!(r#"{{"event_id":{event},"name":"SS{n}","sort_order":{n}}}"#);
        let (status, text) = http(ports.directus, "POST", "/items/stages", Some(&director), Some(&body));
        assert_eq!(status, 200, "the race-director creates stage {n}: {text}");
        json(&text)["data"]["id"].as_i64().unwrap_or_default()
    };
    let (first, second) = (stage(1), stage(2));
    let sort = format!(r#"{{"item":{second},"to":{first}}}"#);
    let (status, text) = http(ports.directus, "POST", "/utils/sort/stages", Some(&director), Some(&sort));
    assert_eq!(status, 200, "the race-director drags SS2 before SS1: {text}");
    assert_eq!(
        db.query(&format!("SELECT string_agg(name, ',' ORDER BY sort_order) FROM stages WHERE event_id = {event}")),
        "SS2,SS1"
    );

    let (code, log) = boot.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code} after TERM; log:\n{log}");
}

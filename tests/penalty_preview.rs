//! Penalty formulas with versions and the preview of a change (issue 26, items 2, 3 and 5) on the real
//! stack: trm-init as PID 1 boots Directus 11.17.4 with the project's extensions on PostgreSQL +
//! PostGIS once, and every test here shares it, each in its own event of club A.
//! - A change of a formula's brackets (by any writer) makes one immutable, numbered version with its
//!   effective time and regulation reference; old versions stay readable; a penalty written with the
//!   formula names the version in its `formula_snapshot`.
//! - `POST /penalty-preview`: per entry the penalty seconds, stage time and position before and after
//!   (the database's trm_penalty evaluates the proposal) and the next stage's start order (the
//!   materializer's ordering, as a dry run); nothing is written. `POST /penalty-preview/confirm`: one
//!   transaction through the timing ledger, with the reason.
//! - Who: org-admins and race-directors of the event's organisation; a viewer, a marshal, another
//!   club's race-director get the answer a missing formula gets.

use trm_test_support as common;

use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(300);
const PASSWORD: &str = "preview-pw-1";
const ORG_A: &str = "0a000000-0000-4000-8000-0000000026aa";
const ORG_B: &str = "0b000000-0000-4000-8000-0000000026bb";

static NEXT_EVENT: AtomicU32 = AtomicU32::new(1);

const USERS: [(&str, &str, &str); 5] = [
    ("rd.a@example.org", ORG_A, "race-director"),
    ("admin.a@example.org", ORG_A, "org-admin"),
    ("marshal.a@example.org", ORG_A, "marshal"),
    ("viewer.a@example.org", ORG_A, "viewer"),
    ("rd.b@example.org", ORG_B, "race-director"),
];

fn shared() -> &'static SharedStack {
    shared_stack("penalty_preview", BOOT, |stack| {
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

fn sql_err(statement: &str) -> String {
    match psql_result(&shared().db.name, statement) {
        Ok(out) => panic!("expected a refusal, got {out:?} for {statement}"),
        Err(e) => e,
    }
}

fn login(email: &str) -> String {
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let (status, text) = http(shared().boot.ports.directus, "POST", "/auth/login", None, Some(&body));
    assert_eq!(status, 200, "login {email}: {text}");
    parse(&text)["data"]["access_token"].as_str().map(str::to_string).unwrap_or_default()
}

fn post(path: &str, token: Option<&str>, body: &Value) -> (u16, Value, String) {
    let (status, text) = http(shared().boot.ports.directus, "POST", path, token, Some(&body.to_string()));
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

/// One event of `org` with two stages and four entries: SS1 has results (elapsed 1000, 1010, 1020,
/// 1030 s) and speeding penalties from the SS1 formula ([0, 10) fixed 60 s, [10, -) 30 s per km/h
/// started above 10): entry 101 went 12 km/h over (60 s), 102 5 km/h (60 s); SS2 starts in the reverse
/// order of SS1's top 4. Returns (event, ss1, formula row ids, entry ids by race number 101..104).
struct Fixture {
    event: String,
    ss1: String,
    formula: [String; 2],
    entries: [String; 4],
}

fn fixture(org: &str) -> Fixture {
    let n = NEXT_EVENT.fetch_add(1, Ordering::SeqCst);
    let event = sql(&format!(
        "INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, regulation_doc_url)
         VALUES ('{org}', 'Rally {n}', 'preview-{n}', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'https://example.org/sr-2026.pdf') RETURNING id"
    ));
    let class = sql(&format!(
        "INSERT INTO classes (event_id, code, name, sort_order) VALUES ({event}, 'C-1', 'Cars', 10) RETURNING id"
    ));
    let ss1 = sql(&format!(
        "INSERT INTO stages (event_id, name, sort_order, start_order_strategy, starts_at, start_interval_seconds)
         VALUES ({event}, 'SS1', 1, 'manual', '2026-06-07T08:00:00Z', 60) RETURNING id"
    ));
    sql(&format!(
        "INSERT INTO stages (event_id, name, sort_order, start_order_strategy, start_order_strategy_params, starts_at, start_interval_seconds)
         VALUES ({event}, 'SS2', 2, 'inverse_top_n_then_natural', '{{\"top_n\": 4}}', '2026-06-08T08:00:00Z', 60)"
    ));
    let entry = |number: u32| {
        sql(&format!(
            "INSERT INTO entries (event_id, class_id, race_number, status) VALUES ({event}, {class}, {number}, 'started') RETURNING id"
        ))
    };
    let entries = [entry(101), entry(102), entry(103), entry(104)];
    let ids = sql(&format!(
        "INSERT INTO penalty_formulas (event_id, belongs_to_type, stage_id, type, offence_min, offence_max, operator, penalty_seconds)
         VALUES ({event}, 'stage', {ss1}, 'speeding', 0, 10, 'fixed', 60), ({event}, 'stage', {ss1}, 'speeding', 10, NULL, 'per_unit', 30)
         RETURNING id"
    ));
    let mut lines = ids.lines().map(str::to_string);
    let formula = [lines.next().unwrap_or_default(), lines.next().unwrap_or_default()];
    for (i, (offence, seconds)) in [(12, 60), (5, 60)].iter().enumerate() {
        sql(&format!(
            "INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, formula_id, formula_snapshot, inputs, seconds)
             VALUES ({}, {ss1}, 'speeding', 'speeding:ss1:{i}', {}, trm_formula_snapshot('stage', {ss1}, 'speeding'),
                     '{{\"offence\": {offence}, \"peak_kmh\": {}}}', {seconds})",
            entries[i],
            formula[if *offence >= 10 { 1 } else { 0 }],
            50 + offence
        ));
    }
    for (i, elapsed) in [1000, 1010, 1020, 1030].iter().enumerate() {
        let pen = if i < 2 { 60 } else { 0 };
        sql(&format!(
            "INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, status)
             VALUES ({}, {ss1}, {elapsed}, {pen}, {}, {}, 'provisional')",
            entries[i],
            elapsed + pen,
            i + 1
        ));
    }
    Fixture { event, ss1, formula, entries }
}

fn proposal(f: &Fixture, per_km: u32) -> Value {
    json!({"formula": f.formula[0].parse::<i64>().unwrap_or(0), "brackets": [
        {"id": f.formula[0].parse::<i64>().unwrap_or(0), "offence_min": 0, "offence_max": 10, "operator": "fixed", "penalty_seconds": 60},
        {"id": f.formula[1].parse::<i64>().unwrap_or(0), "offence_min": 10, "offence_max": null, "operator": "per_unit", "penalty_seconds": per_km},
    ]})
}

/// Everything a preview could have written: the event's formula rows (with their row versions), its
/// versions, its penalties and results, and its ledger rows.
fn written(f: &Fixture) -> String {
    sql(&format!(
        "SELECT concat_ws(' | ',
           (SELECT string_agg(id || ':' || xmin, ',' ORDER BY id) FROM penalty_formulas WHERE event_id = {e}),
           (SELECT count(*) FROM penalty_formula_versions WHERE event_id = {e}),
           (SELECT string_agg(p.id || ':' || p.xmin, ',' ORDER BY p.id) FROM entry_penalties p JOIN entries n ON n.id = p.entry_id WHERE n.event_id = {e}),
           (SELECT string_agg(r.id || ':' || r.xmin, ',' ORDER BY r.id) FROM stage_results r JOIN entries n ON n.id = r.entry_id WHERE n.event_id = {e}),
           (SELECT count(*) FROM timing_ledger WHERE event_id = {e}))",
        e = f.event
    ))
}

fn entry_of(stage: &Value, race_number: i64) -> &Value {
    stage["entries"]
        .as_array()
        .and_then(|list| list.iter().find(|e| e["race_number"].as_i64() == Some(race_number)))
        .unwrap_or_else(|| panic!("no entry {race_number} in {stage}"))
}

#[test]
fn a_bracket_change_is_previewed_without_a_write_then_confirmed_as_a_new_version_through_the_ledger() {
    let f = fixture(ORG_A);
    let rd = login("rd.a@example.org");
    // Version 1 exists (made when the brackets were created) and the penalties name it.
    assert_eq!(
        sql(&format!("SELECT string_agg(version || ' ' || regulation_document, ',') FROM penalty_formula_versions WHERE event_id = {}", f.event)),
        "1 https://example.org/sr-2026.pdf"
    );
    assert_eq!(
        sql(&format!(
            "SELECT string_agg(DISTINCT (formula_snapshot::jsonb ->> 'formula_version'), ',') FROM entry_penalties WHERE stage_id = {}",
            f.ss1
        )),
        "1"
    );

    // The preview: 30 s -> 90 s per km/h: entry 101 (12 km/h over) 60 s -> 180 s, 1060 -> 1180, 3rd -> 4th
    // (totals 103: 1020, 104: 1030, 101: 1060, 102: 1070).
    let before = written(&f);
    let (status, body, text) = post("/penalty-preview", Some(&rd), &proposal(&f, 90));
    assert_eq!(status, 200, "{text}");
    assert_eq!(written(&f), before, "a preview writes nothing");
    let stage = &body["data"]["stages"][0];
    assert_eq!(stage["name"], "SS1");
    let e101 = entry_of(stage, 101);
    assert_eq!(e101["penalty_seconds"], json!({"before": 60, "after": 180}), "{stage}");
    assert_eq!(e101["total_seconds"], json!({"before": 1060, "after": 1180}));
    assert_eq!(e101["position"], json!({"before": 3, "after": 4}));
    assert_eq!(entry_of(stage, 102)["position"], json!({"before": 4, "after": 3}));
    assert_eq!(entry_of(stage, 103)["position"], json!({"before": 1, "after": 1}));
    assert_eq!(entry_of(stage, 102)["penalty_seconds"], json!({"before": 60, "after": 60}), "5 km/h stays in [0, 10)");
    assert_eq!(stage["changed_entries"], 2);
    // SS2 starts in the reverse order of SS1's top 4: 102 101 104 103 before, 101 102 104 103 after.
    let next = &stage["next_stage"];
    assert_eq!(next["name"], "SS2", "{next}");
    let order = |which: &str| -> Vec<i64> {
        let mut rows: Vec<(i64, i64)> = next["order"]
            .as_array()
            .map(|l| l.iter().filter_map(|r| Some((r[which].as_i64()?, r["race_number"].as_i64()?))).collect())
            .unwrap_or_default();
        rows.sort();
        rows.into_iter().map(|(_, n)| n).collect()
    };
    assert_eq!(order("before"), [102, 101, 104, 103], "{next}");
    assert_eq!(order("after"), [101, 102, 104, 103], "{next}");
    assert_eq!(next["changed"], true);

    // Overlapping brackets are the evaluator's to refuse, before anything else.
    let mut bad = proposal(&f, 90);
    bad["brackets"][0]["offence_max"] = json!(15);
    let (status, _, text) = post("/penalty-preview", Some(&rd), &bad);
    assert!(status == 400 && text.contains("rule penalty_bracket_valid"), "{status} {text}");

    // Confirming needs a reason; then one transaction: the brackets, version 2, the ledger.
    let (status, _, text) = post("/penalty-preview/confirm", Some(&rd), &proposal(&f, 90));
    assert!(status == 400 && text.contains("give reason"), "{status} {text}");
    assert_eq!(written(&f), before);
    let mut confirm = proposal(&f, 90);
    confirm["reason"] = json!("Supplementary Regulations bulletin 2");
    confirm["regulation_article"] = json!("SR 12.3");
    confirm["regulation_document"] = json!("Bulletin 2");
    confirm["effective_from"] = json!("2026-06-08T00:00:00Z");
    let (status, body, text) = post("/penalty-preview/confirm", Some(&rd), &confirm);
    assert_eq!(status, 200, "{text}");
    assert_eq!(body["data"]["applied"]["formula_version"]["version"], 2, "{text}");
    let rd_id = sql("SELECT id FROM directus_users WHERE email = 'rd.a@example.org'");
    assert_eq!(
        sql(&format!(
            "SELECT string_agg(concat_ws(' ', version, regulation_article, regulation_document, to_char(effective_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                                         reason, created_by, brackets::jsonb -> 1 ->> 'penalty_seconds'), ' / ' ORDER BY version)
               FROM penalty_formula_versions WHERE event_id = {}",
            f.event
        )),
        format!(
            "1 https://example.org/sr-2026.pdf {today} 30 / 2 SR 12.3 Bulletin 2 2026-06-08 Supplementary Regulations bulletin 2 {rd_id} 90",
            today = sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        ),
        "version 1 is kept as it was; version 2 has the reference"
    );
    assert_eq!(sql(&format!("SELECT penalty_seconds FROM penalty_formulas WHERE id = {}", f.formula[1])), "90");
    // The ledger: the bracket's change and the new version, with the reason and the director.
    let ledger = sql(&format!(
        "SELECT string_agg(DISTINCT table_name || ' ' || actor || ' ' || coalesce(reason, '-'), ' / ') FROM timing_ledger
          WHERE event_id = {} AND table_name IN ('penalty_formulas', 'penalty_formula_versions') AND reason IS NOT NULL",
        f.event
    ));
    assert!(
        ledger.contains(&format!("penalty_formulas directus:{rd_id} Supplementary Regulations bulletin 2"))
            && ledger
                .contains(&format!("penalty_formula_versions directus:{rd_id} Supplementary Regulations bulletin 2")),
        "{ledger}"
    );
    assert_eq!(sql(&format!("SELECT trm_formula_snapshot('stage', {}, 'speeding') ->> 'formula_version'", f.ss1)), "2");
    // The processor's recompute: a penalty with the formula names version 2 (the shape it wrote kept).
    sql(&format!(
        "INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, formula_id, formula_snapshot, inputs, seconds)
         VALUES ({}, {}, 'speeding', 'speeding:ss1:new', {}, '[{{\"offence_min\": 10}}]', '{{\"offence\": 11}}', 90)",
        f.entries[2], f.ss1, f.formula[1]
    ));
    assert_eq!(
        sql("SELECT formula_snapshot::jsonb ->> 'formula_version' || ' ' || (formula_snapshot::jsonb -> 'brackets' -> 0 ->> 'offence_min') FROM entry_penalties WHERE penalty_key = 'speeding:ss1:new'"),
        "2 10"
    );
    // Old versions stay readable to the organisation (a viewer too), through the API.
    let viewer = login("viewer.a@example.org");
    let (status, text) = http(
        shared().boot.ports.directus,
        "GET",
        &format!(
            "/items/penalty_formula_versions?filter[event_id][_eq]={}&sort=version&fields=version,brackets",
            f.event
        ),
        Some(&viewer),
        None,
    );
    assert_eq!(status, 200, "{text}");
    let list = parse(&text);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "{text}");
    assert_eq!(list["data"][0]["brackets"][1]["penalty_seconds"].as_f64(), Some(30.0), "{text}");
    // Nobody changes a version directly: not the org-admin through the API, not SQL.
    let admin = login("admin.a@example.org");
    let version = sql(&format!("SELECT id FROM penalty_formula_versions WHERE event_id = {} AND version = 1", f.event));
    for (method, path, body) in [
        ("PATCH", format!("/items/penalty_formula_versions/{version}"), "{\"regulation_article\":\"x\"}".to_string()),
        ("DELETE", format!("/items/penalty_formula_versions/{version}"), String::new()),
        ("POST", "/items/penalty_formula_versions".to_string(), format!("{{\"event_id\":{},\"belongs_to_type\":\"stage\",\"belongs_to_id\":{},\"type\":\"speeding\",\"version\":9,\"brackets\":[]}}", f.event, f.ss1)),
    ] {
        let (status, text) = http(shared().boot.ports.directus, method, &path, Some(&admin), Some(&body));
        assert_eq!(status, 403, "{method} {path}: {text}");
    }
    let e = sql_err(&format!("UPDATE penalty_formula_versions SET brackets = '[]' WHERE id = {version}"));
    assert!(e.contains("rule penalty_formula_versions_immutable"), "{e}");
    let e = sql_err(&format!("DELETE FROM penalty_formula_versions WHERE id = {version}"));
    assert!(e.contains("rule penalty_formula_versions_immutable"), "{e}");
}

#[test]
fn every_writer_makes_one_version_per_change_and_no_version_when_the_math_stays() {
    let f = fixture(ORG_A);
    let versions = || sql(&format!("SELECT count(*) FROM penalty_formula_versions WHERE event_id = {}", f.event));
    assert_eq!(versions(), "1");
    // Toggling `retroactive` or rewriting the same numbers is no new rule.
    sql(&format!("UPDATE penalty_formulas SET retroactive = NOT retroactive WHERE id = {}", f.formula[0]));
    sql(&format!("UPDATE penalty_formulas SET penalty_seconds = 60.0 WHERE id = {}", f.formula[0]));
    assert_eq!(versions(), "1");
    // psql, two statements in one transaction, with the reference: one version.
    sql(&format!(
        "BEGIN; SET LOCAL trm.regulation_article = 'SR 9.1'; SET LOCAL trm.effective_from = '2026-06-09T00:00:00Z';
         UPDATE penalty_formulas SET offence_min = 20 WHERE id = {};
         UPDATE penalty_formulas SET offence_max = 20 WHERE id = {}; COMMIT;",
        f.formula[1], f.formula[0]
    ));
    assert_eq!(
        sql(&format!(
            "SELECT version || ' ' || regulation_article || ' ' || to_char(effective_from AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || created_by_role || ' ' ||
                    (brackets::jsonb -> 0 ->> 'offence_max')
               FROM penalty_formula_versions WHERE event_id = {} ORDER BY version DESC LIMIT 1",
            f.event
        )),
        format!("2 SR 9.1 2026-06-09 {} 20.000", sql("SELECT current_user"))
    );
    assert_eq!(versions(), "2");
    // An effective time that is no time refuses the change.
    let e = sql_err(&format!(
        "BEGIN; SET LOCAL trm.effective_from = 'soon'; UPDATE penalty_formulas SET penalty_seconds = 99 WHERE id = {}; COMMIT;",
        f.formula[0]
    ));
    assert!(e.contains("rule penalty_formula_effective_from"), "{e}");
    assert_eq!(versions(), "2");
    // The admin UI's (the API's) edit of a bracket: a version with the header's document.
    let rd = login("rd.a@example.org");
    let (status, text) = http_with(
        shared().boot.ports.directus,
        "PATCH",
        &format!("/items/penalty_formulas/{}", f.formula[0]),
        Some(&rd),
        &[("X-TRM-Regulation-Document", "Bulletin%203"), ("X-TRM-Reason", "typo")],
        Some("{\"penalty_seconds\":45}"),
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sql(&format!(
            "SELECT version || ' ' || regulation_document || ' ' || reason FROM penalty_formula_versions WHERE event_id = {} ORDER BY version DESC LIMIT 1",
            f.event
        )),
        "3 Bulletin 3 typo"
    );
    // A penalty naming a version of another formula is refused.
    let other = fixture(ORG_A);
    let foreign = sql(&format!("SELECT id FROM penalty_formula_versions WHERE event_id = {} LIMIT 1", other.event));
    let e = sql_err(&format!(
        "INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, formula_id, formula_snapshot, inputs, seconds)
         VALUES ({}, {}, 'speeding', 'speeding:foreign', {}, '{{\"formula_version_id\": {foreign}}}', '{{}}', 60)",
        f.entries[3], f.ss1, f.formula[0]
    ));
    assert!(e.contains("rule penalty_snapshot_version"), "{e}");
}

#[test]
fn a_review_and_a_neutralised_zone_are_previewed_then_confirmed_in_one_transaction() {
    let f = fixture(ORG_A);
    let rd = login("rd.a@example.org");
    let penalty =
        sql(&format!("SELECT id FROM entry_penalties WHERE entry_id = {} AND stage_id = {}", f.entries[0], f.ss1));
    let body = json!({"penalty": penalty.parse::<i64>().unwrap_or(0), "review_state": "void"});
    let before = written(&f);
    let (status, preview, text) = post("/penalty-preview", Some(&rd), &body);
    assert_eq!(status, 200, "{text}");
    assert_eq!(written(&f), before, "a preview writes nothing");
    let e101 = entry_of(&preview["data"]["stages"][0], 101);
    assert_eq!(e101["penalty_seconds"], json!({"before": 60, "after": 0}));
    assert_eq!(e101["total_seconds"], json!({"before": 1060, "after": 1000}));
    let mut confirm = body.clone();
    confirm["reason"] = json!("radar not calibrated");
    let (status, _, text) = post("/penalty-preview/confirm", Some(&rd), &confirm);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sql(&format!(
            "SELECT review_state || ' ' || override_reason || ' ' || (overridden_by IS NOT NULL) FROM entry_penalties WHERE id = {penalty}"
        )),
        "void radar not calibrated true"
    );
    assert_eq!(
        sql(&format!(
            "SELECT reason FROM timing_ledger WHERE table_name = 'entry_penalties' AND row_key = '{penalty}' ORDER BY seq DESC LIMIT 1"
        )),
        "radar not calibrated"
    );

    // A zone neutralised: its penalties voided and the zone inactive, one transaction.
    let segment = sql(&format!(
        "WITH g AS (INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({e}, 'G', 'checkpoint',
                      ST_GeomFromText('POLYGON((19.4 41.3, 19.5 41.3, 19.5 41.4, 19.4 41.4, 19.4 41.3))', 4326)) RETURNING id)
         INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id)
         SELECT {ss1}, 1, 'special-stage', g.id, g.id FROM g RETURNING id",
        ss1 = f.ss1,
        e = f.event
    ));
    let zone = sql(&format!(
        "INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh)
         VALUES ({segment}, 'village', ST_GeomFromText('POLYGON((19.4 41.3, 19.5 41.3, 19.5 41.4, 19.4 41.4, 19.4 41.3))', 4326), 50) RETURNING id"
    ));
    let zone_penalty = sql(&format!(
        "INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds)
         VALUES ({}, {}, 'speeding', 'speeding:zone', '{{\"speed_limit_zone_id\": {zone}, \"offence\": 7}}', 120) RETURNING id",
        f.entries[3], f.ss1
    ));
    sql(&format!(
        "UPDATE stage_results SET penalty_seconds = 120, total_seconds = 1150 WHERE entry_id = {} AND stage_id = {}",
        f.entries[3], f.ss1
    ));
    let body =
        json!({"neutralise": {"speed_limit_zone": zone.parse::<i64>().unwrap_or(0)}, "reason": "zone sign missing"});
    let (status, preview, text) = post("/penalty-preview", Some(&rd), &body);
    assert_eq!(status, 200, "{text}");
    assert_eq!(entry_of(&preview["data"]["stages"][0], 104)["total_seconds"], json!({"before": 1150, "after": 1030}));
    let (status, _, text) = post("/penalty-preview/confirm", Some(&rd), &body);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sql(&format!(
            "SELECT (SELECT review_state FROM entry_penalties WHERE id = {zone_penalty}) || ' ' || (SELECT active FROM speed_limit_zones WHERE id = {zone})"
        )),
        "void false"
    );
}

#[test]
fn only_the_events_org_admins_and_race_directors_preview_and_another_clubs_formula_reads_like_a_missing_one() {
    let a = fixture(ORG_A);
    let b = fixture(ORG_B);
    let missing = json!({"formula": 2_000_000_000, "brackets": []});
    for (path, extra) in [("/penalty-preview", json!({})), ("/penalty-preview/confirm", json!({"reason": "attack"}))] {
        let with = |mut v: Value| {
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            v
        };
        for email in ["viewer.a@example.org", "marshal.a@example.org", "rd.b@example.org"] {
            let token = login(email);
            let before = (written(&a), written(&b));
            let (own_status, _, own) = post(path, Some(&token), &with(proposal(&a, 90)));
            let (none_status, _, none) = post(path, Some(&token), &with(missing.clone()));
            assert_eq!((own_status, &own), (none_status, &none), "{email} {path}: A's formula vs a missing one");
            assert_eq!(own_status, 403, "{email} {path}: {own}");
            assert!(
                !own.contains(&a.event) && !own.contains(&a.formula[0]),
                "{email}: the refusal names A's rows: {own}"
            );
            assert_eq!((written(&a), written(&b)), before, "{email} {path}: nothing written");
        }
        // Club A's race-director on B's formula: the same answer as a missing one.
        let rd = login("rd.a@example.org");
        let (theirs_status, _, theirs) = post(path, Some(&rd), &with(proposal(&b, 90)));
        let (none_status, _, none) = post(path, Some(&rd), &with(missing.clone()));
        assert_eq!((theirs_status, &theirs), (none_status, &none), "rd.a on B's formula {path}");
        assert!(!theirs.contains(&b.event), "{theirs}");
        let (status, _, text) = post(path, None, &with(proposal(&a, 90)));
        assert_eq!(status, 401, "no token: {text}");
    }
    let admin = login("admin.a@example.org");
    let (status, _, text) = post("/penalty-preview", Some(&admin), &proposal(&a, 45));
    assert_eq!(status, 200, "org-admin: {text}");
}

/// The admin UI in a real browser (Debian's headless Chromium, tests/browser/penalty-preview.mjs): the
/// race-director sees the before/after table on the formula's item page; a viewer logged in to the
/// admin UI cannot call the endpoint.
#[test]
fn a_race_director_sees_the_before_after_table_in_the_admin_ui_and_a_viewer_cannot_call_the_preview() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    require("Chromium", std::path::Path::new(&chromium).exists(), "apt-get install chromium (scripts/test.sh does)");
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    require(
        "the browser test's npm packages",
        repo.join("tests/browser/node_modules/puppeteer-core").exists(),
        "run `npm ci` in tests/browser/",
    );
    let f = fixture(ORG_A);
    let before = written(&f);
    let shots = repo.join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("target/screenshots: {e}"));
    let png = shots.join("penalty-preview.png");
    let _ = std::fs::remove_file(&png);
    let mut cmd = std::process::Command::new("node");
    cmd.arg(repo.join("tests/browser/penalty-preview.mjs"))
        .env("DIRECTUS_URL", format!("http://127.0.0.1:{}", shared().boot.ports.directus))
        .env("DIRECTOR_EMAIL", "rd.a@example.org")
        .env("VIEWER_EMAIL", "viewer.a@example.org")
        .env("PASSWORD", PASSWORD)
        .env("FORMULA", &f.formula[0])
        .env("BRACKETS", proposal(&f, 90)["brackets"].to_string())
        .env("SCREENSHOT", &png)
        .env("CHROMIUM", &chromium)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = run_to_end(cmd, Duration::from_secs(180));
    let extension_log = || {
        let log = shared().boot.log();
        log.lines().filter(|l| l.to_lowercase().contains("extension")).take(20).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(out.code(), 0, "browser:\n{}{}\nDirectus on extensions:\n{}", out.stdout, out.stderr, extension_log());
    // Entry 101: 60 s -> 180 s, 1060 -> 1180, 3rd -> 4th; 102 moves up; the next stage's order moves.
    assert!(out.stdout.contains("row: SS1 | 101 | 60 → 180 | 1060 → 1180 | 3 → 4"), "{}", out.stdout);
    assert!(out.stdout.contains("row: SS1 | 102 | 60 | 1070 | 4 → 3"), "{}", out.stdout);
    assert!(out.stdout.contains("start: SS2 | 101 | 2 | 1"), "{}", out.stdout);
    assert!(out.stdout.contains("viewer: 403"), "{}", out.stdout);
    assert!(png.exists(), "no screenshot at {}", png.display());
    assert_eq!(written(&f), before, "the preview in the browser wrote nothing");
}

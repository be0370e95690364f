//! The stewards' record (issue 25) on real parts: trm-init as PID 1 boots the real Directus 11.17.4 with
//! the project's extensions on PostgreSQL + PostGIS (db-init-post 010-012 applied by the boot), then
//! - the processor's plain SQL, as its own database role (a login in `trm_processor`), lands in the
//!   timing ledger as `db:<login>`, and the role may do nothing beyond its contract (no publishing, no
//!   review, no ledger, no Directus table);
//! - API writes as organisation roles (race-director, timekeeper) land with the Directus user as actor
//!   and the reason they gave; a reasonless override, start move or amendment is refused with a 400
//!   that says a reason is needed; another organisation's director changes nothing and reads no ledger;
//! - publishing makes immutable numbered versions (`official 1`, `amended 2` with the take-back's reason
//!   and the per-entry difference), read by the club's participant, by nobody of another club;
//! - a person with psql is `db:<role>` with the reason of `SET LOCAL trm.reason`;
//! - the ledger refuses UPDATE/DELETE even to its owner; a superuser's edit (triggers off) is caught by
//!   `trm-init ledger verify`, which names the row (exit 67), while another event's chain stays intact;
//!   `trm-init ledger export` files the same rows, head and verification line with the versions (JSON, CSV);
//! - the chain crosses versions: the boot applies db-init-post up to 025, the processor's first batch
//!   is chained row by row (version 1, 019's trigger), then 026 and the files after it are applied
//!   and every later write is chained per statement (version 2); the chain verifies across, an edit of a version-1 row and of a
//!   version-2 row are named, and so is a version-2 edit whose content hash was rewritten to fit (at
//!   the first row of its statement), a removed row and a rewritten link;
//! - db-init-post/018: where the event numbers its articles a decision cites one (the form's write-only
//!   fields carry reason and article into the ledger); the processor never inserts a result official or a
//!   penalty reviewed; after the protest window only a race director amends; nothing of club B's
//!   versions reaches club A; the admin UI (headless Chromium) shows a version's differences and asks for
//!   the amendment's reason.

use trm_test_support as common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(300);
const STOP: Duration = Duration::from_secs(30);
const PASSWORD: &str = "ledger-test-pw-1";
/// The processor's login in the test cluster (roles are the cluster's: created once, reused).
const PROCESSOR: (&str, &str) = ("trm_processor_test", "processor-test-pw");
/// Club B's reason: no answer to club A may contain it.
const B_MARKER: &str = "zq-club-b-protest-77";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Stack {
    boot: Boot,
    db: TestDb,
    admin: String,
}

impl Stack {
    fn sql(&self, sql: &str) -> String {
        self.db.query(sql)
    }

    /// SQL as the processor's own login role.
    fn processor(&self, sql: &str) -> Result<String, String> {
        psql_as(&self.db.name, Some(PROCESSOR), sql)
    }

    fn api(&self, token: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
        let text = (!body.is_null()).then(|| body.to_string());
        let (status, answer) = http_with(self.boot.ports.directus, method, path, Some(token), headers, text.as_deref());
        (status, serde_json::from_str(&answer).unwrap_or(Value::String(answer)))
    }

    /// A TRM member with `role` in organisation `org`; returns (user id, token).
    fn member(&self, name: &str, org: &str, role: &str) -> (String, String) {
        let body = json!({"email": format!("{name}@example.com"), "password": PASSWORD, "role": MEMBER_ROLE, "first_name": name});
        let (status, answer) = self.api(&self.admin, "POST", "/users", &[], body);
        assert_eq!(status, 200, "create user {name}: {answer}");
        let id = answer["data"]["id"].as_str().expect("user id").to_string();
        self.sql(&format!(
            "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{org}', '{id}', '{role}')"
        ));
        let login = json!({"email": format!("{name}@example.com"), "password": PASSWORD}).to_string();
        let (status, text) = http(self.boot.ports.directus, "POST", "/auth/login", None, Some(&login));
        assert_eq!(status, 200, "login {name}: {text}");
        let token = serde_json::from_str::<Value>(&text).expect("login JSON")["data"]["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        (id, token)
    }

    /// The last ledger entry of a table's row: actor, db_role, operation, reason, regulation_article.
    /// Read through `timing_ledger_rows` (031: it unnests a version-3 statement) once it exists; the
    /// test's first part runs on a database from before 026.
    fn last_entry(&self, table: &str, id: &str) -> String {
        let from = if self.sql("SELECT to_regclass('timing_ledger_rows') IS NOT NULL") == "t" {
            "timing_ledger_rows"
        } else {
            "timing_ledger"
        };
        self.sql(&format!(
            "SELECT concat_ws(' | ', actor, db_role, operation, coalesce(reason, '-'), coalesce(regulation_article, '-'))
               FROM {from} WHERE table_name = '{table}' AND row_key = '{id}' ORDER BY seq DESC LIMIT 1"
        ))
    }

    fn verify(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["verify"];
        all.extend_from_slice(args);
        self.verify_like(&all)
    }

    /// `trm-init ledger ARGS` against the test database.
    fn verify_like(&self, args: &[&str]) -> Outcome {
        let mut all = vec!["ledger"];
        all.extend_from_slice(args);
        trm_init(&all, &self.db.env(), Duration::from_secs(30))
    }
}

/// One organisation with an event (slug `ledger-rally`), a class, two entries, an open stage with one
/// segment; returns (org id, event id, stage, segment, entry 1, entry 2).
fn club(stack: &Stack, slug: &str) -> (String, i64, i64, i64, i64, i64) {
    let row = stack.sql(&format!(
        "WITH o AS (INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), 'Club {slug}', '{slug}') RETURNING id),
              e AS (INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at, timezone)
                    SELECT id, 'Rally', 'ledger-rally', 'rally', '2026-06-06T00:00:00Z', '2026-06-13T23:59:59Z', 'Europe/Tirane' FROM o RETURNING id, organization_id),
              c AS (INSERT INTO classes (event_id, code, name, sort_order) SELECT id, 'C-2', 'Cars 2', 10 FROM e RETURNING id, event_id),
              s AS (INSERT INTO stages (event_id, name, sort_order, starts_at, status) SELECT id, 'SS1', 1, '2026-06-07T06:00:00Z', 'planned' FROM e RETURNING id),
              a AS (INSERT INTO geofences (event_id, name, kind, geometry)
                    SELECT id, 'start', 'start', ST_GeomFromText('POLYGON((19.8 41.3,19.81 41.3,19.81 41.31,19.8 41.31,19.8 41.3))', 4326) FROM e RETURNING id),
              b AS (INSERT INTO geofences (event_id, name, kind, geometry)
                    SELECT id, 'finish', 'finish', ST_GeomFromText('POLYGON((19.9 41.3,19.91 41.3,19.91 41.31,19.9 41.31,19.9 41.3))', 4326) FROM e RETURNING id),
              g AS (INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id)
                    SELECT s.id, 1, 'special-stage', a.id, b.id FROM s, a, b RETURNING id, stage_id),
              n1 AS (INSERT INTO entries (event_id, class_id, race_number, status) SELECT event_id, id, 301, 'started' FROM c RETURNING id),
              n2 AS (INSERT INTO entries (event_id, class_id, race_number, status) SELECT event_id, id, 302, 'started' FROM c RETURNING id)
         SELECT concat_ws(',', e.organization_id, e.id, g.stage_id, g.id, n1.id, n2.id) FROM e, g, n1, n2"
    ));
    let v: Vec<&str> = row.split(',').collect();
    assert_eq!(v.len(), 6, "club {slug}: {row}");
    let n = |i: usize| v[i].parse::<i64>().unwrap_or_else(|_| panic!("club row: {row}"));
    (v[0].to_string(), n(1), n(2), n(3), n(4), n(5))
}

#[test]
fn every_timing_decision_lands_in_the_ledger_with_its_actor_and_reason_and_a_tamper_is_caught() {
    require(
        "the browser test's npm packages",
        repo().join("tests/browser/node_modules/puppeteer-core").exists(),
        "run `npm ci` in tests/browser/; scripts/test.sh does this",
    );
    let db = TestDb::fresh("ledger");
    let ports = Ports::free();
    let mut env = boot_env(&db, ports);
    // The boot applies db-init-post up to 025, without 026 (the chain per statement) and the files after
    // it (a later file applied first would make 026 out of order): the first rows are version 1.
    let post = repo().join("db-init-post");
    let mut before_026: Vec<(String, String)> = Vec::new();
    for name in repo_migrations("db-init-post") {
        if name.as_str() < "026_" {
            let text = std::fs::read_to_string(post.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            before_026.push((name, text));
        }
    }
    let files: Vec<(&str, &str)> = before_026.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let post_before_026 = migration_dir(&files);
    for (key, value) in env.iter_mut() {
        if key == "TRM_INIT_DB_INIT__POST_DIR" {
            *value = post_before_026.path().to_string_lossy().into_owned();
        }
    }
    // Directus sheds load with 503 when its event loop lags, which this shared machine causes.
    env.push(("PRESSURE_LIMITER_ENABLED".into(), "false".into()));
    let boot = Boot::start(&env, ports);
    boot.wait_healthy(BOOT);
    assert!(boot.log().contains("Loaded extensions: trm-extensions"), "the bundle was not loaded:\n{}", boot.log());
    let admin = directus_login(ports.directus);
    let stack = Stack { boot, db, admin };
    // Directus's database user: the tests' admin role.
    let dx = conninfo_map(&pg_admin())["user"].clone();
    assert_eq!(stack.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'trm_processor' AND NOT rolcanlogin"), "1");
    stack.sql(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{0}') THEN CREATE ROLE {0} LOGIN PASSWORD '{1}'; END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         ALTER ROLE {0} LOGIN PASSWORD '{1}' NOSUPERUSER NOCREATEROLE NOCREATEDB NOINHERIT;
         GRANT trm_processor TO {0};",
        PROCESSOR.0, PROCESSOR.1
    ));
    // NOINHERIT above would hide the group's privileges; the processor's login inherits them.
    stack.sql(&format!("ALTER ROLE {} INHERIT", PROCESSOR.0));

    let (org_a, event_a, stage_a, segment_a, entry_a1, entry_a2) = club(&stack, "club-ledger-a");
    let (org_b, event_b, stage_b, _, entry_b1, _) = club(&stack, "club-ledger-b");

    // ---- the processor, as its own role ---------------------------------------------------------------
    stack
        .processor(&format!(
            "BEGIN;
             DELETE FROM entry_penalties WHERE entry_id = {entry_a1} AND stage_id = {stage_a} AND review_state = 'computed';
             INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds) VALUES
               ({entry_a1}, {stage_a}, 'speeding', 'speeding:1', '{{\"peak_kmh\": 71}}', 300)
             ON CONFLICT (entry_id, penalty_key) DO NOTHING;
             INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
             VALUES ({entry_a1}, {stage_a}, 3600, 300, 3900, 2, 2), ({entry_a2}, {stage_a}, 3500, 0, 3500, 1, 1),
                    ({entry_b1}, {stage_b}, 3000, 0, 3000, 1, 1)
             ON CONFLICT (entry_id, stage_id) DO UPDATE SET elapsed_seconds = EXCLUDED.elapsed_seconds,
               penalty_seconds = EXCLUDED.penalty_seconds, total_seconds = EXCLUDED.total_seconds,
               position_overall = EXCLUDED.position_overall, position_in_class = EXCLUDED.position_in_class;
             COMMIT;"
        ))
        .unwrap_or_else(|e| panic!("the processor's batch as its own role: {e}"));
    let penalty = stack.sql(&format!("SELECT id FROM entry_penalties WHERE entry_id = {entry_a1}"));
    let result_a1 = stack.sql(&format!("SELECT id FROM stage_results WHERE entry_id = {entry_a1}"));
    assert_eq!(
        stack.last_entry("entry_penalties", &penalty),
        "db:trm_processor_test | trm_processor_test | insert | - | -"
    );
    assert_eq!(
        stack.last_entry("stage_results", &result_a1),
        "db:trm_processor_test | trm_processor_test | insert | - | -"
    );
    assert_eq!(
        stack.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'timing_ledger' AND column_name = 'chain_version'"),
        "0",
        "the boot applied db-init-post without 026"
    );
    // Now 026: the chain per statement, from here on.
    let applied = run_to_end(
        db_init_command(&stack.db, &repo().join("db-init"), &post, &["--phase", "post"]),
        Duration::from_secs(120),
    );
    assert_eq!(applied.code(), 0, "db-init post with 026:\n{}{}", applied.stdout, applied.stderr);
    let after_025 = repo_migrations("db-init-post").iter().filter(|n| n.as_str() >= "026_").count();
    assert!(
        applied.stdout.contains(&format!("{after_025} applied")),
        "026 and the files after it are new: {}",
        applied.stdout
    );
    assert_eq!(
        stack.sql("SELECT string_agg(DISTINCT chain_version::text, ',') FROM timing_ledger"),
        "1",
        "the rows written before 026 are version 1"
    );
    // A statement of two rows (two penalties of entry 2) in a transaction that stashed a reason for a
    // row (as Directus's decision path does: `trm.row_settings`): version 2, a row each.
    stack
        .processor(&format!(
            "BEGIN; SET LOCAL trm.row_settings = 'on';
             INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, inputs, seconds) VALUES
               ({entry_a2}, {stage_a}, 'speeding', 'speeding:1', '{{\"peak_kmh\": 64}}', 60),
               ({entry_a2}, {stage_a}, 'speeding', 'speeding:2', '{{\"peak_kmh\": 66}}', 120);
             COMMIT;"
        ))
        .unwrap_or_else(|e| panic!("the processor's batch after 026: {e}"));
    assert_eq!(
        stack.sql(&format!(
            "SELECT concat_ws(' ', count(*), count(DISTINCT hash), count(DISTINCT prev_hash), min(actor))
               FROM timing_ledger WHERE event_id = {event_a} AND chain_version = 2"
        )),
        "2 1 1 db:trm_processor_test",
        "one statement, one link, one head before it, the processor's role"
    );
    // A batch otherwise (since 031) is version 3: one ledger row holding the statement's rows whole;
    // the view gives them back one by one, an update as `id` and the changed columns.
    stack
        .processor(&format!(
            "UPDATE entry_penalties SET seconds = seconds * 2 WHERE entry_id = {entry_a2} AND penalty_key IN ('speeding:1', 'speeding:2')"
        ))
        .unwrap_or_else(|e| panic!("the processor's batch update: {e}"));
    assert_eq!(
        stack.sql(&format!(
            "SELECT concat_ws(' ', count(*), min(row_key), min(actor), min(operation), json_array_length(min(rows_after::text)::json),
                              json_array_length(min(rows_before::text)::json), bool_and(before IS NULL AND after IS NULL))
               FROM timing_ledger WHERE event_id = {event_a} AND chain_version = 3"
        )),
        "1 rows:2 db:trm_processor_test update 2 2 t",
        "one ledger row for the statement, the processor's role"
    );
    assert_eq!(
        stack.sql(&format!(
            "SELECT string_agg(concat_ws(' ', row_in_statement, operation, before, after, actor, db_role), ', ' ORDER BY row_in_statement)
               FROM timing_ledger_rows WHERE event_id = {event_a} AND chain_version = 3"
        )),
        format!(
            r#"1 update {{"id": {p1}, "seconds": 60}} {{"id": {p1}, "seconds": 120}} db:trm_processor_test trm_processor_test, 2 update {{"id": {p2}, "seconds": 120}} {{"id": {p2}, "seconds": 240}} db:trm_processor_test trm_processor_test"#,
            p1 = stack.sql(&format!("SELECT id FROM entry_penalties WHERE entry_id = {entry_a2} AND penalty_key = 'speeding:1'")),
            p2 = stack.sql(&format!("SELECT id FROM entry_penalties WHERE entry_id = {entry_a2} AND penalty_key = 'speeding:2'")),
        ),
        "the batch's rows, one by one, only what changed"
    );
    // The same values again: an update of both rows that changes nothing records nothing (version 3).
    let before = stack.sql("SELECT count(*) FROM timing_ledger");
    stack
        .processor(&format!("UPDATE entry_penalties SET seconds = seconds WHERE entry_id = {entry_a2}"))
        .expect("an update that changes nothing");
    assert_eq!(stack.sql("SELECT count(*) FROM timing_ledger"), before, "a batch that changed nothing is not recorded");
    // The same batch again changes nothing, and records nothing.
    let before = stack.sql("SELECT count(*) FROM timing_ledger");
    stack
        .processor(&format!(
            "INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
             VALUES ({entry_a1}, {stage_a}, 3600, 300, 3900, 2, 2)
             ON CONFLICT (entry_id, stage_id) DO UPDATE SET elapsed_seconds = EXCLUDED.elapsed_seconds, total_seconds = EXCLUDED.total_seconds"
        ))
        .expect("an idempotent upsert");
    assert_eq!(
        stack.sql("SELECT count(*) FROM timing_ledger"),
        before,
        "an upsert that changed nothing is not a decision"
    );
    // Least privilege: what is not the processor's is refused.
    for forbidden in [
        format!("UPDATE stage_results SET status = 'official' WHERE id = {result_a1}"),
        format!("UPDATE entry_penalties SET review_state = 'void', override_reason = 'x' WHERE id = {penalty}"),
        "SELECT count(*) FROM timing_ledger".to_string(),
        "UPDATE timing_ledger SET reason = 'x'".to_string(),
        "DELETE FROM timing_ledger".to_string(),
        "SELECT count(*) FROM directus_users".to_string(),
        "SELECT count(*) FROM organization_users".to_string(),
        "UPDATE positions SET faulty = true".to_string(),
        // Only people publish and review (db-init-post/018): not even in its own inserts.
        format!("INSERT INTO stage_results (entry_id, stage_id, total_seconds, status) VALUES ({entry_a1}, {stage_a}, 1, 'official')"),
        format!(
            "INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, seconds, review_state, override_reason)
             VALUES ({entry_a1}, {stage_a}, 'other', 'by-the-processor', 0, 'void', 'x')"
        ),
    ] {
        let err = stack.processor(&forbidden).expect_err(&format!("the processor may not: {forbidden}"));
        assert!(err.contains("permission denied"), "{forbidden}: {err}");
    }

    // ---- API writes as organisation roles ----------------------------------------------------------------
    let (director, director_token) = stack.member("director-a", &org_a, "race-director");
    let (timekeeper, timekeeper_token) = stack.member("timekeeper-a", &org_a, "timekeeper");
    let (_, director_b_token) = stack.member("director-b", &org_b, "race-director");

    // Overriding a computed penalty: refused without a reason, recorded with one.
    let path = format!("/items/entry_penalties/{penalty}");
    let (status, answer) =
        stack.api(&director_token, "PATCH", &path, &[], json!({"review_state": "overridden", "override_seconds": 60}));
    assert_eq!(status, 400, "an override without a reason: {answer}");
    assert!(answer.to_string().contains("needs a reason"), "the 400 says a reason is needed: {answer}");
    let (status, answer) = stack.api(
        &director_b_token,
        "PATCH",
        &path,
        &[],
        json!({"review_state": "overridden", "override_seconds": 0, "override_reason": "not my club"}),
    );
    assert_eq!(status, 403, "another organisation's director: {answer}");
    let (status, answer) = stack.api(
        &director_token,
        "PATCH",
        &path,
        &[("X-TRM-Regulation-Article", "SR 12.3")],
        json!({"review_state": "overridden", "override_seconds": 60, "override_reason": "GPS drift in the village"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        stack.last_entry("entry_penalties", &penalty),
        format!("directus:{director} | {dx} | update | GPS drift in the village | SR 12.3")
    );

    // Moving a published start target: once the stage is open (set by SQL here, so the materializer stays
    // out of it), the timekeeper's move needs a reason.
    stack.sql(&format!(
        "INSERT INTO entry_segment_starts (entry_id, segment_id, start_position, target_at, manual_override)
         VALUES ({entry_a1}, {segment_a}, 1, '2026-06-07T06:00:00Z', false)"
    ));
    stack.sql(&format!("UPDATE stages SET status = 'open' WHERE id = {stage_a}"));
    let start = stack.sql(&format!("SELECT id FROM entry_segment_starts WHERE entry_id = {entry_a1}"));
    let path = format!("/items/entry_segment_starts/{start}");
    let (status, answer) =
        stack.api(&timekeeper_token, "PATCH", &path, &[], json!({"target_at": "2026-06-07T06:09:00Z"}));
    assert_eq!(status, 400, "a published start moved without a reason: {answer}");
    assert!(answer.to_string().contains("needs a reason"), "{answer}");
    let (status, answer) = stack.api(
        &timekeeper_token,
        "PATCH",
        &path,
        &[("X-TRM-Reason", "Late%20at%20the%20start%20control%2C%20r%C3%A9seed%C3%A9")],
        json!({"target_at": "2026-06-07T06:09:00Z"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        stack.last_entry("entry_segment_starts", &start),
        format!("directus:{timekeeper} | {dx} | update | Late at the start control, réseedé | -")
    );

    // Publishing, then an amendment: taking an official result back needs a reason.
    let (status, answer) = stack.api(
        &director_token,
        "PATCH",
        "/items/stage_results",
        &[],
        json!({"query": {"filter": {"stage_id": {"_eq": stage_a}}}, "data": {"status": "official"}}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(stack.last_entry("stage_results", &result_a1), format!("directus:{director} | {dx} | update | - | -"));
    let path = format!("/items/stage_results/{result_a1}");
    let (status, answer) = stack.api(&director_token, "PATCH", &path, &[], json!({"status": "provisional"}));
    assert_eq!(status, 400, "an amendment without a reason: {answer}");
    assert!(answer.to_string().contains("needs a reason"), "{answer}");
    // Where the event's rules number their articles, the amendment cites one too (db-init-post/018);
    // the reason and article come from the form's write-only fields.
    stack.sql(&format!("UPDATE events SET regulation_article_required = true WHERE id = {event_a}"));
    let reason = json!({"status": "provisional", "amendment_reason": "protest 3 upheld: waypoint 7 was neutralised"});
    let (status, answer) = stack.api(&director_token, "PATCH", &path, &[], reason.clone());
    assert_eq!(status, 400, "an amendment without the article its event requires: {answer}");
    assert!(answer.to_string().contains("needs the regulation article"), "{answer}");
    let mut with_article = reason.clone();
    with_article["amendment_regulation_article"] = json!("SR 21.4");
    let (status, answer) = stack.api(&director_token, "PATCH", &path, &[], with_article);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        stack.last_entry("stage_results", &result_a1),
        format!("directus:{director} | {dx} | update | protest 3 upheld: waypoint 7 was neutralised | SR 21.4")
    );
    assert_eq!(
        stack.sql(&format!(
            "SELECT concat_ws(',', status, amendment_reason, amendment_regulation_article, 'end') FROM stage_results WHERE id = {result_a1}"
        )),
        "provisional,end",
        "the amendment's reason and article are the ledger's, not the result's"
    );
    // A penalty decision of that event too: refused without the article, kept with it.
    let path = format!("/items/entry_penalties/{penalty}");
    // (The override's article stays with the penalty until a decision gives another: cleared here.)
    let void = json!({"review_state": "void", "override_reason": "the zone was not signposted", "override_regulation_article": null});
    let (status, answer) = stack.api(&director_token, "PATCH", &path, &[], void.clone());
    assert_eq!(status, 400, "a void without the article: {answer}");
    assert!(answer.to_string().contains("needs the regulation article"), "{answer}");
    let mut void_cited = void.clone();
    void_cited["override_regulation_article"] = json!("SR 9.1");
    let (status, answer) = stack.api(&director_token, "PATCH", &path, &[], void_cited);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        stack.last_entry("entry_penalties", &penalty),
        format!("directus:{director} | {dx} | update | the zone was not signposted | SR 9.1")
    );
    stack.sql(&format!("UPDATE events SET regulation_article_required = false WHERE id = {event_a}"));

    // ---- published versions ----------------------------------------------------------------------------
    // The first publication made `official 1`; the processor recomputes the taken-back result and the
    // director publishes again (through the version collection): `amended 2`, with the take-back's
    // reason and the difference per entry.
    stack
        .processor(&format!(
            "INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, penalty_seconds, total_seconds, position_overall, position_in_class)
             VALUES ({entry_a1}, {stage_a}, 3600, 0, 3600, 2, 2)
             ON CONFLICT (entry_id, stage_id) DO UPDATE SET penalty_seconds = EXCLUDED.penalty_seconds, total_seconds = EXCLUDED.total_seconds
             WHERE stage_results.status = 'provisional'"
        ))
        .expect("the processor recomputes a provisional result");
    let (status, answer) = stack.api(
        &director_token,
        "POST",
        "/items/result_versions",
        &[],
        json!({"stage_id": stage_a, "kind": "official"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["label"], "amended 2", "{answer}");
    assert_eq!(answer["data"]["reason"], "protest 3 upheld: waypoint 7 was neutralised", "{answer}");
    assert_eq!(answer["data"]["regulation_article"], "SR 21.4", "the take-back's article: {answer}");
    let amended = answer["data"]["id"].as_i64().expect("version id");
    assert_eq!(answer["data"]["published_by"], director.as_str(), "{answer}");
    assert_eq!(
        stack.sql(&format!("SELECT string_agg(DISTINCT status, ',') FROM stage_results WHERE stage_id = {stage_a}")),
        "official"
    );
    assert_eq!(
        stack.sql(&format!(
            "SELECT string_agg(label || ':' || entries_count || ':' || (protest_until = published_at + interval '30 minutes'), ' ' ORDER BY id)
               FROM result_versions WHERE stage_id = {stage_a}"
        )),
        "official 1:2:true amended 2:2:true"
    );
    let (_, participant_token) = stack.member("participant-a", &org_a, "participant");
    let (status, answer) = stack.api(
        &participant_token,
        "GET",
        &format!("/items/result_version_entries?filter[version_id][label][_eq]=amended%202&filter[version_id][stage_id][_eq]={stage_a}&sort=entry_id&fields=entry_id,total_seconds,change,diff"),
        &[],
        Value::Null,
    );
    assert_eq!(status, 200, "a participant reads the published versions: {answer}");
    assert_eq!(
        answer["data"],
        json!([
            {"entry_id": entry_a1, "total_seconds": 3600, "change": "changed", "diff": {"penalty_seconds": [300, 0], "total_seconds": [3900, 3600]}},
            {"entry_id": entry_a2, "total_seconds": 3500, "change": "unchanged", "diff": null}
        ])
    );
    assert_eq!(
        stack.sql(&format!(
            "SELECT difference FROM result_version_entries WHERE version_id = {amended} AND entry_id = {entry_a1}"
        )),
        "total 3900 s -> 3600 s; penalties 300 s -> 0 s"
    );
    let (status, answer) = stack.api(
        &director_b_token,
        "GET",
        &format!("/items/result_versions?filter[stage_id][_eq]={stage_a}"),
        &[],
        Value::Null,
    );
    assert_eq!((status, answer["data"].as_array().map(Vec::len)), (200, Some(0)), "another club sees none: {answer}");
    let (status, answer) = stack.api(
        &director_token,
        "POST",
        "/items/result_versions",
        &[],
        json!({"stage_id": stage_a, "kind": "provisional"}),
    );
    assert_eq!(status, 400, "provisional after official: {answer}");
    assert!(answer.to_string().contains("amendment"), "{answer}");
    // Publishing is the race direction's, in its own organisation; nobody deletes a version.
    let count = || stack.sql(&format!("SELECT count(*) FROM result_versions WHERE stage_id = {stage_a}"));
    for (who, token) in [
        ("director of B", &director_b_token),
        ("timekeeper of A", &timekeeper_token),
        ("participant of A", &participant_token),
    ] {
        let (status, answer) =
            stack.api(token, "POST", "/items/result_versions", &[], json!({"stage_id": stage_a, "kind": "official"}));
        assert!(status == 400 || status == 403, "{who} publishes: {status} {answer}");
        assert_eq!(count(), "2", "{who}: nothing published");
    }
    let (status, answer) = stack.api(
        &participant_token,
        "GET",
        &format!("/items/result_versions?filter[stage_id][_eq]={stage_a}&fields=label"),
        &[],
        Value::Null,
    );
    assert_eq!((status, answer["data"].as_array().map(Vec::len)), (200, Some(2)), "{answer}");
    let version =
        stack.sql(&format!("SELECT id FROM result_versions WHERE stage_id = {stage_a} AND label = 'official 1'"));
    for token in [&director_token, &director_b_token] {
        let (status, answer) =
            stack.api(token, "DELETE", &format!("/items/result_versions/{version}"), &[], Value::Null);
        assert_eq!(status, 403, "{answer}");
    }
    let (status, answer) = stack.api(
        &director_token,
        "PATCH",
        &format!("/items/result_versions/{version}"),
        &[],
        json!({"reason": "rewritten"}),
    );
    assert_eq!(status, 403, "{answer}");
    for statement in [
        format!("UPDATE result_versions SET reason = 'rewritten' WHERE id = {version}"),
        format!("DELETE FROM result_version_entries WHERE version_id = {version}"),
    ] {
        let err = psql_result(&stack.db.name, &statement).expect_err("immutable");
        assert!(err.contains("result_versions_immutable"), "{statement}: {err}");
    }

    // ---- the protest window (club B's event closes it at once) ------------------------------------------
    // Once it has closed, only a race director amends (db-init-post/018): not the club's org-admin, not a
    // person with psql who does not say which director decided.
    let (_, admin_b_token) = stack.member("admin-b", &org_b, "org-admin");
    stack.sql(&format!("UPDATE events SET protest_window_minutes = 0 WHERE id = {event_b}"));
    let (status, answer) = stack.api(
        &director_b_token,
        "POST",
        "/items/result_versions",
        &[],
        json!({"stage_id": stage_b, "kind": "official", "reason": B_MARKER}),
    );
    assert_eq!((status, answer["data"]["label"].as_str()), (200, Some("official 1")), "{answer}");
    let result_b1 = stack.sql(&format!("SELECT id FROM stage_results WHERE entry_id = {entry_b1}"));
    let take_back = json!({"status": "provisional", "amendment_reason": format!("{B_MARKER} late protest")});
    let path = format!("/items/stage_results/{result_b1}");
    let (status, answer) = stack.api(&admin_b_token, "PATCH", &path, &[], take_back.clone());
    assert_eq!(status, 400, "an org-admin amends after the window: {answer}");
    assert!(answer.to_string().contains("amendment_after_protest_window"), "{answer}");
    let err = psql_result(
        &stack.db.name,
        &format!("BEGIN; SET LOCAL trm.reason = 'psql'; UPDATE stage_results SET status = 'provisional' WHERE id = {result_b1}; COMMIT;"),
    )
    .expect_err("psql without a director after the window");
    assert!(err.contains("amendment_after_protest_window"), "{err}");
    let (status, answer) = stack.api(&director_b_token, "PATCH", &path, &[], take_back);
    assert_eq!(status, 200, "the race director amends after the window: {answer}");

    // ---- nothing of club B's record reaches club A ------------------------------------------------------
    let enc_marker = B_MARKER.replace(' ', "%20");
    for (who, token) in
        [("director", &director_token), ("timekeeper", &timekeeper_token), ("participant", &participant_token)]
    {
        for url in [
            format!("/items/result_versions?search={enc_marker}&fields=id"),
            format!("/items/result_versions?filter[reason][_contains]={enc_marker}&fields=id"),
            format!("/items/result_versions?filter[stage_id][_eq]={stage_b}&fields=id"),
            format!("/items/result_version_entries?filter[version_id][reason][_contains]={enc_marker}&fields=id"),
            format!("/items/result_version_entries?filter[entry_id][_eq]={entry_b1}&fields=id"),
            format!("/items/stage_results?filter[entry_id][_eq]={entry_b1}&fields=id"),
        ] {
            let (status, answer) = stack.api(token, "GET", &url, &[], Value::Null);
            let rows = answer["data"].as_array().map(Vec::len);
            assert!(status == 403 || rows == Some(0), "{who} of A: GET {url}: {status} {answer}");
        }
        for url in [
            "/items/result_versions?fields=*.*.*&limit=-1".to_string(),
            "/items/result_version_entries?fields=*.*.*&limit=-1".to_string(),
            "/items/result_versions?export=csv&limit=-1".to_string(),
            "/items/result_versions?aggregate[countDistinct]=reason&groupBy[]=reason".to_string(),
            "/items/stage_results?fields=*.*.*&limit=-1".to_string(),
        ] {
            let (status, answer) = stack.api(token, "GET", &url, &[], Value::Null);
            assert!(
                !answer.to_string().contains(B_MARKER),
                "{who} of A: GET {url} ({status}) shows club B's record: {answer}"
            );
        }
    }

    // The ledger is no collection: nobody reads it through Directus (the export is the stewards' copy).
    for token in [&director_token, &director_b_token, &timekeeper_token] {
        let (status, answer) = stack.api(token, "GET", "/items/timing_ledger", &[], Value::Null);
        assert_eq!(status, 403, "{answer}");
    }

    // ---- a person with psql ---------------------------------------------------------------------------------
    stack.sql(&format!(
        "BEGIN; SET LOCAL trm.reason = 'bulletin 4: the bracket starts at 21 km/h';
         INSERT INTO penalty_formulas (event_id, belongs_to_type, type, offence_min, offence_max, operator, penalty_seconds)
         VALUES ({event_a}, 'event', 'speeding', 21, 40, 'per_unit', 10); COMMIT;"
    ));
    let formula = stack.sql(&format!("SELECT id FROM penalty_formulas WHERE event_id = {event_a}"));
    assert_eq!(
        stack.last_entry("penalty_formulas", &formula),
        format!("db:{dx} | {dx} | insert | bulletin 4: the bracket starts at 21 km/h | -")
    );

    // ---- the chain ----------------------------------------------------------------------------------------------
    let rows_a = stack.sql(&format!("SELECT count(*) FROM timing_ledger WHERE event_id = {event_a}"));
    assert!(rows_a.parse::<u32>().expect("count") >= 8, "event A's ledger: {rows_a} rows");
    let ok = stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-a"]);
    assert_eq!(ok.code(), 0, "{}", ok.stdout);
    assert!(ok.stdout.contains(&format!("{rows_a} rows, chain intact, head ")), "{}", ok.stdout);
    let head = ok.stdout.trim().rsplit(' ').next().unwrap_or_default().to_string();
    // The stewards' file: the same rows, head and verification line, and the published versions.
    let json_file = stack.verify_like(&["export", "--event", "ledger-rally", "--organization", "club-ledger-a"]);
    assert_eq!(json_file.code(), 0, "{}", json_file.stderr);
    let doc: Value =
        serde_json::from_str(&json_file.stdout).unwrap_or_else(|e| panic!("export JSON ({e}): {}", json_file.stdout));
    assert_eq!(doc["ledger"]["head"], head.as_str());
    assert!(!json_file.stdout.contains(B_MARKER), "event A's file holds club B's record: {}", json_file.stdout);
    assert_eq!(doc["ledger"]["verification"], ok.stdout.trim());
    assert_eq!(doc["ledger"]["entries"].as_array().map(Vec::len), Some(rows_a.parse::<usize>().expect("rows")));
    // ... and one written row at a time (the version-3 batch unnested), in chain order.
    let written = stack.sql(&format!("SELECT count(*) FROM timing_ledger_rows WHERE event_id = {event_a}"));
    assert_eq!(doc["ledger"]["written_rows"].as_array().map(Vec::len), Some(written.parse::<usize>().expect("count")));
    assert!(
        doc["ledger"]["written_rows"].as_array().into_iter().flatten().any(|r| r["row_in_statement"] == 2),
        "the batch's second row: {}",
        doc["ledger"]["written_rows"]
    );
    let labels: Vec<&str> =
        doc["result_versions"].as_array().into_iter().flatten().filter_map(|v| v["label"].as_str()).collect();
    assert_eq!(labels, ["official 1", "amended 2"], "{}", doc["result_versions"]);
    let csv_file =
        stack.verify_like(&["export", "--event", "ledger-rally", "--organization", "club-ledger-a", "--format", "csv"]);
    assert_eq!(csv_file.code(), 0, "{}", csv_file.stderr);
    let lines: Vec<&str> = csv_file.stdout.lines().collect();
    let line = format!("# {}", ok.stdout.trim());
    assert_eq!((lines.first(), lines.last()), (Some(&line.as_str()), Some(&line.as_str())), "{}", csv_file.stdout);
    assert!(lines[1].starts_with("seq,event_id,event_seq,recorded_at"), "{}", lines[1]);
    assert!(lines.contains(&"seq,event_seq,row_in_statement,recorded_at,actor,db_role,table_name,row_key,operation,before,after,reason,regulation_article"), "{}", csv_file.stdout);
    assert!(
        csv_file.stdout.contains("amended 2") && csv_file.stdout.contains("protest 3 upheld"),
        "{}",
        csv_file.stdout
    );
    let ambiguous = stack.verify(&["--event", "ledger-rally"]);
    assert_eq!(ambiguous.code(), 66, "two clubs have the slug: {}{}", ambiguous.stdout, ambiguous.stderr);
    assert!(ambiguous.stderr.contains("--organization"), "{}", ambiguous.stderr);
    let unknown = stack.verify(&["--event", "no-such-rally"]);
    assert_eq!(unknown.code(), 66, "{}", unknown.stderr);

    // Append-only, even for the owner (here a superuser, with the triggers on).
    let err = psql_result(&stack.db.name, "UPDATE timing_ledger SET reason = 'x'").expect_err("append-only");
    assert!(err.contains("append-only"), "{err}");
    let err = psql_result(&stack.db.name, "DELETE FROM timing_ledger").expect_err("append-only");
    assert!(err.contains("append-only"), "{err}");

    // ---- the chain across versions -----------------------------------------------------------------------
    assert_eq!(
        stack.sql(&format!(
            "SELECT string_agg(DISTINCT chain_version::text, ',') FROM timing_ledger WHERE event_id = {event_a}"
        )),
        "1,2,3",
        "event A's chain holds rows of every version (and verified intact above)"
    );
    let tamper = |sql: &str| stack.sql(&format!("SET session_replication_role = replica; {sql}"));
    let broken_at = |seq: &str, why: &str| {
        let out = stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-a"]);
        assert_eq!(out.code(), 67, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(&format!("BROKEN at row seq {seq} ")) && out.stdout.contains(why),
            "seq {seq}, {why}: {}",
            out.stdout
        );
    };
    // A version-1 row (the processor's first insert) edited.
    let v1_row =
        stack.sql(&format!("SELECT min(seq) FROM timing_ledger WHERE event_id = {event_a} AND chain_version = 1"));
    let v1_after = stack.sql(&format!("SELECT after::text FROM timing_ledger WHERE seq = {v1_row}"));
    tamper(&format!("UPDATE timing_ledger SET after = after || '{{\"seconds\": 0}}' WHERE seq = {v1_row}"));
    broken_at(&v1_row, "content changed");
    tamper(&format!("UPDATE timing_ledger SET after = '{}' WHERE seq = {v1_row}", v1_after.replace('\'', "''")));
    // The version-3 row (031): one value inside its array edited; the row is named. Put back as it
    // was stored (json keeps the text), the chain holds again.
    let v3_row =
        stack.sql(&format!("SELECT min(seq) FROM timing_ledger WHERE event_id = {event_a} AND chain_version = 3"));
    let v3_after = stack.sql(&format!("SELECT rows_after::text FROM timing_ledger WHERE seq = {v3_row}"));
    assert!(v3_after.contains(r#""seconds":240"#), "{v3_after}");
    tamper(&format!(
        r#"UPDATE timing_ledger SET rows_after = replace(rows_after::text, '"seconds":240', '"seconds":0')::json WHERE seq = {v3_row}"#
    ));
    broken_at(&v3_row, "content changed");
    tamper(&format!("UPDATE timing_ledger SET rows_after = '{}' WHERE seq = {v3_row}", v3_after.replace('\'', "''")));
    let restored = stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-a"]);
    assert_eq!(restored.code(), 0, "put back: {}{}", restored.stdout, restored.stderr);
    // The two-row statement: its second row's seconds edited; then also its content hash rewritten with
    // the database's own function (what a superuser who read 026 would do): the statement is named.
    let (first, second) = {
        let rows = stack.sql(&format!(
            "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM timing_ledger
              WHERE event_id = {event_a} AND chain_version = 2 AND table_name = 'entry_penalties' AND row_key IN
                    (SELECT id::text FROM entry_penalties WHERE entry_id = {entry_a2})"
        ));
        let v: Vec<String> = rows.split(',').map(str::to_string).collect();
        assert_eq!(v.len(), 2, "the two-row statement: {rows}");
        (v[0].clone(), v[1].clone())
    };
    let original =
        stack.sql(&format!("SELECT after::text || '#' || content_hash FROM timing_ledger WHERE seq = {second}"));
    let (after_text, content) = original.split_once('#').unwrap_or_else(|| panic!("{original}"));
    tamper(&format!("UPDATE timing_ledger SET after = jsonb_set(after, '{{seconds}}', '0') WHERE seq = {second}"));
    broken_at(&second, "content changed");
    tamper(&format!(
        "UPDATE timing_ledger SET content_hash = trm_ledger_content_hash(event_id, event_seq, trm_ledger_field(trm_ledger_time(recorded_at)),
                trm_ledger_shared(txid, db_role, directus_user, actor, table_name), row_key, operation, before::text, after::text,
                reason, regulation_article) WHERE seq = {second}"
    ));
    broken_at(&first, "the link of its statement");
    tamper(&format!(
        "UPDATE timing_ledger SET after = '{}', content_hash = '{content}' WHERE seq = {second}",
        after_text.replace('\'', "''")
    ));
    // The statement's last row removed: the statement no longer links (named at its first row).
    let next = stack.sql(&format!("SELECT min(seq) FROM timing_ledger WHERE event_id = {event_a} AND seq > {second}"));
    let saved = stack.sql(&format!("SELECT to_jsonb(l)::text FROM timing_ledger l WHERE seq = {second}"));
    tamper(&format!("DELETE FROM timing_ledger WHERE seq = {second}"));
    broken_at(&first, "the link of its statement (event_seq");
    tamper(&format!(
        "INSERT INTO timing_ledger OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::timing_ledger, '{}')",
        saved.replace('\'', "''")
    ));
    // The statement's link rewritten on both its rows: it no longer is the hash of its rows.
    tamper(&format!("UPDATE timing_ledger SET hash = repeat('f', 64) WHERE seq IN ({first}, {second})"));
    broken_at(&first, "the link of its statement");
    tamper(&format!(
        "UPDATE timing_ledger SET hash = (SELECT prev_hash FROM timing_ledger WHERE seq = {next}) WHERE seq IN ({first}, {second})"
    ));
    let ok = stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-a", "--head", &head]);
    assert_eq!(ok.code(), 0, "put back: {}", ok.stdout);

    // A superuser edits the override's reason with the triggers off: caught, the row is named.
    let tampered = stack.sql(&format!(
        "SELECT min(seq) FROM timing_ledger WHERE table_name = 'entry_penalties' AND row_key = '{penalty}' AND reason IS NOT NULL"
    ));
    stack.sql(&format!(
        "SET session_replication_role = replica;
         UPDATE timing_ledger SET reason = 'approved by the stewards' WHERE seq = {tampered}"
    ));
    let broken = stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-a"]);
    assert_eq!(broken.code(), 67, "{}{}", broken.stdout, broken.stderr);
    assert!(
        broken.stdout.contains(&format!("BROKEN at row seq {tampered} ")) && broken.stdout.contains("content changed"),
        "{}",
        broken.stdout
    );
    // Put back: intact again, and the filed head holds; a removed last row is caught by the head.
    stack.sql(&format!(
        "SET session_replication_role = replica;
         UPDATE timing_ledger SET reason = 'GPS drift in the village' WHERE seq = {tampered}"
    ));
    assert_eq!(
        stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-a", "--head", &head]).code(),
        0
    );
    stack.sql(&format!(
        "SET session_replication_role = replica;
         DELETE FROM timing_ledger WHERE seq = (SELECT max(seq) FROM timing_ledger WHERE event_id = {event_a})"
    ));
    let cut = stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-a", "--head", &head]);
    assert_eq!(cut.code(), 67, "{}", cut.stdout);
    assert!(cut.stdout.contains("not the filed head"), "{}", cut.stdout);
    // Event B's chain is its own.
    let other = stack.verify(&["--event", "ledger-rally", "--organization", "club-ledger-b"]);
    assert_eq!(other.code(), 0, "{}", other.stdout);
    assert_eq!(
        stack.sql(&format!("SELECT count(*) FROM timing_ledger WHERE event_id = {event_b}")),
        "3",
        "event B: the processor's insert, the publication, the director's amendment"
    );

    // ---- the admin UI, in a real browser ---------------------------------------------------------------
    // The director sees the amended version's reason and per-entry difference, and an official result's
    // form asks for the amendment's reason once its status goes back to provisional.
    let result_a2 = stack.sql(&format!("SELECT id FROM stage_results WHERE entry_id = {entry_a2}"));
    let shots = repo().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("{}: {e}", shots.display()));
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/browser/result-versions.mjs"))
        .env("DIRECTUS_URL", format!("http://127.0.0.1:{}", stack.boot.ports.directus))
        .env("EMAIL", "director-a@example.com")
        .env("PASSWORD", PASSWORD)
        .env("VERSION_ID", amended.to_string())
        .env("EXPECT_DIFFERENCE", "total 3900 s -> 3600 s; penalties 300 s -> 0 s")
        .env("EXPECT_REASON", "protest 3 upheld: waypoint 7 was neutralised")
        .env("RESULT_ID", &result_a2)
        .env("SCREENSHOT", shots.join("admin-ui-result-version.png"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let browser = run_to_end(cmd, Duration::from_secs(180));
    assert_eq!(browser.code(), 0, "admin UI (result versions):\n{}{}", browser.stdout, browser.stderr);
    assert_eq!(browser.stdout.lines().filter(|l| l.starts_with("ok: ")).count(), 3, "{}", browser.stdout);

    let (code, log) = stack.boot.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");
}

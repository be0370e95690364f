//! The tenant-isolation attack suite (issue 22), against the real stack: trm-init as PID 1 boots
//! Directus 11.17.4 on PostgreSQL with the repository's schema, access file, migrations and extensions,
//! once. Two clubs A and B, a user per organisation role in A, one in no organisation, one in both
//! clubs (race-director of A, viewer of B), and B's rows carrying marker values (notes, phone, e-mail,
//! VIN, plate, IMEI, the club's name). Every attack is made as each of them, and without a token:
//!
//! - filters through **every relation of the snapshot** (read from snapshots/schema.yaml, so a new
//!   relation is attacked by itself), each many-to-one, its one-to-many alias and the reverse hop
//!   `$FOLLOW(collection, field)`, in REST and GraphQL, plus sort, groupBy, aggregate and deep paths:
//!   refused unless the access file's `membership.filter_relations` lists the hop;
//! - dynamic variables with a path, search, aggregates and `meta`, exports, system collections;
//! - `POST /utils/sort/<collection>` on B's rows (refused, nothing changes) and on one's own (the
//!   race-director still reorders their classes and stages, and B's rows do not move);
//! - the stage-open hook, `POST /faulty-positions` and database-rule messages: the same answer for
//!   B's row and for one that does not exist, never B's ids or values;
//! - shared rows: attaching B's member, device or vehicle to A is refused like an unknown id;
//!   `/shares/info/<id>` says nothing;
//! - equipment: B's device or vehicle on A's entry is refused by the database (db-init-post/023), through
//!   the API and in SQL, with the answer an unknown id gets;
//! - `/utils/*` beyond sort: revert of B's revision, import over B's rows (or with a key that does not
//!   exist: the same answer), export, cache clear, random string, hashes;
//! - functions and aggregates over relations: `fields=count(<alias>)` on rows two clubs share counts
//!   only the caller's, `filter[count(...)]`, sort and aggregate over an alias, `alias` + `deep`, a deep
//!   `_groupBy`;
//! - MCP and the AI chat, even with the project setting on: admins only;
//! - the extension endpoints and the collections of later work (ENDPOINTS: result versions, the
//!   course GPX import/export, the ledger): as every identity, B's target and a missing one answer
//!   alike and nothing of B changes.
//!
//! Each answer of the suite is also searched for B's marker values: none may appear.

use trm_test_support as common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(300);
const PASSWORD: &str = "attack-pw-1";
const STREAM: &str = "attacks:recompute";
const POLYGON_SQL: &str = "ST_GeomFromText('POLYGON((19.4 41.3, 19.5 41.3, 19.5 41.4, 19.4 41.4, 19.4 41.3))', 4326)";

/// The attackers: club A's organisation roles, the user in no organisation, the user in both clubs.
const ROLES: [(char, &str); 6] = [
    ('A', "org-admin"),
    ('D', "race-director"),
    ('M', "marshal"),
    ('T', "timekeeper"),
    ('P', "participant"),
    ('V', "viewer"),
];

/// Values only B's rows hold: no answer to an attacker may contain one.
const MARKERS: [&str; 7] = [
    "b-secret-notes-7f3a",
    "+355 69 777 1234",
    "crew-b-7f3a@example.com",
    "WVWZZZ1JZ7F3A0001",
    "BB-7F3-AA",
    "359999000077731",
    "Club Bravo 7f3a",
];

struct Stack {
    db: TestDb,
    port: u16,
    admin: String,
}

impl Stack {
    fn sql(&self, sql: &str) -> String {
        self.db.query(sql)
    }

    fn user(&self, email: &str) -> String {
        let body = format!(
            "{{\"email\":\"{email}\",\"password\":\"{PASSWORD}\",\"role\":\"{MEMBER_ROLE}\",\"first_name\":\"x\"}}"
        );
        let (status, text) = http(self.port, "POST", "/users", Some(&self.admin), Some(&body));
        assert_eq!(status, 200, "create user {email}: {text}");
        json(&text)["data"]["id"].as_str().unwrap_or_default().to_string()
    }

    fn login(&self, email: &str) -> String {
        let body = format!("{{\"email\":\"{email}\",\"password\":\"{PASSWORD}\"}}");
        let (status, text) = http(self.port, "POST", "/auth/login", None, Some(&body));
        assert_eq!(status, 200, "login as {email}: {text}");
        json(&text)["data"]["access_token"].as_str().unwrap_or_default().to_string()
    }
}

/// One club's rows (ids as text).
struct Club {
    slug: String,
    org: String,
    event: String,
    classes: [String; 3],
    stages: [String; 2],
    segments: [String; 2],
    geofence: String,
    entry: String,
    user: String,
    device: String,
    imei: String,
    vehicle: String,
}

fn club(s: &Stack, slug: &str, name: &str, marked: bool) -> Club {
    let mark = |value: &str, plain: &str| if marked { value.to_string() } else { format!("{plain}-{slug}") };
    let org = s.sql(&format!(
        "INSERT INTO organizations (id, name, slug) VALUES (gen_random_uuid(), '{name}', '{slug}') RETURNING id"
    ));
    let event = s.sql(&format!(
        "INSERT INTO events (organization_id, name, slug, discipline, starts_at, ends_at)
         VALUES ('{org}', 'Rally {slug}', 'rally-{slug}', 'rally', now() - interval '1 day', now() + interval '1 day') RETURNING id"
    ));
    let class = |n: u32| {
        s.sql(&format!(
            "INSERT INTO classes (event_id, code, name, sort_order) VALUES ({event}, 'C-{n}', 'Cars {n}', {}) RETURNING id",
            n * 10
        ))
    };
    let classes = [class(1), class(2), class(3)];
    let stage = |n: u32, strategy: &str| {
        s.sql(&format!(
            "INSERT INTO stages (event_id, name, sort_order, start_order_strategy, starts_at, start_interval_seconds)
             VALUES ({event}, 'SS{n}', {n}, '{strategy}', now(), 60) RETURNING id"
        ))
    };
    // The second stage cannot be opened (top_n missing): the hook's reason would describe it.
    let stages = [stage(1, "manual"), stage(2, "inverse_top_n_then_natural")];
    let geofence = s.sql(&format!(
        "INSERT INTO geofences (event_id, name, kind, geometry) VALUES ({event}, 'CP {slug}', 'checkpoint', {POLYGON_SQL}) RETURNING id"
    ));
    let segment = |n: u32| {
        s.sql(&format!(
            "INSERT INTO segments (stage_id, sort_order, type, entry_geofence_id, exit_geofence_id)
             VALUES ({}, {n}, 'liaison', {geofence}, {geofence}) RETURNING id",
            stages[0]
        ))
    };
    let segments = [segment(1), segment(2)];
    let vehicle = s.sql(&format!(
        "INSERT INTO vehicles (id, make, model, vin, plate) VALUES (gen_random_uuid(), 'Toyota', 'LC70', '{}', '{}') RETURNING id",
        mark(MARKERS[3], "vin"),
        mark(MARKERS[4], "plate")
    ));
    s.sql(&format!("INSERT INTO organization_vehicles (organization_id, vehicle_id) VALUES ('{org}', '{vehicle}')"));
    let imei = if marked { MARKERS[5].to_string() } else { "359999000011111".to_string() };
    let device = s.sql(&format!(
        "INSERT INTO devices (id, imei, model) VALUES (gen_random_uuid(), '{imei}', 'FMB920') RETURNING id"
    ));
    s.sql(&format!("INSERT INTO organization_devices (organization_id, device_id) VALUES ('{org}', '{device}')"));
    let entry = s.sql(&format!(
        "INSERT INTO entries (event_id, class_id, vehicle_id, race_number, status, notes)
         VALUES ({event}, {}, '{vehicle}', 301, 'registered', '{}') RETURNING id",
        classes[0],
        mark(MARKERS[0], "notes")
    ));
    s.sql(&format!("INSERT INTO entry_devices (entry_id, device_id) VALUES ({entry}, '{device}')"));
    let user = s.sql(&format!(
        "INSERT INTO directus_users (id, email, phone, birth_date, status, role)
         VALUES (gen_random_uuid(), '{}', '{}', '1990-01-01', 'active', '{MEMBER_ROLE}') RETURNING id",
        mark(MARKERS[2], "crew@example.com").replace("crew@example.com-", "crew-"),
        mark(MARKERS[1], "+355 69 000")
    ));
    s.sql(&format!(
        "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{org}', '{user}', 'participant')"
    ));
    s.sql(&format!("INSERT INTO entry_crew (entry_id, user_id, role) VALUES ({entry}, '{user}', 'pilot')"));
    Club { slug: slug.to_string(), org, event, classes, stages, segments, geofence, entry, user, device, imei, vehicle }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The REST path of a collection (system collections have their own).
fn path(collection: &str) -> String {
    match collection.strip_prefix("directus_") {
        Some(system) => format!("/{system}"),
        None => format!("/items/{collection}"),
    }
}

/// A query string value, percent-encoded.
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A relation of the schema, as the snapshot lists it.
struct Relation {
    collection: String,
    field: String,
    related: String,
    alias: Option<String>,
}

/// Every relation of snapshots/schema.yaml, plus the system relation that makes one shared Directus
/// role a door (`directus_users.role` -> the role's `users`).
fn relations() -> Vec<Relation> {
    let doc = repo_snapshot_yaml();
    let mut all: Vec<Relation> = snapshot_list(&doc, "relations")
        .iter()
        .filter(|r| !r["related_collection"].is_null())
        .map(|r| Relation {
            collection: yaml_str(&r["collection"]).to_string(),
            field: yaml_str(&r["field"]).to_string(),
            related: yaml_str(&r["related_collection"]).to_string(),
            alias: r["meta"]["one_field"].as_str().map(str::to_string),
        })
        .collect();
    all.push(Relation {
        collection: "directus_users".into(),
        field: "role".into(),
        related: "directus_roles".into(),
        alias: Some("users".into()),
    });
    all
}

/// The primary key field of a collection (snapshot fields with `is_primary_key`; system: `id`).
fn primary_keys() -> BTreeMap<String, String> {
    let doc = repo_snapshot_yaml();
    snapshot_list(&doc, "fields")
        .iter()
        .filter(|f| f["schema"]["is_primary_key"].as_bool() == Some(true))
        .map(|f| (yaml_str(&f["collection"]).to_string(), yaml_str(&f["field"]).to_string()))
        .collect()
}

/// The access file's allowlist of relations a non-admin's query may walk.
fn allowed_relations() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(repo_dir("snapshots/access.yaml")).unwrap_or_default();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap_or(serde_yaml_ng::Value::Null);
    let mut out = BTreeMap::new();
    if let Some(map) = doc["membership"]["filter_relations"].as_mapping() {
        for (k, v) in map {
            let fields =
                v.as_sequence().map(|s| s.iter().map(|f| yaml_str(f).to_string()).collect()).unwrap_or_default();
            out.insert(yaml_str(k).to_string(), fields);
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    failures: BTreeMap<&'static str, Vec<String>>,
    checked: usize,
}

impl Tally {
    /// One check of `class` (the issue's leak class it is about): `failure` when it did not hold.
    fn check(&mut self, class: &'static str, failure: Option<String>) {
        self.checked += 1;
        if let Some(f) = failure {
            self.failures.entry(class).or_default().push(f);
        }
    }

    /// No marker value of B in an answer.
    fn clean(&mut self, who: &str, what: &str, body: &str) {
        let found: Vec<&str> = MARKERS.iter().copied().filter(|m| body.contains(m)).collect();
        self.check(
            "values",
            (!found.is_empty()).then(|| format!("{who}: {what}: the answer holds B's {found:?}: {}", cut(body))),
        );
    }
}

fn cut(body: &str) -> String {
    body.chars().take(200).collect()
}

/// An answer a refused query gets from the tenant guard.
fn refused_query(status: u16, body: &str) -> bool {
    status == 403 && body.contains("may not use")
}

/// True when `text` says "event <id>" (with nothing more to the number).
fn names_event(text: &str, id: &str) -> bool {
    text.match_indices("event ").any(|(i, m)| {
        let rest = &text[i + m.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits == id
    })
}

/// One request an identity makes about club B's rows, against the same request about rows that do not
/// exist: the two answers must be alike (after the request's own input is blanked out of them), carry
/// none of B's values, and `state` (SQL over B's rows) must not change. `write`: the dual user (a
/// viewer of B) is attacked too. To put a new endpoint under the suite, add a Probe here.
struct Probe {
    what: &'static str,
    method: &'static str,
    /// (path, body) about B's row, then about a missing one.
    theirs: (String, Option<String>),
    missing: (String, Option<String>),
    /// The input that differs between the two (blanked before comparing), if any.
    inputs: [String; 2],
    write: bool,
    state: String,
}

/// The endpoints and collections of later work, as probes about B: the published result versions
/// (issue 25: `result_versions`, `result_version_entries`), the timing ledger (a raw table: never a
/// collection), the course GPX import and export (issue 26: `/course-gpx/...`).
fn endpoint_probes(b: &Club, version: &str) -> Vec<Probe> {
    let none = "987654".to_string();
    let gpx = r#"<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"attack\"><wpt lat=\"41.3\" lon=\"19.4\"><name>WP1</name></wpt></gpx>"#;
    let versions = format!(
        "SELECT count(*) || ':' || coalesce(string_agg(v.label || coalesce(v.reason, ''), ',' ORDER BY v.id), '') FROM result_versions v JOIN stages t ON t.id = v.stage_id WHERE t.event_id = {}",
        b.event
    );
    let course = format!(
        "SELECT (SELECT count(*) FROM stages WHERE event_id = {e}) || ':' || (SELECT count(*) FROM geofences WHERE event_id = {e}) || ':' ||
                (SELECT count(*) FROM segments g JOIN stages t ON t.id = g.stage_id WHERE t.event_id = {e}) || ':' ||
                (SELECT count(*) FROM waypoints w JOIN segments g ON g.id = w.segment_id JOIN stages t ON t.id = g.stage_id WHERE t.event_id = {e})",
        e = b.event
    );
    let event_slug = format!("rally-{}", b.slug);
    let get = |path: String| (path, None);
    vec![
        Probe {
            what: "result versions of B's stage",
            method: "GET",
            theirs: get(format!("/items/result_versions?filter[stage_id][_eq]={}&fields=*", b.stages[0])),
            missing: get(format!("/items/result_versions?filter[stage_id][_eq]={none}&fields=*")),
            inputs: [b.stages[0].clone(), none.clone()],
            write: false,
            state: versions.clone(),
        },
        Probe {
            what: "B's result version by id",
            method: "GET",
            theirs: get(format!("/items/result_versions/{version}")),
            missing: get(format!("/items/result_versions/{none}")),
            inputs: [version.to_string(), none.clone()],
            write: false,
            state: versions.clone(),
        },
        Probe {
            what: "entries of B's result version",
            method: "GET",
            theirs: get(format!("/items/result_version_entries?filter[version_id][_eq]={version}&fields=*")),
            missing: get(format!("/items/result_version_entries?filter[version_id][_eq]={none}&fields=*")),
            inputs: [version.to_string(), none.clone()],
            write: false,
            state: versions.clone(),
        },
        Probe {
            what: "publishing B's stage",
            method: "POST",
            theirs: (
                "/items/result_versions".into(),
                Some(format!("{{\"stage_id\":{},\"kind\":\"provisional\",\"reason\":\"attack\"}}", b.stages[0])),
            ),
            missing: (
                "/items/result_versions".into(),
                Some(format!("{{\"stage_id\":{none},\"kind\":\"provisional\",\"reason\":\"attack\"}}")),
            ),
            inputs: [b.stages[0].clone(), none.clone()],
            write: true,
            state: versions.clone(),
        },
        Probe {
            what: "changing B's result version",
            method: "PATCH",
            theirs: (format!("/items/result_versions/{version}"), Some("{\"reason\":\"attack\"}".into())),
            missing: (format!("/items/result_versions/{none}"), Some("{\"reason\":\"attack\"}".into())),
            inputs: [version.to_string(), none.clone()],
            write: true,
            state: versions.clone(),
        },
        Probe {
            what: "deleting B's result version",
            method: "DELETE",
            theirs: (format!("/items/result_versions/{version}"), None),
            missing: (format!("/items/result_versions/{none}"), None),
            inputs: [version.to_string(), none.clone()],
            write: true,
            state: versions.clone(),
        },
        Probe {
            what: "the timing ledger (never a collection)",
            method: "GET",
            theirs: get(format!("/items/timing_ledger?filter[event_id][_eq]={}", b.event)),
            missing: get(format!("/items/timing_ledger?filter[event_id][_eq]={none}")),
            inputs: [b.event.clone(), none.clone()],
            write: false,
            state: versions.clone(),
        },
        Probe {
            what: "the timing ledger read row by row (timing_ledger_rows, never a collection)",
            method: "GET",
            theirs: get(format!("/items/timing_ledger_rows?filter[event_id][_eq]={}", b.event)),
            missing: get(format!("/items/timing_ledger_rows?filter[event_id][_eq]={none}")),
            inputs: [b.event.clone(), none.clone()],
            write: false,
            state: versions.clone(),
        },
        Probe {
            what: "importing a course into B's event",
            method: "POST",
            theirs: ("/course-gpx/import".into(), Some(format!("{{\"event\":\"{event_slug}\",\"gpx\":\"{gpx}\"}}"))),
            missing: (
                "/course-gpx/import".into(),
                Some(format!("{{\"event\":\"rally-missing-0000\",\"gpx\":\"{gpx}\"}}")),
            ),
            inputs: [event_slug.clone(), "rally-missing-0000".into()],
            write: true,
            state: course.clone(),
        },
        Probe {
            what: "importing a course into B's event, naming B",
            method: "POST",
            theirs: (
                "/course-gpx/import".into(),
                Some(format!("{{\"event\":\"{event_slug}\",\"organization\":\"{}\",\"gpx\":\"{gpx}\"}}", b.slug)),
            ),
            missing: (
                "/course-gpx/import".into(),
                Some(format!("{{\"event\":\"{event_slug}\",\"organization\":\"missing-0000\",\"gpx\":\"{gpx}\"}}")),
            ),
            inputs: [format!("organisation \\\"{}\\\"", b.slug), "organisation \\\"missing-0000\\\"".into()],
            write: true,
            state: course.clone(),
        },
        Probe {
            what: "exporting B's stage",
            method: "GET",
            theirs: get(format!("/course-gpx/export?event={event_slug}&stage=SS1")),
            missing: get("/course-gpx/export?event=rally-missing-0000&stage=SS1".into()),
            inputs: [event_slug.clone(), "rally-missing-0000".into()],
            write: false,
            state: course,
        },
    ]
}

/// `POST /utils/import/<collection>` with `csv` as the uploaded file (multipart, as the admin UI sends it).
fn import(port: u16, collection: &str, token: Option<&str>, csv: &str) -> (u16, String) {
    let boundary = "trm-attack-7f3a";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rows.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let raw = format!(
        "POST /utils/import/{collection} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{auth}Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request(port, &raw).unwrap_or_default()
}

/// An answer with the request's own input blanked (a refusal may echo what the caller sent).
fn blank(answer: &(u16, String), input: &str) -> (u16, String) {
    (answer.0, answer.1.replace(input, "<input>"))
}

#[test]
fn no_row_value_existence_or_change_crosses_between_organisations() {
    let ApiStack { db, redis: _redis, boot, admin } =
        ApiStack::start("tenant_attacks", STREAM, &[("RATE_LIMITER_ENABLED", "false")], BOOT);
    let s = Stack { db, port: boot.ports.directus, admin };

    let a = club(&s, "alpha-7f3a", "Club Alpha", false);
    let b = club(&s, "bravo-7f3a", MARKERS[6], true);
    let mut who: Vec<(String, Option<String>)> = Vec::new();
    for (_, role) in ROLES {
        let email = format!("{role}@alpha.example.com");
        let user = s.user(&email);
        s.sql(&format!(
            "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{}', '{user}', '{role}')",
            a.org
        ));
        who.push((role.to_string(), Some(s.login(&email))));
    }
    s.user("nobody@example.com");
    who.push(("no organisation".into(), Some(s.login("nobody@example.com"))));
    let dual = s.user("dual@example.com");
    s.sql(&format!(
        "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{}', '{dual}', 'race-director'), ('{}', '{dual}', 'viewer')",
        a.org, b.org
    ));
    who.push(("race-director of A, viewer of B".into(), Some(s.login("dual@example.com"))));
    who.push(("no token".into(), None));
    // The dual user may read B's rows as a viewer (by design): the marker sweep and the cross-club
    // answers below are about the others.
    let strangers: Vec<&(String, Option<String>)> =
        who.iter().filter(|(w, _)| !w.starts_with("race-director of A")).collect();
    let token_of = |role: &str| who.iter().find(|(w, _)| w == role).and_then(|(_, t)| t.clone());
    let mut tally = Tally::default();

    // ---- 1. filters, sorts and reverse hops through every relation (REST and GraphQL) ---------------
    let keys = primary_keys();
    let pk = |c: &str| keys.get(c).cloned().unwrap_or_else(|| "id".to_string());
    let allowed = allowed_relations();
    let relations = relations();
    // Every identity gets the filter, $FOLLOW and one-to-many walks; sorts, `_some` and GraphQL (the
    // same rule, through other doors) go through three of them, to keep the suite's time in bounds.
    let thorough = |role: &str| matches!(role, "viewer" | "no organisation" | "no token");
    for (role, token) in &who {
        let all_doors = thorough(role);
        let token = token.as_deref();
        for r in &relations {
            let listed = allowed.get(&r.collection).is_some_and(|f| f.contains(&r.field));
            let filter = |collection: &str, f: String| {
                format!("{}?filter={}&fields={}", path(collection), enc(&f), pk(collection))
            };
            let nonnull = |key: &str| format!("{{\"{key}\":{{\"_nnull\":true}}}}");
            let mut attacks = vec![
                (
                    filter(&r.collection, format!("{{\"{}\":{}}}", r.field, nonnull(&pk(&r.related)))),
                    !listed,
                    "m2o filter",
                ),
                (
                    format!("{}?sort={}.{}&fields={}", path(&r.collection), r.field, pk(&r.related), pk(&r.collection)),
                    !listed,
                    "m2o sort",
                ),
                (
                    filter(
                        &r.related,
                        format!("{{\"$FOLLOW({},{})\":{}}}", r.collection, r.field, nonnull(&pk(&r.collection))),
                    ),
                    true,
                    "$FOLLOW",
                ),
            ];
            if let Some(alias) = &r.alias {
                attacks.push((
                    filter(&r.related, format!("{{\"{alias}\":{}}}", nonnull(&pk(&r.collection)))),
                    true,
                    "o2m filter",
                ));
                attacks.push((
                    filter(&r.related, format!("{{\"{alias}\":{{\"_some\":{}}}}}", nonnull(&pk(&r.collection)))),
                    true,
                    "o2m _some filter",
                ));
            }
            if !all_doors {
                attacks.retain(|(_, _, kind)| !matches!(*kind, "m2o sort" | "o2m _some filter"));
            }
            for (url, refuse, kind) in attacks {
                let (status, body) = http(s.port, "GET", &url, token, None);
                if refuse {
                    tally.check(
                        "filters",
                        (!refused_query(status, &body)).then(|| {
                            format!(
                                "{role}: {kind} {}.{}: GET {url} answered {status} {}",
                                r.collection,
                                r.field,
                                cut(&body)
                            )
                        }),
                    );
                }
                if !role.starts_with("race-director of A") {
                    tally.clean(role, &url, &body);
                }
            }
            // GraphQL: the same walk, in the items endpoint.
            if all_doors && !listed && !r.collection.starts_with("directus_") {
                let query = format!(
                    "{{\"query\":\"{{ {}(filter: {{ {}: {{ {}: {{ _nnull: true }} }} }}) {{ {} }} }}\"}}",
                    r.collection,
                    r.field,
                    pk(&r.related),
                    pk(&r.collection)
                );
                let (status, body) = http(s.port, "POST", "/graphql", token, Some(&query));
                let data = json(&body);
                let rows = data["data"][&r.collection].as_array().map(Vec::len).unwrap_or(0);
                tally.check(
                    "filters",
                    (status == 200 && data["errors"].is_null() && rows > 0).then(|| {
                        format!("{role}: GraphQL filter through {}.{} answered {rows} row(s)", r.collection, r.field)
                    }),
                );
            }
        }
    }
    // The issue's concrete oracles: B's crew e-mail through the shared role, B's notes through a
    // dynamic variable, B's club name through a shared vehicle.
    for (role, token) in &strangers {
        let token = token.as_deref();
        for url in [
            format!("/users/me?filter[role][users][email][_eq]={}", enc(MARKERS[2])),
            format!("/users/me?filter[email][_nin]={}", enc("$CURRENT_USER.role.users.email")),
            format!(
                "/items/entries?filter[vehicle_id][organization_vehicles][organization_id][name][_eq]={}",
                enc(MARKERS[6])
            ),
            "/items/entries?groupBy[]=vehicle_id.vin&aggregate[count]=id".to_string(),
            format!(
                "/items/events?deep[entries][_filter][vehicle_id][vin][_eq]={}&fields=id,entries.id",
                enc(MARKERS[3])
            ),
        ] {
            let (status, body) = http(s.port, "GET", &url, token, None);
            let rows = json(&body)["data"].as_array().map(Vec::len).unwrap_or(0);
            tally.check(
                "filters",
                (status == 200 && rows > 0)
                    .then(|| format!("{role}: GET {url} answered {rows} row(s): {}", cut(&body))),
            );
            tally.clean(role, &url, &body);
        }
    }

    // ---- 2. reads of every surface: items (deep fields), search, aggregate, meta, export, system ----
    let collections: Vec<String> = snapshot_list(&repo_snapshot_yaml(), "collections")
        .iter()
        .filter(|c| !c["schema"].is_null())
        .map(|c| yaml_str(&c["collection"]).to_string())
        .collect();
    for (role, token) in &strangers {
        let token = token.as_deref();
        let mut urls: Vec<String> = Vec::new();
        for c in &collections {
            urls.push(format!("{}?fields=*.*.*&limit=-1&meta=*", path(c)));
            urls.push(format!("{}?search={}&limit=-1", path(c), enc(MARKERS[0])));
            urls.push(format!("{}?aggregate[count]=*&aggregate[max]={}", path(c), pk(c)));
            urls.push(format!("{}?export=csv&limit=-1", path(c)));
        }
        for system in [
            "users",
            "roles",
            "policies",
            "permissions",
            "revisions",
            "activity",
            "comments",
            "files",
            "presets",
            "shares",
            "notifications",
            "versions",
            "dashboards",
            "panels",
            "flows",
            "operations",
            "folders",
            "settings",
        ] {
            urls.push(format!("/{system}?fields=*.*&limit=-1"));
        }
        for url in urls {
            let (_, body) = http(s.port, "GET", &url, token, None);
            tally.clean(role, &url, &body);
        }
        let gql = r#"{"query":"{ entries { id notes crew { user_id { email phone } } vehicle_id { vin plate } } entries_aggregated { count { id } } }"}"#;
        let (_, body) = http(s.port, "POST", "/graphql", token, Some(gql));
        tally.clean(role, "GraphQL entries", &body);
        let gql = r#"{"query":"{ users { email phone } roles { users { email phone } } }"}"#;
        let (_, body) = http(s.port, "POST", "/graphql/system", token, Some(gql));
        tally.clean(role, "GraphQL system", &body);
    }

    // ---- 3. /utils/sort ------------------------------------------------------------------------------
    let sorts = |c: &Club| {
        s.sql(&format!(
            "SELECT string_agg(id || ':' || sort_order, ',' ORDER BY id) FROM (
               SELECT id, sort_order FROM classes WHERE event_id = {e}
               UNION ALL SELECT id, sort_order FROM stages WHERE event_id = {e}
               UNION ALL SELECT g.id, g.sort_order FROM segments g JOIN stages t ON t.id = g.stage_id WHERE t.event_id = {e}) x",
            e = c.event
        ))
    };
    let b_before = sorts(&b);
    for (role, token) in &strangers {
        for (collection, item, to) in [
            ("classes", &b.classes[0], &b.classes[2]),
            ("stages", &b.stages[0], &b.stages[1]),
            ("segments", &b.segments[1], &b.segments[0]),
        ] {
            let body = format!("{{\"item\":{item},\"to\":{to}}}");
            let (status, text) =
                http(s.port, "POST", &format!("/utils/sort/{collection}"), token.as_deref(), Some(&body));
            tally.check(
                "sort",
                (status == 200).then(|| format!("{role}: sorting B's {collection} answered {status} {}", cut(&text))),
            );
            tally.check(
                "sort",
                (sorts(&b) != b_before).then(|| format!("{role}: sorting B's {collection} changed B's order")),
            );
        }
    }
    // Own rows: the race-director reorders classes and stages, the org-admin classes; a viewer may not.
    let director = token_of("race-director");
    for (role, token, collection, item, to, want) in [
        ("race-director", director.clone(), "classes", &a.classes[0], &a.classes[2], true),
        ("race-director", director.clone(), "stages", &a.stages[1], &a.stages[0], true),
        ("org-admin", token_of("org-admin"), "classes", &a.classes[2], &a.classes[0], true),
        ("viewer", token_of("viewer"), "classes", &a.classes[0], &a.classes[1], false),
    ] {
        let before = sorts(&a);
        let body = format!("{{\"item\":{item},\"to\":{to}}}");
        let (status, text) = http(s.port, "POST", &format!("/utils/sort/{collection}"), token.as_deref(), Some(&body));
        let changed = sorts(&a) != before;
        tally.check(
            "sort",
            (want != (status == 200 && changed)).then(|| {
                format!(
                    "{role}: sorting own {collection}: want allowed={want}, got {status} (changed: {changed}) {}",
                    cut(&text)
                )
            }),
        );
        tally
            .check("sort", (sorts(&b) != b_before).then(|| format!("{role}: sorting A's {collection} moved B's rows")));
    }
    // C-1 onto C-3 (C-2, C-3, C-1), then C-3 onto C-1 (C-2, C-1, C-3); steps of 10 kept.
    let order = s.sql(&format!(
        "SELECT string_agg(code || '=' || sort_order, ',' ORDER BY sort_order) FROM classes WHERE event_id = {}",
        a.event
    ));
    tally.check(
        "sort",
        (order != "C-2=10,C-1=20,C-3=30")
            .then(|| format!("own classes after two moves: {order}, not C-2=10,C-1=20,C-3=30")),
    );

    // ---- 4. the stage-open hook: B's stage and no stage get one answer -----------------------------
    for (role, token) in &strangers {
        let open = |id: &str| {
            http(s.port, "PATCH", &format!("/items/stages/{id}"), token.as_deref(), Some("{\"status\":\"open\"}"))
        };
        let theirs = open(&b.stages[1]);
        let nothing = open("987654");
        tally.check(
            "stage hook",
            (theirs != nothing).then(|| {
                format!(
                    "{role}: opening B's stage answered {} {}, a missing one {} {}",
                    theirs.0,
                    cut(&theirs.1),
                    nothing.0,
                    cut(&nothing.1)
                )
            }),
        );
        tally.check(
            "stage hook",
            theirs.1.contains("top_n").then(|| format!("{role}: the answer describes B's stage: {}", cut(&theirs.1))),
        );
    }
    // The hook still explains to whom may open the stage.
    let (status, text) = http(
        s.port,
        "PATCH",
        &format!("/items/stages/{}", a.stages[1]),
        director.as_deref(),
        Some("{\"status\":\"open\"}"),
    );
    tally.check(
        "stage hook",
        (status != 400 || !text.contains("cannot be opened"))
            .then(|| format!("race-director opening own unopenable stage: {status} {}", cut(&text))),
    );

    // ---- 5. /faulty-positions: B's device, an unknown one, any window: one answer ------------------
    let window = |from: &str, to: &str| {
        let utc =
            |e: &str| s.sql(&format!("SELECT to_char(({e}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"));
        (utc(from), utc(to))
    };
    let windows = [
        window("now() - interval '2 hours'", "now() - interval '1 hour'"),
        window("now() - interval '3 days'", "now() - interval '2 days'"),
        window("now() - interval '2 days'", "now()"),
    ];
    for (role, token) in &strangers {
        let flag = |imei: &str, (from, to): &(String, String)| {
            let body = format!(
                "{{\"imei\":\"{imei}\",\"from\":\"{from}\",\"to\":\"{to}\",\"faulty\":true,\"reason\":\"attack\"}}"
            );
            http(s.port, "POST", "/faulty-positions", token.as_deref(), Some(&body))
        };
        let reference = flag("350000000000000", &windows[0]);
        for w in &windows {
            let theirs = flag(&b.imei, w);
            tally.check(
                "faulty-positions",
                (theirs != reference).then(|| {
                    format!(
                        "{role}: flagging B's device {w:?} answered {} {}, an unknown device {} {}",
                        theirs.0,
                        cut(&theirs.1),
                        reference.0,
                        cut(&reference.1)
                    )
                }),
            );
            tally.check(
                "faulty-positions",
                names_event(&theirs.1, &b.event)
                    .then(|| format!("{role}: the answer names B's event: {}", cut(&theirs.1))),
            );
        }
    }

    // ---- 6. database-rule messages name no id of B ---------------------------------------------------
    let director_token = director.clone();
    for (what, method, url, body) in [
        (
            "a segment with B's geofence",
            "POST",
            "/items/segments".to_string(),
            format!(
                "{{\"stage_id\":{},\"sort_order\":9,\"type\":\"liaison\",\"entry_geofence_id\":{},\"exit_geofence_id\":{}}}",
                a.stages[0], b.geofence, b.geofence
            ),
        ),
        (
            "a stage starting from B's stage",
            "PATCH",
            format!("/items/stages/{}", a.stages[0]),
            format!("{{\"start_order_input_stage_id\":{}}}", b.stages[0]),
        ),
        (
            "a penalty bracket owned by B's stage",
            "POST",
            "/items/penalty_formulas".to_string(),
            format!(
                "{{\"event_id\":{},\"belongs_to_type\":\"stage\",\"stage_id\":{},\"type\":\"late-start\",\"offence_min\":0,\"operator\":\"fixed\",\"penalty_seconds\":60}}",
                a.event, b.stages[0]
            ),
        ),
        ("an entry in B's class", "PATCH", format!("/items/entries/{}", a.entry), format!("{{\"class_id\":{}}}", b.classes[0])),
    ] {
        let (status, text) = http(s.port, method, &url, director_token.as_deref(), Some(&body));
        tally.check(
            "rule messages",
            (status != 400 || names_event(&text, &b.event)).then(|| format!("race-director: {what}: {status} {}", cut(&text))),
        );
    }

    // ---- 7. shared rows: B's member, device, vehicle are not attached to A ---------------------------
    let org_admin = token_of("org-admin");
    let unknown = "00000000-0000-4000-8000-00000000dead";
    for (collection, column, theirs) in [
        ("organization_users", "user_id", &b.user),
        ("organization_devices", "device_id", &b.device),
        ("organization_vehicles", "vehicle_id", &b.vehicle),
    ] {
        let attach = |id: &str| {
            let extra = if collection == "organization_users" { ",\"role\":\"viewer\"" } else { "" };
            let body = format!("{{\"organization_id\":\"{}\",\"{column}\":\"{id}\"{extra}}}", a.org);
            http(s.port, "POST", &format!("/items/{collection}"), org_admin.as_deref(), Some(&body))
        };
        let (status, text) = attach(theirs);
        let (unknown_status, unknown_text) = attach(unknown);
        tally.check(
            "shared rows",
            (status != 403 || (status, &text) != (unknown_status, &unknown_text)).then(|| {
                format!(
                    "org-admin: attaching B's {column}: {status} {}; an unknown id: {unknown_status} {}",
                    cut(&text),
                    cut(&unknown_text)
                )
            }),
        );
    }
    let (_, text) =
        http(s.port, "GET", &format!("/users/{}?fields=email,phone,birth_date", b.user), org_admin.as_deref(), None);
    tally.clean("org-admin", "B's member after the attempt", &text);
    // A device only A uses is still registered by A's org-admin.
    let (status, text) = http(
        s.port,
        "POST",
        "/items/devices",
        org_admin.as_deref(),
        Some("{\"imei\":\"359999000055555\",\"model\":\"FMB003\"}"),
    );
    // 204: created, but not readable until registered.
    tally.check(
        "shared rows",
        (status != 200 && status != 204).then(|| format!("org-admin creates a device: {status} {}", cut(&text))),
    );
    let fresh = s.sql("SELECT id FROM devices WHERE imei = '359999000055555'");
    let body = format!("{{\"organization_id\":\"{}\",\"device_id\":\"{fresh}\"}}", a.org);
    let (status, text) = http(s.port, "POST", "/items/organization_devices", org_admin.as_deref(), Some(&body));
    tally.check(
        "shared rows",
        (status != 200).then(|| format!("org-admin registers a new device: {status} {}", cut(&text))),
    );

    // ---- 8. /shares/info -------------------------------------------------------------------------------
    let share = format!("{{\"name\":\"look\",\"collection\":\"entries\",\"item\":\"{}\"}}", b.entry);
    let (status, text) = http(s.port, "POST", "/shares", Some(&s.admin), Some(&share));
    assert_eq!(status, 200, "the admin creates a share: {text}");
    let share_id = json(&text)["data"]["id"].as_str().unwrap_or_default().to_string();
    for (role, token) in &strangers {
        let theirs = http(s.port, "GET", &format!("/shares/info/{share_id}"), token.as_deref(), None);
        let nothing = http(s.port, "GET", &format!("/shares/info/{unknown}"), token.as_deref(), None);
        tally.check(
            "shares",
            (theirs != nothing || theirs.1.contains("entries") || theirs.1.contains(&b.entry)).then(|| {
                format!(
                    "{role}: /shares/info of B's share: {} {}; of none: {} {}",
                    theirs.0,
                    cut(&theirs.1),
                    nothing.0,
                    cut(&nothing.1)
                )
            }),
        );
    }

    // ---- 9. equipment: B's device or vehicle on A's entry (db-init-post/023) --------------------------
    let missing_uuid = "00000000-0000-4000-8000-00000000beef";
    for (role, token) in [("race-director", director.clone()), ("org-admin", org_admin.clone())] {
        let attach = |device: &str| {
            let body = format!("{{\"entry_id\":{},\"device_id\":\"{device}\"}}", a.entry);
            http(s.port, "POST", "/items/entry_devices", token.as_deref(), Some(&body))
        };
        let ride = |vehicle: &str| {
            let body = format!("{{\"vehicle_id\":\"{vehicle}\"}}");
            http(s.port, "PATCH", &format!("/items/entries/{}", a.entry), token.as_deref(), Some(&body))
        };
        for (what, theirs, nothing, id) in [
            ("B's device on A's entry", attach(&b.device), attach(missing_uuid), &b.device),
            ("B's vehicle on A's entry", ride(&b.vehicle), ride(missing_uuid), &b.vehicle),
        ] {
            tally.check(
                "equipment",
                (theirs.0 != 400
                    || !theirs.1.contains("not registered")
                    || theirs != nothing
                    || theirs.1.contains(id.as_str())
                    || theirs.1.contains(&b.org))
                .then(|| {
                    format!(
                        "{role}: {what}: {} {}; an unknown id: {} {}",
                        theirs.0,
                        cut(&theirs.1),
                        nothing.0,
                        cut(&nothing.1)
                    )
                }),
            );
        }
    }
    let attached = s.sql(&format!(
        "SELECT count(*) FROM entry_devices WHERE entry_id = {} AND device_id = '{}'",
        a.entry, b.device
    ));
    let riding = s.sql(&format!("SELECT vehicle_id FROM entries WHERE id = {}", a.entry));
    tally.check(
        "equipment",
        (attached != "0" || riding != a.vehicle)
            .then(|| format!("A's entry carries B's device ({attached}) or vehicle ({riding})")),
    );
    // Any writer: SQL is refused the same way.
    let by_sql = psql_result(
        &s.db.name,
        &format!("INSERT INTO entry_devices (entry_id, device_id) VALUES ({}, '{}')", a.entry, b.device),
    );
    tally.check(
        "equipment",
        (!matches!(&by_sql, Err(e) if e.contains("entry_device_registered") && !e.contains(&b.device)))
            .then(|| format!("SQL: B's device on A's entry: {by_sql:?}")),
    );
    // A's own registered device still goes on A's entry (section 7 registered it).
    let body = format!("{{\"entry_id\":{},\"device_id\":\"{fresh}\"}}", a.entry);
    let (status, text) = http(s.port, "POST", "/items/entry_devices", director.as_deref(), Some(&body));
    tally.check(
        "equipment",
        (status != 200).then(|| format!("race-director attaches A's own device: {status} {}", cut(&text))),
    );
    // ... and its registration cannot be dropped while the entry uses it.
    let dropped = psql_result(
        &s.db.name,
        &format!("DELETE FROM organization_devices WHERE organization_id = '{}' AND device_id = '{fresh}'", a.org),
    );
    tally.check(
        "equipment",
        (!matches!(&dropped, Err(e) if e.contains("entry_device_registered")))
            .then(|| format!("SQL: dropping the registration of a device in use: {dropped:?}")),
    );

    // ---- 10. /utils beyond sort: revert, import, export, cache, random, hash ---------------------------
    // A revision of B's entry (the admin changes its race number; SQL puts it back): a revert would
    // set 302 again.
    let (status, text) =
        http(s.port, "PATCH", &format!("/items/entries/{}", b.entry), Some(&s.admin), Some("{\"race_number\":302}"));
    assert_eq!(status, 200, "the admin edits B's entry: {text}");
    s.sql(&format!("UPDATE entries SET race_number = 301 WHERE id = {}", b.entry));
    let revision =
        s.sql(&format!("SELECT max(id) FROM directus_revisions WHERE collection = 'entries' AND item = '{}'", b.entry));
    let b_entry =
        || s.sql(&format!("SELECT race_number || ':' || coalesce(notes, '') FROM entries WHERE id = {}", b.entry));
    let b_entry_before = b_entry();
    let rows_before = s.sql("SELECT count(*) FROM entries");
    for (role, token) in &who {
        let token = token.as_deref();
        let writer = !role.starts_with("race-director of A");
        let theirs = http(s.port, "POST", &format!("/utils/revert/{revision}"), token, None);
        let nothing = http(s.port, "POST", "/utils/revert/98765432", token, None);
        tally.check(
            "utils",
            (theirs.0 < 400 || blank(&theirs, &revision) != blank(&nothing, "98765432")).then(|| {
                format!(
                    "{role}: revert of B's revision: {} {}; of none: {} {}",
                    theirs.0,
                    cut(&theirs.1),
                    nothing.0,
                    cut(&nothing.1)
                )
            }),
        );
        // Import over B's entry, and with a key no row has: one answer, nothing written.
        let csv = |id: &str| {
            format!(
                "id,event_id,class_id,race_number,status,notes\n{id},{},{},777,registered,imported",
                a.event, a.classes[0]
            )
        };
        let theirs = import(s.port, "entries", token, &csv(&b.entry));
        let nothing = import(s.port, "entries", token, &csv("987654"));
        tally.check(
            "utils",
            (theirs.0 < 400 || blank(&theirs, &b.entry) != blank(&nothing, "987654")).then(|| {
                format!(
                    "{role}: import over B's entry: {} {}; with a free key: {} {}",
                    theirs.0,
                    cut(&theirs.1),
                    nothing.0,
                    cut(&nothing.1)
                )
            }),
        );
        if writer {
            tally.clean(role, "import", &theirs.1);
        }
        for (method, url, body) in [
            ("POST", "/utils/export/entries".to_string(), Some(format!("{{\"query\":{{\"limit\":-1,\"filter\":{{\"vehicle_id\":{{\"vin\":{{\"_eq\":\"{}\"}}}}}}}},\"format\":\"csv\"}}", MARKERS[3]))),
            ("POST", "/utils/export/entries".to_string(), Some("{\"query\":{\"limit\":-1,\"fields\":[\"*.*\"]},\"format\":\"json\"}".to_string())),
            ("POST", "/utils/cache/clear".to_string(), None),
            ("POST", "/utils/cache/clear?system".to_string(), None),
            ("GET", "/utils/random/string?length=32".to_string(), None),
            ("POST", "/utils/hash/generate".to_string(), Some(format!("{{\"string\":\"{}\"}}", b.entry))),
        ] {
            let (status, text) = http(s.port, method, &url, token, body.as_deref());
            if url.starts_with("/utils/cache") {
                tally.check(
                    "utils",
                    (status != 401 && status != 403).then(|| format!("{role}: {url} answered {status} {}", cut(&text))),
                );
            }
            if writer {
                tally.clean(role, &url, &text);
            }
        }
    }
    let b_entry_after = b_entry();
    let rows_after = s.sql("SELECT count(*) FROM entries");
    tally.check(
        "utils",
        (b_entry_after != b_entry_before || rows_after != rows_before)
            .then(|| format!("B's entry {b_entry_before} -> {b_entry_after}, entries {rows_before} -> {rows_after}")),
    );

    // ---- 11. functions and aggregates over relations -------------------------------------------------
    // Rows two clubs share (a platform admin's act): a vehicle, a device and a member in A and B, used
    // by an entry of B. A count over their one-to-many aliases may count only what the caller reads.
    let shared_vehicle =
        s.sql("INSERT INTO vehicles (id, make, model) VALUES (gen_random_uuid(), 'Nissan', 'Patrol') RETURNING id");
    let shared_device = s.sql(
        "INSERT INTO devices (id, imei, model) VALUES (gen_random_uuid(), '359999000033333', 'FMB920') RETURNING id",
    );
    let shared_user = s.sql(&format!(
        "INSERT INTO directus_users (id, email, status, role) VALUES (gen_random_uuid(), 'shared@example.com', 'active', '{MEMBER_ROLE}') RETURNING id"
    ));
    for club in [&a, &b] {
        s.sql(&format!(
            "INSERT INTO organization_vehicles (organization_id, vehicle_id) VALUES ('{o}', '{shared_vehicle}');
             INSERT INTO organization_devices (organization_id, device_id) VALUES ('{o}', '{shared_device}');
             INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{o}', '{shared_user}', 'participant')",
            o = club.org
        ));
    }
    let b_second = s.sql(&format!(
        "INSERT INTO entries (event_id, class_id, vehicle_id, race_number, status) VALUES ({}, {}, '{shared_vehicle}', 302, 'registered') RETURNING id",
        b.event, b.classes[0]
    ));
    s.sql(&format!(
        "INSERT INTO entry_devices (entry_id, device_id) VALUES ({b_second}, '{shared_device}');
         INSERT INTO entry_crew (entry_id, user_id, role) VALUES ({b_second}, '{shared_user}', 'pilot')"
    ));
    for (url, field, want) in [
        (
            format!("/items/vehicles/{shared_vehicle}?fields=id,count(organization_vehicles)"),
            "organization_vehicles_count",
            1,
        ),
        (
            format!("/items/devices/{shared_device}?fields=id,count(organization_devices)"),
            "organization_devices_count",
            1,
        ),
        (
            format!("/users/{shared_user}?fields=id,count(organization_users),count(crews)"),
            "organization_users_count",
            1,
        ),
        (format!("/users/{shared_user}?fields=id,count(crews)"), "crews_count", 0),
    ] {
        let (status, text) = http(s.port, "GET", &url, org_admin.as_deref(), None);
        let got = json(&text)["data"][field]
            .as_i64()
            .or_else(|| json(&text)["data"][field].as_str().and_then(|v| v.parse().ok()));
        tally.check(
            "functions",
            // A member's account fields do not include the aliases: refused outright is held too.
            (!(status == 200 && got == Some(want) || url.starts_with("/users/") && status == 403)).then(|| {
                format!("org-admin: GET {url}: want {field} = {want} (A's rows only), got {status} {}", cut(&text))
            }),
        );
    }
    // A count, sort or aggregate over a relation in a filter or query, an alias and a deep groupBy: refused.
    for (role, token) in &strangers {
        let token = token.as_deref();
        for url in [
            "/items/entries?filter[count(crew)][_gt]=0&fields=id".to_string(),
            "/items/vehicles?filter[count(organization_vehicles)][_gt]=1&fields=id".to_string(),
            "/items/entries?sort=-count(devices)&fields=id".to_string(),
            "/items/entries?aggregate[count]=crew".to_string(),
            "/items/entries?aggregate[countDistinct]=vehicle_id.vin".to_string(),
            "/items/entries?groupBy[]=count(crew)&aggregate[count]=id".to_string(),
            format!(
                "/items/events?alias[x]=entries&fields=id,x.id&deep[x][_filter][vehicle_id][vin][_eq]={}",
                enc(MARKERS[3])
            ),
            "/items/events?fields=id,entries.id&deep[entries][_groupBy][]=vehicle_id.vin&deep[entries][_aggregate][count]=id".to_string(),
        ] {
            let (status, body) = http(s.port, "GET", &url, token, None);
            tally.check(
                "functions",
                (!(refused_query(status, &body) || token.is_none() && status >= 400))
                    .then(|| format!("{role}: GET {url} answered {status} {}", cut(&body))),
            );
            tally.clean(role, &url, &body);
        }
        // Counts in `fields` (permission-checked by Directus row by row): no value of B.
        for url in [
            "/items/events?fields=id,count(entries),entries.count(crew),entries.count(devices)&limit=-1",
            "/items/organizations?fields=id,count(organization_users),count(events)&limit=-1",
            "/users/me?fields=id,count(crews),count(organization_users),role.count(users)",
        ] {
            let (_, body) = http(s.port, "GET", url, token, None);
            tally.clean(role, url, &body);
        }
    }

    // ---- 12. MCP and the AI chat: admins only, even with the project setting on ------------------------
    let (status, text) = http(s.port, "PATCH", "/settings", Some(&s.admin), Some("{\"mcp_enabled\":true}"));
    assert_eq!(status, 200, "the admin turns MCP on: {text}");
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"items","arguments":{"action":"read","collection":"entries","query":{"fields":["id","notes","vehicle_id.vin"],"limit":-1}}}}"#;
    let (status, text) = http(s.port, "POST", "/mcp", Some(&s.admin), Some(call));
    tally.check(
        "mcp",
        (status == 403 || status == 404 || status == 0).then(|| {
            format!("the admin's MCP call answered {status} {}: the refusals below would prove nothing", cut(&text))
        }),
    );
    for (role, token) in &who {
        for (url, body) in
            [("/mcp", call), ("/ai/chat", "{\"messages\":[{\"role\":\"user\",\"content\":\"list entries\"}]}")]
        {
            let (status, text) = http(s.port, "POST", url, token.as_deref(), Some(body));
            tally.check(
                "mcp",
                (status != 403 && status != 401)
                    .then(|| format!("{role}: POST {url} answered {status} {}", cut(&text))),
            );
            tally.clean(role, url, &text);
        }
    }
    http(s.port, "PATCH", "/settings", Some(&s.admin), Some("{\"mcp_enabled\":false}"));

    // ---- 13. extension endpoints and later collections (endpoint_probes) -------------------------------
    s.sql(&format!(
        "INSERT INTO stage_results (entry_id, stage_id, elapsed_seconds, total_seconds, status) VALUES ({}, {}, 3600, 3600, 'provisional')",
        b.entry, b.stages[0]
    ));
    let (status, text) = http(
        s.port,
        "POST",
        "/items/result_versions",
        Some(&s.admin),
        Some(&format!("{{\"stage_id\":{},\"kind\":\"provisional\"}}", b.stages[0])),
    );
    assert_eq!(status, 200, "the admin publishes B's provisional results: {text}");
    let version = s.sql(&format!("SELECT max(id) FROM result_versions WHERE stage_id = {}", b.stages[0]));
    for probe in endpoint_probes(&b, &version) {
        let before = s.sql(&probe.state);
        for (role, token) in &who {
            let dual = role.starts_with("race-director of A");
            if dual && !probe.write {
                continue;
            }
            let ask = |(path, body): &(String, Option<String>)| {
                http(s.port, probe.method, path, token.as_deref(), body.as_deref())
            };
            let theirs = ask(&probe.theirs);
            let nothing = ask(&probe.missing);
            let (t, n) = (blank(&theirs, &probe.inputs[0]), blank(&nothing, &probe.inputs[1]));
            let rows = json(&theirs.1)["data"].as_array().map(Vec::len).unwrap_or(0);
            tally.check(
                "endpoints",
                (t != n
                    || (theirs.0 < 300 && rows > 0)
                    || (probe.method == "GET" && theirs.0 == 200 && probe.what.contains("by id")))
                .then(|| {
                    format!(
                        "{role}: {}: {} {}; a missing row: {} {}",
                        probe.what,
                        theirs.0,
                        cut(&theirs.1),
                        nothing.0,
                        cut(&nothing.1)
                    )
                }),
            );
            if !dual {
                tally.clean(role, probe.what, &theirs.1);
            }
            let after = s.sql(&probe.state);
            tally.check(
                "endpoints",
                (after != before).then(|| format!("{role}: {} changed B's rows: {before} -> {after}", probe.what)),
            );
        }
    }
    // Nothing exported by a member landed in Directus's files, and no notification holds B's values.
    let files = s.sql("SELECT count(*) FROM directus_files");
    let notes = s.sql("SELECT coalesce(string_agg(coalesce(subject, '') || ' ' || coalesce(message, ''), ' | '), '') FROM directus_notifications");
    tally.check("utils", (files != "0").then(|| format!("{files} file(s) exported by members")));
    tally.clean("members", "notifications", &notes);

    // ---- 14. issue 26: the penalty preview and the formula versions (its own block: penalty_preview_attacks)
    penalty_preview_attacks(&s, &a, &b, &who, &mut tally);

    let Tally { failures, checked } = tally;
    let report: Vec<String> = failures
        .iter()
        .map(|(class, list)| {
            format!(
                "[{class}] {} failure(s):\n  {}",
                list.len(),
                list.iter().take(8).cloned().collect::<Vec<_>>().join("\n  ")
            )
        })
        .collect();
    assert!(failures.is_empty(), "{} classes failed ({checked} checks):\n{}", failures.len(), report.join("\n"));
    eprintln!("tenant attacks: {checked} checks passed");
    let (code, log) = boot.stop(Duration::from_secs(30));
    assert!(code == 0 || code == 143, "exit {code}; log:\n{log}");
}

/// Issue 26: `POST /penalty-preview`, `POST /penalty-preview/confirm` and `penalty_formula_versions`.
/// B's formula, penalty and zone get, from every attacker (the user in both clubs too: a viewer of B),
/// the answer a missing one gets and change nothing; in A only the org-admin and the race-director
/// preview; nobody writes a version, and nobody of A reads one of B's.
fn penalty_preview_attacks(s: &Stack, a: &Club, b: &Club, who: &[(String, Option<String>)], tally: &mut Tally) {
    let formula_of = |club: &Club| {
        s.sql(&format!(
            "INSERT INTO penalty_formulas (event_id, belongs_to_type, stage_id, type, offence_min, offence_max, operator, penalty_seconds)
             VALUES ({}, 'stage', {}, 'speeding', 0, NULL, 'per_unit', 10) RETURNING id",
            club.event, club.stages[0]
        ))
    };
    let (fa, fb) = (formula_of(a), formula_of(b));
    let penalty_b = s.sql(&format!(
        "INSERT INTO entry_penalties (entry_id, stage_id, type, penalty_key, formula_id, inputs, seconds)
         VALUES ({}, {}, 'speeding', 'speeding:attack', {fb}, '{{\"offence\": 4}}', 40) RETURNING id",
        b.entry, b.stages[0]
    ));
    let zone_b = s.sql(&format!(
        "INSERT INTO speed_limit_zones (segment_id, name, geometry, speed_limit_kmh) VALUES ({}, 'zone b', {POLYGON_SQL}, 50) RETURNING id",
        b.segments[0]
    ));
    let state = || {
        s.sql(&format!(
            "SELECT concat_ws(' ', (SELECT string_agg(id || ':' || xmin, ',') FROM penalty_formulas WHERE event_id = {e}),
                    (SELECT count(*) FROM penalty_formula_versions WHERE event_id = {e}), (SELECT xmin FROM entry_penalties WHERE id = {penalty_b}),
                    (SELECT xmin FROM speed_limit_zones WHERE id = {zone_b}), (SELECT count(*) FROM timing_ledger WHERE event_id = {e}))",
            e = b.event
        ))
    };
    let before = state();
    let brackets = |f: &str| {
        format!("\"formula\":{f},\"brackets\":[{{\"offence_min\":0,\"operator\":\"fixed\",\"penalty_seconds\":1}}]")
    };
    let missing = "2000000000";
    for path in ["/penalty-preview", "/penalty-preview/confirm"] {
        for (role, token) in who {
            for (theirs, none) in [
                (brackets(&fb), brackets(missing)),
                (
                    format!("\"penalty\":{penalty_b},\"review_state\":\"void\""),
                    format!("\"penalty\":{missing},\"review_state\":\"void\""),
                ),
                (
                    format!("\"neutralise\":{{\"speed_limit_zone\":{zone_b}}}"),
                    format!("\"neutralise\":{{\"speed_limit_zone\":{missing}}}"),
                ),
            ] {
                let call = |body: &str| {
                    http(s.port, "POST", path, token.as_deref(), Some(&format!("{{{body},\"reason\":\"attack\"}}")))
                };
                let (got, reference) = (call(&theirs), call(&none));
                tally.check(
                    "penalty preview",
                    (got != reference || !(got.0 == 403 || got.0 == 401)).then(|| {
                        format!(
                            "{role}: {path} on B's {theirs}: {} {}; on a missing one: {} {}",
                            got.0,
                            cut(&got.1),
                            reference.0,
                            cut(&reference.1)
                        )
                    }),
                );
                tally.check(
                    "penalty preview",
                    names_event(&got.1, &b.event)
                        .then(|| format!("{role}: {path}: the answer names B's event: {}", cut(&got.1))),
                );
                tally.clean(role, path, &got.1);
            }
        }
    }
    tally.check("penalty preview", (state() != before).then(|| format!("B's rows changed: {before} -> {}", state())));
    // In A: only the org-admin and the race-director preview.
    for (role, token) in who {
        let (status, text) =
            http(s.port, "POST", "/penalty-preview", token.as_deref(), Some(&format!("{{{}}}", brackets(&fa))));
        let may = role == "org-admin" || role == "race-director" || role.starts_with("race-director of A");
        tally.check(
            "penalty preview",
            ((status == 200) != may).then(|| format!("{role}: preview of A's formula: {status} {}", cut(&text))),
        );
    }
    // Versions: nobody writes one; nobody of A reads B's.
    let version_b = s.sql(&format!("SELECT id FROM penalty_formula_versions WHERE event_id = {} LIMIT 1", b.event));
    let version_a = s.sql(&format!("SELECT id FROM penalty_formula_versions WHERE event_id = {} LIMIT 1", a.event));
    for (role, token) in who {
        for (method, path, body) in [
            ("PATCH", format!("/items/penalty_formula_versions/{version_a}"), "{\"reason\":\"x\"}".to_string()),
            ("DELETE", format!("/items/penalty_formula_versions/{version_a}"), String::new()),
            ("POST", "/items/penalty_formula_versions".to_string(), format!("{{\"event_id\":{},\"belongs_to_type\":\"event\",\"belongs_to_id\":{},\"type\":\"other\",\"version\":7,\"brackets\":[]}}", a.event, a.event)),
        ] {
            let (status, text) = http(s.port, method, &path, token.as_deref(), Some(&body));
            tally.check(
                "penalty preview",
                (status != 403 && status != 401).then(|| format!("{role}: {method} {path}: {status} {}", cut(&text))),
            );
        }
        if role.starts_with("race-director of A") {
            continue; // a viewer of B reads B's versions, by design
        }
        let (status, text) =
            http(s.port, "GET", &format!("/items/penalty_formula_versions/{version_b}"), token.as_deref(), None);
        tally.check(
            "penalty preview",
            (status != 403 && status != 401).then(|| format!("{role}: reads B's version: {status} {}", cut(&text))),
        );
        let (_, text) =
            http(s.port, "GET", "/items/penalty_formula_versions?limit=-1&fields=id,event_id", token.as_deref(), None);
        tally.check(
            "penalty preview",
            json(&text)["data"]
                .as_array()
                .is_some_and(|l| l.iter().any(|v| serde_json::to_string(&v["event_id"]).is_ok_and(|id| id == b.event)))
                .then(|| format!("{role}: the list of versions holds B's: {}", cut(&text))),
        );
    }
}

//! `snapshots/schema.yaml` holds the Phase 1 model as published (plan NAMES.md, CONTEXT.md "Phase 1 as
//! published"): the processor reads these tables with plain SQL under these names, so a rename here is
//! a break there. Also: the raw tables (tests/support's `RAW_TABLES`) are never in it. Read from the file; no database needed (tests/e2e_boot.rs checks a
//! booted Directus).

use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use trm_test_support::{repo_snapshot_yaml as snapshot, snapshot_list as seq, yaml_str as s, RAW_TABLES};

/// Field name -> field, for one collection.
fn fields(doc: &Value, collection: &str) -> BTreeMap<String, Value> {
    seq(doc, "fields")
        .iter()
        .filter(|f| s(&f["collection"]) == collection)
        .map(|f| (s(&f["field"]).to_string(), f.clone()))
        .collect()
}

fn relation<'a>(doc: &'a Value, collection: &str, field: &str) -> &'a Value {
    seq(doc, "relations")
        .iter()
        .find(|r| s(&r["collection"]) == collection && s(&r["field"]) == field)
        .unwrap_or_else(|| panic!("no relation {collection}.{field}"))
}

fn choices(field: &Value) -> Vec<String> {
    field["meta"]["options"]["choices"]
        .as_sequence()
        .map(|c| c.iter().map(|x| s(&x["value"]).to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn raw_tables_are_never_directus_collections_in_the_snapshot() {
    let doc = snapshot();
    for key in ["collections", "fields", "relations"] {
        for item in seq(&doc, key) {
            for name in RAW_TABLES {
                assert_ne!(s(&item["collection"]), name, "{key} holds raw table {name}: {item:?}");
                assert_ne!(s(&item["related_collection"]), name, "{key} points at raw table {name}: {item:?}");
            }
        }
    }
}

#[test]
fn collections_and_columns_are_the_published_names() {
    let doc = snapshot();
    // Columns (alias fields such as entries.crew are listed apart: they have no column).
    let want: [(&str, &[&str]); 11] = [
        ("organizations", &["id", "name", "slug"]),
        // The role columns: Phase 4 (scripts/schema/phase4.mjs), kept by a trigger (db-init-post/006).
        (
            "organization_users",
            &[
                "id",
                "organization_id",
                "user_id",
                "role",
                "org_admin_user_id",
                "race_director_user_id",
                "marshal_user_id",
                "timekeeper_user_id",
                "participant_user_id",
                "viewer_user_id",
            ],
        ),
        ("vehicles", &["id", "make", "model", "year", "cc", "vin", "plate"]),
        ("organization_vehicles", &["id", "organization_id", "vehicle_id", "registered_at"]),
        ("devices", &["id", "imei", "model"]),
        ("organization_devices", &["id", "organization_id", "device_id", "registered_at"]),
        (
            "events",
            &[
                "id",
                "organization_id",
                "name",
                "slug",
                "discipline",
                "starts_at",
                "ends_at",
                "timezone",
                "regulation_doc_url",
                "notes",
                // Phase 6 (scripts/schema/phase6.mjs): how long after a publication protests are accepted.
                "protest_window_minutes",
                // Issue 25 (db-init-post/018): the event's rules number their articles, decisions cite one.
                "regulation_article_required",
            ],
        ),
        ("classes", &["id", "event_id", "code", "name", "description", "sort_order", "vehicle_kind"]),
        // notes: Phase 4 (scripts/schema/phase4.mjs), where marshals write during the event.
        ("entries", &["id", "event_id", "class_id", "vehicle_id", "race_number", "status", "notes"]),
        ("entry_crew", &["id", "entry_id", "user_id", "role"]),
        ("entry_devices", &["id", "entry_id", "device_id", "assigned_user_id"]),
    ];
    let names: Vec<&str> = seq(&doc, "collections").iter().map(|c| s(&c["collection"])).collect();
    for (collection, _) in want {
        assert!(names.contains(&collection), "collection {collection} (later phases add theirs beside it): {names:?}");
    }
    for (collection, columns) in want {
        let got: std::collections::BTreeSet<String> =
            fields(&doc, collection).into_iter().filter(|(_, f)| s(&f["type"]) != "alias").map(|(n, _)| n).collect();
        let want: std::collections::BTreeSet<String> = columns.iter().map(|c| c.to_string()).collect();
        assert_eq!(got, want, "columns of {collection}");
    }
    let aliases = |c: &str| -> Vec<String> {
        fields(&doc, c).into_iter().filter(|(_, f)| s(&f["type"]) == "alias").map(|(n, _)| n).collect()
    };
    assert_eq!(
        aliases("events"),
        ["classes", "entries", "stages"],
        "events lists its classes (and, Phase 4, entries and stages)"
    );
    // Phase 4: the one-to-many aliases the permissions walk (snapshots/access.yaml).
    assert_eq!(aliases("organizations"), ["events", "organization_users"], "organizations list members and events");
    assert_eq!(aliases("vehicles"), ["organization_vehicles"]);
    assert_eq!(aliases("devices"), ["organization_devices"]);
    assert!(fields(&doc, "directus_users").contains_key("organization_users"), "a user lists their memberships");
    assert!(fields(&doc, "directus_users").contains_key("crews"), "a user lists their crew rows (own entries)");
    assert_eq!(aliases("stages"), ["segments"], "a stage lists its segments (course create rules)");
    assert_eq!(aliases("entries"), ["crew", "devices"], "an entry lists its crew and devices (fields=*.*)");
    let users = fields(&doc, "directus_users");
    for extra in ["phone", "birth_date", "nationality"] {
        assert!(users.contains_key(extra), "directus_users.{extra}");
    }
}

#[test]
fn keys_types_and_uniques_are_as_published() {
    let doc = snapshot();
    for c in ["organizations", "vehicles", "devices"] {
        assert_eq!(s(&fields(&doc, c)["id"]["type"]), "uuid", "{c}.id is a UUID");
    }
    for c in ["organization_users", "events", "classes", "entries", "entry_crew", "entry_devices"] {
        let id = &fields(&doc, c)["id"];
        assert_eq!(s(&id["type"]), "integer", "{c}.id");
        assert_eq!(id["schema"]["has_auto_increment"].as_bool(), Some(true), "{c}.id auto-increments");
    }
    let devices = fields(&doc, "devices");
    assert_eq!(devices["imei"]["schema"]["is_unique"].as_bool(), Some(true), "devices.imei unique");
    assert_eq!(devices["imei"]["meta"]["required"].as_bool(), Some(true), "devices.imei required");
    assert_eq!(devices["model"]["meta"]["required"].as_bool(), Some(true), "devices.model required");
    assert_eq!(fields(&doc, "organizations")["slug"]["schema"]["is_unique"].as_bool(), Some(true));
    let vehicles = fields(&doc, "vehicles");
    for f in ["make", "model"] {
        assert_eq!(vehicles[f]["meta"]["required"].as_bool(), Some(true), "vehicles.{f} required");
    }
    for f in ["year", "cc", "vin", "plate"] {
        assert_eq!(vehicles[f]["schema"]["is_nullable"].as_bool(), Some(true), "vehicles.{f} optional");
    }
    assert_eq!(fields(&doc, "entries")["vehicle_id"]["schema"]["is_nullable"].as_bool(), Some(true), "foot races");
    for c in ["organization_vehicles", "organization_devices"] {
        let at = &fields(&doc, c)["registered_at"];
        assert_eq!(s(&at["type"]), "timestamp", "{c}.registered_at");
        assert_eq!(s(&at["schema"]["default_value"]), "CURRENT_TIMESTAMP", "{c}.registered_at defaults to now");
    }
    let uuid_fk = [
        ("organization_users", "organization_id"),
        ("organization_users", "user_id"),
        ("organization_vehicles", "vehicle_id"),
        ("organization_devices", "device_id"),
        ("entries", "vehicle_id"),
        ("entry_devices", "device_id"),
        ("entry_devices", "assigned_user_id"),
    ];
    for (c, f) in uuid_fk {
        assert_eq!(s(&fields(&doc, c)[f]["type"]), "uuid", "{c}.{f} follows a UUID key");
    }
}

#[test]
fn choices_are_the_published_values_and_the_entry_lifecycle() {
    let doc = snapshot();
    let entries = fields(&doc, "entries");
    let status = choices(&entries["status"]);
    assert_eq!(
        status,
        ["registered", "confirmed", "scrutineered", "started", "finished", "retired", "disqualified", "withdrawn"]
    );
    assert_eq!(s(&entries["status"]["schema"]["default_value"]), "registered", "a new entry starts registered");
    let meta =
        seq(&doc, "collections").iter().find(|c| s(&c["collection"]) == "entries").expect("entries")["meta"].clone();
    assert_eq!(s(&meta["archive_field"]), "status");
    assert_eq!(s(&meta["archive_value"]), "withdrawn");
    assert_eq!(s(&meta["unarchive_value"]), "registered");
    assert_eq!(choices(&fields(&doc, "events")["discipline"]), ["rally", "time-trial", "regatta", "trail-run", "hike"]);
    assert_eq!(
        choices(&fields(&doc, "organization_users")["role"]),
        ["org-admin", "race-director", "marshal", "timekeeper", "participant", "viewer"]
    );
    assert_eq!(
        choices(&fields(&doc, "entry_crew")["role"]),
        ["pilot", "co-pilot", "navigator", "mechanic", "rider", "runner", "hiker"]
    );
}

#[test]
fn relations_restrict_deletes_except_the_worn_device() {
    let doc = snapshot();
    let m2o = [
        ("organization_users", "organization_id", "organizations"),
        ("organization_users", "user_id", "directus_users"),
        ("organization_vehicles", "organization_id", "organizations"),
        ("organization_vehicles", "vehicle_id", "vehicles"),
        ("organization_devices", "organization_id", "organizations"),
        ("organization_devices", "device_id", "devices"),
        ("events", "organization_id", "organizations"),
        ("classes", "event_id", "events"),
        ("entries", "event_id", "events"),
        ("entries", "class_id", "classes"),
        ("entries", "vehicle_id", "vehicles"),
        ("entry_crew", "entry_id", "entries"),
        ("entry_crew", "user_id", "directus_users"),
        ("entry_devices", "entry_id", "entries"),
        ("entry_devices", "device_id", "devices"),
        ("entry_devices", "assigned_user_id", "directus_users"),
    ];
    let phase1: std::collections::BTreeSet<&str> = m2o.iter().map(|(c, _, _)| *c).collect();
    let in_phase1 = seq(&doc, "relations").iter().filter(|r| phase1.contains(s(&r["collection"]))).count();
    // Phase 4 adds the six role columns of organization_users (SET NULL: derived copies of user_id).
    let role_columns = [
        ("org_admin_user_id", "org_admin_of"),
        ("race_director_user_id", "race_director_of"),
        ("marshal_user_id", "marshal_of"),
        ("timekeeper_user_id", "timekeeper_of"),
        ("participant_user_id", "participant_of"),
        ("viewer_user_id", "viewer_of"),
    ];
    assert_eq!(in_phase1, m2o.len() + role_columns.len(), "no other relation from the Phase 1 collections");
    for (f, alias) in role_columns {
        let r = relation(&doc, "organization_users", f);
        assert_eq!(s(&r["related_collection"]), "directus_users", "organization_users.{f}");
        assert_eq!(s(&r["schema"]["on_delete"]), "SET NULL", "organization_users.{f} ON DELETE");
        assert_eq!(s(&r["meta"]["one_field"]), alias, "organization_users.{f} listed on directus_users");
    }
    for (c, f, related) in m2o {
        let r = relation(&doc, c, f);
        assert_eq!(s(&r["related_collection"]), related, "{c}.{f}");
        let want = if f == "assigned_user_id" { "SET NULL" } else { "RESTRICT" };
        assert_eq!(s(&r["schema"]["on_delete"]), want, "{c}.{f} ON DELETE");
    }
    assert_eq!(s(&relation(&doc, "entry_crew", "entry_id")["meta"]["one_field"]), "crew");
    assert_eq!(s(&relation(&doc, "entry_devices", "entry_id")["meta"]["one_field"]), "devices");
    assert_eq!(s(&relation(&doc, "classes", "event_id")["meta"]["one_field"]), "classes");
    for (c, f, alias) in [
        ("organization_users", "organization_id", "organization_users"),
        ("organization_users", "user_id", "organization_users"),
        ("events", "organization_id", "events"),
        ("entries", "event_id", "entries"),
        ("organization_vehicles", "vehicle_id", "organization_vehicles"),
        ("organization_devices", "device_id", "organization_devices"),
    ] {
        assert_eq!(s(&relation(&doc, c, f)["meta"]["one_field"]), alias, "{c}.{f} listed as {alias} (Phase 4)");
    }
}

#[test]
fn display_templates_and_sorting() {
    let doc = snapshot();
    let meta = |c: &str| {
        seq(&doc, "collections").iter().find(|x| s(&x["collection"]) == c).unwrap_or_else(|| panic!("{c}"))["meta"]
            .clone()
    };
    assert_eq!(s(&meta("devices")["display_template"]), "{{model}} — {{imei}}");
    assert_eq!(s(&meta("organizations")["display_template"]), "{{name}}");
    assert_eq!(s(&meta("classes")["sort_field"]), "sort_order", "classes in the regulations' order");
    // organizations "sorted by name": the snapshot format has no default sort; db-init-post sets the
    // admin UI's default view (a global preset).
    let post = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("db-init-post/002_default_views.sql"),
    )
    .expect("db-init-post/002_default_views.sql");
    assert!(post.contains(r#"('organizations', '{"tabular":{"fields":["name","slug"],"sort":["name"]}}'"#));
}

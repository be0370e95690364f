//! The course (Phase 2) and timing (Phase 3) collections in snapshots/schema.yaml, read as a file (no
//! database): the published names of plan NAMES.md, geometry fields Directus shows on its map, the
//! published choice lists, and the ON DELETE rule of every relation (CASCADE only where a child means
//! nothing without its parent). The database side is tested in tests/course.rs.

use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use trm_test_support::{repo_snapshot_yaml as snapshot, snapshot_list as seq, yaml_str as s};

fn field<'a>(doc: &'a Value, collection: &str, name: &str) -> &'a Value {
    seq(doc, "fields")
        .iter()
        .find(|f| s(&f["collection"]) == collection && s(&f["field"]) == name)
        .unwrap_or_else(|| panic!("no field {collection}.{name} in the snapshot"))
}

fn columns(doc: &Value, collection: &str) -> BTreeSet<String> {
    seq(doc, "fields")
        .iter()
        .filter(|f| s(&f["collection"]) == collection && s(&f["type"]) != "alias")
        .map(|f| s(&f["field"]).to_string())
        .collect()
}

fn choices(doc: &Value, collection: &str, name: &str) -> Vec<String> {
    field(doc, collection, name)["meta"]["options"]["choices"]
        .as_sequence()
        .map(|c| c.iter().map(|x| s(&x["value"]).to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn course_and_timing_collections_have_the_published_columns() {
    let doc = snapshot();
    let want: [(&str, &[&str]); 10] = [
        (
            "stages",
            &[
                "id",
                "event_id",
                "name",
                "sort_order",
                "role",
                "starts_at",
                "start_interval_seconds",
                "start_order_strategy",
                "start_order_strategy_params",
                "start_order_input_stage_id",
                "status",
                "track",
            ],
        ),
        (
            "segments",
            &[
                "id",
                "stage_id",
                "sort_order",
                "type",
                "entry_geofence_id",
                "exit_geofence_id",
                "target_duration_seconds",
            ],
        ),
        ("geofences", &["id", "event_id", "name", "kind", "geometry", "manual_verification", "retroactive", "active"]),
        (
            "waypoints",
            &[
                "id",
                "segment_id",
                "location",
                "tolerance_meters",
                "sort_order",
                "kind",
                "name",
                "open_radius_meters",
                "roadbook_km",
                "roadbook",
            ],
        ),
        (
            "speed_limit_zones",
            &[
                "id",
                "segment_id",
                "name",
                "geometry",
                "speed_limit_kmh",
                "retroactive",
                "active",
                "start_waypoint_id",
                "end_waypoint_id",
            ],
        ),
        (
            "penalty_formulas",
            &[
                "id",
                "event_id",
                "belongs_to_type",
                "belongs_to_id",
                "segment_id",
                "speed_limit_zone_id",
                "stage_id",
                "type",
                "offence_min",
                "offence_max",
                "operator",
                "penalty_seconds",
                "retroactive",
                "enabled",
            ],
        ),
        // change_reason / change_regulation_article: issue 25, write-only (db-init-post/018).
        (
            "entry_segment_starts",
            &[
                "id",
                "entry_id",
                "segment_id",
                "start_position",
                "target_at",
                "manual_override",
                "change_reason",
                "change_regulation_article",
            ],
        ),
        (
            "entry_crossings",
            &["id", "entry_id", "geofence_id", "ts", "kind", "device_id", "position_ts", "source", "note"],
        ),
        (
            "entry_penalties",
            &[
                "id",
                "entry_id",
                "stage_id",
                "segment_id",
                "type",
                "penalty_key",
                "formula_id",
                "formula_snapshot",
                "inputs",
                "seconds",
                "computed_at",
                "review_state",
                "override_seconds",
                "override_reason",
                "overridden_by",
                "overridden_at",
                // issue 25 (db-init-post/018): the article the review applies.
                "override_regulation_article",
            ],
        ),
        (
            "stage_results",
            &[
                "id",
                "entry_id",
                "stage_id",
                "started_at",
                "finished_at",
                "elapsed_seconds",
                "penalty_seconds",
                "total_seconds",
                "position_overall",
                "position_in_class",
                "status",
                "published_at",
                // issue 25 (db-init-post/018): what a take-back says, write-only.
                "amendment_reason",
                "amendment_regulation_article",
            ],
        ),
    ];
    for (collection, cols) in want {
        let want: BTreeSet<String> = cols.iter().map(|c| c.to_string()).collect();
        assert_eq!(columns(&doc, collection), want, "columns of {collection}");
    }
}

#[test]
fn geometry_is_postgis_in_wgs84_on_the_map() {
    let doc = snapshot();
    for (collection, name, kind) in [
        ("geofences", "geometry", "Polygon"),
        ("speed_limit_zones", "geometry", "Polygon"),
        ("waypoints", "location", "Point"),
    ] {
        let f = field(&doc, collection, name);
        assert_eq!(s(&f["type"]), format!("geometry.{kind}"), "{collection}.{name}");
        assert_eq!(s(&f["meta"]["interface"]), "map", "{collection}.{name} is shown on the admin UI's map");
        // PostGIS reports the column's geometry type (a text column would say "text").
        assert_eq!(s(&f["schema"]["data_type"]), kind.to_uppercase(), "{collection}.{name} is a PostGIS column");
        assert_eq!(f["schema"]["is_nullable"].as_bool(), Some(false), "{collection}.{name} is required");
    }
}

#[test]
fn choices_are_the_published_values() {
    let doc = snapshot();
    assert_eq!(
        choices(&doc, "stages", "start_order_strategy"),
        ["manual", "previous_stage_clean_result", "inverse_top_n_then_natural", "inverse_of_overall"]
    );
    assert_eq!(choices(&doc, "stages", "status"), ["planned", "open", "closed"]);
    assert_eq!(s(&field(&doc, "stages", "status")["schema"]["default_value"]), "planned");
    assert_eq!(choices(&doc, "segments", "type"), ["liaison", "special-stage", "parc-ferme"]);
    assert_eq!(choices(&doc, "penalty_formulas", "belongs_to_type"), ["segment", "speed_limit_zone", "stage", "event"]);
    assert_eq!(choices(&doc, "entry_crossings", "kind"), ["entry", "exit"]);
    assert_eq!(choices(&doc, "entry_crossings", "source"), ["processor", "manual"]);
    assert_eq!(choices(&doc, "entry_penalties", "review_state"), ["computed", "overridden", "void"]);
    assert_eq!(s(&field(&doc, "entry_penalties", "review_state")["schema"]["default_value"]), "computed");
    assert_eq!(choices(&doc, "stage_results", "status"), ["provisional", "official"]);
    assert_eq!(s(&field(&doc, "stage_results", "status")["schema"]["default_value"]), "provisional");
}

#[test]
fn relations_restrict_unless_the_child_means_nothing_without_its_parent() {
    let doc = snapshot();
    let want = [
        ("stages", "event_id", "events", "RESTRICT"),
        ("stages", "start_order_input_stage_id", "stages", "RESTRICT"),
        ("geofences", "event_id", "events", "RESTRICT"),
        ("segments", "stage_id", "stages", "CASCADE"),
        ("segments", "entry_geofence_id", "geofences", "RESTRICT"),
        ("segments", "exit_geofence_id", "geofences", "RESTRICT"),
        ("waypoints", "segment_id", "segments", "CASCADE"),
        ("speed_limit_zones", "segment_id", "segments", "CASCADE"),
        // issue 26: the dz and fz waypoints a zone runs between (a zone outlives a deleted end point)
        ("speed_limit_zones", "start_waypoint_id", "waypoints", "SET NULL"),
        ("speed_limit_zones", "end_waypoint_id", "waypoints", "SET NULL"),
        ("penalty_formulas", "event_id", "events", "RESTRICT"),
        ("penalty_formulas", "segment_id", "segments", "CASCADE"),
        ("penalty_formulas", "speed_limit_zone_id", "speed_limit_zones", "CASCADE"),
        ("penalty_formulas", "stage_id", "stages", "CASCADE"),
        ("entry_segment_starts", "entry_id", "entries", "RESTRICT"),
        ("entry_segment_starts", "segment_id", "segments", "RESTRICT"),
        ("entry_crossings", "entry_id", "entries", "RESTRICT"),
        ("entry_crossings", "geofence_id", "geofences", "RESTRICT"),
        ("entry_crossings", "device_id", "devices", "RESTRICT"),
        ("entry_penalties", "entry_id", "entries", "RESTRICT"),
        ("entry_penalties", "stage_id", "stages", "RESTRICT"),
        ("entry_penalties", "segment_id", "segments", "RESTRICT"),
        ("entry_penalties", "formula_id", "penalty_formulas", "SET NULL"),
        ("entry_penalties", "overridden_by", "directus_users", "SET NULL"),
        ("stage_results", "entry_id", "entries", "RESTRICT"),
        ("stage_results", "stage_id", "stages", "RESTRICT"),
    ];
    let ours: BTreeSet<&str> = want.iter().map(|(c, ..)| *c).collect();
    let count = seq(&doc, "relations").iter().filter(|r| ours.contains(s(&r["collection"]))).count();
    assert_eq!(count, want.len(), "no other relation from the course and timing collections");
    for (collection, name, related, on_delete) in want {
        let r = seq(&doc, "relations")
            .iter()
            .find(|r| s(&r["collection"]) == collection && s(&r["field"]) == name)
            .unwrap_or_else(|| panic!("no relation {collection}.{name}"));
        assert_eq!(s(&r["related_collection"]), related, "{collection}.{name}");
        assert_eq!(s(&r["schema"]["on_delete"]), on_delete, "{collection}.{name} ON DELETE");
    }
    assert_eq!(s(&field(&doc, "entry_crossings", "device_id")["type"]), "uuid", "devices have UUID keys");
}

#[test]
fn the_image_requires_postgis_and_the_compose_database_ships_it() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(repo.join("config/trm-init.toml")).expect("config/trm-init.toml");
    let line = config
        .lines()
        .find(|l| l.trim_start().starts_with("required_extensions"))
        .expect("config/trm-init.toml sets db_init.required_extensions");
    assert!(line.contains("\"postgis\"") && line.contains("\"timescaledb\""), "{line}");
    // timescaledb-ha images ship PostGIS; the -all variant is the one the real project's CI pins.
    let compose = std::fs::read_to_string(repo.join("compose.dev.yaml")).expect("compose.dev.yaml");
    assert!(compose.contains("image: timescale/timescaledb-ha:pg16.6-ts2.17.2-all"), "the pinned database image");
    let pre = std::fs::read_to_string(repo.join("db-init/004_postgis.sql")).expect("db-init/004_postgis.sql");
    assert!(pre.contains("CREATE EXTENSION IF NOT EXISTS postgis;"), "db-init creates PostGIS before the schema");
}

//! The repository's schema snapshot read as YAML, for the tests that check the file itself (no
//! database, no Directus). Owns parsing it; what the tests assert about it stays in them.

use crate::repo_snapshot;
use serde_yaml_ng::Value;

/// snapshots/schema.yaml, parsed; panics naming the file when it cannot be read or parsed.
pub fn repo_snapshot_yaml() -> Value {
    let path = repo_snapshot();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The snapshot's list under `key` (`collections`, `fields`, `relations`); panics when it has none.
pub fn snapshot_list<'a>(doc: &'a Value, key: &str) -> &'a [Value] {
    doc[key].as_sequence().map(Vec::as_slice).unwrap_or_else(|| panic!("snapshot has no {key} list"))
}

/// A YAML value as text: "" when it is not a string.
pub fn yaml_str(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// How many collections of its own snapshots/schema.yaml declares (what `directus_collections` holds
/// besides Directus's `directus_*` once it is applied): tests read the number here, never write it.
pub fn snapshot_collection_count() -> usize {
    let doc = repo_snapshot_yaml();
    snapshot_list(&doc, "collections").iter().filter(|c| !yaml_str(&c["collection"]).starts_with("directus_")).count()
}

/// The tables trm-init and the extensions create with SQL that must never be Directus collections
/// (CONTEXT.md: raw tables): the one list the tests check the snapshot and a booted Directus against.
pub const RAW_TABLES: [&str; 8] = [
    "positions",
    "migrations_applied",
    "trm_init_schema_state",
    "trm_init_access_state",
    "trm_init_access_managed",
    "recompute_outbox",
    "timing_ledger",
    "timing_ledger_rows",
];

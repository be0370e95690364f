//! The deletion guard: what an apply of Directus's own diff would delete, read the way Directus 11.17.4
//! applies it.
//!
//! Owns the classification of the diff the helper computed (`getSnapshotDiff` of @directus/api) by the
//! rules of its `utils/apply-diff.js`, which picks what to do with an entry from the kind of its FIRST
//! difference (`diff[0].kind`):
//! - a collection whose first difference is a removal (`D`) is deleted with its table and rows, even
//!   when the snapshot declares it and only lacks a nested key such as `meta.sort_field` (directus#27877);
//! - a field whose first difference is a removal is deleted with its column, unless the removal is a
//!   nested `meta` key (`isNestedMetaUpdate`); a missing `meta` or `schema` (or a key of `schema`) is
//!   not nested meta, so it deletes the field too;
//! - a field whose type flips to or from `alias` is deleted and created again (its column's values go);
//! - a relation whose first difference is a removal is deleted (its foreign key goes).
//!
//! Changes that keep everything but may alter values or future deletes (a column's type or length, a
//! primary key's type, a relation's `on_delete`) are warnings. It decides nothing about refusing: it
//! reports; the step refuses. It reads no database and starts nothing.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use thiserror::Error;

#[derive(Debug, Error)]
#[error("the Directus step helper's diff is not what @directus/api 11.17.4 produces: {0}")]
pub struct DiffShapeError(String);

/// What an apply would delete, by name (the names `schema apply --dry-run` prints after `- Delete`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deletions {
    pub collections: BTreeSet<String>,
    /// "collection.field"
    pub fields: BTreeSet<String>,
    /// "collection.field" of the many side
    pub relations: BTreeSet<String>,
}

impl Deletions {
    pub fn is_empty(&self) -> bool {
        self.collections.is_empty() && self.fields.is_empty() && self.relations.is_empty()
    }

    /// The `- Delete ...` lines of Directus's own `schema apply --dry-run` plan.
    pub fn from_plan(lines: &[String]) -> Deletions {
        let mut out = Deletions::default();
        let mut section = "";
        for line in lines {
            match line.trim() {
                "Collections:" => section = "c",
                "Fields:" => section = "f",
                "System Fields:" => section = "s",
                "Relations:" => section = "r",
                _ => {}
            }
            let Some(name) = line.strip_prefix("  - Delete ") else { continue };
            // Relations read "coll.field → related"; the name ends at the first space.
            let name = name.split_whitespace().next().unwrap_or_default().to_string();
            match section {
                "c" => out.collections.insert(name),
                "f" => out.fields.insert(name),
                "r" => out.relations.insert(name),
                _ => false,
            };
        }
        out
    }
}

impl fmt::Display for Deletions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (what, set) in
            [("collections", &self.collections), ("fields", &self.fields), ("relations", &self.relations)]
        {
            if !set.is_empty() {
                parts.push(format!("{what} {}", set.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// One destructive entry of the diff, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// "collection vehicles", "field vehicles.plate", "relation entries.vehicle_id"
    pub entry: String,
    pub reason: String,
    /// The key the snapshot's entry lacks when that alone makes Directus delete it (`meta.sort_field`).
    pub missing_key: Option<String>,
}

/// The guard's reading of one diff.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    pub deletions: Deletions,
    pub findings: Vec<Finding>,
    /// Changes that delete nothing but may change values or what later deletes do.
    pub warnings: Vec<String>,
    /// Entries of the diff (collections + fields + system fields + relations); 0: nothing to apply.
    pub entries: usize,
}

impl Verdict {
    /// The findings as one text ("collection a: ...; field b.c: ...") plus, when a missing key is the
    /// cause, how to regenerate the snapshot.
    pub fn details(&self) -> String {
        let mut text =
            self.findings.iter().map(|f| format!("{}: {}", f.entry, f.reason)).collect::<Vec<_>>().join("; ");
        if self.findings.iter().any(|f| f.missing_key.is_some()) {
            text.push_str(
                ". A snapshot written by another Directus version, or edited by hand, lacks keys that Directus 11.17.4 \
                 treats as deletions: regenerate it with scripts/make-snapshot.sh against Directus 11.17.4",
            );
        }
        text
    }
}

/// Directus's alias field types (no column of their own).
const ALIAS_TYPES: &[&str] = &["alias", "o2m", "m2m", "m2a", "o2a", "files", "translations"];

fn kind(entry: &Value) -> Option<&str> {
    entry.get("kind").and_then(Value::as_str)
}

fn path(entry: &Value) -> Vec<String> {
    entry
        .get("path")
        .and_then(Value::as_array)
        .map(|p| p.iter().map(|s| s.as_str().map(str::to_string).unwrap_or_else(|| s.to_string())).collect())
        .unwrap_or_default()
}

/// `isNestedMetaUpdate` of apply-diff.js: a NEW or DELETE under `meta`, two levels deep or more.
fn is_nested_meta(entry: &Value) -> bool {
    matches!(kind(entry), Some("N") | Some("D")) && {
        let p = path(entry);
        p.len() >= 2 && p[0] == "meta"
    }
}

fn list<'v>(diff: &'v Value, key: &str) -> Result<&'v [Value], DiffShapeError> {
    match diff.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(DiffShapeError(format!("`{key}` is not a list"))),
    }
}

fn name_of(item: &Value, with_field: bool) -> String {
    let c = item.get("collection").and_then(Value::as_str).unwrap_or("?");
    match (with_field, item.get("field").and_then(Value::as_str)) {
        (true, Some(f)) => format!("{c}.{f}"),
        _ => c.to_string(),
    }
}

fn entries(item: &Value) -> &[Value] {
    item.get("diff").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// Why a first-difference removal at `path` deletes a declared entry.
fn missing_key_reason(p: &[String], what: &str) -> (String, String) {
    let key = p.join(".");
    (
        format!(
            "the snapshot declares it but its entry lacks `{key}`; Directus 11.17.4 applies an entry whose first \
             difference is a removal by deleting the whole {what}"
        ),
        key,
    )
}

/// Classifies Directus's diff (`{collections, fields, systemFields, relations}`, each `{collection,
/// field?, diff: [deep-diff entries]}`) as apply-diff.js would apply it.
pub fn classify(diff: &Value) -> Result<Verdict, DiffShapeError> {
    let mut v = Verdict::default();
    let collections = list(diff, "collections")?;
    let fields = list(diff, "fields")?;
    let relations = list(diff, "relations")?;
    v.entries = collections.len() + fields.len() + relations.len() + list(diff, "systemFields")?.len();

    for item in collections {
        let name = name_of(item, false);
        let Some(first) = entries(item).first() else { continue };
        if kind(first) != Some("D") {
            continue;
        }
        v.deletions.collections.insert(name.clone());
        let p = path(first);
        let has_table = first.get("lhs").map(|l| !l.get("schema").unwrap_or(&Value::Null).is_null()).unwrap_or(true);
        let data = if has_table { "its table and every row in it" } else { "(a folder: no table)" };
        let finding = if p.is_empty() {
            Finding {
                entry: format!("collection {name}"),
                reason: format!("not in the snapshot: deleted with {data}"),
                missing_key: None,
            }
        } else {
            let (reason, key) = missing_key_reason(&p, "collection");
            let lost =
                if has_table { ", with its table and every row in it (directus#27877)" } else { " (directus#27877)" };
            Finding { entry: format!("collection {name}"), reason: format!("{reason}{lost}"), missing_key: Some(key) }
        };
        v.findings.push(finding);
    }

    // Fields whose type flips to or from alias come as a removal of the old field plus a NEW entry.
    let created: BTreeSet<String> = fields
        .iter()
        .filter(|f| entries(f).first().is_some_and(|e| kind(e) == Some("N") && path(e).is_empty()))
        .map(|f| name_of(f, true))
        .collect();
    for item in fields {
        let name = name_of(item, true);
        let list = entries(item);
        let Some(first) = list.first() else { continue };
        match kind(first) {
            Some("D") if !is_nested_meta(first) => {
                v.deletions.fields.insert(name.clone());
                let p = path(first);
                let old = first.get("lhs").unwrap_or(&Value::Null);
                let old_type = old.get("type").and_then(Value::as_str).unwrap_or("?");
                let column = p.is_empty()
                    && !ALIAS_TYPES.contains(&old_type)
                    && !old.get("schema").unwrap_or(&Value::Null).is_null();
                let column = column || (!p.is_empty() && !ALIAS_TYPES.contains(&field_type(item, old_type)));
                let data = if column { "its column and the values in it" } else { "(an alias: no column)" };
                let finding = if !p.is_empty() {
                    let (reason, key) = missing_key_reason(&p, "field");
                    Finding {
                        entry: format!("field {name}"),
                        reason: format!("{reason}, with {data}"),
                        missing_key: Some(key),
                    }
                } else if created.contains(&name) {
                    let new_type = fields
                        .iter()
                        .filter(|f| name_of(f, true) == name)
                        .filter_map(|f| entries(f).first()?.get("rhs")?.get("type")?.as_str())
                        .next()
                        .unwrap_or("?");
                    Finding {
                        entry: format!("field {name}"),
                        reason: format!(
                            "its type changes from {old_type} to {new_type}: Directus deletes the field with {data} \
                             and creates it again"
                        ),
                        missing_key: None,
                    }
                } else {
                    Finding {
                        entry: format!("field {name}"),
                        reason: format!("not in the snapshot: deleted with {data}"),
                        missing_key: None,
                    }
                };
                v.findings.push(finding);
            }
            Some("E") | Some("A") | Some("N") | Some("D") => {
                for change in list.iter().filter(|c| kind(c) == Some("E")) {
                    let p = path(change);
                    let (lhs, rhs) =
                        (change.get("lhs").unwrap_or(&Value::Null), change.get("rhs").unwrap_or(&Value::Null));
                    match p.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                        ["schema", "data_type"] | ["type"] => v.warnings.push(format!(
                            "field {name}: {} changes from {lhs} to {rhs} (PostgreSQL converts the values, or the apply fails and is rolled back)",
                            p.join(".")
                        )),
                        ["schema", "max_length"] if lhs.as_u64().zip(rhs.as_u64()).is_some_and(|(a, b)| b < a) => {
                            v.warnings.push(format!("field {name}: schema.max_length shrinks from {lhs} to {rhs}"))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    for item in relations {
        let name = name_of(item, true);
        let list = entries(item);
        let Some(first) = list.first() else { continue };
        if kind(first) == Some("D") {
            v.deletions.relations.insert(name.clone());
            let p = path(first);
            let finding = if p.is_empty() {
                Finding {
                    entry: format!("relation {name}"),
                    reason: "not in the snapshot: deleted (its foreign key constraint goes)".into(),
                    missing_key: None,
                }
            } else {
                let (reason, key) = missing_key_reason(&p, "relation");
                Finding { entry: format!("relation {name}"), reason, missing_key: Some(key) }
            };
            v.findings.push(finding);
            continue;
        }
        for change in list.iter().filter(|c| kind(c) == Some("E")) {
            if path(change) == ["schema", "on_delete"] {
                let rhs = change.get("rhs").and_then(Value::as_str).unwrap_or("?");
                let lhs = change.get("lhs").and_then(Value::as_str).unwrap_or("?");
                v.warnings.push(format!(
                    "relation {name}: ON DELETE changes from {lhs} to {rhs} (deleting a row of the related collection \
                     will now {})",
                    match rhs {
                        "CASCADE" => "delete these rows too",
                        "SET NULL" => "empty this field",
                        _ => "be checked differently",
                    }
                ));
            }
        }
    }
    Ok(v)
}

/// The field's current type, read from its first change's left side or from any `type` change.
fn field_type<'v>(item: &'v Value, fallback: &'v str) -> &'v str {
    entries(item).iter().find(|e| path(e) == ["type"]).and_then(|e| e.get("lhs")?.as_str()).unwrap_or(fallback)
}

/// Directus's own plan lines for the diff, in `schema apply --dry-run`'s words (for `schema --dry-run`).
pub fn plan(diff: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (title, key, with_field) in [
        ("Collections:", "collections", false),
        ("Fields:", "fields", true),
        ("System Fields:", "systemFields", true),
        ("Relations:", "relations", true),
    ] {
        let Ok(items) = list(diff, key) else { continue };
        if items.is_empty() {
            continue;
        }
        out.push(title.to_string());
        for item in items {
            let name = name_of(item, with_field);
            let related =
                item.get("related_collection").and_then(Value::as_str).map(|r| format!(" → {r}")).unwrap_or_default();
            let Some(first) = entries(item).first() else { continue };
            let verb = match kind(first) {
                _ if key == "fields" && is_nested_meta(first) => "Update",
                Some("D") => "Delete",
                Some("N") => "Create",
                _ => "Update",
            };
            out.push(format!("  - {verb} {name}{related}"));
            if verb == "Update" {
                for change in entries(item) {
                    let p = path(change);
                    let shown = if p.len() > 1 { p[1..].join(".") } else { p.join(".") };
                    let rhs = change.get("rhs").map(|r| r.to_string()).unwrap_or_default();
                    match kind(change) {
                        Some("E") => out.push(format!("    - Set {shown} to {rhs}")),
                        Some("D") => out.push(format!("    - Remove {shown}")),
                        Some("N") => out.push(format!("    - Add {shown} and set it to {rhs}")),
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_collection_missing_a_nested_meta_key_is_a_deletion_naming_the_key() {
        let diff = json!({"collections": [
            {"collection": "vehicles", "diff": [{"kind": "D", "path": ["meta", "sort_field"], "lhs": null}]},
            {"collection": "devices", "diff": [{"kind": "E", "path": ["meta", "note"], "lhs": "a", "rhs": "b"},
                                               {"kind": "D", "path": ["meta", "icon"], "lhs": "x"}]}
        ], "fields": [], "relations": []});
        let v = classify(&diff).unwrap();
        assert_eq!(v.deletions.collections, BTreeSet::from(["vehicles".to_string()]));
        assert_eq!(v.findings.len(), 1);
        assert_eq!(v.findings[0].missing_key.as_deref(), Some("meta.sort_field"));
        assert!(v.details().contains("scripts/make-snapshot.sh"), "{}", v.details());
    }

    #[test]
    fn missing_collection_alias_flip_and_schema_key_are_deletions_nested_meta_is_not() {
        let diff = json!({
            "collections": [{"collection": "old", "diff": [{"kind": "D", "lhs": {"collection": "old", "schema": {"name": "old"}}}]}],
            "fields": [
                {"collection": "a", "field": "x", "diff": [{"kind": "D", "lhs": {"type": "string", "schema": {"name": "x"}}}]},
                {"collection": "a", "field": "x", "diff": [{"kind": "N", "rhs": {"type": "alias", "schema": null}}]},
                {"collection": "a", "field": "y", "diff": [{"kind": "D", "path": ["meta", "note"], "lhs": "n"}]},
                {"collection": "a", "field": "z", "diff": [{"kind": "D", "path": ["schema", "is_indexed"], "lhs": false}]},
                {"collection": "a", "field": "w", "diff": [{"kind": "E", "path": ["schema", "data_type"], "lhs": "integer", "rhs": "bigint"}]}
            ],
            "relations": [{"collection": "a", "field": "r", "related_collection": "b", "diff": [{"kind": "D", "lhs": {}}]},
                          {"collection": "a", "field": "s", "diff": [{"kind": "E", "path": ["schema", "on_delete"], "lhs": "RESTRICT", "rhs": "CASCADE"}]}]
        });
        let v = classify(&diff).unwrap();
        assert_eq!(v.to_string_set(), "collections old; fields a.x, a.z; relations a.r");
        assert!(v.findings.iter().any(|f| f.reason.contains("from string to alias")), "{:?}", v.findings);
        assert!(v.findings.iter().any(|f| f.missing_key.as_deref() == Some("schema.is_indexed")));
        assert_eq!(v.warnings.len(), 2, "{:?}", v.warnings);
        assert_eq!(v.entries, 8);
        let plan = plan(&diff);
        assert!(plan.contains(&"  - Delete old".to_string()), "{plan:?}");
        assert!(plan.contains(&"  - Update a.y".to_string()), "{plan:?}");
        assert_eq!(Deletions::from_plan(&plan), v.deletions);
    }

    impl Verdict {
        fn to_string_set(&self) -> String {
            self.deletions.to_string()
        }
    }

    #[test]
    fn the_dry_run_plan_is_read() {
        let plan: Vec<String> =
            "The following changes will be applied:\n\nCollections:\n  - Delete vehicles\n  - Create x\n\
             Fields:\n  - Update a.b\n    - Set meta.note to null\n  - Delete directus_users.phone\n\
             System Fields:\n  - Update directus_activity.timestamp\nRelations:\n  - Delete entries.vehicle → vehicles"
                .lines()
                .map(str::to_string)
                .collect();
        let d = Deletions::from_plan(&plan);
        assert_eq!(d.collections, BTreeSet::from(["vehicles".to_string()]));
        assert_eq!(d.fields, BTreeSet::from(["directus_users.phone".to_string()]));
        assert_eq!(d.relations, BTreeSet::from(["entries.vehicle".to_string()]));
    }
}

//! What a schema apply would delete, found without starting Directus.
//!
//! `schema apply` is declarative: every collection, field and relation Directus tracks in the database
//! but the snapshot lacks is deleted (with its data). Directus's own view of "tracked" (see its
//! `get-snapshot`): rows of `directus_collections`, rows of `directus_fields` whose column exists (or
//! that are alias fields), rows of `directus_relations` — system ones excluded. This module reads those
//! names with one query each and subtracts the snapshot's names, as Directus's diff does (fields and
//! relations of a deleted collection go with it and are not listed twice). It also reads Directus's own
//! dry-run plan, so a test can prove both agree. It changes nothing.

use super::snapshot::Declared;
use std::collections::BTreeSet;
use std::fmt;
use tokio_postgres::Client;

/// Directus's alias field types (no column of their own): `ALIAS_TYPES` in @directus/api.
const ALIAS_TYPES: &[&str] = &["alias", "o2m", "m2m", "m2a", "o2a", "files", "translations"];

/// The names Directus tracks in the database (what a snapshot of it would list).
pub type Tracked = Declared;

/// Whether Directus's system tables exist (bootstrap has run at least once).
pub async fn directus_installed(db: &Client) -> Result<bool, tokio_postgres::Error> {
    let row = db.query_one("SELECT to_regclass('directus_fields') IS NOT NULL AND to_regclass('directus_collections') IS NOT NULL AND to_regclass('directus_relations') IS NOT NULL", &[]).await?;
    Ok(row.get(0))
}

/// Reads the tracked names. The database must have Directus installed (`directus_installed`).
pub async fn tracked(db: &Client) -> Result<Tracked, tokio_postgres::Error> {
    let collections = db
        .query("SELECT collection FROM directus_collections WHERE collection NOT LIKE 'directus\\_%'", &[])
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    // Columns visible through the search path, as Directus's schema inspector sees them.
    let fields = db
        .query(
            "SELECT f.collection, f.field, f.special, c.column_name IS NOT NULL AS has_column
               FROM directus_fields f
               JOIN information_schema.tables t
                 ON t.table_name = f.collection AND t.table_schema = current_schema()
               LEFT JOIN information_schema.columns c
                 ON c.table_schema = t.table_schema AND c.table_name = f.collection AND c.column_name = f.field",
            &[],
        )
        .await?
        .iter()
        .filter(|r| r.get::<_, bool>(3) || is_alias(r.get::<_, Option<String>>(2).as_deref()))
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let relations = db
        .query("SELECT many_collection, many_field FROM directus_relations", &[])
        .await?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    Ok(Tracked { collections, fields, relations })
}

/// `special` is stored as a comma list (older rows: `{a,b}`).
fn is_alias(special: Option<&str>) -> bool {
    special.unwrap_or("").split([',', '{', '}']).map(str::trim).any(|s| ALIAS_TYPES.contains(&s))
}

/// What an apply would delete, by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Deletions {
    pub collections: BTreeSet<String>,
    /// "collection.field"
    pub fields: BTreeSet<String>,
    /// "collection.field" of the many side
    pub relations: BTreeSet<String>,
}

impl Deletions {
    /// Tracked minus declared; fields and relations of deleted collections are implied, not listed.
    pub fn between(tracked: &Tracked, declared: &Declared) -> Deletions {
        let collections: BTreeSet<String> = tracked.collections.difference(&declared.collections).cloned().collect();
        let gone = |pairs: &BTreeSet<(String, String)>, keep: &BTreeSet<(String, String)>| {
            pairs
                .difference(keep)
                .filter(|(c, _)| !collections.contains(c))
                .map(|(c, f)| format!("{c}.{f}"))
                .collect::<BTreeSet<_>>()
        };
        let fields = gone(&tracked.fields, &declared.fields);
        let relations = gone(&tracked.relations, &declared.relations);
        Deletions { collections, fields, relations }
    }

    /// The `- Delete ...` lines of Directus's `schema apply --dry-run` plan.
    pub fn from_plan(lines: &[String]) -> Deletions {
        let mut out = Deletions::default();
        let mut section = "";
        for line in lines {
            let trimmed = line.trim();
            match trimmed {
                "Collections:" | "Fields:" | "System Fields:" | "Relations:" => {
                    section = match trimmed {
                        "Collections:" => "c",
                        "Fields:" => "f",
                        "Relations:" => "r",
                        _ => "s",
                    };
                    continue;
                }
                _ => {}
            }
            let Some(name) = line.strip_prefix("  - Delete ") else {
                continue;
            };
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

    pub fn is_empty(&self) -> bool {
        self.collections.is_empty() && self.fields.is_empty() && self.relations.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn a_collection_missing_from_the_snapshot_is_deleted_with_its_fields_implied() {
        let tracked = Tracked {
            collections: set(&["a", "b"]),
            fields: pairs(&[("a", "id"), ("b", "id"), ("b", "x"), ("directus_users", "phone")]),
            relations: pairs(&[("b", "x")]),
        };
        let declared = Declared { collections: set(&["a"]), fields: pairs(&[("a", "id")]), relations: BTreeSet::new() };
        let d = Deletions::between(&tracked, &declared);
        assert_eq!(d.collections, set(&["b"]));
        assert_eq!(d.fields, set(&["directus_users.phone"]));
        assert!(d.relations.is_empty());
        assert_eq!(d.to_string(), "collections b; fields directus_users.phone");
    }

    #[test]
    fn additions_are_not_deletions() {
        let tracked = Tracked { collections: set(&["a"]), fields: pairs(&[("a", "id")]), relations: BTreeSet::new() };
        let declared = Declared {
            collections: set(&["a", "n"]),
            fields: pairs(&[("a", "id"), ("a", "new")]),
            relations: pairs(&[("a", "new")]),
        };
        assert!(Deletions::between(&tracked, &declared).is_empty());
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
        assert_eq!(d.collections, set(&["vehicles"]));
        assert_eq!(d.fields, set(&["directus_users.phone"]));
        assert_eq!(d.relations, set(&["entries.vehicle"]));
    }

    #[test]
    fn alias_specials_are_recognised() {
        assert!(is_alias(Some("o2m")));
        assert!(is_alias(Some("{alias,no-data,group}")));
        assert!(!is_alias(Some("m2o")));
        assert!(!is_alias(None));
    }
}

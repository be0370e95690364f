//! The access file against the database's schema: every collection, field and relational path it
//! names must exist, before anything is written.
//!
//! Owns reading the schema as Directus sees it (tables and columns, `directus_fields` aliases,
//! `directus_relations`) and walking each permission's filter, validation, presets and field list.
//! Reads only.

use super::file::PermissionRow;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::Client;

#[derive(Debug, Default)]
pub struct Schema {
    /// collection -> its fields (columns and alias fields)
    fields: BTreeMap<String, BTreeSet<String>>,
    /// (collection, field) -> related collection, both directions (M2O and O2M aliases)
    relations: BTreeMap<(String, String), String>,
}

impl Schema {
    pub async fn read(db: &Client) -> Result<Schema, tokio_postgres::Error> {
        let mut schema = Schema::default();
        let tables = db
            .query(
                "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c
                  WHERE c.table_schema = current_schema()
                    AND (c.table_name IN (SELECT collection FROM directus_collections) OR c.table_name LIKE 'directus\\_%')",
                &[],
            )
            .await?;
        for r in tables {
            schema.fields.entry(r.try_get(0)?).or_default().insert(r.try_get(1)?);
        }
        for r in db.query("SELECT collection, field FROM directus_fields", &[]).await? {
            let collection: String = r.try_get(0)?;
            // A field row for a collection without a table (a folder collection) still counts.
            schema.fields.entry(collection).or_default().insert(r.try_get(1)?);
        }
        for r in db
            .query("SELECT many_collection, many_field, one_collection, one_field FROM directus_relations", &[])
            .await?
        {
            let many: String = r.try_get(0)?;
            let many_field: String = r.try_get(1)?;
            let one: Option<String> = r.try_get(2)?;
            let one_field: Option<String> = r.try_get(3)?;
            if let Some(one) = one {
                schema.relations.insert((many.clone(), many_field), one.clone());
                if let Some(f) = one_field {
                    schema.relations.insert((one, f), many);
                }
            }
        }
        // Directus's own relations are defined in its code, not in directus_relations; the ones access
        // filters commonly walk:
        for (c, f, to) in [
            ("directus_users", "role", "directus_roles"),
            ("directus_access", "role", "directus_roles"),
            ("directus_access", "user", "directus_users"),
            ("directus_access", "policy", "directus_policies"),
            ("directus_permissions", "policy", "directus_policies"),
            ("directus_roles", "parent", "directus_roles"),
        ] {
            schema.relations.entry((c.into(), f.into())).or_insert_with(|| to.into());
        }
        Ok(schema)
    }

    fn has_field(&self, collection: &str, field: &str) -> bool {
        self.fields.get(collection).is_some_and(|f| f.contains(field))
    }

    /// Everything `row` names that the schema lacks, each with where the file names it.
    pub fn problems(&self, row: &PermissionRow, policy: &str) -> Vec<String> {
        let at = format!("(policy {policy:?}, {}.{})", row.collection, row.action);
        if !self.fields.contains_key(&row.collection) {
            return vec![format!("collection {} {at}", row.collection)];
        }
        let mut out = Vec::new();
        if let Some(fields) = &row.fields {
            for f in fields.split(',').filter(|f| !f.is_empty() && *f != "*") {
                if !self.has_field(&row.collection, f) {
                    out.push(format!("field {}.{f} {at}, fields", row.collection));
                }
            }
        }
        if let Some(filter) = &row.permissions {
            self.walk(&row.collection, filter, &format!("{at}, filter"), &mut out);
        }
        if let Some(v) = &row.validation {
            self.walk(&row.collection, v, &format!("{at}, validation"), &mut out);
        }
        if let Some(Value::Object(presets)) = &row.presets {
            for k in presets.keys() {
                if !self.has_field(&row.collection, k) {
                    out.push(format!("field {}.{k} {at}, presets", row.collection));
                }
            }
        }
        out
    }

    /// Walks a filter on `collection`: field keys must exist; relational keys are followed.
    fn walk(&self, collection: &str, filter: &Value, at: &str, out: &mut Vec<String>) {
        let Value::Object(obj) = filter else { return };
        for (key, value) in obj {
            if key == "_and" || key == "_or" {
                for item in value.as_array().into_iter().flatten() {
                    self.walk(collection, item, at, out);
                }
                continue;
            }
            // Operators, functions (`year(date)`), dynamic variables: not field names.
            if key.starts_with('_') || key.starts_with('$') || key.contains('(') {
                continue;
            }
            if !self.has_field(collection, key) {
                out.push(format!("field {collection}.{key} {at}"));
                continue;
            }
            let Some(related) = self.relations.get(&(collection.to_string(), key.clone())) else { continue };
            let Value::Object(inner) = value else { continue };
            for (k, v) in inner {
                if k == "_some" || k == "_none" {
                    self.walk(related, v, at, out);
                } else if !k.starts_with('_') {
                    let mut one = serde_json::Map::new();
                    one.insert(k.clone(), v.clone());
                    self.walk(related, &Value::Object(one), at, out);
                }
            }
        }
    }
}

//! The schema fingerprint: proof that nothing changed since the last successful apply.
//!
//! Owns the table `trm_init_schema_state` (one row) and what goes into the hash: the snapshot's
//! normalised text, the installed Directus version, and the database's schema as Directus sees it —
//! every row of `directus_collections`, `directus_fields`, `directus_relations`, the number of Directus
//! migrations applied, and the columns of the tables those rows name. Any change through the admin UI,
//! the REST API or plain SQL to those changes the hash, and the next boot runs the full step again.

use crate::preflight::state::{self, StateTable};
use tokio_postgres::Client;

/// Our table: created on the first successful apply.
pub const TABLE: &str = "trm_init_schema_state";

/// The database side of the fingerprint, as one text (JSON pieces); "directus: not installed" when
/// bootstrap never ran.
pub async fn database_state(db: &Client) -> Result<String, tokio_postgres::Error> {
    if !directus_installed(db).await? {
        return Ok("directus: not installed".into());
    }
    let row = db
        .query_one(
            "SELECT concat_ws(E'\\n',
                (SELECT json_agg(c ORDER BY c.collection)::text FROM directus_collections c),
                (SELECT json_agg(f ORDER BY f.collection, f.field)::text FROM directus_fields f),
                (SELECT json_agg(r ORDER BY r.many_collection, r.many_field)::text FROM directus_relations r),
                (SELECT count(*)::text FROM directus_migrations),
                (SELECT json_agg(json_build_array(table_name, column_name, data_type, udt_name, is_nullable,
                                                  column_default, character_maximum_length, numeric_precision)
                                 ORDER BY table_name, column_name)::text
                   FROM information_schema.columns
                  WHERE table_schema = current_schema()
                    AND table_name IN (SELECT collection FROM directus_collections
                                       UNION SELECT collection FROM directus_fields)))",
            &[],
        )
        .await?;
    row.try_get(0)
}

/// Whether Directus's system tables exist (bootstrap has run at least once).
/// The Directus system tables trm-init reads or writes: Directus counts as installed on a database
/// only when every one exists. The one answer to "is Directus installed?" (`directus_installed`) for
/// the fingerprint, `schema --dry-run`, `access apply` and `access export`.
pub const SYSTEM_TABLES: [&str; 9] = [
    "directus_collections",
    "directus_fields",
    "directus_relations",
    "directus_migrations",
    "directus_users",
    "directus_roles",
    "directus_policies",
    "directus_access",
    "directus_permissions",
];

/// Which of `SYSTEM_TABLES` exist in the current schema.
pub async fn system_tables(db: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let names: Vec<&str> = SYSTEM_TABLES.to_vec();
    db.query("SELECT t FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL", &[&names])
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect()
}

/// Whether every Directus system table trm-init uses exists (bootstrap ran to its end).
pub async fn directus_installed(db: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(system_tables(db).await?.len() == SYSTEM_TABLES.len())
}

/// The one state table of this step (`preflight::state`).
pub const STATE: StateTable = StateTable { name: TABLE, with_version: true };

/// sha256 hex of the three parts (`state::hash`).
pub fn compute(snapshot_text: &str, directus_version: &str, database_state: &str) -> String {
    state::hash(&[("snapshot", snapshot_text), ("directus", directus_version), ("database", database_state)])
}

pub use crate::preflight::state::Recorded;

pub async fn load(db: &Client) -> Result<Option<Recorded>, tokio_postgres::Error> {
    STATE.load(db).await
}

pub async fn store(db: &Client, fingerprint: &str, directus_version: &str) -> Result<(), tokio_postgres::Error> {
    STATE.store(db, fingerprint, directus_version).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_changes_the_fingerprint() {
        let base = compute("s", "11.17.4", "db");
        assert_ne!(base, compute("s2", "11.17.4", "db"));
        assert_ne!(base, compute("s", "11.18.0", "db"));
        assert_ne!(base, compute("s", "11.17.4", "db2"));
        // parts cannot run into each other
        assert_ne!(compute("ab", "c", "d"), compute("a", "bc", "d"));
        assert_eq!(base, compute("s", "11.17.4", "db"));
    }
}

//! The schema fingerprint: proof that nothing changed since the last successful apply.
//!
//! Owns the table `trm_init_schema_state` (one row) and what goes into the hash: the snapshot's
//! normalised text, the installed Directus version, and the database's schema as Directus sees it —
//! every row of `directus_collections`, `directus_fields`, `directus_relations`, the number of Directus
//! migrations applied, and the columns of the tables those rows name. Any change through the admin UI,
//! the REST API or plain SQL to those changes the hash, and the next boot runs the full step again.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// Our table: created on the first successful apply.
pub const TABLE: &str = "trm_init_schema_state";

/// The database side of the fingerprint, as one text (JSON pieces); "directus: not installed" when
/// bootstrap never ran.
pub async fn database_state(db: &Client) -> Result<String, tokio_postgres::Error> {
    if !directus_installed(db).await? || !migrations_table(db).await? {
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
pub async fn directus_installed(db: &Client) -> Result<bool, tokio_postgres::Error> {
    db.query_one(
        "SELECT to_regclass('directus_fields') IS NOT NULL AND to_regclass('directus_collections') IS NOT NULL \
         AND to_regclass('directus_relations') IS NOT NULL",
        &[],
    )
    .await?
    .try_get(0)
}

async fn migrations_table(db: &Client) -> Result<bool, tokio_postgres::Error> {
    db.query_one("SELECT to_regclass('directus_migrations') IS NOT NULL", &[]).await?.try_get(0)
}

/// sha256 hex of the three parts.
pub fn compute(snapshot_text: &str, directus_version: &str, database_state: &str) -> String {
    let mut h = Sha256::new();
    for (label, part) in [("snapshot", snapshot_text), ("directus", directus_version), ("database", database_state)] {
        h.update(label.as_bytes());
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// What the last successful apply recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub fingerprint: String,
    pub directus_version: String,
    pub applied_at: String,
}

pub async fn load(db: &Client) -> Result<Option<Recorded>, tokio_postgres::Error> {
    let exists: bool = db.query_one(&format!("SELECT to_regclass('{TABLE}') IS NOT NULL"), &[]).await?.try_get(0)?;
    if !exists {
        return Ok(None);
    }
    let row = db
        .query_opt(
            &format!("SELECT fingerprint, directus_version, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM {TABLE} WHERE id = 1"),
            &[],
        )
        .await?;
    row.map(|r| Ok(Recorded { fingerprint: r.try_get(0)?, directus_version: r.try_get(1)?, applied_at: r.try_get(2)? }))
        .transpose()
}

pub async fn store(db: &Client, fingerprint: &str, directus_version: &str) -> Result<(), tokio_postgres::Error> {
    db.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (
            id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
            fingerprint text NOT NULL,
            directus_version text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())"
    ))
    .await?;
    db.execute(
        &format!(
            "INSERT INTO {TABLE} (id, fingerprint, directus_version, applied_at) VALUES (1, $1, $2, now())
             ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
                 directus_version = EXCLUDED.directus_version, applied_at = EXCLUDED.applied_at"
        ),
        &[&fingerprint, &directus_version],
    )
    .await?;
    Ok(())
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

//! The "state row + hash" of the steps that skip themselves when nothing changed.
//!
//! Owns the one-row tables in which a step records the fingerprint of its last successful run
//! (`trm_init_schema_state` for the Directus step, with the Directus version; `trm_init_access_state`
//! for the access step) and the one hash of labelled parts both fingerprints are. It never decides
//! what goes into a fingerprint, nor when a step is skipped: that is each step's.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// One step's state table.
#[derive(Clone, Copy, Debug)]
pub struct StateTable {
    pub name: &'static str,
    /// Whether the row also records the Directus version it was made with (the schema step's does).
    pub with_version: bool,
}

/// What the last successful run recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub fingerprint: String,
    /// The Directus version (empty for a table without one).
    pub directus_version: String,
    /// When, as `YYYY-MM-DDTHH:MM:SSZ`.
    pub applied_at: String,
}

/// sha256 hex of the parts, each labelled and length-prefixed, so that parts cannot run into each other.
pub fn hash(parts: &[(&str, &str)]) -> String {
    let mut h = Sha256::new();
    for (label, part) in parts {
        h.update(label.as_bytes());
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

impl StateTable {
    async fn exists(&self, db: &Client) -> Result<bool, tokio_postgres::Error> {
        db.query_one(&format!("SELECT to_regclass('{}') IS NOT NULL", self.name), &[]).await?.try_get(0)
    }

    /// Creates the table (nothing when it exists).
    pub async fn create(&self, db: &Client) -> Result<(), tokio_postgres::Error> {
        let version = if self.with_version { "directus_version text NOT NULL," } else { "" };
        db.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                fingerprint text NOT NULL, {version}
                applied_at timestamptz NOT NULL DEFAULT now())",
            self.name
        ))
        .await
    }

    /// The recorded row, None when there is none (or no table yet).
    pub async fn load(&self, db: &Client) -> Result<Option<Recorded>, tokio_postgres::Error> {
        if !self.exists(db).await? {
            return Ok(None);
        }
        let version = if self.with_version { "directus_version" } else { "''::text" };
        let row = db
            .query_opt(
                &format!(
                    "SELECT fingerprint, {version}, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
                     FROM {} WHERE id = 1",
                    self.name
                ),
                &[],
            )
            .await?;
        row.map(|r| {
            Ok(Recorded { fingerprint: r.try_get(0)?, directus_version: r.try_get(1)?, applied_at: r.try_get(2)? })
        })
        .transpose()
    }

    /// Records `fingerprint` (and `directus_version`, for a table with one) as of now.
    pub async fn store(
        &self,
        db: &Client,
        fingerprint: &str,
        directus_version: &str,
    ) -> Result<(), tokio_postgres::Error> {
        self.create(db).await?;
        if self.with_version {
            db.execute(
                &format!(
                    "INSERT INTO {} (id, fingerprint, directus_version, applied_at) VALUES (1, $1, $2, now())
                     ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
                         directus_version = EXCLUDED.directus_version, applied_at = EXCLUDED.applied_at",
                    self.name
                ),
                &[&fingerprint, &directus_version],
            )
            .await?;
        } else {
            db.execute(
                &format!(
                    "INSERT INTO {} (id, fingerprint, applied_at) VALUES (1, $1, now())
                     ON CONFLICT (id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, applied_at = EXCLUDED.applied_at",
                    self.name
                ),
                &[&fingerprint],
            )
            .await?;
        }
        Ok(())
    }

    /// Forgets the recorded row, so the next run does not skip.
    pub async fn forget(&self, db: &Client) -> Result<(), tokio_postgres::Error> {
        if self.exists(db).await? {
            db.execute(&format!("DELETE FROM {}", self.name), &[]).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cannot_run_into_each_other() {
        assert_ne!(hash(&[("a", "bc"), ("d", "")]), hash(&[("a", "b"), ("d", "c")]));
        assert_ne!(hash(&[("file", "x")]), hash(&[("rows", "x")]));
        assert_eq!(hash(&[("a", "b")]), hash(&[("a", "b")]));
    }
}

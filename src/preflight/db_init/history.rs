//! The history table (`db_init.table`, default `migrations_applied`), compatible with the rows the
//! shell runner wrote: `filename text primary key, applied_at timestamptz, checksum text` (sha256 hex).
//!
//! trm-init adds nullable columns (phase, duration_ms, applied_by) and records post-schema files as
//! `post/NNN_name.sql`, so the two folders cannot collide and old rows keep meaning "pre". Created and
//! read only while the preflight lock is held (CREATE TABLE IF NOT EXISTS races otherwise).

use super::Phase;
use crate::db::{self, DbError, Session};
use std::collections::BTreeMap;

/// Creates the table if missing and adds trm-init's columns (one round trip).
pub(crate) async fn ensure(session: &Session, table: &str) -> Result<(), DbError> {
    let sql = format!(
        "SET client_min_messages = warning;\n\
         CREATE TABLE IF NOT EXISTS {table} (filename text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), checksum text NOT NULL);\n\
         ALTER TABLE {table} ADD COLUMN IF NOT EXISTS phase text, ADD COLUMN IF NOT EXISTS duration_ms bigint, ADD COLUMN IF NOT EXISTS applied_by text;\n\
         RESET client_min_messages;"
    );
    session.batch_execute(&sql).await.map_err(|e| DbError::query(format!("creating the history table {table}"), &e))
}

pub(crate) async fn exists(session: &Session, table: &str) -> Result<bool, DbError> {
    let row = session
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .map_err(|e| DbError::query(format!("looking for the history table {table}"), &e))?;
    db::column(&row, 0, &format!("looking for the history table {table}"))
}

/// Recorded checksums of `phase`, keyed by file name.
pub(crate) async fn read(session: &Session, table: &str, phase: Phase) -> Result<BTreeMap<String, String>, DbError> {
    let rows = session
        .query(&format!("SELECT filename, checksum FROM {table}"), &[])
        .await
        .map_err(|e| DbError::query(format!("reading the history table {table}"), &e))?;
    let what = format!("reading the history table {table} (expected filename text, checksum text)");
    let mut recorded = BTreeMap::new();
    for row in &rows {
        let name: String = db::column(row, 0, &what)?;
        let sum: Option<String> = db::column(row, 1, &what)?;
        if let Some(file) = phase.file_of(&name) {
            recorded.insert(file.to_string(), sum.unwrap_or_default());
        }
    }
    Ok(recorded)
}

/// The prepared INSERT of one history row (filename, checksum, phase, duration_ms, applied_by).
pub(crate) async fn prepare_insert(session: &Session, table: &str) -> Result<tokio_postgres::Statement, DbError> {
    session
        .prepare(&insert_sql(table))
        .await
        .map_err(|e| DbError::query(format!("preparing the insert into {table}"), &e))
}

fn insert_sql(table: &str) -> String {
    format!("INSERT INTO {table} (filename, checksum, applied_at, phase, duration_ms, applied_by) VALUES ($1, $2, now(), $3, $4, $5)")
}

/// What `applied_by` says: this program and version.
pub(crate) fn applied_by() -> String {
    format!("trm-init {}", env!("CARGO_PKG_VERSION"))
}

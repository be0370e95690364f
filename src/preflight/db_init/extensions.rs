//! `db_init.required_extensions`: checked before anything is applied, so a server that cannot provide
//! an extension refuses to start (exit 78) with the reason, instead of failing half-way.
//!
//! An extension is provided when it is installed in the database, or available on the server (its
//! package is installed) — and, for the ones whose library must be preloaded (TimescaleDB), listed in
//! `shared_preload_libraries`: `CREATE EXTENSION timescaledb` without it ends the session with FATAL.

use super::MigrationError;
use crate::db::{self, DbError, Session};

/// Extensions whose shared library must be in `shared_preload_libraries`.
const NEEDS_PRELOAD: &[&str] = &["timescaledb", "pg_cron", "citus", "pg_partman_bgw"];

pub(crate) async fn check(session: &Session, required: &[String]) -> Result<(), MigrationError> {
    if required.is_empty() {
        return Ok(());
    }
    let rows = session
        .query(
            "SELECT r.name, x.extversion, a.default_version \
             FROM unnest($1::text[]) AS r(name) \
             LEFT JOIN pg_extension x ON x.extname = r.name \
             LEFT JOIN pg_available_extensions a ON a.name = r.name",
            &[&required],
        )
        .await
        .map_err(|e| DbError::query("checking db_init.required_extensions", &e))?;
    let preload = preload_libraries(session).await;
    let version: String = session
        .query_one("SELECT current_setting('server_version')", &[])
        .await
        .ok()
        .and_then(|r| r.try_get::<_, String>(0).ok())
        .unwrap_or_else(|| "?".into());
    let mut problems = Vec::new();
    for row in rows {
        let what = "checking db_init.required_extensions";
        let name: String = db::column(&row, 0, what)?;
        let installed: Option<String> = db::column(&row, 1, what)?;
        let available: Option<String> = db::column(&row, 2, what)?;
        if installed.is_none() && available.is_none() {
            problems.push(format!(
                "{name} is not available on this server (PostgreSQL {version}: no {name} in pg_available_extensions); install its package into the database server (e.g. the TimescaleDB image or postgresql-{major}-{name})",
                major = version.split('.').next().unwrap_or("?")
            ));
            continue;
        }
        if NEEDS_PRELOAD.contains(&name.as_str()) {
            match &preload {
                Some(list) if list.iter().any(|l| l == &name) => {}
                Some(_) => problems.push(format!(
                    "{name} must be preloaded: it is not in shared_preload_libraries, so CREATE EXTENSION {name} would fail with FATAL \"extension must be preloaded\"; set shared_preload_libraries = '{name}' in postgresql.conf (or start the server with -c shared_preload_libraries={name}) and restart it"
                )),
                None => tracing::warn!(
                    "cannot read shared_preload_libraries (the role lacks pg_read_all_settings): not checking that {name} is preloaded"
                ),
            }
        }
        match installed {
            Some(v) => tracing::debug!("required extension {name} {v} is installed"),
            None => tracing::info!(
                "required extension {name} is available (version {}) and not installed yet: db-init creates it",
                available.unwrap_or_default()
            ),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(MigrationError::Extension(format!(
            "the server cannot provide what the configuration requires: {}",
            problems.join("; ")
        )))
    }
}

/// `shared_preload_libraries` as a list, or `None` when this role may not read it.
async fn preload_libraries(session: &Session) -> Option<Vec<String>> {
    let row = session.query_one("SELECT current_setting('shared_preload_libraries')", &[]).await.ok()?;
    let text: String = row.try_get(0).ok()?;
    Some(text.split(',').map(|s| s.trim().trim_matches('"').to_string()).filter(|s| !s.is_empty()).collect())
}

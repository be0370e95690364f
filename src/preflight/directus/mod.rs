//! Preflight step "directus": `bootstrap`, a check that the snapshot deletes nothing, `schema apply`.
//!
//! Owns the Directus part of preflight and of the `schema` command. Order and rules:
//!   1. the snapshot must exist (else exit 70 naming the path) and parse;
//!   2. with `schema.skip_unchanged`, a fingerprint equal to the one recorded after the last apply
//!      (snapshot + Directus version + the database's Directus schema) skips everything below;
//!   3. `directus bootstrap` (installs or migrates Directus's system tables);
//!   4. what the apply would delete is computed from the database's Directus metadata; anything at all
//!      refuses with exit 70 listing it, unless `schema.allow_destructive`;
//!   5. `directus schema apply --yes <snapshot>`, then the new fingerprint is recorded.
//!
//! The database session (and the advisory lock that serialises replicas, held for the whole preflight)
//! belongs to the caller: this module runs queries on the `Client` it is given, never connects or locks.

mod cli;
pub mod deletions;
pub mod fingerprint;
pub mod snapshot;

pub use cli::{installed_version, CliError, DirectusCli};
pub use deletions::Deletions;

use crate::config::{Config, SchemaConfig};
use crate::exit::{self, Failure};
use crate::reaper::Reaper;
use snapshot::Snapshot;
use std::path::{Path, PathBuf};
use thiserror::Error;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Error)]
pub enum DirectusError {
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error(transparent)]
    Cli(#[from] CliError),
    #[error("{what}: {source}")]
    Database { what: &'static str, source: tokio_postgres::Error },
    #[error(
        "the schema snapshot {path} would delete {deletions} (and the data they hold); refusing to apply it. \
         Put them back in the snapshot, or set schema.allow_destructive = true \
         (TRM_INIT_SCHEMA__ALLOW_DESTRUCTIVE=true) to delete them"
    )]
    Destructive { path: PathBuf, deletions: Deletions },
}

impl exit::ExitCode for DirectusError {
    fn exit_code(&self) -> u8 {
        match self {
            DirectusError::Cli(e) => e.exit_code(),
            DirectusError::Database { .. } => exit::UNAVAILABLE,
            _ => exit::DIRECTUS,
        }
    }
}

fn db_err(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> DirectusError {
    move |source| DirectusError::Database { what, source }
}

/// Everything the step needs, borrowed from preflight's context (or from the `schema` command).
pub struct Directus<'a> {
    pub config: &'a SchemaConfig,
    pub reaper: &'a Reaper,
    pub shutdown: &'a CancellationToken,
    /// TERM -> KILL for a Directus command that overruns `schema.timeout` or meets shutdown.
    pub grace: std::time::Duration,
    pub db: &'a Client,
}

impl<'a> Directus<'a> {
    pub fn new(config: &'a Config, reaper: &'a Reaper, shutdown: &'a CancellationToken, db: &'a Client) -> Self {
        Directus { config: &config.schema, reaper, shutdown, grace: config.child.stop_grace.get(), db }
    }

    fn cli(&self) -> DirectusCli<'_> {
        DirectusCli {
            prefix: &self.config.directus,
            reaper: self.reaper,
            shutdown: self.shutdown,
            timeout: self.config.timeout.get(),
            grace: self.grace,
        }
    }

    /// The snapshot path as Directus must get it: absolute (Directus runs in its own folder).
    fn snapshot_path(&self) -> PathBuf {
        absolute(&self.config.snapshot)
    }

    /// The whole step (see the module comment). Does nothing when `schema.enabled` is false.
    pub async fn run(&self) -> Result<(), DirectusError> {
        if !self.config.enabled {
            tracing::info!("schema.enabled = false: Directus bootstrap and schema apply are skipped");
            crate::metrics::schema_result("disabled");
            return Ok(());
        }
        let path = self.snapshot_path();
        let snapshot = Snapshot::read(&path)?;
        let version = installed_version(&self.config.directus);

        if self.config.skip_unchanged {
            match &version {
                None => tracing::warn!(
                    directus = ?self.config.directus,
                    "the Directus version cannot be read (package.json next to cli.js): the fingerprint skip is off"
                ),
                Some(version) => {
                    let state =
                        fingerprint::database_state(self.db).await.map_err(db_err("reading the Directus schema"))?;
                    let now = fingerprint::compute(&snapshot.normalised, version, &state);
                    let recorded =
                        fingerprint::load(self.db).await.map_err(db_err("reading the schema fingerprint"))?;
                    match recorded {
                        Some(r) if r.fingerprint == now => {
                            tracing::info!(
                                fingerprint = &now[..12],
                                "schema unchanged since the apply of {} (same snapshot, Directus {version}, same database schema): \
                                 bootstrap and schema apply skipped",
                                r.applied_at
                            );
                            crate::metrics::schema_result("skipped");
                            return Ok(());
                        }
                        Some(r) => tracing::info!(
                            recorded = &r.fingerprint[..12.min(r.fingerprint.len())],
                            now = &now[..12],
                            "schema fingerprint differs from the last apply ({} with Directus {}): running bootstrap and apply",
                            r.applied_at,
                            r.directus_version
                        ),
                        None => tracing::info!("no schema fingerprint recorded yet: running bootstrap and apply"),
                    }
                }
            }
        }

        let cli = self.cli();
        let started = std::time::Instant::now();
        let bootstrap = cli.run(&["bootstrap"]).await;
        crate::metrics::phase("bootstrap", if bootstrap.is_ok() { "ok" } else { "failed" }, started.elapsed());
        bootstrap?;

        let deletions = self.deletions(&snapshot).await?;
        if !deletions.is_empty() {
            if !self.config.allow_destructive {
                crate::metrics::schema_result("refused");
                return Err(DirectusError::Destructive { path, deletions });
            }
            tracing::warn!(%deletions, "schema.allow_destructive = true: the apply deletes these, with their data");
        }

        let path_text = path.to_string_lossy();
        let started = std::time::Instant::now();
        let apply = cli.run(&["schema", "apply", "--yes", &path_text]).await;
        crate::metrics::phase("apply", if apply.is_ok() { "ok" } else { "failed" }, started.elapsed());
        apply?;

        if let Some(version) = &version {
            let state = fingerprint::database_state(self.db).await.map_err(db_err("reading the Directus schema"))?;
            let now = fingerprint::compute(&snapshot.normalised, version, &state);
            fingerprint::store(self.db, &now, version).await.map_err(db_err("recording the schema fingerprint"))?;
            tracing::info!(fingerprint = &now[..12], "schema applied; fingerprint recorded");
        }
        crate::metrics::schema_result("applied");
        Ok(())
    }

    /// What applying the snapshot would delete now (empty when Directus is not installed yet).
    pub async fn deletions(&self, snapshot: &Snapshot) -> Result<Deletions, DirectusError> {
        if !deletions::directus_installed(self.db).await.map_err(db_err("reading the Directus schema"))? {
            return Ok(Deletions::default());
        }
        let tracked = deletions::tracked(self.db).await.map_err(db_err("reading the Directus schema"))?;
        Ok(Deletions::between(&tracked, &snapshot.declared))
    }

    /// `trm-init schema --dry-run`: our deletion check, then Directus's own plan; applies nothing.
    /// Ok(true) when a real run would go ahead, Ok(false) when it would refuse.
    pub async fn dry_run(&self) -> Result<bool, DirectusError> {
        let path = self.snapshot_path();
        let snapshot = Snapshot::read(&path)?;
        let deletions = self.deletions(&snapshot).await?;
        if !deletions::directus_installed(self.db).await.map_err(db_err("reading the Directus schema"))? {
            tracing::info!("Directus is not installed on this database yet: a run would bootstrap it, then apply the whole snapshot");
            return Ok(true);
        }
        let plan = self.plan(&path).await?;
        let theirs = Deletions::from_plan(&plan);
        if theirs != deletions {
            tracing::warn!(ours = %deletions, directus = %theirs, "Directus's plan deletes something else than trm-init computed");
        }
        if deletions.is_empty() {
            tracing::info!("the snapshot deletes nothing");
            Ok(true)
        } else if self.config.allow_destructive {
            tracing::warn!(%deletions, "would delete (allowed by schema.allow_destructive)");
            Ok(true)
        } else {
            tracing::error!(%deletions, "would refuse: the snapshot deletes these");
            Ok(false)
        }
    }

    /// Directus's own plan for `path` (`schema apply --dry-run`), as printed lines.
    pub async fn plan(&self, path: &Path) -> Result<Vec<String>, DirectusError> {
        let path_text = path.to_string_lossy();
        Ok(self.cli().run(&["schema", "apply", "--dry-run", &path_text]).await?.lines)
    }
}

/// Preflight's entry point: the step on preflight's locked session.
pub async fn run(ctx: &super::Context<'_>) -> Result<(), Failure> {
    let result = Directus::new(ctx.config, ctx.reaper, &ctx.shutdown, ctx.db).run().await;
    if let Err(e) = &result {
        if !matches!(e, DirectusError::Destructive { .. }) {
            crate::metrics::schema_result("failed");
        }
    }
    result.map_err(Failure::from)
}

/// One line for `trm-init status`: the recorded fingerprint and whether it still matches.
pub async fn status_line(config: &Config, db: &Client) -> String {
    if !config.schema.enabled {
        return "schema: disabled (schema.enabled = false)".into();
    }
    let recorded = match fingerprint::load(db).await {
        Ok(Some(r)) => r,
        Ok(None) => return "schema: never applied by trm-init (no fingerprint recorded)".into(),
        Err(e) => return format!("schema: fingerprint cannot be read: {}", exit::error_chain(&e)),
    };
    let current = async {
        let snapshot = Snapshot::read(&absolute(&config.schema.snapshot)).ok()?;
        let version = installed_version(&config.schema.directus)?;
        let state = fingerprint::database_state(db).await.ok()?;
        Some(fingerprint::compute(&snapshot.normalised, &version, &state))
    }
    .await;
    let verdict = match current {
        Some(now) if now == recorded.fingerprint => "unchanged: the next boot skips bootstrap and apply",
        Some(_) => "changed: the next boot runs bootstrap and apply",
        None => "cannot compare (snapshot or Directus not readable here)",
    };
    format!(
        "schema: fingerprint {} applied {} with Directus {} ({verdict})",
        &recorded.fingerprint[..12.min(recorded.fingerprint.len())],
        recorded.applied_at,
        recorded.directus_version
    )
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

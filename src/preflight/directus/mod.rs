//! Preflight step "directus": bootstrap, the deletion guard on Directus's own diff, and the apply of
//! exactly that diff, in one Node process (`directus-step/step.mjs`, see `helper`).
//!
//! Owns the Directus part of preflight and of the `schema` command, and every decision in it:
//!   1. the snapshot must exist (else exit 70 naming the path) and parse;
//!   2. with `schema.skip_unchanged`, a fingerprint equal to the one recorded after the last apply
//!      (snapshot + Directus version + the database's Directus schema) skips everything below, without
//!      starting Node;
//!   3. the snapshot's `directus:` version against the installed one: another minor is a warning,
//!      another major refuses (70) unless `schema.allow_version_mismatch`;
//!   4. the helper starts and runs `bootstrap` (installs or migrates Directus's system tables);
//!   5. the helper computes Directus's diff (`getSnapshotDiff`); `guard` classifies it the way
//!      apply-diff.js applies it; any deletion refuses with exit 70 listing it and why, unless
//!      `schema.allow_destructive`;
//!   6. the helper applies that same diff (no second diff), then the new fingerprint is recorded.
//!
//! Each helper command is bounded by `schema.timeout` and stopped by the shutdown token; when a
//! command fails and trm-init's own session finds PostgreSQL gone, the error says the database went
//! away (exit 69).
//!
//! The database session (and the advisory lock that serialises replicas, held for the whole preflight)
//! belongs to the caller: this module runs queries on the `Client` it is given, never connects or locks.

pub mod fingerprint;
pub mod guard;
pub mod helper;
pub mod install;
pub mod snapshot;

pub use guard::{Deletions, Verdict};
pub use helper::{Helper, HelperError};
pub use install::{install_dir, installed_version};

use crate::config::{Config, SchemaConfig};
use crate::exit::{self, Failure};
use crate::reaper::Reaper;
use serde_json::{json, Value};
use snapshot::{Snapshot, VersionMatch};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Error)]
pub enum DirectusError {
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error(transparent)]
    Helper(#[from] HelperError),
    #[error("{what}: {source}")]
    Database { what: &'static str, source: tokio_postgres::Error },
    #[error(
        "`{command}`: the database went away while Directus worked ({detail}); nothing of `{command}` is kept \
             where Directus ran it in a transaction; the next boot runs the step again"
    )]
    DatabaseGone { command: String, detail: String },
    #[error(transparent)]
    Shape(#[from] guard::DiffShapeError),
    #[error(
        "the schema snapshot {path} would delete {deletions} (and the data they hold); refusing to apply it. \
         {details}. Put them back in the snapshot, or set schema.allow_destructive = true \
         (TRM_INIT_SCHEMA__ALLOW_DESTRUCTIVE=true) to delete them"
    )]
    Destructive { path: PathBuf, deletions: Deletions, details: String },
    #[error(
        "the schema snapshot {path} was written by Directus {snapshot} but Directus {installed} is installed \
         (another major version: keys it does not know can read as deletions); regenerate it with \
         scripts/make-snapshot.sh, or set schema.allow_version_mismatch = true \
         (TRM_INIT_SCHEMA__ALLOW_VERSION_MISMATCH=true) to apply it anyway"
    )]
    VersionMismatch { path: PathBuf, snapshot: String, installed: String },
}

impl exit::ExitCode for DirectusError {
    fn exit_code(&self) -> u8 {
        match self {
            DirectusError::Helper(e) => e.exit_code(),
            // The one classifier: the connection lost is 69; a failed query or a row of an unexpected
            // type (a hand-altered table) is this step's own failure.
            DirectusError::Database { source, .. } => crate::db::exit_code_for(source, exit::DIRECTUS),
            DirectusError::DatabaseGone { .. } => exit::UNAVAILABLE,
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
    /// `[child]`: its compile-cache keys also serve the helper (which imports Directus's modules).
    pub child: &'a crate::config::ChildConfig,
    pub reaper: &'a Reaper,
    pub shutdown: &'a CancellationToken,
    /// TERM -> KILL for the helper when it overruns `schema.timeout` or meets shutdown.
    pub grace: std::time::Duration,
    pub db: &'a Client,
    /// Announced just before the helper starts (see `preflight::WorkAhead`); None from `schema`.
    pub work_ahead: Option<&'a crate::preflight::WorkAhead>,
}

/// What `plan` found: Directus's diff and the guard's reading of it.
pub struct Plan {
    pub diff: Value,
    pub verdict: Verdict,
}

impl<'a> Directus<'a> {
    pub fn new(config: &'a Config, reaper: &'a Reaper, shutdown: &'a CancellationToken, db: &'a Client) -> Self {
        Directus {
            config: &config.schema,
            child: &config.child,
            reaper,
            shutdown,
            grace: config.child.stop_grace.get(),
            db,
            work_ahead: None,
        }
    }

    /// The snapshot path as Directus must get it: absolute (Directus runs in its own folder).
    fn snapshot_path(&self) -> PathBuf {
        absolute(&self.config.snapshot)
    }

    async fn start_helper(&self) -> Result<Helper<'a>, DirectusError> {
        // The main child's decision, made again without its log line (`run` logs it once, at the spawn).
        let cache = crate::compile_cache::Decision::make(self.child, std::env::var_os(crate::compile_cache::VAR));
        let hook = crate::resolve_hook::Decision::make(self.child, &self.config.step_script);
        let launch = helper::Launch {
            prefix: &self.config.directus,
            script: &self.config.step_script,
            timeout: self.config.timeout.get(),
            grace: self.grace,
            compile_cache: cache.env(),
            resolve_hook: &hook,
        };
        let helper = Helper::start(&launch, self.reaper, self.shutdown).await?;
        let field = |k: &str| helper.ready.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
        let (directus, node) = (field("directus"), field("node"));
        let pid = helper.pid();
        tracing::info!(%directus, %node, pid, "the Directus step helper is ready");
        Ok(helper)
    }

    /// One helper command; a failure while PostgreSQL is gone (seen from trm-init's own session) is
    /// reported as the database going away.
    async fn call(&self, helper: &mut Helper<'_>, name: &str, command: Value) -> Result<Value, DirectusError> {
        match helper.call(name, command).await {
            Ok(done) => Ok(done),
            Err(e @ (HelperError::Cancelled { .. } | HelperError::TimedOut { .. })) => Err(e.into()),
            Err(e) => match self.db.simple_query("SELECT 1").await {
                Err(gone) => Err(DirectusError::DatabaseGone {
                    command: name.to_string(),
                    detail: format!("{}; Directus: {}", exit::error_chain(&gone), exit::error_chain(&e)),
                }),
                Ok(_) => Err(e.into()),
            },
        }
    }

    /// The snapshot's Directus version against the installed one (step 3 of the module comment).
    fn check_version(&self, snapshot: &Snapshot, installed: Option<&str>) -> Result<(), DirectusError> {
        let Some(installed) = installed else { return Ok(()) };
        let written = snapshot.directus.as_deref().unwrap_or("(none)");
        match snapshot::compare_versions(snapshot.directus.as_deref(), installed) {
            VersionMatch::Same => Ok(()),
            VersionMatch::Minor => {
                tracing::warn!(
                    "the schema snapshot was written by Directus {written}, Directus {installed} is installed: \
                     regenerate it with scripts/make-snapshot.sh when convenient"
                );
                Ok(())
            }
            VersionMatch::Unknown => {
                tracing::warn!("the schema snapshot's `directus:` version ({written}) cannot be compared with the installed Directus {installed}");
                Ok(())
            }
            VersionMatch::Major if self.config.allow_version_mismatch => {
                tracing::warn!("the schema snapshot was written by Directus {written}, Directus {installed} is installed (allowed by schema.allow_version_mismatch)");
                Ok(())
            }
            VersionMatch::Major => Err(DirectusError::VersionMismatch {
                path: snapshot.path.clone(),
                snapshot: written.to_string(),
                installed: installed.to_string(),
            }),
        }
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

        if self.config.skip_unchanged && self.unchanged(&snapshot, version.as_deref()).await? {
            crate::metrics::schema_result("skipped");
            return Ok(());
        }
        self.check_version(&snapshot, version.as_deref())?;
        self.reset_unfinished_first_install().await?;

        if let Some(work_ahead) = self.work_ahead {
            work_ahead.announce();
        }
        let mut helper = self.start_helper().await?;
        let result = self.bootstrap_check_apply(&mut helper, &path).await;
        match result {
            Ok(()) => helper.finish().await,
            Err(e) => {
                helper.kill().await;
                return Err(e);
            }
        }

        if let Some(version) = &version {
            let state = fingerprint::database_state(self.db).await.map_err(db_err("reading the Directus schema"))?;
            let now = fingerprint::compute(&snapshot.normalised, version, &state);
            fingerprint::store(self.db, &now, version)
                .await
                .map_err(db_err("recording the schema fingerprint (table trm_init_schema_state)"))?;
            tracing::info!(fingerprint = &now[..12], "schema applied; fingerprint recorded");
        }
        crate::metrics::schema_result("applied");
        Ok(())
    }

    /// Whether the fingerprint says nothing changed since the last apply (logged either way).
    async fn unchanged(&self, snapshot: &Snapshot, version: Option<&str>) -> Result<bool, DirectusError> {
        let Some(version) = version else {
            tracing::warn!(
                directus = ?self.config.directus,
                "the Directus version cannot be read (package.json next to cli.js): the fingerprint skip is off"
            );
            return Ok(false);
        };
        let state = fingerprint::database_state(self.db).await.map_err(db_err("reading the Directus schema"))?;
        let now = fingerprint::compute(&snapshot.normalised, version, &state);
        let recorded = fingerprint::load(self.db)
            .await
            .map_err(db_err("reading the schema fingerprint (table trm_init_schema_state)"))?;
        match recorded {
            Some(r) if r.fingerprint == now => {
                tracing::info!(
                    fingerprint = &now[..12],
                    "schema unchanged since the apply of {} (same snapshot, Directus {version}, same database schema): \
                     bootstrap and schema apply skipped",
                    r.applied_at
                );
                Ok(true)
            }
            Some(r) => {
                tracing::info!(
                    recorded = &r.fingerprint[..12.min(r.fingerprint.len())],
                    now = &now[..12],
                    "schema fingerprint differs from the last apply ({} with Directus {}): running bootstrap and apply",
                    r.applied_at,
                    r.directus_version
                );
                Ok(false)
            }
            None => {
                tracing::info!("no schema fingerprint recorded yet: running bootstrap and apply");
                Ok(false)
            }
        }
    }

    /// Directus's own migrations are not transactional: a first install cut short (the database went
    /// away during `bootstrap`) leaves system tables half migrated, on which every later bootstrap fails.
    /// Such an install holds nothing anyone made: no user, no role, no collection, no fingerprint of an
    /// apply. Only then are its `directus_*` tables dropped, so that bootstrap installs afresh.
    async fn reset_unfinished_first_install(&self) -> Result<(), DirectusError> {
        let what = "checking for a first Directus install cut short";
        // Some system tables may be missing here (the install stopped half way): those it counts rows of
        // must exist.
        let present = fingerprint::system_tables(self.db).await.map_err(db_err(what))?;
        if !["directus_users", "directus_roles", "directus_collections"].iter().all(|t| present.iter().any(|p| p == t))
        {
            return Ok(());
        }
        let made: i64 = self
            .db
            .query_one(
                "SELECT (SELECT count(*) FROM directus_users) + (SELECT count(*) FROM directus_roles) \
                 + (SELECT count(*) FROM directus_collections)",
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(db_err(what))?;
        if made > 0 || fingerprint::load(self.db).await.map_err(db_err(what))?.is_some() {
            return Ok(());
        }
        let tables: Vec<String> = self
            .db
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'directus\\_%'",
                &[],
            )
            .await
            .map_err(db_err(what))?
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<_, _>>()
            .map_err(db_err(what))?;
        tracing::warn!(
            tables = tables.len(),
            "Directus's system tables hold no user, role or collection and no apply was recorded: a first install \
             was cut short; dropping them so that bootstrap installs afresh"
        );
        let list = tables.iter().map(|t| format!("\"{}\"", t.replace('"', "\"\""))).collect::<Vec<_>>().join(", ");
        self.db.batch_execute(&format!("DROP TABLE IF EXISTS {list} CASCADE")).await.map_err(db_err(what))?;
        Ok(())
    }

    async fn bootstrap_check_apply(&self, helper: &mut Helper<'_>, path: &Path) -> Result<(), DirectusError> {
        let started = std::time::Instant::now();
        let bootstrap = self.call(helper, "bootstrap", json!({"cmd": "bootstrap"})).await;
        crate::metrics::phase("bootstrap", if bootstrap.is_ok() { "ok" } else { "failed" }, started.elapsed());
        let done = bootstrap?;
        let installed = done.get("installed").and_then(Value::as_bool).unwrap_or(false);
        tracing::info!(
            "directus bootstrap done ({})",
            if installed { "Directus installed on an empty database" } else { "system tables migrated" }
        );
        let plan = self.diff(helper, path).await?;
        let verdict = &plan.verdict;
        for warning in &verdict.warnings {
            tracing::warn!("schema apply: {warning}");
        }
        if verdict.entries == 0 {
            tracing::info!("the database already matches the snapshot: nothing to apply");
            return Ok(());
        }
        if !verdict.deletions.is_empty() {
            if !self.config.allow_destructive {
                crate::metrics::schema_result("refused");
                return Err(DirectusError::Destructive {
                    path: path.to_path_buf(),
                    deletions: verdict.deletions.clone(),
                    details: verdict.details(),
                });
            }
            tracing::warn!(
                deletions = %verdict.deletions,
                "schema.allow_destructive = true: the apply deletes these, with their data: {}",
                verdict.details()
            );
        }
        tracing::info!(entries = verdict.entries, "applying the snapshot: the diff the guard checked");
        let started = std::time::Instant::now();
        let apply = self.call(helper, "apply", json!({"cmd": "apply"})).await;
        crate::metrics::phase("apply", if apply.is_ok() { "ok" } else { "failed" }, started.elapsed());
        apply?;
        tracing::info!(entries = verdict.entries, "snapshot applied (the diff the guard checked)");
        Ok(())
    }

    /// Directus's diff for the snapshot at `path` and the guard's reading of it.
    async fn diff(&self, helper: &mut Helper<'_>, path: &Path) -> Result<Plan, DirectusError> {
        let done = self.call(helper, "diff", json!({"cmd": "diff", "snapshot": path})).await?;
        let diff = done.get("diff").cloned().unwrap_or(Value::Null);
        let verdict = guard::classify(&diff)?;
        Ok(Plan { diff, verdict })
    }

    /// Directus's diff and the guard's verdict for the configured snapshot, without bootstrap or apply
    /// (Directus must be installed). For `schema --dry-run` and tests.
    pub async fn plan(&self) -> Result<Option<Plan>, DirectusError> {
        if !fingerprint::directus_installed(self.db).await.map_err(db_err("reading the Directus schema"))? {
            return Ok(None);
        }
        let path = self.snapshot_path();
        let mut helper = self.start_helper().await?;
        let plan = self.diff(&mut helper, &path).await;
        match &plan {
            Ok(_) => helper.finish().await,
            Err(_) => helper.kill().await,
        }
        plan.map(Some)
    }

    /// `trm-init schema --dry-run`: the version check, Directus's plan and the guard's verdict; applies
    /// nothing. Ok(true) when a real run would go ahead, Ok(false) when it would refuse.
    pub async fn dry_run(&self) -> Result<bool, DirectusError> {
        let path = self.snapshot_path();
        let snapshot = Snapshot::read(&path)?;
        if let Err(e) = self.check_version(&snapshot, installed_version(&self.config.directus).as_deref()) {
            tracing::error!("would refuse: {e}");
            return Ok(false);
        }
        let Some(plan) = self.plan().await? else {
            tracing::info!("Directus is not installed on this database yet: a run would bootstrap it, then apply the whole snapshot");
            return Ok(true);
        };
        let lines = guard::plan(&plan.diff);
        if lines.is_empty() {
            tracing::info!("Directus's plan: no changes to apply");
        }
        for line in lines {
            tracing::info!("[plan] {line}");
        }
        for warning in &plan.verdict.warnings {
            tracing::warn!("{warning}");
        }
        let deletions = &plan.verdict.deletions;
        if deletions.is_empty() {
            tracing::info!("the snapshot deletes nothing");
            Ok(true)
        } else if self.config.allow_destructive {
            tracing::warn!(%deletions, "would delete (allowed by schema.allow_destructive): {}", plan.verdict.details());
            Ok(true)
        } else {
            tracing::error!(%deletions, "would refuse: {}", plan.verdict.details());
            Ok(false)
        }
    }
}

/// Preflight's entry point: the step on preflight's locked session.
pub async fn run(ctx: &super::Context<'_>) -> Result<(), Failure> {
    let step =
        Directus { work_ahead: Some(ctx.work_ahead), ..Directus::new(ctx.config, ctx.reaper, &ctx.shutdown, ctx.db) };
    let result = step.run().await;
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

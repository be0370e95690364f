//! db-init: applies `db_init.pre_dir` (before the Directus schema) and `db_init.post_dir` (after it).
//!
//! Owns the migration run on a session that already holds the preflight lock: the required-extension
//! check, the history table, the verdict per file (applied / pending / changed / missing / out of
//! order), applying pending files, and the log lines and summary. Connecting and the lock are `db`'s.

mod apply;
pub(crate) mod extensions;
pub mod files;
mod history;
pub(crate) mod plan;
pub(crate) mod sql_text;

use crate::config::Config;
use crate::db::{DbError, Session};
use crate::exit;
use files::{FolderProblem, MigrationFile};
use plan::State;
use std::fmt;
use std::path::Path;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Pre,
    Post,
}

const POST_PREFIX: &str = "post/";

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Pre => "pre",
            Phase::Post => "post",
        }
    }

    pub(crate) fn dir(self, config: &Config) -> &Path {
        match self {
            Phase::Pre => &config.db_init.pre_dir,
            Phase::Post => &config.db_init.post_dir,
        }
    }

    pub(crate) fn config_key(self) -> &'static str {
        match self {
            Phase::Pre => "db_init.pre_dir",
            Phase::Post => "db_init.post_dir",
        }
    }

    /// The `filename` recorded for `file` (post-schema files carry a prefix).
    pub(crate) fn history_name(self, file: &str) -> String {
        match self {
            Phase::Pre => file.to_string(),
            Phase::Post => format!("{POST_PREFIX}{file}"),
        }
    }

    /// The file name behind a recorded `filename`, if it belongs to this phase.
    pub(crate) fn file_of(self, recorded: &str) -> Option<&str> {
        match self {
            Phase::Pre => (!recorded.starts_with(POST_PREFIX)).then_some(recorded),
            Phase::Post => recorded.strip_prefix(POST_PREFIX),
        }
    }
}

/// A migration file that failed on the server.
#[derive(Debug)]
pub(crate) struct FileFailure {
    pub(crate) phase: Phase,
    pub(crate) file: String,
    pub(crate) sqlstate: Option<String>,
    pub(crate) message: String,
    pub(crate) detail: Option<String>,
    pub(crate) hint: Option<String>,
    pub(crate) context: Option<String>,
    /// Line and column in the file.
    pub(crate) position: Option<(usize, usize)>,
    /// A no-transaction file whose earlier statements stay applied.
    pub(crate) partial: bool,
    /// The connection to PostgreSQL was lost while the file ran (`db::connection_lost`).
    pub(crate) lost: bool,
}

impl fmt::Display for FileFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} failed", self.phase.name(), self.file)?;
        if let Some((line, col)) = self.position {
            write!(f, " at line {line}, column {col}")?;
        }
        write!(f, ": ")?;
        if let Some(code) = &self.sqlstate {
            write!(f, "SQLSTATE {code} ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "; detail: {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        if let Some(c) = &self.context {
            write!(f, "; context: {}", c.replace('\n', " / "))?;
        }
        if self.partial {
            write!(f, "; the file runs outside a transaction: its earlier statements stay applied; it is not recorded")
        } else {
            write!(f, "; nothing of this file was applied or recorded")
        }
    }
}

#[derive(Debug, Error)]
pub(crate) enum MigrationError {
    #[error("{key}: {message}")]
    Folder { key: &'static str, message: String },
    #[error("{phase}: {dir}: {}", problems.join("; "))]
    Files { phase: &'static str, dir: String, problems: Vec<String> },
    #[error("{phase}: {} changed after it was applied (a file must not change once applied; add a new file instead): {}", if list.len() == 1 { "a migration" } else { "migrations" }, list.join("; "))]
    Changed { phase: &'static str, list: Vec<String> },
    #[error("{phase}: new file(s) {} sort before the last applied file {last}; rename them to sort last, or set db_init.allow_out_of_order = true", list.join(", "))]
    OutOfOrder { phase: &'static str, list: Vec<String>, last: String },
    #[error("{0}")]
    Failed(Box<FileFailure>),
    #[error("db_init.required_extensions: {0}")]
    Extension(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl exit::ExitCode for MigrationError {
    fn exit_code(&self) -> u8 {
        match self {
            MigrationError::Folder { .. } | MigrationError::Extension(_) => exit::CONFIG,
            MigrationError::Files { .. } | MigrationError::Changed { .. } | MigrationError::OutOfOrder { .. } => {
                exit::MIGRATION
            }
            // The one classifier (`db::connection_lost`): the connection lost is 69, a failure 65.
            MigrationError::Failed(f) => crate::db::step_code(f.lost, exit::MIGRATION),
            // A history-table query that failed is part of the migration run.
            MigrationError::Db(DbError::Query { lost, .. }) => crate::db::step_code(*lost, exit::MIGRATION),
            MigrationError::Db(DbError::Row { .. }) => exit::MIGRATION,
            MigrationError::Db(e) => e.exit_code(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Apply,
    /// Report what would be applied; write nothing (the history table is not even created).
    DryRun,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) applied: usize,
    pub(crate) skipped: usize,
}

/// Loads and validates the folder of `phase`.
pub(crate) fn load(config: &Config, phase: Phase) -> Result<Vec<MigrationFile>, MigrationError> {
    let dir = phase.dir(config);
    files::load(dir).map_err(|p| match p {
        FolderProblem::Unreadable(message) => MigrationError::Folder { key: phase.config_key(), message },
        FolderProblem::BadNames(problems) => {
            MigrationError::Files { phase: phase.name(), dir: dir.display().to_string(), problems }
        }
    })
}

/// Runs one phase on a session that holds the preflight lock (not needed for `Mode::DryRun`).
pub(crate) async fn run(
    session: &Session,
    config: &Config,
    phase: Phase,
    mode: Mode,
    shutdown: &CancellationToken,
    work_ahead: &crate::preflight::WorkAhead,
) -> Result<Summary, MigrationError> {
    let files = load(config, phase)?;
    let table = &config.db_init.table;
    let recorded = match mode {
        Mode::Apply => {
            history::ensure(session, table).await?;
            history::read(session, table, phase).await?
        }
        Mode::DryRun if history::exists(session, table).await? => history::read(session, table, phase).await?,
        Mode::DryRun => Default::default(),
    };
    let items = plan::plan(&files, &recorded);
    refuse_unsafe(phase, &items, config.db_init.allow_out_of_order, &recorded)?;

    let insert = match mode {
        Mode::Apply if items.iter().any(|i| matches!(i.state, State::Pending | State::OutOfOrder)) => {
            Some(history::prepare_insert(session, table).await?)
        }
        _ => None,
    };
    if insert.is_some() {
        work_ahead.announce();
    }
    let mut summary = Summary::default();
    let last_pending = items.iter().rposition(|i| matches!(i.state, State::Pending | State::OutOfOrder));
    for (index, item) in items.iter().enumerate() {
        let p = phase.name();
        match (&item.state, item.file) {
            (State::Missing, _) => tracing::warn!(
                phase = p,
                file = %item.name,
                "{p}: {} is recorded as applied but the file is gone from {}",
                item.name,
                phase.dir(config).display()
            ),
            (State::Applied, _) => {
                summary.skipped += 1;
                tracing::info!(phase = p, file = %item.name, "{p}: {} skipped (already applied)", item.name);
            }
            (State::Pending | State::OutOfOrder, Some(file)) => {
                if mode == Mode::DryRun {
                    summary.applied += 1;
                    tracing::info!(phase = p, file = %item.name, "{p}: {} would be applied (dry run)", item.name);
                    continue;
                }
                let flush = if Some(index) == last_pending { apply::Flush::Wait } else { apply::Flush::Later };
                let Some(insert) = &insert else { continue };
                let ms = apply::apply(session, phase, file, insert, flush, shutdown).await?;
                summary.applied += 1;
                let how = if file.no_transaction { " (no transaction)" } else { "" };
                tracing::info!(phase = p, file = %item.name, duration_ms = ms, "{p}: {} applied in {ms} ms{how}", item.name);
            }
            _ => {}
        }
    }
    let verb = if mode == Mode::DryRun { "to apply (dry run)" } else { "applied" };
    tracing::info!(
        phase = phase.name(),
        applied = summary.applied,
        skipped = summary.skipped,
        "{}: {} {verb}, {} skipped",
        phase.name(),
        summary.applied,
        summary.skipped
    );
    Ok(summary)
}

/// Changed files always stop the run; out-of-order files unless allowed (then a warning).
fn refuse_unsafe(
    phase: Phase,
    items: &[plan::Item<'_>],
    allow_out_of_order: bool,
    recorded: &std::collections::BTreeMap<String, String>,
) -> Result<(), MigrationError> {
    let changed: Vec<String> = items
        .iter()
        .filter_map(|i| match (&i.state, i.file) {
            (State::Changed { recorded }, Some(f)) => {
                Some(format!("{} (recorded checksum {recorded}, file now {})", i.name, f.checksum))
            }
            _ => None,
        })
        .collect();
    if !changed.is_empty() {
        return Err(MigrationError::Changed { phase: phase.name(), list: changed });
    }
    let late: Vec<String> = items.iter().filter(|i| i.state == State::OutOfOrder).map(|i| i.name.clone()).collect();
    if !late.is_empty() {
        let last = recorded.keys().next_back().cloned().unwrap_or_default();
        if !allow_out_of_order {
            return Err(MigrationError::OutOfOrder { phase: phase.name(), list: late, last });
        }
        tracing::warn!(phase = phase.name(), files = ?late, "{}: applying files that sort before the last applied one ({last}) because db_init.allow_out_of_order = true", phase.name());
    }
    Ok(())
}

/// One line of `trm-init status`.
pub(crate) struct StatusLine {
    pub(crate) name: String,
    pub(crate) state: State,
}

/// The verdict for every file of `phase`, without taking the lock or writing anything.
pub(crate) async fn status(
    session: &Session,
    config: &Config,
    phase: Phase,
) -> Result<Vec<StatusLine>, MigrationError> {
    let files = load(config, phase)?;
    let table = &config.db_init.table;
    let recorded = if history::exists(session, table).await? {
        history::read(session, table, phase).await?
    } else {
        Default::default()
    };
    Ok(plan::plan(&files, &recorded).into_iter().map(|i| StatusLine { name: i.name, state: i.state }).collect())
}

/// For `check`: the folder's migration files, or the problems that would stop a run.
pub(crate) fn check_folder(dir: &Path) -> Result<usize, Vec<String>> {
    match files::migration_names(dir) {
        Ok(names) => Ok(names.len()),
        Err(FolderProblem::Unreadable(m)) => Err(vec![m]),
        Err(FolderProblem::BadNames(p)) => Err(p),
    }
}

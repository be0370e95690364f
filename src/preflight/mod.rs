//! Preflight: the ordered steps that run before the main child starts.
//!
//! Owns the order (db-init pre -> Directus bootstrap + schema apply -> db-init post -> access), the one database
//! session they share (connected by waiting for the server, holding the preflight lock for the whole
//! preflight so replicas take turns), and the logging of each step's start, end and duration. Steps
//! get what they need through `Context`; a step that runs a process spawns it through the reaper and
//! stops it when `shutdown` is cancelled.

pub mod access;
pub mod db_init;
pub mod directus;
pub mod state;

use crate::config::Config;
use crate::db::{self, Locking, Session};
use crate::exit::Failure;
use crate::logging::PhaseTimer;
use crate::reaper::Reaper;
use tokio_util::sync::CancellationToken;

/// What every step may use. `shutdown` is cancelled by a stop signal: stop the running work at once.
/// `db` holds the preflight lock; it derefs to `tokio_postgres::Client`. `work_ahead`: announced by a
/// step that is about to do real work (see `WorkAhead`).
pub struct Context<'a> {
    pub config: &'a Config,
    pub reaper: &'a Reaper,
    pub shutdown: CancellationToken,
    pub db: &'a Session,
    pub work_ahead: &'a WorkAhead,
}

/// Announced once a step is about to do real work: db-init applies a migration, the Directus step starts
/// its helper. `run` (with `child.preload`) spawns the preloaded main child then, so a preflight that
/// skips everything (a warm restart: every step skipped by its history or fingerprint) never has one
/// beside it and the child starts after it, as without preload. Announcing again changes nothing.
#[derive(Default)]
pub struct WorkAhead {
    notify: tokio::sync::Notify,
    announced: std::sync::atomic::AtomicBool,
}

impl WorkAhead {
    pub fn announce(&self) {
        if !self.announced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // notify_one keeps the wake-up for a waiter that comes later.
            self.notify.notify_one();
        }
    }

    /// Resolves once the work has been announced (for one waiter).
    pub async fn announced(&self) {
        self.notify.notified().await
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    DbInitPre,
    Directus,
    DbInitPost,
    Access,
}

pub(crate) const ORDER: [Step; 4] = [Step::DbInitPre, Step::Directus, Step::DbInitPost, Step::Access];

impl Step {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Step::DbInitPre => "db-init pre",
            Step::Directus => "directus schema",
            Step::DbInitPost => "db-init post",
            Step::Access => "access",
        }
    }
}

/// Connects (waiting for the server), takes the preflight lock, runs every step in order, and
/// releases the lock on every path; the first failure ends preflight.
pub(crate) async fn run(
    config: &Config,
    reaper: &Reaper,
    shutdown: CancellationToken,
    work_ahead: &WorkAhead,
) -> Result<(), Failure> {
    let all = PhaseTimer::start("preflight");
    let result = with_session(config, reaper, shutdown, work_ahead).await;
    all.end(if result.is_ok() { "ok" } else { "failed" });
    result
}

async fn with_session(
    config: &Config,
    reaper: &Reaper,
    shutdown: CancellationToken,
    work_ahead: &WorkAhead,
) -> Result<(), Failure> {
    db::with_session(config, Locking::Hold, &shutdown, async |session| {
        run_steps(&Context { config, reaper, shutdown: shutdown.clone(), db: session, work_ahead }).await
    })
    .await
}

async fn run_steps(ctx: &Context<'_>) -> Result<(), Failure> {
    for step in ORDER {
        let timer = PhaseTimer::start(step.name());
        match run_step(step, ctx).await {
            Ok(()) => timer.end("ok"),
            Err(failure) => {
                timer.end("failed");
                return Err(failure.context(step.name()));
            }
        }
    }
    Ok(())
}

async fn run_step(step: Step, ctx: &Context<'_>) -> Result<(), Failure> {
    match step {
        Step::DbInitPre => {
            db_init::extensions::check(ctx.db, &ctx.config.db_init.required_extensions).await?;
            db_init_step(ctx, db_init::Phase::Pre).await
        }
        Step::Directus => directus::run(ctx).await,
        Step::DbInitPost => db_init_step(ctx, db_init::Phase::Post).await,
        Step::Access => access::run(ctx).await,
    }
}

async fn db_init_step(ctx: &Context<'_>, phase: db_init::Phase) -> Result<(), Failure> {
    let summary = db_init::run(ctx.db, ctx.config, phase, db_init::Mode::Apply, &ctx.shutdown, ctx.work_ahead).await?;
    crate::metrics::migrations_applied(phase.name(), summary.applied);
    Ok(())
}

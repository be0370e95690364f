//! Preflight: the ordered steps that run before the main child starts.
//!
//! Owns the order (db-init pre -> Directus bootstrap + schema apply -> db-init post) and the logging of
//! each step's start, end and duration. Steps get what they need through `Context`; a step that runs a
//! process spawns it through the reaper and stops it when `shutdown` is cancelled.

pub mod directus;

use crate::config::Config;
use crate::exit::Failure;
use crate::logging::PhaseTimer;
use crate::reaper::Reaper;
use tokio_util::sync::CancellationToken;

/// What every step may use. `shutdown` is cancelled by a stop signal: stop the running work at once.
pub struct Context<'a> {
    pub config: &'a Config,
    pub reaper: &'a Reaper,
    pub shutdown: CancellationToken,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    DbInitPre,
    Directus,
    DbInitPost,
}

pub const ORDER: [Step; 3] = [Step::DbInitPre, Step::Directus, Step::DbInitPost];

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::DbInitPre => "db-init pre",
            Step::Directus => "directus schema",
            Step::DbInitPost => "db-init post",
        }
    }
}

/// Runs every step in order; the first failure ends preflight.
pub async fn run(ctx: &Context<'_>) -> Result<(), Failure> {
    let all = PhaseTimer::start("preflight");
    for step in ORDER {
        let timer = PhaseTimer::start(step.name());
        match run_step(step, ctx).await {
            Ok(()) => timer.end("ok"),
            Err(failure) => {
                timer.end("failed");
                all.end("failed");
                return Err(failure.context(step.name()));
            }
        }
    }
    all.end("ok");
    Ok(())
}

async fn run_step(step: Step, ctx: &Context<'_>) -> Result<(), Failure> {
    match step {
        // Until src/db provides the locked session: a plain connection of its own.
        Step::Directus => {
            let db = crate::commands::db_session::connect(ctx.config).await?;
            directus::run(ctx, &db).await
        }
        _ => Err(Failure::new(crate::exit::CONFIG, format!("step {:?} is not implemented in this build", step))),
    }
}

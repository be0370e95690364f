//! `trm-init db-init [--phase pre|post|all] [--dry-run]`: the migrations only, under the same
//! preflight lock as `run` (a dry run reads without the lock and writes nothing). Prints
//! `<phase>: N applied, M skipped` per phase on stdout. A stop signal cancels the running statement
//! on the server and exits 128 + n.

use crate::cli::{DbInitArgs, MigrationPhase};
use crate::config::database::DbSettings;
use crate::config::Config;
use crate::db::{self, Session};
use crate::exit::Failure;
use crate::preflight::db_init::{self, Mode, Phase};
use crate::reaper::Reaper;
use crate::{signals, supervisor};
use tokio_util::sync::CancellationToken;

pub async fn db_init(args: DbInitArgs, config: Config) -> Result<u8, Failure> {
    let mut signals = signals::listen().map_err(|e| Failure::new(1, format!("cannot install signal handlers: {e}")))?;
    let reaper = Reaper::new();
    let shutdown = CancellationToken::new();
    let (result, stop) = supervisor::drive(&mut signals, &reaper, &shutdown, work(&args, &config, &shutdown)).await;
    if let Some(sig) = stop {
        tracing::warn!(signal = %signals::name(sig), "db-init stopped by signal");
        return Ok(128 + sig as u8);
    }
    result.map(|()| 0)
}

pub fn phases(which: MigrationPhase) -> &'static [Phase] {
    match which {
        MigrationPhase::Pre => &[Phase::Pre],
        MigrationPhase::Post => &[Phase::Post],
        MigrationPhase::All => &[Phase::Pre, Phase::Post],
    }
}

async fn work(args: &DbInitArgs, config: &Config, shutdown: &CancellationToken) -> Result<(), Failure> {
    // Folder problems are reported before waiting for the database.
    for phase in phases(args.phase) {
        db_init::load(config, *phase)?;
    }
    let settings = DbSettings::from_env()?;
    let session = db::connect(&settings, config.database.wait_timeout.get(), shutdown).await?;
    let result = if args.dry_run {
        apply_phases(&session, config, args, shutdown).await
    } else {
        let key = db::lock::key_for(&config.db_init.table);
        let work = apply_phases(&session, config, args, shutdown);
        db::lock::holding(&session, key, config.database.lock_timeout.get(), shutdown, work).await
    };
    session.close().await;
    result
}

async fn apply_phases(
    session: &Session,
    config: &Config,
    args: &DbInitArgs,
    shutdown: &CancellationToken,
) -> Result<(), Failure> {
    db_init::extensions::check(session, &config.db_init.required_extensions).await?;
    let mode = if args.dry_run { Mode::DryRun } else { Mode::Apply };
    for phase in phases(args.phase) {
        let s = db_init::run(session, config, *phase, mode, shutdown).await?;
        if args.dry_run {
            println!("{}: {} to apply, {} skipped (dry run)", phase.name(), s.applied, s.skipped);
        } else {
            println!("{}: {} applied, {} skipped", phase.name(), s.applied, s.skipped);
        }
    }
    Ok(())
}

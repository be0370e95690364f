//! `trm-init db-init [--phase pre|post|all] [--dry-run]`: the migrations only, under the same
//! preflight lock as `run` (a dry run reads without the lock and writes nothing). Prints
//! `<phase>: N applied, M skipped` per phase on stdout. A stop signal cancels the running statement
//! on the server and exits 128 + n.

use crate::cli::{DbInitArgs, MigrationPhase};
use crate::config::Config;
use crate::db::{self, Locking, Session};
use crate::exit::Failure;
use crate::init::{Init, Orphans};
use crate::preflight::db_init::{self, Mode, Phase};
use tokio_util::sync::CancellationToken;

pub(super) async fn db_init(args: DbInitArgs, config: Config) -> Result<u8, Failure> {
    let init = Init::start(Orphans::Leave)?;
    let shutdown = init.shutdown.clone();
    init.command("db-init", async {
        // Folder problems are reported before waiting for the database.
        for phase in phases(args.phase) {
            db_init::load(&config, *phase)?;
        }
        let locking = if args.dry_run { Locking::None } else { Locking::Hold };
        db::with_session(&config, locking, &shutdown, async |session| {
            apply_phases(session, &config, &args, &shutdown).await
        })
        .await?;
        Ok(0)
    })
    .await
}

fn phases(which: MigrationPhase) -> &'static [Phase] {
    match which {
        MigrationPhase::Pre => &[Phase::Pre],
        MigrationPhase::Post => &[Phase::Post],
        MigrationPhase::All => &[Phase::Pre, Phase::Post],
    }
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
        let s = db_init::run(session, config, *phase, mode, shutdown, &Default::default()).await?;
        if args.dry_run {
            println!("{}: {} to apply, {} skipped (dry run)", phase.name(), s.applied, s.skipped);
        } else {
            println!("{}: {} applied, {} skipped", phase.name(), s.applied, s.skipped);
        }
    }
    Ok(())
}

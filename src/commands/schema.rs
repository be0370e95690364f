//! `trm-init schema [--dry-run]`: the Directus step alone (bootstrap + schema apply) under the same
//! preflight lock as `run`, or its plan (our deletion check and Directus's own `--dry-run`; no lock,
//! nothing applied; exit 70 when a real run would refuse the snapshot).

use crate::cli::SchemaArgs;
use crate::config::database::DbSettings;
use crate::config::Config;
use crate::db;
use crate::exit::{self, Failure};
use crate::preflight::directus::Directus;
use crate::reaper::Reaper;
use crate::{signals, supervisor};
use tokio_util::sync::CancellationToken;

pub async fn schema(args: SchemaArgs, config: Config) -> Result<u8, Failure> {
    let mut signals = signals::listen().map_err(|e| Failure::new(1, format!("cannot install signal handlers: {e}")))?;
    let reaper = Reaper::new();
    let shutdown = CancellationToken::new();
    let (result, stop) =
        supervisor::drive(&mut signals, &reaper, &shutdown, work(&args, &config, &reaper, &shutdown)).await;
    if let Some(sig) = stop {
        tracing::warn!(signal = %signals::name(sig), "schema stopped by signal");
        return Ok(128 + sig as u8);
    }
    result
}

async fn work(
    args: &SchemaArgs,
    config: &Config,
    reaper: &Reaper,
    shutdown: &CancellationToken,
) -> Result<u8, Failure> {
    let settings = DbSettings::from_env()?;
    let session = db::connect(&settings, config.database.wait_timeout.get(), shutdown).await?;
    let step = Directus::new(config, reaper, shutdown, &session);
    let result = if args.dry_run {
        step.dry_run().await.map(|go| if go { 0 } else { exit::DIRECTUS }).map_err(Failure::from)
    } else {
        let key = db::lock::key_for(&config.db_init.table);
        let work = async { step.run().await.map(|()| 0).map_err(Failure::from) };
        db::lock::holding(&session, key, config.database.lock_timeout.get(), shutdown, work).await
    };
    session.close().await;
    result
}

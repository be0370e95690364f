//! `trm-init schema [--dry-run]`: the Directus step alone (bootstrap + schema apply), or its plan.
//!
//! Owns the command's process setup (signals, reaper) around `preflight::directus`. The database session
//! comes from `db_session` (until `src/db` provides the locked session preflight uses).

use crate::cli::SchemaArgs;
use crate::config::Config;
use crate::exit::{self, Failure};
use crate::preflight::directus::Directus;
use crate::reaper::Reaper;
use crate::{signals, supervisor};
use tokio_util::sync::CancellationToken;

pub async fn schema(args: SchemaArgs, config: Config) -> Result<u8, Failure> {
    let mut signals = signals::listen().map_err(|e| Failure::new(1, format!("cannot install signal handlers: {e}")))?;
    let reaper = Reaper::new();
    let shutdown = CancellationToken::new();
    let work = async {
        let db = super::db_session::connect(&config).await?;
        let step = Directus::new(&config, &reaper, &shutdown, &db);
        if args.dry_run {
            match step.dry_run().await? {
                true => Ok(0),
                false => Ok(exit::DIRECTUS),
            }
        } else {
            step.run().await?;
            Ok(0)
        }
    };
    let (result, stop): (Result<u8, Failure>, _) = supervisor::drive(&mut signals, &reaper, &shutdown, work).await;
    if let Some(sig) = stop {
        return Ok(128 + sig as u8);
    }
    result
}

//! `trm-init schema [--dry-run]`: the Directus step alone (bootstrap + schema apply) under the same
//! preflight lock as `run`, or its plan (our deletion check and Directus's own `--dry-run`; no lock,
//! nothing applied; exit 70 when a real run would refuse the snapshot).

use crate::cli::SchemaArgs;
use crate::config::Config;
use crate::db::{self, Locking};
use crate::exit::{self, Failure};
use crate::init::{Init, Orphans};
use crate::preflight::directus::Directus;

pub(super) async fn schema(args: SchemaArgs, config: Config) -> Result<u8, Failure> {
    let init = Init::start(Orphans::Leave)?;
    let (reaper, shutdown) = (init.reaper.clone(), init.shutdown.clone());
    let locking = if args.dry_run { Locking::None } else { Locking::Hold };
    init.command(
        "schema",
        db::with_session(&config, locking, &shutdown, async |session| {
            let step = Directus::new(&config, &reaper, &shutdown, session);
            if args.dry_run {
                Ok(if step.dry_run().await? { 0 } else { exit::DIRECTUS })
            } else {
                step.run().await?;
                Ok(0)
            }
        }),
    )
    .await
}

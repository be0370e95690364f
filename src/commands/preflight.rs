//! `trm-init preflight`: the whole preflight of `run` (wait, db-init pre, Directus bootstrap + guarded
//! apply, db-init post, access), then exit 0 without starting the main child or the health server. What a CI
//! job and a Kubernetes migration Job run; its exit codes are `run`'s.

use crate::config::Config;
use crate::exit::Failure;
use crate::init::{Init, Orphans};
use crate::preflight;

pub(super) async fn preflight(config: Config) -> Result<u8, Failure> {
    if !config.preflight.enabled {
        tracing::warn!("preflight.enabled = false is ignored by `trm-init preflight`, which runs it by definition");
    }
    let init = Init::start(Orphans::Adopt)?;
    let (reaper, shutdown) = (init.reaper.clone(), init.shutdown.clone());
    init.command("preflight", async {
        preflight::run(&config, &reaper, shutdown.clone(), &preflight::WorkAhead::default()).await?;
        tracing::info!("preflight done: exiting without starting the main child (`trm-init preflight`)");
        Ok(0)
    })
    .await
}

//! `trm-init access export|apply|matrix`: the access step's commands. `export` reads only (no lock);
//! `apply` runs the step alone under the preflight lock, as preflight does; `matrix` reads only the file.

use crate::cli::AccessCommand;
use crate::config::Config;
use crate::db::{self, Locking};
use crate::exit::Failure;
use crate::init::{Init, Orphans};
use crate::preflight::access::{self, file::AccessFile};
use tokio_util::sync::CancellationToken;

/// Every `access` command runs on the init scaffold: as a container's PID 1 (whose default
/// dispositions ignore TERM) a stop signal still ends it, with 143.
pub(super) async fn access(cmd: AccessCommand, config: Config) -> Result<u8, Failure> {
    let init = Init::start(Orphans::Leave)?;
    let shutdown = init.shutdown.clone();
    init.command("access", run(cmd, &config, &shutdown)).await
}

async fn run(cmd: AccessCommand, config: &Config, shutdown: &CancellationToken) -> Result<u8, Failure> {
    let (config, shutdown) = (config, shutdown.clone());
    let path = access::file_path(config);
    match cmd {
        AccessCommand::Matrix => {
            let (file, _) = AccessFile::read(&path)?;
            let source = path.file_name().map(|n| format!("snapshots/{}", n.to_string_lossy())).unwrap_or_default();
            print!("{}", access::matrix::markdown(&file, &source));
            Ok(0)
        }
        AccessCommand::Export => {
            let membership = access::membership_of(&path);
            db::with_session(config, Locking::None, &shutdown, async |session| -> Result<u8, Failure> {
                let export = session.cancellable(&shutdown, access::export(session, &membership)).await?;
                print!("{}", export?);
                Ok(0)
            })
            .await
        }
        AccessCommand::Apply => {
            db::with_session(config, Locking::Hold, &shutdown, async |session| -> Result<u8, Failure> {
                access::apply(config, session, &shutdown).await?;
                Ok(0)
            })
            .await
        }
    }
}

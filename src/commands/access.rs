//! `trm-init access export|apply|matrix`: the access step's commands. `export` reads only (no lock);
//! `apply` runs the step alone under the preflight lock, as preflight does; `matrix` reads only the file.

use crate::cli::AccessCommand;
use crate::config::Config;
use crate::db::{self, Locking};
use crate::exit::Failure;
use crate::preflight::access::{self, file::AccessFile};
use tokio_util::sync::CancellationToken;

pub(super) async fn access(cmd: AccessCommand, config: Config) -> Result<u8, Failure> {
    let path = access::file_path(&config);
    // A stop signal ends these commands by default: nothing runs that must be stopped in order.
    let shutdown = CancellationToken::new();
    match cmd {
        AccessCommand::Matrix => {
            let (file, _) = AccessFile::read(&path)?;
            let source = path.file_name().map(|n| format!("snapshots/{}", n.to_string_lossy())).unwrap_or_default();
            print!("{}", access::matrix::markdown(&file, &source));
            Ok(0)
        }
        AccessCommand::Export => {
            let membership = access::membership_of(&path);
            db::with_session(&config, Locking::None, &shutdown, async |session| -> Result<u8, Failure> {
                print!("{}", access::export(session, &membership).await?);
                Ok(0)
            })
            .await
        }
        AccessCommand::Apply => {
            db::with_session(&config, Locking::Hold, &shutdown, async |session| -> Result<u8, Failure> {
                access::apply(&config, session).await?;
                Ok(0)
            })
            .await
        }
    }
}

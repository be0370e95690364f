//! `trm-init access export|apply|matrix`: the access step's commands. `export` reads only (no lock);
//! `apply` runs the step alone under the preflight lock, as preflight does; `matrix` reads only the file.

use crate::cli::AccessCommand;
use crate::config::database::DbSettings;
use crate::config::Config;
use crate::db;
use crate::exit::{self, Failure};
use crate::preflight::access::{self, file::AccessFile};
use tokio_util::sync::CancellationToken;

pub async fn access(cmd: AccessCommand, config: Config) -> Result<u8, Failure> {
    let path = access::file_path(&config);
    if let AccessCommand::Matrix = cmd {
        let (file, _) = AccessFile::read(&path).map_err(Failure::from)?;
        let source = path.file_name().map(|n| format!("snapshots/{}", n.to_string_lossy())).unwrap_or_default();
        print!("{}", access::matrix::markdown(&file, &source));
        return Ok(0);
    }
    // A stop signal ends the process by default here: nothing runs that must be stopped in order.
    let shutdown = CancellationToken::new();
    let settings = DbSettings::from_env()?;
    let session = db::connect(&settings, config.database.wait_timeout.get(), &shutdown).await?;
    let result = match cmd {
        AccessCommand::Export => match access::export(&session, &access::membership_of(&path)).await {
            Ok(text) => {
                print!("{text}");
                Ok(0)
            }
            Err(e) => Err(Failure::from(e)),
        },
        _ => {
            let key = db::lock::key_for(&config.db_init.table);
            let work = async { access::apply(&config, &session).await.map(|_| 0).map_err(Failure::from) };
            db::lock::holding(&session, key, config.database.lock_timeout.get(), &shutdown, work).await
        }
    };
    session.close().await;
    result.map_err(|f: Failure| if f.code == 0 { Failure::new(exit::DIRECTUS, f.message) } else { f })
}

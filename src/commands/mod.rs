//! One module per subcommand. Each returns an exit code or a `Failure`; `main` reports failures.

mod check;
pub(crate) mod db_session;
mod run;
mod schema;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::exit::Failure;

pub async fn dispatch(cli: Cli, config: Config) -> Result<u8, Failure> {
    match cli.command {
        None => run::run(cli.run, config).await,
        Some(Command::Run(args)) => run::run(args, config).await,
        Some(Command::Check) => check::check(&config),
        Some(Command::Schema(args)) => schema::schema(args, config).await,
        Some(Command::Health(_)) | Some(Command::DbInit(_)) | Some(Command::Status) => {
            Err(Failure::new(crate::exit::USAGE, "this subcommand is not available in this build"))
        }
    }
}

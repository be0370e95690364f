//! One module per subcommand. Each returns an exit code or a `Failure`; `main` reports failures.
//! The shared prologues live elsewhere: becoming an init (`init::Init`), the database session with the
//! preflight lock (`db::with_session`).

mod access;
mod check;
mod db_init;
mod health;
mod ledger;
mod preflight;
mod run;
mod schema;
mod status;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::exit::Failure;

pub(crate) async fn dispatch(cli: Cli, config: Config) -> Result<u8, Failure> {
    match cli.command {
        None => run::run(cli.run, config).await,
        Some(Command::Run(args)) => run::run(args, config).await,
        Some(Command::Preflight) => preflight::preflight(config).await,
        Some(Command::Check) => check::check(&config),
        Some(Command::DbInit(args)) => db_init::db_init(args, config).await,
        Some(Command::Status) => status::status(config).await,
        Some(Command::Health(args)) => health::health(args, &config).await,
        Some(Command::Schema(args)) => schema::schema(args, config).await,
        Some(Command::Access(cmd)) => access::access(cmd, config).await,
        Some(Command::Ledger(cmd)) => ledger::ledger(cmd, config).await,
    }
}

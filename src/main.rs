//! Entry point: parse the command line, load the configuration, start logging, run one command.

use std::process::ExitCode;
use trm_init::cli::{Cli, Command};
use trm_init::config::Config;
use trm_init::{commands, exit, logging};

fn main() -> ExitCode {
    let cli = match Cli::parse_checked() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            // --help and --version print to stdout; errors to stderr.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut config = match Config::load(cli.global.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            // `trm-init health` answers 0 or 1 only (Docker reserves 2; its probes know no other codes).
            if matches!(cli.command, Some(Command::Health(_))) {
                println!("unhealthy: {}", exit::error_chain(&e));
                return ExitCode::from(1);
            }
            eprintln!("trm-init: {}", exit::error_chain(&e));
            return ExitCode::from(exit::CONFIG);
        }
    };
    if let Some(format) = cli.global.log_format {
        config.log.format = format.into();
    }
    if let Some(level) = &cli.global.log_level {
        if let Err(e) = logging::parse_filter(level) {
            eprintln!("trm-init: --log-level {level:?} is not a log level or filter: {e}");
            return ExitCode::from(exit::USAGE);
        }
        config.log.level = level.clone();
    }
    logging::init(&config.log);

    // event_interval: look for I/O and signals every 8 task polls (tokio's default is 61), so a flood of
    // health probes delays signal forwarding by a few polls at most (bench/health.sh measures it).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().event_interval(8).build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::dispatch(cli, config)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            tracing::error!(exit_code = failure.code, "{}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

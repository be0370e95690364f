//! trm-init: PID 1 of the TRM Directus container. See README.md for the whole picture.
//!
//! Owns the composition of the modules: `main` (what the binary runs) and `load_config` (the
//! configuration with every module's checks). Modules are crate-private unless an integration test
//! drives them directly.

mod cli;
mod commands;
mod compile_cache;
pub mod config;
pub mod db;
pub mod exit;
pub mod health;
mod init;
#[cfg(test)]
mod input_properties;
pub mod lifecycle;
mod logging;
mod memory;
mod metrics;
pub mod preflight;
mod preload;
pub mod process;
pub mod reaper;
mod resolve_hook;
pub mod signals;
pub mod supervisor;

use cli::{Cli, Command};
use config::{Check, Config, ConfigError};
use std::path::Path;
use std::process::ExitCode;

/// Validation of keys whose parser lives with another module.
const CHECKS: &[Check] = &[logging::check_config, health::check_config];

/// Loads the configuration (defaults < file < `TRM_INIT_*` variables) and validates every key.
pub fn load_config(file: Option<&Path>) -> Result<Config, ConfigError> {
    Config::load(file, CHECKS)
}

/// The binary: parse the command line, load the configuration, start logging, run one command.
pub fn main() -> ExitCode {
    let cli = match Cli::parse_checked() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { 0 };
            // --help and --version print to stdout; errors to stderr.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut config = match load_config(cli.global.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            // `trm-init health` answers 0 or 1 only (Docker reserves 2; its probes know no other codes).
            if matches!(cli.command, Some(Command::Health(_))) {
                println!("unhealthy: {}", exit::error_chain(&e));
                return ExitCode::from(exit::FAILURE);
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
            return ExitCode::from(exit::FAILURE);
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

//! The command line (the contract's synopsis), parsed with clap.
//!
//! Owns argument parsing only; what each command does lives in `commands`.

use crate::config::LogFormat;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const ABOUT: &str = "PID 1 of the TRM Directus container: preflight, supervision, health";

const LONG_ABOUT: &str = "\
trm-init is the init process (PID 1) of the TRM Directus container.

`trm-init run` (the default) waits for PostgreSQL, applies db-init/*.sql, runs Directus bootstrap,
applies the Directus schema snapshot (refusing one that would delete data), applies db-init-post/*.sql
and the access file (roles, policies, permissions), then starts and supervises the main child
(node /directus/cli.js start): it forwards signals, reaps every zombie, KILLs the child if it ignores TERM for child.stop_grace, and exits with its status.
A health server answers /livez, /readyz and /healthz on health.listen (loopback by default).

Configuration: built-in defaults < TOML file (--config or TRM_INIT_CONFIG) < TRM_INIT_<SECTION>__<KEY>
variables (e.g. TRM_INIT_CHILD__STOP_GRACE=5s). The database comes from Directus's DB_* variables.

Exit codes: the child's code; 128+n when it died of signal n (143 when TERMed during preflight);
126/127 the command could not be executed / was not found; 64 usage error; 65 a migration failed or
changed after it was applied; 69 database, lock or Redis not reached in time; 70 Directus bootstrap or
schema apply failed, the snapshot would delete data, or the access file is refused; 78 invalid configuration.";

#[derive(Debug, Parser)]
#[command(name = "trm-init", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Without a subcommand: `trm-init [--no-preflight] [-- CMD ARGS...]` is `trm-init run ...`.
    #[command(flatten)]
    pub run: RunArgs,
}

impl Cli {
    /// Parses the command line; run's own options given together with another subcommand are refused
    /// (`trm-init --no-preflight status` would otherwise silently drop `--no-preflight`).
    pub fn parse_checked() -> Result<Cli, clap::Error> {
        use clap::CommandFactory;
        let cli = Cli::try_parse()?;
        let run_args_given = cli.run.no_preflight || !cli.run.command.is_empty();
        if run_args_given && cli.command.is_some() {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--no-preflight and `-- CMD` belong to `run` (the default command), not to another subcommand",
            ));
        }
        Ok(cli)
    }
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// TOML configuration file (a named file that does not exist is an error).
    #[arg(long, global = true, value_name = "FILE", env = "TRM_INIT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log format of trm-init's own lines (overrides log.format).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,

    /// Log level or filter, e.g. info, debug, trm_init=trace (overrides log.level).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Preflight, then start and supervise CMD (default: child.command). The default command.
    Run(RunArgs),
    /// Probe the local /healthz: exit 0 healthy, 1 anything else (the image's HEALTHCHECK).
    Health(HealthArgs),
    /// Apply the db-init migrations only; prints "<phase>: N applied, M skipped".
    DbInit(DbInitArgs),
    /// Directus bootstrap + schema apply only.
    Schema(SchemaArgs),
    /// Show applied / pending / changed migrations and the schema fingerprint.
    Status,
    /// Validate config, folders and snapshot and print the effective config (secrets redacted);
    /// touches no database.
    Check,
    /// Directus roles, policies and permissions as code (access.file).
    #[command(subcommand)]
    Access(AccessCommand),
}

#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Print the database's access rows in the access file's format.
    Export,
    /// Apply the access file alone, under the preflight lock (what preflight's access step does).
    Apply,
    /// Print docs/permissions.md (the policy x collection x action matrix) generated from the access file.
    Matrix,
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Skip preflight: a plain init, like tini.
    #[arg(long)]
    pub no_preflight: bool,

    /// The command to supervise instead of child.command.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// URL to probe (default: /healthz on health.listen).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Give up after this long (e.g. 3s); well below Docker's 30 s default.
    #[arg(long, value_name = "DUR", default_value = "5s")]
    pub timeout: crate::config::duration::Dur,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MigrationPhase {
    Pre,
    Post,
    All,
}

#[derive(Debug, Args)]
pub struct DbInitArgs {
    /// Which folder: pre (db_init.pre_dir), post (db_init.post_dir) or all.
    #[arg(long, value_enum, default_value = "all")]
    pub phase: MigrationPhase,

    /// List what would be applied; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Show what the snapshot would change (Directus's own plan); apply nothing.
    #[arg(long)]
    pub dry_run: bool,
}

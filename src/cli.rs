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
A health server answers /livez, /readyz and /healthz on health.listen (loopback by default; off
with health.enabled = false). `trm-init preflight` runs the same preflight and exits without starting
the child (a CI gate, a Kubernetes migration Job). `trm-init ledger verify --event SLUG` checks an
event's timing ledger (the stewards' record the database keeps of every timing decision).

Configuration: built-in defaults < TOML file (--config or TRM_INIT_CONFIG) < TRM_INIT_<SECTION>__<KEY>
variables (e.g. TRM_INIT_CHILD__STOP_GRACE=5s). The database comes from Directus's DB_* variables.";

#[derive(Debug, Parser)]
#[command(name = "trm-init", version, about = ABOUT, long_about = LONG_ABOUT)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,

    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    /// Without a subcommand: `trm-init [--no-preflight] [-- CMD ARGS...]` is `trm-init run ...`.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

impl Cli {
    /// Parses the command line; run's own options given together with another subcommand are refused
    /// (`trm-init --no-preflight status` would otherwise silently drop `--no-preflight`).
    pub(crate) fn parse_checked() -> Result<Cli, clap::Error> {
        use clap::FromArgMatches;
        let mut command = command();
        let cli = Cli::from_arg_matches(&command.try_get_matches_from_mut(std::env::args_os())?)?;
        let run_args_given = cli.run.no_preflight || !cli.run.command.is_empty();
        if run_args_given && cli.command.is_some() {
            return Err(command.error(
                clap::error::ErrorKind::ArgumentConflict,
                "--no-preflight and `-- CMD` belong to `run` (the default command), not to another subcommand",
            ));
        }
        Ok(cli)
    }
}

/// The clap command, with the exit-code table of `exit` after the options of `--help`.
fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().after_long_help(crate::exit::help_text())
}

/// What `trm-init --help` prints (for the test that checks it against the exit-code table).
#[cfg(test)]
pub(crate) fn long_help() -> String {
    command().render_long_help().to_string()
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// TOML configuration file (a named file that does not exist is an error).
    #[arg(long, global = true, value_name = "FILE", env = "TRM_INIT_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// Log format of trm-init's own lines (overrides log.format).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub(crate) log_format: Option<LogFormatArg>,

    /// Log level or filter, e.g. info, debug, trm_init=trace (overrides log.level).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub(crate) log_level: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LogFormatArg {
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
pub(crate) enum Command {
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
    /// The whole preflight, then exit 0 without starting the child (CI gate, Kubernetes migration Job);
    /// exit codes as `run`.
    Preflight,
    /// Directus roles, policies and permissions as code (access.file).
    #[command(subcommand)]
    Access(AccessCommand),
    /// The timing ledger (the stewards' record of every timing decision), kept by the database.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Recompute an event's hash chain: exit 0 intact, 67 broken (the first broken row is named),
    /// 66 no such event.
    Verify(LedgerArgs),
    /// The stewards' file of an event: its timing ledger and published result versions (CSV or JSON) with
    /// the chain's head and the verification line; exit codes as verify.
    Export(ExportArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub(crate) which: LedgerArgs,

    /// json (one document) or csv (the ledger, then the result versions, each with a header row).
    #[arg(long, value_enum, default_value = "json")]
    pub(crate) format: ExportFormat,
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// The event's slug (events.slug).
    #[arg(long, value_name = "SLUG")]
    pub(crate) event: String,

    /// The organization's slug, when several organizations have an event with that slug.
    #[arg(long, value_name = "SLUG")]
    pub(crate) organization: Option<String>,

    /// The head hash filed earlier (an export's): the chain must end there, so rows removed from its
    /// end are caught too.
    #[arg(long, value_name = "HASH")]
    pub(crate) head: Option<String>,
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
pub(crate) struct RunArgs {
    /// Skip preflight: a plain init, like tini.
    #[arg(long)]
    pub(crate) no_preflight: bool,

    /// The command to supervise instead of child.command.
    #[arg(last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// URL to probe (default: /healthz on health.listen).
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,

    /// Give up after this long (e.g. 3s); well below Docker's 30 s default.
    #[arg(long, value_name = "DUR", default_value = "5s")]
    pub(crate) timeout: crate::config::duration::Dur,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MigrationPhase {
    Pre,
    Post,
    All,
}

#[derive(Debug, Args)]
pub(crate) struct DbInitArgs {
    /// Which folder: pre (db_init.pre_dir), post (db_init.post_dir) or all.
    #[arg(long, value_enum, default_value = "all")]
    pub(crate) phase: MigrationPhase,

    /// List what would be applied; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// Show what the snapshot would change (Directus's own plan); apply nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

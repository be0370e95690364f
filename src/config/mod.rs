//! trm-init's configuration: built-in defaults < TOML file < `TRM_INIT_<SECTION>__<KEY>` variables.
//!
//! Owns loading, validating and printing (redacted) the configuration; the structs below, with their
//! doc comments, are the user's TOML contract (README's example is checked against their defaults).
//! It reads files and the environment only; it never touches the database or spawns anything. A
//! module whose own parser validates a key (`logging` for `log.level`, `health` for `health.upstream`)
//! passes a `Check` to `Config::load`, so this module depends on none of them.

pub(crate) mod conninfo;
pub(crate) mod database;
pub mod duration;
pub mod replicas;
pub(crate) mod secret;

use duration::Dur;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Prefix of the variables that override single keys.
pub(crate) const ENV_PREFIX: &str = "TRM_INIT_";

/// The whole configuration: one section per concern.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[preflight]`: whether `run` runs preflight before the main child.
    pub preflight: PreflightConfig,
    /// `[child]`: the main child and how it is stopped.
    pub child: ChildConfig,
    /// `[database]`: how long to wait for PostgreSQL and for the preflight lock.
    pub database: DatabaseConfig,
    /// `[db_init]`: the migration folders and their history table.
    pub db_init: DbInitConfig,
    /// `[schema]`: Directus bootstrap and the schema snapshot.
    pub schema: SchemaConfig,
    pub access: AccessConfig,
    /// `[health]`: the health server.
    pub health: HealthConfig,
    /// `[log]`: trm-init's own log lines.
    pub log: LogConfig,
}

/// `[preflight]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreflightConfig {
    /// `enabled` (default true); false (or `run --no-preflight`): a plain init, like tini.
    pub enabled: bool,
}

impl Default for PreflightConfig {
    fn default() -> Self {
        PreflightConfig { enabled: true }
    }
}

/// `child.signal_target`: who receives forwarded signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalTarget {
    /// `"child"`: signals go to the main child's pid.
    Child,
    /// `"group"`: signals go to the main child's process group.
    Group,
}

/// `[child]`: the main child.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChildConfig {
    /// `command` (default `["node", "/directus/cli.js", "start"]`): program and arguments, no shell.
    pub command: Vec<String>,
    /// `stop_grace` (default `"8s"`): TERM -> KILL after this long; below Docker's 10 s so trm-init
    /// reports the code.
    pub stop_grace: Dur,
    /// `signal_target` (default `"child"`): `"child"` or `"group"`.
    pub signal_target: SignalTarget,
    /// `skip_update_check` (default true): when the command runs Directus's `cli.js`, run
    /// `@directus/api`'s `cli/run.js` from the same installation instead: the same commands without cli.js's
    /// npm update check (up to 8 s where egress is blocked, and an "Update available" box in the log).
    /// false: run the command as written.
    pub skip_update_check: bool,
    /// `direct_start` (default true; only with `skip_update_check`): a command that is exactly
    /// `... cli.js start` runs `@directus/api`'s `start.js` (the server module, `startServer()`) instead of
    /// `cli/run.js start`: no commander, no module graph of the CLI's other commands, no CLI-side early
    /// extension load, no `cli.before`/`cli.after` init events. A start.js that cannot be found is a
    /// warning and the start goes through `cli/run.js`. false: `cli/run.js start`.
    pub direct_start: bool,
    /// `preload` (default true; only with `direct_start`): the main child `... cli.js start` is spawned
    /// once the preflight has work (a migration to apply, the Directus step's helper; a warm restart that
    /// skips everything has none, and its child is spawned after the preflight) as `node <schema.step_script's folder>/preload.mjs <@directus/api>/dist/server.js`:
    /// Directus's modules load while the preflight runs, and the server starts only when the preflight has
    /// succeeded (trm-init's "go" on the child's descriptor 3). Any other child command, `-- CMD`, a
    /// disabled preflight or a missing `preload.mjs` / `server.js`: the child is spawned after the
    /// preflight. false: always after the preflight.
    pub preload: bool,
    /// `drain` (default `"0s"`): on the stop signal `/readyz` turns 503 at once and the child keeps
    /// serving this long before it gets the signal, so load balancers stop sending it requests first. 0 (default): forward at once.
    /// Budget: drain + Directus's `SERVER_SHUTDOWN_TIMEOUT` + margin < the engine's grace period.
    pub drain: Dur,
    /// `replicas` (default 1): how many replicas of this container the deployment runs (informational). Above 1, trm-init
    /// warns at start when Directus's environment would misbehave with several replicas.
    pub replicas: u32,
    /// `compile_cache` (default true): start the main child with `NODE_COMPILE_CACHE` =
    /// `compile_cache_dir`, so Node reads V8's compiled code for Directus's modules instead of compiling
    /// them (a faster start). Never stops a boot: an unusable directory is one warning. A
    /// `NODE_COMPILE_CACHE` already in the environment is kept. false: the environment as it is.
    pub compile_cache: bool,
    /// `compile_cache_dir` (default `/directus/compile-cache`, filled when the image is built): Node's
    /// compile cache directory.
    pub compile_cache_dir: PathBuf,
    /// `resolve_hook` (default true): Directus's Node processes (the main child, its preload, the Directus
    /// step helper) start as `node --import <schema.step_script's folder>/resolve-hook.mjs ...`, which
    /// answers relative imports of ES modules as Node would without re-reading each package's whole
    /// package.json per file (a faster start). A missing script is one warning; the script never stops
    /// Node. false: the commands as they are.
    pub resolve_hook: bool,
}

impl Default for ChildConfig {
    fn default() -> Self {
        ChildConfig {
            command: vec!["node".into(), "/directus/cli.js".into(), "start".into()],
            stop_grace: Dur::secs(8),
            signal_target: SignalTarget::Child,
            skip_update_check: true,
            direct_start: true,
            preload: true,
            drain: Dur::secs(0),
            replicas: 1,
            compile_cache: true,
            compile_cache_dir: "/directus/compile-cache".into(),
            resolve_hook: true,
        }
    }
}

/// `[database]`: the connection itself comes from Directus's `DB_*` variables (`database` module).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `wait_timeout` (default `"60s"`): retry refused connections / 57P03 / 08xxx until then;
    /// authentication errors fail at once.
    pub wait_timeout: Dur,
    /// `lock_timeout` (default `"120s"`): how long to wait for another replica's preflight lock.
    pub lock_timeout: Dur,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { wait_timeout: Dur::secs(60), lock_timeout: Dur::secs(120) }
    }
}

/// `[db_init]`: the SQL migrations before and after the Directus schema.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbInitConfig {
    /// `pre_dir` (default `/directus/db-init`): files applied before the Directus schema.
    pub pre_dir: PathBuf,
    /// `post_dir` (default `/directus/db-init-post`): files applied after it.
    pub post_dir: PathBuf,
    /// `table` (default `migrations_applied`): the history table, compatible with the earlier shell
    /// runner's rows; it also names the preflight lock.
    pub table: String,
    /// `required_extensions` (default `[]`): refuse to start when the server cannot provide these.
    pub required_extensions: Vec<String>,
    /// `allow_out_of_order` (default false): apply a new file that sorts before the last applied one
    /// instead of refusing it.
    pub allow_out_of_order: bool,
}

impl Default for DbInitConfig {
    fn default() -> Self {
        DbInitConfig {
            pre_dir: "/directus/db-init".into(),
            post_dir: "/directus/db-init-post".into(),
            table: "migrations_applied".into(),
            required_extensions: Vec::new(),
            allow_out_of_order: false,
        }
    }
}

/// `[schema]`: Directus bootstrap and the guarded schema apply.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaConfig {
    /// `enabled` (default true): false skips bootstrap and apply.
    pub enabled: bool,
    /// `directus` (default `["node", "/directus/cli.js"]`): the Directus CLI as a command prefix: names
    /// the Node program and, by the folder of `cli.js`, the Directus installation the step helper
    /// imports Directus's modules from.
    pub directus: Vec<String>,
    /// `step_script` (default `/directus/directus-step/step.mjs`): the step helper, which runs bootstrap,
    /// diff and apply in one Node process.
    pub step_script: PathBuf,
    /// `snapshot` (default `/directus/snapshots/schema.yaml`): the schema snapshot to apply.
    pub snapshot: PathBuf,
    /// `allow_destructive` (default false): allow a snapshot that would delete collections, fields or
    /// relations.
    pub allow_destructive: bool,
    /// `allow_version_mismatch` (default false): apply a snapshot written by another major version of
    /// Directus (refused with 70 otherwise; another minor version is only a warning).
    pub allow_version_mismatch: bool,
    /// `skip_unchanged` (default true): skip bootstrap + apply when nothing changed since the last apply.
    pub skip_unchanged: bool,
    /// `timeout` (default `"5m"`): bound on each command of the step (start, bootstrap, diff, apply).
    pub timeout: Dur,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        SchemaConfig {
            enabled: true,
            directus: vec!["node".into(), "/directus/cli.js".into()],
            step_script: "/directus/directus-step/step.mjs".into(),
            snapshot: "/directus/snapshots/schema.yaml".into(),
            allow_destructive: false,
            allow_version_mismatch: false,
            skip_unchanged: true,
            timeout: Dur::secs(300),
        }
    }
}

/// The access step: Directus roles, policies and permissions from a file (after the schema step).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// false: the access file is not applied (also skipped when `schema.enabled = false`).
    pub enabled: bool,
    /// The access file (roles, policies, permissions); must exist when enabled. Unset: `access.yaml`
    /// next to `schema.snapshot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Skip the step when neither the file nor the database's access rows changed since the last apply.
    pub skip_unchanged: bool,
    /// The operator confirms that the Directus licence covers custom permission rules: only then is the
    /// access file (written for Directus 11's permissions) applied to another Directus major. From
    /// Directus 12 the Core tier refuses or drops filtered permissions, which would lock every TRM member
    /// out (and dropping the filters would show every organisation's rows to all).
    pub licence_confirmed: bool,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig { enabled: true, file: None, skip_unchanged: true, licence_confirmed: false }
    }
}

/// `[health]`: the health server (`/livez`, `/readyz`, `/healthz`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// `enabled` (default true): false starts no health server (a plain init; two trm-inits in one
    /// network namespace). `trm-init health` then has nothing to probe.
    pub enabled: bool,
    /// `listen` (default `127.0.0.1:8056`): where the health server listens; loopback unless configured.
    pub listen: SocketAddr,
    /// `upstream` (default `http://127.0.0.1:8055/server/ping`): Directus's ping; `http://` and an IP
    /// address or `localhost` (no DNS lookups are made).
    pub upstream: String,
    /// `upstream_timeout` (default `"2s"`): how long the ping may take.
    pub upstream_timeout: Dur,
    /// `cache_ttl` (default `"1s"`): probes within this window share one upstream ping.
    pub cache_ttl: Dur,
    /// `metrics` (default false): true makes `GET /metrics` answer in the Prometheus (OpenMetrics) text format.
    pub metrics: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8056)),
            upstream: "http://127.0.0.1:8055/server/ping".into(),
            upstream_timeout: Dur::secs(2),
            cache_ttl: Dur::secs(1),
            metrics: false,
        }
    }
}

/// `log.format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `"text"`: one human line per event.
    #[default]
    Text,
    /// `"json"`: one JSON object per line.
    Json,
}

/// `[log]`: trm-init's own lines on stderr (the child's output is never touched).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `format` (default `"text"`): `"text"` or `"json"`.
    pub format: LogFormat,
    /// `level` (default `"info"`): a level or a per-target filter such as `"warn,trm_init=debug"`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Text, level: "info".into() }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path:?} does not exist or cannot be read: {source}")]
    FileMissing { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration: {key} = {value} (from {origin}): {reason}")]
    Invalid { key: String, value: String, origin: String, reason: String },
}

impl crate::exit::ExitCode for ConfigError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

/// A key's value that its owner refuses: `Config::load` adds where the value came from.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub(crate) key: &'static str,
    pub(crate) value: String,
    pub(crate) reason: String,
}

/// Validation of keys whose parser lives with another module (`logging`, `health`).
pub(crate) type Check = fn(&Config) -> Result<(), Invalid>;

impl Config {
    /// Loads the layers, then validates them: this module's own rules, then `checks`. A named file
    /// that does not exist is an error; unknown keys are errors.
    pub(crate) fn load(file: Option<&Path>, checks: &[Check]) -> Result<Config, ConfigError> {
        let figment = Self::figment(file)?;
        let config: Config = figment.extract().map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        let invalid = |Invalid { key, value, reason }| ConfigError::Invalid {
            key: key.into(),
            value,
            origin: origin_of(&figment, key),
            reason,
        };
        config.validate().map_err(invalid)?;
        for check in checks {
            check(&config).map_err(invalid)?;
        }
        Ok(config)
    }

    fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            std::fs::metadata(path).map_err(|source| ConfigError::FileMissing { path: path.to_path_buf(), source })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok(figment.merge(Env::prefixed(ENV_PREFIX).ignore(&["config"]).split("__")))
    }

    fn validate(&self) -> Result<(), Invalid> {
        let invalid = |key, value, reason: &str| Err(Invalid { key, value, reason: reason.into() });
        if self.child.command.first().is_none_or(|program| program.is_empty()) {
            return invalid("child.command", format!("{:?}", self.child.command), "needs a program to run");
        }
        if self.schema.enabled && self.schema.directus.first().is_none_or(|program| program.is_empty()) {
            return invalid("schema.directus", format!("{:?}", self.schema.directus), "needs the Directus CLI command");
        }
        if !is_identifier(&self.db_init.table) {
            return invalid(
                "db_init.table",
                format!("{:?}", self.db_init.table),
                "must be a plain SQL name (letters, digits, _; optionally schema.table)",
            );
        }
        for ext in &self.db_init.required_extensions {
            if !is_identifier(ext) {
                return invalid("db_init.required_extensions", format!("{ext:?}"), "not an extension name");
            }
        }
        if self.child.stop_grace.get().is_zero() {
            return invalid("child.stop_grace", self.child.stop_grace.to_string(), "must be more than zero");
        }
        if self.child.replicas == 0 {
            return invalid("child.replicas", "0".into(), "must be at least 1");
        }
        Ok(())
    }

    /// The access file: `access.file`, or `access.yaml` next to the schema snapshot.
    pub fn access_file(&self) -> PathBuf {
        match &self.access.file {
            Some(path) => path.clone(),
            None => self.schema.snapshot.with_file_name("access.yaml"),
        }
    }

    /// The effective configuration as TOML, for `check`. Nothing in it is secret.
    pub(crate) fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# the configuration cannot be printed as TOML: {e}\n"))
    }
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').count() <= 2
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// "TRM_INIT_CHILD__STOP_GRACE", "/etc/trm-init.toml" or "built-in default": where `key` was set.
fn origin_of(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(md) => describe_metadata(md, key),
        None => "built-in default".into(),
    }
}

fn describe_metadata(md: &figment::Metadata, key: &str) -> String {
    match &md.source {
        Some(figment::Source::File(path)) => format!("file {}", path.display()),
        _ if md.name.contains("environment") => {
            format!("variable {ENV_PREFIX}{}", key.to_ascii_uppercase().replace('.', "__"))
        }
        _ => md.name.to_string(),
    }
}

/// figment's error, rewritten so it names the key, the offending value and where it came from.
fn describe_figment_error(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = e.metadata.as_ref().map(|md| describe_metadata(md, &key));
            let kind = e.kind.to_string();
            match (key.is_empty(), origin) {
                (false, Some(origin)) => format!("{key} (from {origin}): {kind}"),
                (false, None) => format!("{key}: {kind}"),
                (true, Some(origin)) => format!("{kind} (in {origin})"),
                (true, None) => kind,
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;

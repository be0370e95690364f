//! trm-init's configuration: built-in defaults < TOML file < `TRM_INIT_<SECTION>__<KEY>` variables.
//!
//! Owns loading, validating and printing (redacted) the configuration. It reads files and the
//! environment only; it never touches the database or spawns anything.

pub mod database;
pub mod duration;
pub mod secret;

use duration::Dur;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Prefix of the variables that override single keys.
pub const ENV_PREFIX: &str = "TRM_INIT_";

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub preflight: PreflightConfig,
    pub child: ChildConfig,
    pub database: DatabaseConfig,
    pub db_init: DbInitConfig,
    pub schema: SchemaConfig,
    pub health: HealthConfig,
    pub log: LogConfig,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreflightConfig {
    /// false: a plain init, like tini.
    pub enabled: bool,
}

impl Default for PreflightConfig {
    fn default() -> Self {
        PreflightConfig { enabled: true }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalTarget {
    /// Signals go to the main child's pid.
    Child,
    /// Signals go to the main child's process group.
    Group,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChildConfig {
    pub command: Vec<String>,
    /// TERM -> KILL after this long; below Docker's 10 s so trm-init reports the code.
    pub stop_grace: Dur,
    pub signal_target: SignalTarget,
    /// When the command runs Directus's `cli.js`, run `@directus/api`'s `cli/run.js` from the same
    /// installation instead: the same commands without cli.js's npm update check (up to 8 s where egress
    /// is blocked, and an "Update available" box in the log). false: run the command as written.
    pub skip_update_check: bool,
}

impl Default for ChildConfig {
    fn default() -> Self {
        ChildConfig {
            command: vec!["node".into(), "/directus/cli.js".into(), "start".into()],
            stop_grace: Dur::secs(8),
            signal_target: SignalTarget::Child,
            skip_update_check: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Retry refused connections / 57P03 / 08xxx until then; auth errors fail at once.
    pub wait_timeout: Dur,
    /// Waiting for another replica's preflight lock.
    pub lock_timeout: Dur,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { wait_timeout: Dur::secs(60), lock_timeout: Dur::secs(120) }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbInitConfig {
    pub pre_dir: PathBuf,
    pub post_dir: PathBuf,
    /// History table, compatible with the earlier shell runner's rows.
    pub table: String,
    /// Refuse to start when the server cannot provide these extensions.
    pub required_extensions: Vec<String>,
    /// Apply a new file that sorts before the last applied one instead of refusing it.
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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaConfig {
    pub enabled: bool,
    /// The Directus CLI as a command prefix (`node /directus/cli.js`): names the Node program and, by the
    /// folder of `cli.js`, the Directus installation the step helper imports Directus's modules from.
    pub directus: Vec<String>,
    /// The step helper (`directus-step/step.mjs`): runs bootstrap, diff and apply in one Node process.
    pub step_script: PathBuf,
    pub snapshot: PathBuf,
    /// Allow a snapshot that would delete collections, fields or relations.
    pub allow_destructive: bool,
    /// Apply a snapshot written by another major version of Directus (refused with 70 otherwise; another
    /// minor version is only a warning).
    pub allow_version_mismatch: bool,
    /// Skip bootstrap + apply when nothing changed since the last apply.
    pub skip_unchanged: bool,
    /// Bound on each command of the step (start, bootstrap, diff, apply).
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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Where the health server listens; loopback unless configured. "off" is not a value: use an
    /// unused loopback port if it is unwanted.
    pub listen: SocketAddr,
    pub upstream: String,
    pub upstream_timeout: Dur,
    /// Probes within this window share one upstream ping.
    pub cache_ttl: Dur,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8056)),
            upstream: "http://127.0.0.1:8055/server/ping".into(),
            upstream_timeout: Dur::secs(2),
            cache_ttl: Dur::secs(1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
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

impl Config {
    /// Loads the layers. A named file that does not exist is an error; unknown keys are errors.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let figment = Self::figment(file)?;
        let config: Config = figment.extract().map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        config.validate(&figment)?;
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

    fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
        let invalid = |key: &str, value: String, reason: &str| ConfigError::Invalid {
            key: key.into(),
            value,
            origin: origin_of(figment, key),
            reason: reason.into(),
        };
        if self.child.command.is_empty() || self.child.command[0].is_empty() {
            return Err(invalid("child.command", format!("{:?}", self.child.command), "needs a program to run"));
        }
        if self.schema.enabled && (self.schema.directus.is_empty() || self.schema.directus[0].is_empty()) {
            return Err(invalid(
                "schema.directus",
                format!("{:?}", self.schema.directus),
                "needs the Directus CLI command",
            ));
        }
        if !is_identifier(&self.db_init.table) {
            return Err(invalid(
                "db_init.table",
                format!("{:?}", self.db_init.table),
                "must be a plain SQL name (letters, digits, _; optionally schema.table)",
            ));
        }
        for ext in &self.db_init.required_extensions {
            if !is_identifier(ext) {
                return Err(invalid("db_init.required_extensions", format!("{ext:?}"), "not an extension name"));
            }
        }
        // The same parser the health server uses: http://, and an IP address or localhost (no DNS).
        if let Err(reason) = crate::health::target::Target::parse(&self.health.upstream) {
            return Err(invalid("health.upstream", format!("{:?}", self.health.upstream), &reason));
        }
        if self.child.stop_grace.get().is_zero() {
            return Err(invalid("child.stop_grace", self.child.stop_grace.to_string(), "must be more than zero"));
        }
        if let Err(e) = crate::logging::parse_filter(&self.log.level) {
            return Err(invalid(
                "log.level",
                format!("{:?}", self.log.level),
                &format!("not a log level or filter ({e})"),
            ));
        }
        Ok(())
    }

    /// The effective configuration as TOML, for `check`. Nothing in it is secret.
    pub fn to_toml(&self) -> String {
        toml_text(self)
    }
}

fn toml_text<T: Serialize>(value: &T) -> String {
    // figment depends on toml; re-serialise through figment's value to avoid a second toml crate.
    let value = figment::value::Value::serialize(value).unwrap_or_else(|_| figment::value::Value::from("?"));
    let mut out = String::new();
    write_toml(&mut out, "", &value);
    out
}

fn write_toml(out: &mut String, section: &str, value: &figment::value::Value) {
    use figment::value::Value;
    let Value::Dict(_, dict) = value else { return };
    for (k, v) in dict.iter().filter(|(_, v)| !matches!(v, Value::Dict(..))) {
        out.push_str(&format!("{k} = {}\n", inline(v)));
    }
    for (k, v) in dict.iter().filter(|(_, v)| matches!(v, Value::Dict(..))) {
        let name = if section.is_empty() { k.clone() } else { format!("{section}.{k}") };
        out.push_str(&format!("\n[{name}]\n"));
        write_toml(out, &name, v);
    }
}

fn inline(value: &figment::value::Value) -> String {
    use figment::value::Value;
    match value {
        Value::String(_, s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(_, items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => {
            n.to_u128().map(|n| n.to_string()).or_else(|| n.to_f64().map(|f| f.to_string())).unwrap_or_default()
        }
        Value::Char(_, c) => serde_json::to_string(&c.to_string()).unwrap_or_default(),
        Value::Empty(..) => "\"\"".into(),
        Value::Dict(..) => "{...}".into(),
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

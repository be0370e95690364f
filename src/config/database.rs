//! The database connection, read from Directus's own `DB_*` variables so a deployer sets it once.
//!
//! Owns parsing and validating those variables (and their `*_FILE` variants). It does not connect:
//! `db` turns these settings into a connection.

use super::conninfo;
use super::secret::Secret;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub(crate) enum DbConfigError {
    #[error("environment variable {var} is not set; {hint}")]
    Missing { var: &'static str, hint: &'static str },
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    Invalid { var: String, value: String, reason: String },
    #[error("environment variable {var} names the file {path:?}, which cannot be read: {source}")]
    File { var: String, path: String, source: std::io::Error },
}

impl crate::exit::ExitCode for DbConfigError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

/// Where to connect and how to authenticate.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DbTarget {
    /// The five variables Directus reads.
    Params {
        /// `DB_HOST`: a name, an address, or a Unix socket folder (`/run/postgresql`).
        host: String,
        /// `DB_PORT` (default 5432).
        port: u16,
        /// `DB_DATABASE`.
        database: String,
        /// `DB_USER`.
        user: String,
        /// `DB_PASSWORD` or `DB_PASSWORD_FILE`.
        password: Option<Secret>,
    },
    /// `DB_CONNECTION_STRING` (a URL or `key=value` pairs); may hold a password, so it is a secret.
    ConnectionString(#[serde(serialize_with = "serialize_redacted_dsn")] Secret),
}

/// TLS settings from `DB_SSL` and `DB_SSL__*` (the names Directus passes on to node-postgres).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct SslSettings {
    /// `DB_SSL=true` or any `DB_SSL__*` variable.
    pub(crate) enabled: bool,
    /// `DB_SSL__REJECT_UNAUTHORIZED` (default true): verify the server's certificate and name.
    pub(crate) reject_unauthorized: bool,
    /// PEM text of the CA bundle (`DB_SSL__CA` or `DB_SSL__CA_FILE`); the Mozilla roots otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ca: Option<String>,
    /// Client certificate, PEM (`DB_SSL__CERT[_FILE]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cert: Option<String>,
    /// Client key, PEM (`DB_SSL__KEY[_FILE]`); a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<Secret>,
}

/// The whole database connection as Directus's `DB_*` variables describe it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DbSettings {
    /// Where to connect and as whom.
    pub(crate) target: DbTarget,
    /// TLS.
    pub(crate) ssl: SslSettings,
    /// Variables that were set but are not understood (told once as warnings, never fatal).
    #[serde(skip)]
    pub(crate) warnings: Vec<String>,
}

impl DbSettings {
    /// Reads the settings from the process environment.
    pub(crate) fn from_env() -> Result<Self, DbConfigError> {
        let mut settings = Self::from_lookup(&|k| std::env::var(k).ok())?;
        // Only the real environment can be listed: warn about DB_SSL__* names we do not use.
        const KNOWN: [&str; 4] = ["DB_SSL__CA", "DB_SSL__CERT", "DB_SSL__KEY", "DB_SSL__REJECT_UNAUTHORIZED"];
        for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("DB_SSL__")) {
            if !KNOWN.contains(&name.strip_suffix("_FILE").unwrap_or(&name)) {
                settings
                    .warnings
                    .push(format!("{name} is not understood by trm-init and is ignored for its own connection"));
            }
        }
        Ok(settings)
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, DbConfigError> {
        let env = Lookup(lookup);
        if let Some(client) = env.plain("DB_CLIENT") {
            if !matches!(client.as_str(), "pg" | "postgres" | "postgresql") {
                return Err(DbConfigError::Invalid {
                    var: "DB_CLIENT".into(),
                    value: client,
                    reason: "trm-init supports PostgreSQL only; set DB_CLIENT=pg".into(),
                });
            }
        }
        let target = if let Some(dsn) = env.get("DB_CONNECTION_STRING")? {
            DbTarget::ConnectionString(Secret::new(dsn))
        } else {
            const HINT: &str = "set DB_HOST, DB_PORT, DB_DATABASE, DB_USER and DB_PASSWORD (or DB_CONNECTION_STRING)";
            let host = env.get("DB_HOST")?.ok_or(DbConfigError::Missing { var: "DB_HOST", hint: HINT })?;
            let database = env.get("DB_DATABASE")?.ok_or(DbConfigError::Missing { var: "DB_DATABASE", hint: HINT })?;
            let user = env.get("DB_USER")?.ok_or(DbConfigError::Missing { var: "DB_USER", hint: HINT })?;
            let port = match env.get("DB_PORT")? {
                None => 5432,
                Some(text) => {
                    text.trim().parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| DbConfigError::Invalid {
                        var: "DB_PORT".into(),
                        value: text.clone(),
                        reason: "expected a port number from 1 to 65535".into(),
                    })?
                }
            };
            let password = env.get("DB_PASSWORD")?.map(Secret::new);
            DbTarget::Params { host, port, database, user, password }
        };
        let ssl = read_ssl(&env)?;
        Ok(DbSettings { target, ssl, warnings: Vec::new() })
    }

    /// A one-line description for logs: where, as whom; never the password.
    pub(crate) fn describe(&self) -> String {
        match &self.target {
            DbTarget::Params { host, port, database, user, .. } => format!("{user}@{host}:{port}/{database}"),
            DbTarget::ConnectionString(dsn) => conninfo::redact(dsn.expose()),
        }
    }
}

struct Lookup<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Lookup<'_> {
    fn plain(&self, var: &str) -> Option<String> {
        (self.0)(var).filter(|v| !v.is_empty())
    }

    /// `VAR`, or the content of the file named by `VAR_FILE` (trailing newline dropped).
    fn get(&self, var: &str) -> Result<Option<String>, DbConfigError> {
        if let Some(v) = self.plain(var) {
            return Ok(Some(v));
        }
        let file_var = format!("{var}_FILE");
        let Some(path) = self.plain(&file_var) else { return Ok(None) };
        let text =
            std::fs::read_to_string(&path).map_err(|source| DbConfigError::File { var: file_var, path, source })?;
        Ok(Some(text.trim_end_matches(['\n', '\r']).to_string()))
    }
}

fn read_ssl(env: &Lookup<'_>) -> Result<SslSettings, DbConfigError> {
    let flag = |var: &str, default: bool| -> Result<bool, DbConfigError> {
        match env.plain(var) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(DbConfigError::Invalid { var: var.into(), value: v, reason: "expected true or false".into() }),
            },
        }
    };
    let ca = env.get("DB_SSL__CA")?;
    let cert = env.get("DB_SSL__CERT")?;
    let key = env.get("DB_SSL__KEY")?.map(Secret::new);
    let reject_set = env.plain("DB_SSL__REJECT_UNAUTHORIZED").is_some();
    let enabled = flag("DB_SSL", false)? || ca.is_some() || cert.is_some() || key.is_some() || reject_set;
    Ok(SslSettings { enabled, reject_unauthorized: flag("DB_SSL__REJECT_UNAUTHORIZED", true)?, ca, cert, key })
}

fn serialize_redacted_dsn<S: serde::Serializer>(dsn: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&conninfo::redact(dsn.expose()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<DbSettings, DbConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        DbSettings::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn numeric_password_stays_a_string() {
        let s =
            settings(&[("DB_HOST", "db"), ("DB_DATABASE", "d"), ("DB_USER", "u"), ("DB_PASSWORD", "123456")]).unwrap();
        match s.target {
            DbTarget::Params { password: Some(p), port, .. } => {
                assert_eq!(p.expose(), "123456");
                assert_eq!(port, 5432);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn password_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let p = path.to_str().unwrap();
        let s =
            settings(&[("DB_HOST", "db"), ("DB_DATABASE", "d"), ("DB_USER", "u"), ("DB_PASSWORD_FILE", p)]).unwrap();
        let DbTarget::Params { password: Some(pw), .. } = s.target else { panic!("no password") };
        assert_eq!(pw.expose(), "s3cret");
    }

    #[test]
    fn missing_host_names_the_variable() {
        let err = settings(&[("DB_DATABASE", "d")]).unwrap_err().to_string();
        assert!(err.contains("DB_HOST"), "{err}");
    }

    #[test]
    fn bad_port_names_variable_and_value() {
        let err =
            settings(&[("DB_HOST", "h"), ("DB_DATABASE", "d"), ("DB_USER", "u"), ("DB_PORT", "54x")]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("DB_PORT") && text.contains("54x"), "{text}");
    }

    #[test]
    fn passwords_never_serialize() {
        let s =
            settings(&[("DB_HOST", "h"), ("DB_DATABASE", "d"), ("DB_USER", "u"), ("DB_PASSWORD", "hunter2")]).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn connection_string_password_is_redacted() {
        let s = settings(&[("DB_CONNECTION_STRING", "postgresql://u:topsecret@h/d")]).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("topsecret") && json.contains("<redacted>"), "{json}");
    }
}

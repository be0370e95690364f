//! Turns `DbSettings` (Directus's `DB_*` variables) into a tokio-postgres `Config` and a TLS connector.
//!
//! libpq-only connection-string keys (`sslrootcert`, `sslcert`, `sslkey`, `sslmode=verify-*`) are taken
//! out and applied to rustls here, since tokio-postgres refuses them. Host names are resolved on every
//! attempt by `resolve` and passed as `hostaddr`, keeping `host` for TLS.

use super::resolve;
use super::tls::{self, TlsInput, Verify};
use super::tls_stream::MakeRustlsConnect;
use super::{DbError, APPLICATION_NAME};
use crate::config::conninfo::ConnString;
use crate::config::database::{DbSettings, DbTarget, SslSettings};
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};

/// Keys removed from a connection string before tokio-postgres parses it.
const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl", "uselibpqcompat"];

/// Where and how to connect: the tokio-postgres config (host names not yet resolved) and the TLS
/// connector.
pub(crate) struct Target {
    base: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    describe: String,
}

impl Target {
    /// Builds the target from the `DB_*` settings: connection parameters, TLS mode and material, and
    /// trm-init's session settings (application name, timeouts, keepalives).
    pub(crate) fn new(settings: &DbSettings) -> Result<Target, DbError> {
        let (mut config, params) = base_config(&settings.target)?;
        let (mode, verify) = tls_mode(params.mode.as_deref(), &settings.ssl)?;
        let tls = tls_connector(mode, verify, &params, &settings.ssl)?;
        session_settings(&mut config, mode);
        let mut describe = settings.describe();
        if mode != SslMode::Disable {
            describe.push_str(match verify {
                Verify::Full => " (TLS)",
                Verify::ChainOnly => " (TLS, chain verified)",
                Verify::None => " (TLS, not verified)",
            });
        }
        Ok(Target { base: config, tls, describe })
    }

    pub(crate) fn describe(&self) -> String {
        self.describe.clone()
    }

    pub(crate) fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// The config with every TCP host name resolved to an address (`hostaddr`); `host` stays for TLS.
    pub(crate) async fn resolved_config(&self) -> Result<tokio_postgres::Config, String> {
        let mut config = self.base.clone();
        if !config.get_hostaddrs().is_empty() {
            return Ok(config);
        }
        let hosts = config.get_hosts().to_vec();
        if hosts.iter().any(|h| !matches!(h, Host::Tcp(_))) {
            return Ok(config);
        }
        for host in hosts {
            if let Host::Tcp(name) = host {
                let addr = resolve::lookup(&name).await.map_err(|e| format!("cannot resolve {name:?}: {e}"))?;
                config.hostaddr(addr);
            }
        }
        Ok(config)
    }
}

/// The tokio-postgres config of `DB_HOST`... or of `DB_CONNECTION_STRING` (its TLS keys taken out).
fn base_config(target: &DbTarget) -> Result<(tokio_postgres::Config, SslParams), DbError> {
    match target {
        DbTarget::Params { host, port, database, user, password } => {
            let mut c = tokio_postgres::Config::new();
            if host.starts_with('/') {
                c.host_path(host);
            } else {
                c.host(host.trim_start_matches('[').trim_end_matches(']'));
            }
            c.port(*port).dbname(database).user(user);
            if let Some(p) = password {
                c.password(p.expose());
            }
            Ok((c, SslParams::default()))
        }
        DbTarget::ConnectionString(dsn) => {
            let mut parsed = ConnString::parse(dsn.expose()).map_err(DbError::Config)?;
            let params = SslParams::from(parsed.take(TLS_KEYS));
            let config = tokio_postgres::Config::from_str(&parsed.render()).map_err(|e| {
                DbError::Config(format!("DB_CONNECTION_STRING {}: {}", parsed.redacted(), crate::exit::error_chain(&e)))
            })?;
            Ok((config, params))
        }
    }
}

/// The TLS mode and verification for `sslmode` (from the connection string) and `DB_SSL__*`.
fn tls_mode(sslmode: Option<&str>, ssl: &SslSettings) -> Result<(SslMode, Verify), DbError> {
    let verify_full = if ssl.reject_unauthorized { Verify::Full } else { Verify::None };
    Ok(match sslmode {
        None if ssl.enabled => (SslMode::Require, verify_full),
        None | Some("disable") => (SslMode::Disable, Verify::None),
        Some("allow") | Some("prefer") => (SslMode::Prefer, Verify::None),
        Some("require") | Some("verify-full") => (SslMode::Require, verify_full),
        Some("verify-ca") => (SslMode::Require, if ssl.reject_unauthorized { Verify::ChainOnly } else { Verify::None }),
        Some("no-verify") => (SslMode::Require, Verify::None),
        Some(other) => {
            return Err(DbError::Config(format!(
                "sslmode={other:?} in DB_CONNECTION_STRING is not one of disable, allow, prefer, require, verify-ca, verify-full, no-verify"
            )))
        }
    })
}

/// The TLS client, built only when the mode may use TLS: a plain connection (`DB_SSL` unset,
/// `sslmode=disable`) reads no CA bundle, certificate or key, so an image without trusted roots boots.
fn tls_connector(
    mode: SslMode,
    verify: Verify,
    params: &SslParams,
    ssl: &SslSettings,
) -> Result<MakeRustlsConnect, DbError> {
    if mode == SslMode::Disable {
        return Ok(MakeRustlsConnect::plain());
    }
    let input = TlsInput {
        verify,
        ca: read_pem(&params.rootcert, "sslrootcert")?.or_else(|| ssl.ca.clone()),
        cert: read_pem(&params.cert, "sslcert")?.or_else(|| ssl.cert.clone()),
        key: read_pem(&params.key, "sslkey")?.or_else(|| ssl.key.as_ref().map(|k| k.expose().to_string())),
    };
    Ok(MakeRustlsConnect::new(tls::client_config(&input).map_err(DbError::Config)?))
}

/// The PEM text of the file a connection-string key names (`sslrootcert=system`: the system bundle).
fn read_pem(path: &Option<String>, key: &str) -> Result<Option<String>, DbError> {
    match path {
        None => Ok(None),
        Some(p) if key == "sslrootcert" && p == "system" => Ok(None),
        Some(p) => std::fs::read_to_string(p)
            .map(Some)
            .map_err(|e| DbError::Config(format!("{key}={p:?} in DB_CONNECTION_STRING cannot be read: {e}"))),
    }
}

/// What every trm-init session gets, whatever the deployer wrote.
fn session_settings(config: &mut tokio_postgres::Config, mode: SslMode) {
    config
        .ssl_mode(mode)
        .application_name(APPLICATION_NAME)
        .connect_timeout(Duration::from_secs(10))
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .keepalives_interval(Duration::from_secs(10))
        .keepalives_retries(3)
        .tcp_user_timeout(Duration::from_secs(60));
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        config.host("localhost");
    }
}

/// The libpq TLS keys of a connection string that trm-init applies to rustls itself.
#[derive(Debug, Default, PartialEq)]
struct SslParams {
    mode: Option<String>,
    rootcert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

impl From<Vec<(String, String)>> for SslParams {
    fn from(taken: Vec<(String, String)>) -> Self {
        let mut params = SslParams::default();
        for (key, value) in taken {
            match key.as_str() {
                "sslmode" => params.mode = Some(value.to_ascii_lowercase()),
                "sslrootcert" => params.rootcert = Some(value),
                "sslcert" => params.cert = Some(value),
                "sslkey" => params.key = Some(value),
                _ => {}
            }
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_without_tls_keys_still_parses() {
        let mut parsed = ConnString::parse("host=h password='a b\\'c' sslmode=require dbname=d").unwrap();
        let params = SslParams::from(parsed.take(TLS_KEYS));
        assert_eq!(params.mode.as_deref(), Some("require"));
        assert!(tokio_postgres::Config::from_str(&parsed.render()).is_ok());
    }

    #[test]
    fn unknown_sslmode_is_a_config_error() {
        let settings = DbSettings {
            target: DbTarget::ConnectionString(crate::config::secret::Secret::new("postgres://h/d?sslmode=sometimes")),
            ssl: Default::default(),
            warnings: vec![],
        };
        let err = Target::new(&settings).err().expect("must fail").to_string();
        assert!(err.contains("sometimes"), "{err}");
    }
}

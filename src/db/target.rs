//! Turns `DbSettings` (Directus's `DB_*` variables) into a tokio-postgres `Config` and a TLS connector.
//!
//! libpq-only connection-string keys (`sslrootcert`, `sslcert`, `sslkey`, `sslmode=verify-*`) are taken
//! out and applied to rustls here, since tokio-postgres refuses them. Host names are resolved on every
//! attempt by `resolve` and passed as `hostaddr`, keeping `host` for TLS.

use super::resolve;
use super::tls::{self, TlsInput, Verify};
use super::tls_stream::MakeRustlsConnect;
use super::{DbError, APPLICATION_NAME};
use crate::config::database::{redact_dsn, DbSettings, DbTarget};
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};

/// Keys removed from a connection string before tokio-postgres parses it.
const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl", "uselibpqcompat"];

pub struct Target {
    base: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    describe: String,
}

impl Target {
    pub fn new(settings: &DbSettings) -> Result<Target, DbError> {
        let mut ssl_params = SslParams::default();
        let mut config = match &settings.target {
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
                c
            }
            DbTarget::ConnectionString(dsn) => {
                let (rest, params) = split_tls_params(dsn.expose()).map_err(DbError::Config)?;
                ssl_params = params;
                tokio_postgres::Config::from_str(&rest).map_err(|e| {
                    DbError::Config(format!(
                        "DB_CONNECTION_STRING {}: {}",
                        redact_dsn(dsn.expose()),
                        crate::exit::error_chain(&e)
                    ))
                })?
            }
        };
        let ssl = &settings.ssl;
        let (mode, verify) = match ssl_params.mode.as_deref() {
            None if ssl.enabled => (SslMode::Require, verify_flag(ssl.reject_unauthorized)),
            None | Some("disable") => (SslMode::Disable, Verify::None),
            Some("allow") | Some("prefer") => (SslMode::Prefer, Verify::None),
            Some("require") | Some("verify-full") => (SslMode::Require, verify_flag(ssl.reject_unauthorized)),
            Some("verify-ca") => (SslMode::Require, if ssl.reject_unauthorized { Verify::ChainOnly } else { Verify::None }),
            Some("no-verify") => (SslMode::Require, Verify::None),
            Some(other) => {
                return Err(DbError::Config(format!(
                    "sslmode={other:?} in DB_CONNECTION_STRING is not one of disable, allow, prefer, require, verify-ca, verify-full, no-verify"
                )))
            }
        };
        let read = |path: &Option<String>, what: &str| -> Result<Option<String>, DbError> {
            match path {
                None => Ok(None),
                Some(p) if what == "sslrootcert" && p == "system" => Ok(None),
                Some(p) => std::fs::read_to_string(p)
                    .map(Some)
                    .map_err(|e| DbError::Config(format!("{what}={p:?} in DB_CONNECTION_STRING cannot be read: {e}"))),
            }
        };
        let input = TlsInput {
            verify,
            ca: read(&ssl_params.rootcert, "sslrootcert")?.or_else(|| ssl.ca.clone()),
            cert: read(&ssl_params.cert, "sslcert")?.or_else(|| ssl.cert.clone()),
            key: read(&ssl_params.key, "sslkey")?.or_else(|| ssl.key.as_ref().map(|k| k.expose().to_string())),
        };
        let tls = MakeRustlsConnect::new(tls::client_config(&input).map_err(DbError::Config)?);

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

    pub fn describe(&self) -> String {
        self.describe.clone()
    }

    pub fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    /// The config with every TCP host name resolved to an address (`hostaddr`); `host` stays for TLS.
    pub async fn resolved_config(&self) -> Result<tokio_postgres::Config, String> {
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

fn verify_flag(reject_unauthorized: bool) -> Verify {
    if reject_unauthorized {
        Verify::Full
    } else {
        Verify::None
    }
}

#[derive(Debug, Default, PartialEq)]
struct SslParams {
    mode: Option<String>,
    rootcert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

impl SslParams {
    fn take(&mut self, key: &str, value: String) {
        match key {
            "sslmode" => self.mode = Some(value.to_ascii_lowercase()),
            "sslrootcert" => self.rootcert = Some(value),
            "sslcert" => self.cert = Some(value),
            "sslkey" => self.key = Some(value),
            _ => {}
        }
    }
}

/// Removes the TLS keys from a URL (`?a=b&...`) or key/value (`a=b c='d e'`) connection string.
fn split_tls_params(dsn: &str) -> Result<(String, SslParams), String> {
    let mut params = SslParams::default();
    if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        let Some((head, query)) = dsn.split_once('?') else {
            return Ok((dsn.to_string(), params));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if TLS_KEYS.contains(&k) {
                params.take(k, percent_decode(v));
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() { head.to_string() } else { format!("{head}?{}", kept.join("&")) };
        return Ok((rest, params));
    }
    let mut kept = Vec::new();
    for (key, value, raw) in key_values(dsn)? {
        if TLS_KEYS.contains(&key.as_str()) {
            params.take(&key, value);
        } else {
            kept.push(raw);
        }
    }
    Ok((kept.join(" "), params))
}

/// `key = value` pairs of a libpq conninfo string: (key, unquoted value, the pair's original text).
fn key_values(text: &str) -> Result<Vec<(String, String, String)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            return Ok(out);
        }
        let start = i;
        while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        skip_ws(&mut i);
        if i >= chars.len() || chars[i] != '=' {
            return Err(format!("DB_CONNECTION_STRING: expected `=` after {key:?}"));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = String::new();
        if i < chars.len() && chars[i] == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("DB_CONNECTION_STRING: unterminated quoted value".into()),
                    Some('\\') => {
                        if let Some(c) = chars.get(i + 1) {
                            value.push(*c);
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < chars.len() && !chars[i].is_whitespace() {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                value.push(chars[i]);
                i += 1;
            }
        }
        out.push((key, value, chars[start..i].iter().collect()));
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_tls_keys_are_taken_out() {
        let (rest, p) =
            split_tls_params("postgres://u:p@h:5/d?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fca.pem")
                .unwrap();
        assert_eq!(rest, "postgres://u:p@h:5/d?connect_timeout=3");
        assert_eq!(p.mode.as_deref(), Some("verify-full"));
        assert_eq!(p.rootcert.as_deref(), Some("/ca.pem"));
    }

    #[test]
    fn conninfo_tls_keys_are_taken_out_and_quotes_kept() {
        let (rest, p) = split_tls_params("host=h password='a b\\'c' sslmode=require dbname=d").unwrap();
        assert_eq!(rest, "host=h password='a b\\'c' dbname=d");
        assert_eq!(p.mode.as_deref(), Some("require"));
        assert!(tokio_postgres::Config::from_str(&rest).is_ok());
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

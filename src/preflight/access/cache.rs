//! Telling running Directus replicas that permissions changed.
//!
//! Owns reading Directus's own Redis settings (`REDIS`, or `REDIS_HOST` / `REDIS_PORT` /
//! `REDIS_USERNAME` / `REDIS_PASSWORD[_FILE]` / `REDIS_DB`, `REDIS_ENABLED`, `REDIS_PERMISSIONS_NAMESPACE`)
//! and the few Redis commands that clear Directus 11.17.4's permission cache. It never reads or writes
//! anything else in Redis, and never touches the database.
//!
//! How Directus 11.17.4 caches permissions (`@directus/api` `permissions/cache.js`,
//! `@directus/memory` `CacheMulti`): with Redis configured, every resolved policy / permission lookup is
//! stored in Redis under `<namespace>:<key>` (namespace `permissions` unless
//! `REDIS_PERMISSIONS_NAMESPACE` says otherwise) *and* in a per-process LRU (100 keys, no expiry). When
//! Directus itself changes a permission it clears both and publishes `{"type":"clear","origin":<pid>}`
//! on the channel `<namespace>:multi-cache`; every other process clears its LRU on that message.
//! trm-init writes the access tables with SQL, so it does the same: UNLINK every `<namespace>:*` key,
//! then PUBLISH the clear message. Without Redis each Directus process keeps its own LRU (500 keys, no
//! expiry) that nothing outside it can clear: a replica running during the change keeps the old
//! permissions until it restarts (Directus needs Redis for several replicas anyway).

use std::io;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(5);

/// Where Directus's Redis is, as far as trm-init needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    pub namespace: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}/{} (namespace {})", self.host, self.port, self.db, self.namespace)
    }
}

impl RedisTarget {
    /// Directus's rule (`redisConfigAvailable`): `REDIS_ENABLED` decides when set; otherwise Redis is on
    /// when `REDIS` or any `REDIS_*` variable is set. Ok(None): Directus runs without Redis.
    pub fn from_env() -> Result<Option<RedisTarget>, String> {
        let vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("REDIS")).collect();
        Self::from_vars(&vars)
    }

    /// Directus 11.17.4's reading (`@directus/env`, `redisConfigAvailable`, `createRedis`): a `<VAR>_FILE`
    /// of one of Directus's own Redis variables is read instead of `<VAR>`, exactly as the file holds it;
    /// `REDIS_ENABLED` decides when set (`true` or `1`), else any `REDIS` / `REDIS_*` turns Redis on;
    /// `REDIS` (a URL) wins over the single variables, whose defaults are ioredis's. The cases are
    /// `extensions/test/redis-settings.json`, which the extensions' tests read too.
    pub fn from_vars(vars: &[(String, String)]) -> Result<Option<RedisTarget>, String> {
        let plain = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let get = |k: &str| -> Result<Option<String>, String> {
            let file = format!("{k}_FILE");
            match plain(&file) {
                Some(path) if DIRECTUS_VARIABLES.contains(&k) => {
                    std::fs::read_to_string(&path).map(Some).map_err(|e| format!("{file}: {path}: {e}"))
                }
                _ => Ok(plain(k)),
            }
        };
        if let Some(enabled) = get("REDIS_ENABLED")? {
            if !matches!(enabled.as_str(), "true" | "1") {
                return Ok(None);
            }
        } else if !vars.iter().any(|(k, _)| k == "REDIS" || k.starts_with("REDIS_")) {
            return Ok(None);
        }
        let namespace = get("REDIS_PERMISSIONS_NAMESPACE")?.unwrap_or_else(|| "permissions".into());
        if let Some(url) = get("REDIS")? {
            let mut t = parse_url(&url)?;
            t.namespace = namespace;
            return Ok(Some(t));
        }
        let port = match get("REDIS_PORT")? {
            Some(p) => p.parse().map_err(|_| format!("REDIS_PORT={p} is not a port"))?,
            None => 6379,
        };
        let db = match get("REDIS_DB")? {
            Some(d) => d.parse().map_err(|_| format!("REDIS_DB={d} is not a database number"))?,
            None => 0,
        };
        Ok(Some(RedisTarget {
            host: get("REDIS_HOST")?.unwrap_or_else(|| "localhost".into()),
            port,
            username: get("REDIS_USERNAME")?,
            password: get("REDIS_PASSWORD")?,
            db,
            namespace,
        }))
    }
}

/// Directus's own Redis variables (`@directus/env`'s list): only these have a `_FILE` form.
const DIRECTUS_VARIABLES: [&str; 11] = [
    "REDIS",
    "REDIS_ENABLED",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_DB",
    "REDIS_BUS_NAMESPACE",
    "REDIS_LOCK_NAMESPACE",
    "REDIS_COUNTERS_NAMESPACE",
    "REDIS_PERMISSIONS_NAMESPACE",
];

/// `redis://[user[:password]@]host[:port][/db]`.
pub(crate) fn parse_url(url: &str) -> Result<RedisTarget, String> {
    let rest = match url.split_once("://") {
        Some(("redis", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!("REDIS uses {scheme}://, which trm-init cannot reach (it speaks plain redis:// only)"))
        }
        None => return Err("REDIS is not a redis:// URL".into()),
    };
    let (auth, hostpart) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    let (hostport, db) = match hostpart.split_once('/') {
        Some((hp, d)) if !d.is_empty() => (hp, d.parse().map_err(|_| "REDIS: the path is not a database number")?),
        Some((hp, _)) => (hp, 0),
        None => (hostpart, 0),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| "REDIS: the port is not a number")?),
        None => (hostport, 6379),
    };
    let (username, password) = match auth {
        None => (None, None),
        Some(a) => match a.split_once(':') {
            Some((u, p)) => {
                ((!u.is_empty()).then(|| decode(u, "user name")).transpose()?, Some(decode(p, "password")?))
            }
            None => (Some(decode(a, "user name")?), None),
        },
    };
    Ok(RedisTarget {
        host: host.trim_matches(['[', ']']).to_string(),
        port,
        username,
        password,
        db,
        namespace: String::new(),
    })
}

/// A percent-encoded part of the URL's userinfo. A `%` that starts no escape (two hex digits), or
/// escapes that are not UTF-8, are errors, as they are for Directus (its URL parser throws). The error
/// names the part, never its value (it may be a password).
fn decode(part: &str, what: &str) -> Result<String, String> {
    let bytes = part.as_bytes();
    let stray = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if stray {
        return Err(format!("REDIS: the {what} has a `%` that starts no percent-escape (write `%25` for `%`)"));
    }
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| format!("REDIS: the {what} is not UTF-8 once percent-decoded"))
}

/// What one invalidation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    /// Cached entries removed from Redis.
    pub keys: usize,
    /// Processes subscribed to the clear channel (running Directus replicas).
    pub listeners: i64,
}

/// Clears Directus's permission cache in Redis and tells every running process to clear its own.
pub async fn clear_permissions(target: &RedisTarget) -> Result<Cleared, String> {
    timeout(LIMIT * 4, clear(target))
        .await
        .map_err(|_| format!("Redis at {}:{} did not answer within {:?}", target.host, target.port, LIMIT * 4))?
        .map_err(|e| format!("Redis at {}:{}: {e}", target.host, target.port))
}

async fn clear(target: &RedisTarget) -> io::Result<Cleared> {
    let ip = crate::db::resolve::lookup(&target.host).await?;
    let stream = timeout(LIMIT, TcpStream::connect((ip, target.port)))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let mut conn = Resp { stream: BufReader::new(stream) };
    if let Some(password) = &target.password {
        match &target.username {
            Some(user) => conn.call(&["AUTH", user, password]).await?,
            None => conn.call(&["AUTH", password]).await?,
        };
    }
    if target.db != 0 {
        conn.call(&["SELECT", &target.db.to_string()]).await?;
    }
    let pattern = format!("{}:*", target.namespace);
    let mut cursor = "0".to_string();
    let mut keys = 0;
    loop {
        let reply = conn.call(&["SCAN", &cursor, "MATCH", &pattern, "COUNT", "1000"]).await?;
        let Reply::Array(mut parts) = reply else { return Err(bad("SCAN answered something else than an array")) };
        if parts.len() != 2 {
            return Err(bad("SCAN answered an array of the wrong length"));
        }
        let found = parts.pop();
        cursor = match parts.pop() {
            Some(Reply::Bulk(Some(c))) => String::from_utf8_lossy(&c).into_owned(),
            _ => return Err(bad("SCAN cursor missing")),
        };
        if let Some(Reply::Array(found)) = found {
            let names: Vec<String> = found
                .into_iter()
                .filter_map(|r| match r {
                    Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
                    _ => None,
                })
                .collect();
            if !names.is_empty() {
                let mut args = vec!["UNLINK"];
                args.extend(names.iter().map(String::as_str));
                conn.call(&args).await?;
                keys += names.len();
            }
        }
        if cursor == "0" {
            break;
        }
    }
    // The message Directus's CacheMulti sends (JSON, uncompressed below 1000 bytes); origin is not a
    // Directus process id, so every process clears its local cache.
    let channel = format!("{}:multi-cache", target.namespace);
    let listeners = match conn.call(&["PUBLISH", &channel, r#"{"type":"clear","origin":"trm-init"}"#]).await? {
        Reply::Integer(n) => n,
        _ => 0,
    };
    Ok(Cleared { keys, listeners })
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

pub(crate) enum Reply {
    Simple,
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

/// Bounds on what a reply may announce: trm-init asks for key names and counts, never for values.
const MAX_BULK: i64 = 16 * 1024 * 1024;
const MAX_ITEMS: i64 = 1024 * 1024;
const MAX_DEPTH: usize = 8;
/// A reply's header line (`$123`, `-ERR ...`) is short.
const MAX_LINE: usize = 64 * 1024;

struct Resp {
    stream: BufReader<TcpStream>,
}

impl Resp {
    async fn call(&mut self, args: &[&str]) -> io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        timeout(LIMIT, self.stream.get_mut().write_all(&out))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))??;
        let name = args.first().copied().unwrap_or_default();
        match timeout(LIMIT, read_reply(&mut self.stream, 0)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Other => Err(io::Error::other(format!("{name}: {e}"))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("{name}: no answer"))),
        }
    }
}

/// One RESP2 reply from `reader`; anything malformed (bytes that are not UTF-8, a length out of
/// bounds, nesting deeper than `MAX_DEPTH`) is an `InvalidData` error, never a panic.
pub(crate) fn read_reply<'a, R: AsyncBufRead + Unpin + Send>(
    reader: &'a mut R,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<Reply>> + Send + 'a>> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(bad("arrays nested too deep"));
        }
        let mut raw = Vec::new();
        if (&mut *reader).take(MAX_LINE as u64).read_until(b'\n', &mut raw).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "Redis closed the connection"));
        }
        if raw.last() != Some(&b'\n') {
            return Err(bad("a reply line without its end"));
        }
        let Some((&kind, rest)) = raw.split_first() else { return Err(bad("an empty reply line")) };
        let rest = std::str::from_utf8(rest).map_err(|_| bad("a reply line that is not UTF-8"))?;
        let rest = rest.trim_end_matches(['\r', '\n']);
        let length = |max: i64| -> io::Result<i64> {
            let n: i64 = rest.parse().map_err(|_| bad("bad length"))?;
            if n > max {
                return Err(bad("a length beyond what trm-init reads"));
            }
            Ok(n)
        };
        match kind {
            b'+' => Ok(Reply::Simple),
            b'-' => Err(io::Error::other(rest.to_string())),
            b':' => rest.parse().map(Reply::Integer).map_err(|_| bad("bad integer")),
            b'$' => {
                let n = length(MAX_BULK)?;
                if n < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let mut buf = vec![0u8; n as usize + 2];
                reader.read_exact(&mut buf).await?;
                buf.truncate(n as usize);
                Ok(Reply::Bulk(Some(buf)))
            }
            b'*' => {
                let n = length(MAX_ITEMS)?;
                let mut items = Vec::new();
                for _ in 0..n.max(0) {
                    items.push(read_reply(reader, depth + 1).await?);
                }
                Ok(Reply::Array(items))
            }
            _ => Err(bad("unknown reply type")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The cases both trm-init and the extensions are tested with (`extensions/test/redis-settings.json`).
    #[test]
    fn the_shared_redis_settings_cases() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/extensions/test/redis-settings.json");
        let table: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("the shared table")).expect("JSON");
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = table["cases"].as_array().expect("cases");
        assert!(cases.len() >= 10, "{path}: the table lost its cases");
        for case in cases {
            let name = case["name"].as_str().unwrap_or("?");
            let mut vars = Vec::new();
            for (key, value) in case["env"].as_object().expect("env") {
                let mut value = value.as_str().expect("env values are strings").to_string();
                if let Some(file) = value.strip_prefix("{file:").and_then(|v| v.strip_suffix('}')) {
                    let path = dir.path().join(file);
                    std::fs::write(&path, case["files"][file].as_str().expect("the file's text")).expect("write");
                    value = path.to_string_lossy().into_owned();
                }
                vars.push((key.clone(), value));
            }
            let got = RedisTarget::from_vars(&vars);
            let expect = &case["expect"];
            match (got, expect.get("error").and_then(|e| e.as_str())) {
                (Err(e), Some(text)) => assert!(e.contains(text), "{name}: {e:?} does not name {text:?}"),
                (Ok(t), Some(text)) => panic!("{name}: expected an error naming {text:?}, got {t:?}"),
                (Err(e), None) => panic!("{name}: {e}"),
                (Ok(None), None) => assert!(expect.is_null(), "{name}: Redis is off, expected {expect}"),
                (Ok(Some(t)), None) => {
                    let seen = serde_json::json!({
                        "host": t.host, "port": t.port, "username": t.username, "password": t.password, "db": t.db,
                    });
                    assert_eq!(&seen, expect, "{name}");
                }
            }
        }
    }

    #[test]
    fn directus_rules_for_redis_settings() {
        assert_eq!(RedisTarget::from_vars(&vars(&[])).unwrap(), None);
        assert_eq!(RedisTarget::from_vars(&vars(&[("REDIS_HOST", "r"), ("REDIS_ENABLED", "false")])).unwrap(), None);
        let t = RedisTarget::from_vars(&vars(&[("REDIS", "redis://u:p%40ss@cache:6380/2")])).unwrap().unwrap();
        assert_eq!((t.host.as_str(), t.port, t.db), ("cache", 6380, 2));
        assert_eq!((t.username.as_deref(), t.password.as_deref()), (Some("u"), Some("p@ss")));
        assert_eq!(t.namespace, "permissions");
        let t = RedisTarget::from_vars(&vars(&[("REDIS_HOST", "r"), ("REDIS_PERMISSIONS_NAMESPACE", "perm2")]))
            .unwrap()
            .unwrap();
        assert_eq!((t.host.as_str(), t.port, t.namespace.as_str()), ("r", 6379, "perm2"));
        assert!(RedisTarget::from_vars(&vars(&[("REDIS", "rediss://x")])).unwrap_err().contains("rediss"));
        assert!(!format!("{t:?}").contains("p@ss"));
    }
}

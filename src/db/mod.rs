//! PostgreSQL sessions for preflight and the `db-init` / `status` commands.
//!
//! Owns connecting (waiting with capped exponential backoff, TLS, name resolution without libc NSS,
//! keepalives, `application_name`), the background task that drives the connection and logs the
//! server's NOTICE/WARNING lines, and cancelling a running statement on the server when `shutdown`
//! fires. It knows nothing about migrations or Directus; the advisory lock lives in `lock`.

pub mod lock;
pub(crate) mod resolve;
mod target;
mod tls;
mod tls_stream;

use crate::config::database::{DbConfigError, DbSettings};
use crate::config::Config;
use futures_util::future::poll_fn;
use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tls_stream::MakeRustlsConnect;
use tokio::time::{sleep, timeout, Instant};
use tokio_postgres::{AsyncMessage, Client};
use tokio_util::sync::CancellationToken;

pub(crate) use target::Target;

/// The `application_name` of every session trm-init opens (visible in `pg_stat_activity`).
pub(crate) const APPLICATION_NAME: &str = "trm-init";
/// One connection attempt (TCP, TLS and authentication together) never takes longer than this.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(10);
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);
/// Bound on the out-of-band work done after a stop request (cancel request, rollback, unlock).
pub(crate) const CLEANUP_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub(crate) enum DbError {
    #[error("invalid database settings: {0}")]
    Config(String),
    #[error("PostgreSQL at {target} refused trm-init: {reason}")]
    Refused { target: String, reason: String },
    #[error("PostgreSQL at {target} was not reachable within database.wait_timeout ({waited}): last error: {last}")]
    Unavailable { target: String, waited: String, last: String },
    #[error("the preflight lock was not acquired within database.lock_timeout ({waited}): {holder}")]
    LockTimeout { waited: String, holder: String },
    #[error("stopped by a stop signal")]
    Cancelled,
    #[error("{what}: {message}")]
    Query { what: String, message: String, lost: bool },
    #[error("{what}: column {column:?} has the unexpected type {found} ({message})")]
    Row { what: String, column: String, found: String, message: String },
}

impl crate::exit::ExitCode for DbError {
    fn exit_code(&self) -> u8 {
        use crate::exit;
        match self {
            DbError::Config(_) | DbError::Refused { .. } => exit::CONFIG,
            DbError::Unavailable { .. } | DbError::LockTimeout { .. } => exit::UNAVAILABLE,
            DbError::Cancelled => exit::TERMINATED,
            // Outside a step (the lock, connecting): the database is what is unavailable.
            DbError::Query { .. } => exit::UNAVAILABLE,
            // The tables trm-init reads rows from are its own history tables (and catalogs): a row it
            // cannot read means the history was altered by hand.
            DbError::Row { .. } => exit::MIGRATION,
        }
    }
}

impl DbError {
    /// A failed query outside the migrations (history, lock, catalog reads): `what` says which.
    pub(crate) fn query(what: impl Into<String>, err: &tokio_postgres::Error) -> Self {
        DbError::Query { what: what.into(), message: describe_error(err), lost: connection_lost(err) }
    }
}

/// The one classifier of database errors, for every step: whether `err` means the connection to
/// PostgreSQL is gone (closed, an I/O error, SQLSTATE class 08, or the server shutting down or
/// restarting: 57P01, 57P02, 57P03). Anything else is an answer of the server (a failed statement) or a
/// value trm-init cannot read; those are the failing step's own.
pub(crate) fn connection_lost(err: &tokio_postgres::Error) -> bool {
    if err.is_closed() {
        return true;
    }
    match err.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
        }
        None => {
            let mut source = std::error::Error::source(err);
            while let Some(e) = source {
                if e.is::<std::io::Error>() {
                    return true;
                }
                source = e.source();
            }
            let text = err.to_string();
            text.contains("communicating with the server") || text.contains("connection closed")
        }
    }
}

/// The exit code of a database error met by a step whose own failures exit `step`: 69 when the
/// connection was lost (whatever the step), `step` otherwise (65 for db-init, 70 for the Directus and
/// access steps), wrong column types included.
pub(crate) fn exit_code_for(err: &tokio_postgres::Error, step: u8) -> u8 {
    step_code(connection_lost(err), step)
}

/// 69 when the connection was lost, else the step's code.
pub(crate) fn step_code(lost: bool, step: u8) -> u8 {
    if lost {
        crate::exit::UNAVAILABLE
    } else {
        step
    }
}

/// Reads column `idx` of `row` as `T` (never `Row::get`, which panics on a type mismatch): a value of
/// another type is a `DbError::Row` naming `what` was read, the column and the type it has.
pub(crate) fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    idx: usize,
    what: &str,
) -> Result<T, DbError> {
    row.try_get(idx).map_err(|e| {
        let col = row.columns().get(idx);
        DbError::Row {
            what: what.to_string(),
            column: col.map_or_else(|| format!("#{idx}"), |c| c.name().to_string()),
            found: col.map_or_else(|| "(no such column)".to_string(), |c| c.type_().name().to_string()),
            message: describe_error(&e),
        }
    })
}

/// The text of a driver error: SQLSTATE, message, detail and hint for server errors, the cause chain
/// otherwise (the driver's own Display is just "db error").
pub(crate) fn describe_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(d) = db.detail() {
                text.push_str(&format!("; detail: {d}"));
            }
            if let Some(h) = db.hint() {
                text.push_str(&format!("; hint: {h}"));
            }
            text
        }
        None => crate::exit::error_chain(err),
    }
}

/// A connected session. Derefs to the `tokio_postgres::Client`, so other steps use it as one.
pub struct Session {
    client: Client,
    tls: MakeRustlsConnect,
    label: Arc<Mutex<String>>,
    driver: tokio::task::JoinHandle<()>,
    target: String,
}

impl Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Session {
    /// Where this session is connected (user@host:port/db), for messages.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// Names what the session is running (a migration file) in the NOTICE/WARNING lines it logs.
    pub(crate) fn set_label(&self, label: &str) {
        if let Ok(mut l) = self.label.lock() {
            l.clear();
            l.push_str(label);
        }
    }

    /// Runs `work` (one statement, a batch, or a whole step's statements on this session) unless
    /// `shutdown` fires first. When it fires mid-statement, the statement is cancelled on the server
    /// (cancel request on a separate connection) and `work` is awaited briefly, so that it ends on its
    /// own error path (a step rolls its transaction back there) before this returns
    /// `Err(DbError::Cancelled)`.
    pub(crate) async fn cancellable<T, F>(&self, shutdown: &CancellationToken, work: F) -> Result<T, DbError>
    where
        F: Future<Output = T>,
    {
        if shutdown.is_cancelled() {
            return Err(DbError::Cancelled);
        }
        tokio::pin!(work);
        tokio::select! {
            biased;
            out = &mut work => Ok(out),
            _ = shutdown.cancelled() => {
                tracing::warn!("stop requested: cancelling the running statement on the server");
                let token = self.client.cancel_token();
                match timeout(CLEANUP_LIMIT, token.cancel_query(self.tls.clone())).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %describe_error(&e), "cancel request failed"),
                    Err(_) => tracing::warn!("cancel request got no answer within {CLEANUP_LIMIT:?}"),
                }
                match timeout(CLEANUP_LIMIT, &mut work).await {
                    Ok(_) => tracing::info!("the work ended after the cancel request"),
                    Err(_) => tracing::warn!("the work did not end within {CLEANUP_LIMIT:?} of the cancel request"),
                }
                Err(DbError::Cancelled)
            }
        }
    }

    /// Closes the session (ending it releases any session lock the server still holds for it).
    pub(crate) async fn close(self) {
        let Session { client, driver, .. } = self;
        drop(client);
        if timeout(CLEANUP_LIMIT, driver).await.is_err() {
            tracing::debug!("connection task did not end in time; dropped");
        }
    }
}

/// Whether a session's work runs under the preflight lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Locking {
    /// Take the preflight lock (`database.lock_timeout`) before the work, release it after: whatever
    /// writes (preflight, `db-init`, `schema`).
    Hold,
    /// Read only (`status`, dry runs): no lock.
    None,
}

/// The one protocol every database command follows: read the `DB_*` settings, connect (waiting up to
/// `database.wait_timeout`), take the preflight lock if asked, run `work`, release the lock, close the
/// session — on every path. The lock's key is derived from `db_init.table`.
pub(crate) async fn with_session<T, E>(
    config: &Config,
    locking: Locking,
    shutdown: &CancellationToken,
    work: impl AsyncFnOnce(&Session) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DbError> + From<DbConfigError>,
{
    let settings = DbSettings::from_env()?;
    let started = std::time::Instant::now();
    let session = connect(&settings, config.database.wait_timeout.get(), shutdown).await;
    crate::metrics::phase("wait", if session.is_ok() { "ok" } else { "failed" }, started.elapsed());
    let session = session?;
    let result = match locking {
        Locking::Hold => {
            let key = lock::key_for(&config.db_init.table);
            lock::holding(&session, key, config.database.lock_timeout.get(), shutdown, work(&session)).await
        }
        Locking::None => work(&session).await,
    };
    session.close().await;
    result
}

/// Connects, waiting for the server until `wait` has passed: connection refused/reset, DNS failures,
/// SQLSTATE 57P03 (starting up), class 08 and 53300 (too many connections) are retried with capped
/// exponential backoff, each wait logged. Authentication, unknown database and TLS verification errors
/// fail at once (exit 78); so does `shutdown` (143).
pub(crate) async fn connect(
    settings: &DbSettings,
    wait: Duration,
    shutdown: &CancellationToken,
) -> Result<Session, DbError> {
    for w in &settings.warnings {
        tracing::warn!("{w}");
    }
    let target = Target::new(settings)?;
    connect_target(&target, wait, shutdown).await
}

pub(crate) async fn connect_target(
    target: &Target,
    wait: Duration,
    shutdown: &CancellationToken,
) -> Result<Session, DbError> {
    let started = Instant::now();
    let deadline = started + wait;
    let mut delay = FIRST_DELAY;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let bound = deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_secs(1), ATTEMPT_LIMIT);
        let outcome = tokio::select! {
            _ = shutdown.cancelled() => return Err(DbError::Cancelled),
            r = timeout(bound, connect_once(target)) => r,
        };
        let reason = match outcome {
            Ok(Ok(session)) => {
                if attempt > 1 {
                    tracing::info!(
                        attempts = attempt,
                        waited_ms = started.elapsed().as_millis() as u64,
                        "connected to PostgreSQL at {}",
                        target.describe()
                    );
                } else {
                    tracing::debug!("connected to PostgreSQL at {}", target.describe());
                }
                return Ok(session);
            }
            Ok(Err(Attempt::Fatal(reason))) => return Err(DbError::Refused { target: target.describe(), reason }),
            Ok(Err(Attempt::Retry(reason))) => reason,
            Err(_) => format!("no complete answer (TCP, TLS and authentication) within {bound:?}"),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(DbError::Unavailable {
                target: target.describe(),
                waited: humantime::format_duration(wait).to_string(),
                last: reason,
            });
        }
        let pause = delay.min(deadline - now);
        tracing::info!(
            attempt,
            retry_in_ms = pause.as_millis() as u64,
            "waiting for PostgreSQL at {}: {reason}",
            target.describe()
        );
        tokio::select! {
            _ = shutdown.cancelled() => return Err(DbError::Cancelled),
            _ = sleep(pause) => {}
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
}

enum Attempt {
    Retry(String),
    Fatal(String),
}

async fn connect_once(target: &Target) -> Result<Session, Attempt> {
    let config = target.resolved_config().await.map_err(Attempt::Retry)?;
    let tls = target.tls();
    let (client, mut connection) = config.connect(tls.clone()).await.map_err(classify)?;
    let label = Arc::new(Mutex::new(String::new()));
    let notice_label = label.clone();
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notice(notice))) => log_notice(&notice_label, &notice),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %describe_error(&e), "database connection ended");
                    break;
                }
                None => break,
            }
        }
    });
    Ok(Session { client, tls, label, driver, target: target.describe() })
}

fn log_notice(label: &Mutex<String>, n: &tokio_postgres::error::DbError) {
    let label = label.lock().map(|l| l.clone()).unwrap_or_default();
    let mut text = n.message().to_string();
    if let Some(d) = n.detail() {
        text.push_str(&format!(" (detail: {d})"));
    }
    if let Some(h) = n.hint() {
        text.push_str(&format!(" (hint: {h})"));
    }
    let code = n.code().code();
    let from = if label.is_empty() { String::new() } else { format!(" ({label})") };
    match n.severity() {
        "WARNING" => {
            tracing::warn!(file = %label, sqlstate = code, "PostgreSQL WARNING{from}: {text}")
        }
        "NOTICE" | "INFO" => {
            tracing::info!(file = %label, sqlstate = code, "PostgreSQL {}{from}: {text}", n.severity())
        }
        other => {
            tracing::debug!(file = %label, sqlstate = code, "PostgreSQL {other}{from}: {text}")
        }
    }
}

/// Which connection errors mean "not ready yet" and which mean "this will never work".
fn classify(err: tokio_postgres::Error) -> Attempt {
    if let Some(db) = err.as_db_error() {
        let code = db.code().code();
        let retry = code == "57P03" || code.starts_with("08") || code == "53300" || code == "57P01";
        let mut reason = describe_error(&err);
        match code {
            "28P01" => reason.push_str(" (check DB_USER and DB_PASSWORD / DB_PASSWORD_FILE)"),
            "3D000" => reason.push_str(" (check DB_DATABASE; trm-init does not create the database)"),
            "28000" => reason.push_str(" (the server's pg_hba.conf does not admit this user/host/TLS combination)"),
            _ => {}
        }
        return if retry { Attempt::Retry(reason) } else { Attempt::Fatal(reason) };
    }
    let reason = crate::exit::error_chain(&err);
    let top = err.to_string();
    match top.as_str() {
        "authentication error" | "invalid configuration" | "invalid connection string" => Attempt::Fatal(reason),
        "error performing TLS handshake" => {
            if io_kind(&err).is_some_and(retryable_io) {
                Attempt::Retry(reason)
            } else {
                Attempt::Fatal(format!("{reason} (check sslmode / DB_SSL__* and the server's certificate)"))
            }
        }
        _ => Attempt::Retry(reason),
    }
}

fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

fn retryable_io(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        ConnectionRefused | ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | TimedOut | NotConnected
    )
}

//! The preflight lock: a session advisory lock on one dedicated connection, so replicas that boot at
//! once run preflight one after the other.
//!
//! Owns taking it (polling `pg_try_advisory_lock`, never a blocking wait that would hold a snapshot and
//! stall `CREATE INDEX CONCURRENTLY`), logging who holds it while waiting, giving up after
//! `database.lock_timeout`, and releasing it with the result checked. Closing the session also releases
//! it, which covers the paths where the connection itself is gone.

use super::{describe_error, DbError, Session, CLEANUP_LIMIT};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};
use tokio_util::sync::CancellationToken;

const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);
const HOLDER_LOG_EVERY: Duration = Duration::from_secs(5);

/// The lock key for a history table: stable across versions and replicas (advisory locks are per
/// database, so two databases on one server do not contend).
pub fn key_for(table: &str) -> i64 {
    let digest = Sha256::digest(format!("trm-init preflight lock: {table}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// A held lock. Call `release`; if it is dropped instead, closing the session releases it.
#[must_use = "release the lock with Lock::release"]
pub(crate) struct Lock {
    key: i64,
}

impl Lock {
    pub(crate) async fn acquire(
        session: &Session,
        key: i64,
        limit: Duration,
        shutdown: &CancellationToken,
    ) -> Result<Lock, DbError> {
        let started = Instant::now();
        let mut poll = FIRST_POLL;
        let mut last_holder_log: Option<Instant> = None;
        let mut holder = String::from("held by another session");
        loop {
            let got = session
                .cancellable(shutdown, session.query_one("SELECT pg_try_advisory_lock($1)", &[&key]))
                .await?
                .map_err(|e| DbError::query("taking the preflight lock", &e))?;
            if super::column::<bool>(&got, 0, "taking the preflight lock")? {
                let waited = started.elapsed();
                if waited > FIRST_POLL {
                    tracing::info!(waited_ms = waited.as_millis() as u64, "preflight lock acquired after waiting");
                } else {
                    tracing::debug!(key, "preflight lock acquired");
                }
                return Ok(Lock { key });
            }
            if last_holder_log.is_none_or(|t| t.elapsed() >= HOLDER_LOG_EVERY) {
                holder = describe_holder(session, key).await;
                tracing::info!(
                    waited_ms = started.elapsed().as_millis() as u64,
                    "waiting for the preflight lock: {holder}"
                );
                last_holder_log = Some(Instant::now());
            }
            if started.elapsed() >= limit {
                return Err(DbError::LockTimeout { waited: humantime::format_duration(limit).to_string(), holder });
            }
            let pause = poll.min(limit.saturating_sub(started.elapsed())).max(Duration::from_millis(10));
            tokio::select! {
                _ = shutdown.cancelled() => return Err(DbError::Cancelled),
                _ = sleep(pause) => {}
            }
            poll = (poll * 2).min(MAX_POLL);
        }
    }

    /// Releases the lock and checks that the server had it for this session. Never cancelled by a stop
    /// signal (it must run on that path too), but bounded.
    pub(crate) async fn release(self, session: &Session) -> Result<(), DbError> {
        let key = self.key;
        match timeout(CLEANUP_LIMIT, session.query_one("SELECT pg_advisory_unlock($1)", &[&key])).await {
            Ok(Ok(row)) => match super::column::<bool>(&row, 0, "releasing the preflight lock")? {
                true => {
                    tracing::debug!("preflight lock released");
                    Ok(())
                }
                false => Err(DbError::Query {
                    what: "releasing the preflight lock".into(),
                    message: "the server says this session did not hold it".into(),
                    lost: false,
                }),
            },
            Ok(Err(e)) => Err(DbError::Query {
                what: "releasing the preflight lock".into(),
                message: format!("{} (closing the connection releases it)", describe_error(&e)),
                lost: super::connection_lost(&e),
            }),
            Err(_) => Err(DbError::Query {
                what: "releasing the preflight lock".into(),
                message: format!("no answer within {CLEANUP_LIMIT:?} (closing the connection releases it)"),
                lost: true,
            }),
        }
    }
}

/// Runs `work` while holding the preflight lock `key` on `session`: acquired by polling (up to `limit`),
/// released on every path. A failed release is logged, as an error when `work` succeeded and as a
/// warning when it already failed (its own error is the one to report); closing the session releases
/// the lock in any case.
pub(crate) async fn holding<T, E: From<DbError>>(
    session: &Session,
    key: i64,
    limit: Duration,
    shutdown: &CancellationToken,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let lock = Lock::acquire(session, key, limit, shutdown).await?;
    crate::metrics::lock_waited(started.elapsed());
    let result = work.await;
    if let Err(e) = lock.release(session).await {
        if result.is_ok() {
            tracing::error!("{e}");
        } else {
            tracing::warn!("{e}");
        }
    }
    result
}

/// "held by pid 123 (trm-init, 10.0.0.4, running for 3s, state active)" — from pg_locks + pg_stat_activity.
async fn describe_holder(session: &Session, key: i64) -> String {
    const SQL: &str = "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), \
        coalesce(extract(epoch FROM now() - a.backend_start)::bigint, 0), coalesce(a.state, '') \
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
        AND l.classid::bigint = (($1::bigint >> 32) & 4294967295) AND l.objid::bigint = ($1::bigint & 4294967295) AND l.objsubid = 1 \
        LIMIT 1";
    match session.query_opt(SQL, &[&key]).await {
        Ok(Some(row)) => {
            let what = "reading who holds the preflight lock";
            let read = || -> Result<String, DbError> {
                let pid: i32 = super::column(&row, 0, what)?;
                let app: String = super::column(&row, 1, what)?;
                let client: String = super::column(&row, 2, what)?;
                let age: i64 = super::column(&row, 3, what)?;
                let state: String = super::column(&row, 4, what)?;
                let app = if app.is_empty() { "no application_name".to_string() } else { app };
                Ok(format!("held by backend pid {pid} ({app}, client {client}, connected {age}s ago, state {state})"))
            };
            read().unwrap_or_else(|e| format!("held by another session (who: unknown, {e})"))
        }
        Ok(None) => "held by another session (it may have just released it)".into(),
        Err(e) => format!("held by another session (who: unknown, {})", describe_error(&e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_is_stable_and_table_specific() {
        assert_eq!(super::key_for("migrations_applied"), super::key_for("migrations_applied"));
        assert_ne!(super::key_for("migrations_applied"), super::key_for("other"));
    }
}

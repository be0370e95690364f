//! Applies one migration file: in one transaction with its history row, or — for a
//! `-- trm-init: no-transaction` file — statement by statement, recorded after the last one succeeded.
//! A stop request cancels the running statement on the server and rolls back.

use super::files::MigrationFile;
use super::history;
use super::sql_text::{chars_before, line_col, statements};
use super::{FileFailure, MigrationError, Phase};
use crate::db::{DbError, Session, CLEANUP_LIMIT};
use std::time::Instant;
use tokio::time::timeout;
use tokio_postgres::error::ErrorPosition;
use tokio_util::sync::CancellationToken;

/// Applies `file`; returns its duration in milliseconds.
pub async fn apply(session: &Session, table: &str, phase: Phase, file: &MigrationFile, shutdown: &CancellationToken) -> Result<u64, MigrationError> {
    session.set_label(&file.name);
    let started = Instant::now();
    let result = if file.no_transaction {
        apply_statements(session, table, phase, file, started, shutdown).await
    } else {
        apply_in_transaction(session, table, phase, file, started, shutdown).await
    };
    session.set_label("");
    result.map(|()| started.elapsed().as_millis() as u64)
}

async fn apply_in_transaction(
    session: &Session,
    table: &str,
    phase: Phase,
    file: &MigrationFile,
    started: Instant,
    shutdown: &CancellationToken,
) -> Result<(), MigrationError> {
    let fail = |err: &tokio_postgres::Error, offset: usize| MigrationError::Failed(Box::new(FileFailure::new(phase, file, err, offset, false)));
    session.batch_execute("BEGIN").await.map_err(|e| fail(&e, 0))?;
    let outcome = match session.cancellable(shutdown, session.batch_execute(&file.sql)).await {
        Err(cancelled) => Err(cancelled.into()),
        Ok(Err(e)) => Err(fail(&e, 0)),
        Ok(Ok(())) => {
            let ms = started.elapsed().as_millis() as i64;
            match session.cancellable(shutdown, record(session, table, phase, file, ms)).await {
                Err(cancelled) => Err(cancelled.into()),
                Ok(Err(e)) => Err(MigrationError::Db(DbError::query(format!("recording {}", file.name), &e))),
                Ok(Ok(_)) => match session.cancellable(shutdown, session.batch_execute("COMMIT")).await {
                    Err(cancelled) => Err(cancelled.into()),
                    Ok(Err(e)) => Err(fail(&e, 0)),
                    Ok(Ok(())) => return Ok(()),
                },
            }
        }
    };
    rollback(session).await;
    outcome
}

async fn rollback(session: &Session) {
    if session.is_closed() {
        return;
    }
    match timeout(CLEANUP_LIMIT, session.batch_execute("ROLLBACK")).await {
        Ok(Ok(())) => tracing::debug!("rolled back"),
        Ok(Err(e)) => tracing::debug!(error = %crate::db::describe_error(&e), "rollback failed (the connection is gone; the server rolls back)"),
        Err(_) => tracing::warn!("rollback got no answer within {CLEANUP_LIMIT:?}"),
    }
}

async fn apply_statements(
    session: &Session,
    table: &str,
    phase: Phase,
    file: &MigrationFile,
    started: Instant,
    shutdown: &CancellationToken,
) -> Result<(), MigrationError> {
    let parts = statements(&file.sql);
    for (offset, text) in &parts {
        match session.cancellable(shutdown, session.batch_execute(text)).await? {
            Ok(()) => {}
            Err(e) => {
                let offset = chars_before(&file.sql, *offset);
                return Err(MigrationError::Failed(Box::new(FileFailure::new(phase, file, &e, offset, parts.len() > 1))));
            }
        }
    }
    let ms = started.elapsed().as_millis() as i64;
    record(session, table, phase, file, ms)
        .await
        .map_err(|e| MigrationError::Db(DbError::query(format!("recording {} (its statements were applied)", file.name), &e)))?;
    Ok(())
}

async fn record(session: &Session, table: &str, phase: Phase, file: &MigrationFile, ms: i64) -> Result<u64, tokio_postgres::Error> {
    let sql = history::insert_sql(table);
    let name = phase.history_name(&file.name);
    let by = history::applied_by();
    session.execute(&sql, &[&name, &file.checksum, &phase.name(), &ms, &by]).await
}

impl FileFailure {
    /// `offset`: characters of the file before the text that was sent (statement mode).
    fn new(phase: Phase, file: &MigrationFile, err: &tokio_postgres::Error, offset: usize, partial: bool) -> FileFailure {
        let mut f = FileFailure {
            phase,
            file: file.name.clone(),
            sqlstate: None,
            message: crate::exit::error_chain(err),
            detail: None,
            hint: None,
            context: None,
            position: None,
            partial,
        };
        if let Some(db) = err.as_db_error() {
            f.sqlstate = Some(db.code().code().to_string());
            f.message = format!("{}: {}", db.severity(), db.message());
            f.detail = db.detail().map(str::to_string);
            f.hint = db.hint().map(str::to_string);
            f.context = db.where_().map(str::to_string);
            if let Some(ErrorPosition::Original(pos)) = db.position() {
                f.position = Some(line_col(&file.sql, offset + *pos as usize));
            }
        } else if err.is_closed() || session_lost(err) {
            f.message = format!("the connection to PostgreSQL was lost while the file ran ({})", f.message);
        }
        f
    }
}

fn session_lost(err: &tokio_postgres::Error) -> bool {
    let text = err.to_string();
    text.contains("communicating with the server") || text.contains("connection closed")
}

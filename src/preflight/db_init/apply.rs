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
use tokio_postgres::Statement;
use tokio_util::sync::CancellationToken;

/// How a transactional file's COMMIT waits for the WAL flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flush {
    /// The last file of a run: its synchronous COMMIT also flushes every earlier one.
    Wait,
    /// Earlier files: `synchronous_commit = off` for that transaction only. A server crash right after
    /// could lose the file and its history row together (never one without the other), so the file is
    /// simply applied again on the next boot; the run's last COMMIT makes them all durable.
    Later,
}

/// Applies `file`; returns its duration in milliseconds.
pub(crate) async fn apply(
    session: &Session,
    phase: Phase,
    file: &MigrationFile,
    insert: &Statement,
    flush: Flush,
    shutdown: &CancellationToken,
) -> Result<u64, MigrationError> {
    session.set_label(&file.name);
    let started = Instant::now();
    let result = if file.no_transaction {
        apply_statements(session, insert, phase, file, started, shutdown).await
    } else {
        apply_in_transaction(session, insert, phase, file, flush, started, shutdown).await
    };
    session.set_label("");
    result.map(|()| started.elapsed().as_millis() as u64)
}

async fn apply_in_transaction(
    session: &Session,
    insert: &Statement,
    phase: Phase,
    file: &MigrationFile,
    flush: Flush,
    started: Instant,
    shutdown: &CancellationToken,
) -> Result<(), MigrationError> {
    let fail = |err: &tokio_postgres::Error, offset: usize| {
        MigrationError::Failed(Box::new(FileFailure::new(phase, file, err, offset, false)))
    };
    let begin = match flush {
        Flush::Wait => "BEGIN",
        Flush::Later => "BEGIN; SET LOCAL synchronous_commit = off",
    };
    // BEGIN and the file are pipelined (one round trip), as are the history row and COMMIT: 1,000
    // small files must not cost 5 round trips each. Each stays its own message, so an error position
    // still points into the file. A failed INSERT turns the COMMIT into a rollback on the server.
    let (began, ran) = futures_util::future::join(
        session.batch_execute(begin),
        session.cancellable(shutdown, session.batch_execute(&file.sql)),
    )
    .await;
    let outcome = match (began, ran) {
        (_, Err(cancelled)) => Err(cancelled.into()),
        (Err(e), _) => Err(fail(&e, 0)),
        (Ok(()), Ok(Err(e))) => Err(fail(&e, 0)),
        (Ok(()), Ok(Ok(()))) => {
            let ms = started.elapsed().as_millis() as i64;
            let (name, phase_name, by) = (phase.history_name(&file.name), phase.name(), history::applied_by());
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                [&name, &file.checksum, &phase_name, &ms, &by];
            let finish = futures_util::future::join(session.execute(insert, &params), session.batch_execute("COMMIT"));
            match session.cancellable(shutdown, async { Ok::<_, tokio_postgres::Error>(finish.await) }).await {
                Err(cancelled) => Err(cancelled.into()),
                Ok(Ok((Err(e), _))) => Err(MigrationError::Db(DbError::query(format!("recording {}", file.name), &e))),
                Ok(Ok((Ok(_), Err(e)))) => Err(fail(&e, 0)),
                Ok(Ok((Ok(_), Ok(())))) => return Ok(()),
                Ok(Err(e)) => Err(fail(&e, 0)),
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
        Ok(Err(e)) => {
            tracing::debug!(error = %crate::db::describe_error(&e), "rollback failed (the connection is gone; the server rolls back)")
        }
        Err(_) => tracing::warn!("rollback got no answer within {CLEANUP_LIMIT:?}"),
    }
}

async fn apply_statements(
    session: &Session,
    insert: &Statement,
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
                return Err(MigrationError::Failed(Box::new(FileFailure::new(
                    phase,
                    file,
                    &e,
                    offset,
                    parts.len() > 1,
                ))));
            }
        }
    }
    let ms = started.elapsed().as_millis() as i64;
    record(session, insert, phase, file, ms).await.map_err(|e| {
        MigrationError::Db(DbError::query(format!("recording {} (its statements were applied)", file.name), &e))
    })?;
    Ok(())
}

async fn record(
    session: &Session,
    insert: &Statement,
    phase: Phase,
    file: &MigrationFile,
    ms: i64,
) -> Result<u64, tokio_postgres::Error> {
    let name = phase.history_name(&file.name);
    let by = history::applied_by();
    session.execute(insert, &[&name, &file.checksum, &phase.name(), &ms, &by]).await
}

impl FileFailure {
    /// `offset`: characters of the file before the text that was sent (statement mode).
    fn new(
        phase: Phase,
        file: &MigrationFile,
        err: &tokio_postgres::Error,
        offset: usize,
        partial: bool,
    ) -> FileFailure {
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
            lost: crate::db::connection_lost(err),
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
        } else if f.lost {
            f.message = format!("the connection to PostgreSQL was lost while the file ran ({})", f.message);
        }
        f
    }
}

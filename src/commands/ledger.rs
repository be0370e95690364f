//! `trm-init ledger verify --event SLUG`: checks an event's chain in the timing ledger
//! (db-init-post/010_timing_ledger.sql) and names the first broken row.
//!
//! Owns recomputing every row's hash from its stored content, independently of the database's own
//! function (a superuser who edits a row could also replace that), and the exit codes of the check.
//! Reads only: takes no lock, writes nothing. Never trusts a stored hash it has not recomputed.
//!
//! The hashed text (the one format, also written down in 010's header): the fields of `HASHED`, each as
//! `<byte length>:<text>` or `-` for NULL, joined by `|`; the hash is sha256 of it, in lowercase hex.

use crate::cli::{LedgerArgs, LedgerCommand};
use crate::config::Config;
use crate::db::{self, column, DbError, Locking, Session};
use crate::exit::{self, Failure};
use futures_util::{pin_mut, StreamExt};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The hash a chain's first row points back to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hashed columns in their order, each rendered as text the way 010 renders it.
const HASHED: &str = "event_id::text, event_seq::text, \
     to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), txid, db_role, directus_user::text, \
     table_name, row_key, operation, before::text, after::text, reason, regulation_article, prev_hash";
const HASHED_COUNT: usize = 14;

pub(super) async fn ledger(cmd: LedgerCommand, config: Config) -> Result<u8, Failure> {
    let shutdown = CancellationToken::new();
    match cmd {
        LedgerCommand::Verify(args) => {
            db::with_session(&config, Locking::None, &shutdown, async |session| verify(session, &args).await).await
        }
    }
}

/// One event, as `--event` (and `--organization`) name it.
struct Event {
    id: i32,
    slug: String,
    organization: String,
}

async fn find_event(session: &Session, args: &LedgerArgs) -> Result<Event, Failure> {
    let rows = session
        .query(
            "SELECT e.id, e.slug, o.slug FROM events e JOIN organizations o ON o.id = e.organization_id
              WHERE e.slug = $1 AND ($2::text IS NULL OR o.slug = $2) ORDER BY o.slug",
            &[&args.event, &args.organization],
        )
        .await
        .map_err(|e| DbError::query("reading events", &e))?;
    let mut events = Vec::new();
    for row in &rows {
        events.push(Event {
            id: column(row, 0, "events.id")?,
            slug: column(row, 1, "events.slug")?,
            organization: column(row, 2, "organizations.slug")?,
        });
    }
    let within = args.organization.as_ref().map(|o| format!(" of organization {o:?}")).unwrap_or_default();
    match events.len() {
        0 => Err(Failure::new(exit::LEDGER_NO_EVENT, format!("no event with slug {:?}{within}", args.event))),
        1 => Ok(events.remove(0)),
        _ => Err(Failure::new(
            exit::LEDGER_NO_EVENT,
            format!(
                "slug {:?} names events of several organizations ({}): add --organization SLUG",
                args.event,
                events.iter().map(|e| e.organization.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

async fn verify(session: &Session, args: &LedgerArgs) -> Result<u8, Failure> {
    let event = find_event(session, args).await?;
    let query = format!(
        "SELECT seq, event_seq, hash, table_name, row_key, operation, {HASHED} FROM timing_ledger WHERE event_id = $1 ORDER BY 2"
    );
    let rows = session.query_raw(&query, [&event.id]).await.map_err(|e| DbError::query("reading timing_ledger", &e))?;
    pin_mut!(rows);
    let name = format!("ledger of event {} ({}, id {})", event.slug, event.organization, event.id);
    let mut chain = Chain::new();
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| DbError::query("reading timing_ledger", &e))?;
        let seq: i64 = column(&row, 0, "timing_ledger.seq")?;
        let event_seq: i64 = column(&row, 1, "timing_ledger.event_seq")?;
        let stored: String = column(&row, 2, "timing_ledger.hash")?;
        let what = format!(
            "{} {} {}",
            column::<String>(&row, 3, "timing_ledger.table_name")?,
            column::<String>(&row, 4, "timing_ledger.row_key")?,
            column::<String>(&row, 5, "timing_ledger.operation")?
        );
        let mut fields: Vec<Option<String>> = Vec::with_capacity(HASHED_COUNT);
        for i in 0..HASHED_COUNT {
            fields.push(column(&row, 6 + i, "timing_ledger")?);
        }
        let prev = fields[HASHED_COUNT - 1].clone().unwrap_or_default();
        if let Err(why) = chain.next(event_seq, &prev, &fields, &stored) {
            println!("{name}: BROKEN at row seq {seq} (event_seq {event_seq}, {what}): {why}");
            println!("{name}: the rows before it ({}) are intact, head {}", chain.rows, chain.head);
            return Ok(exit::LEDGER_BROKEN);
        }
    }
    if let Some(expected) = &args.head {
        if !expected.eq_ignore_ascii_case(&chain.head) {
            println!(
                "{name}: BROKEN: the head is {} after {} rows, not the filed head {expected} (rows were removed from the end, or the filed head is of another event)",
                chain.head, chain.rows
            );
            return Ok(exit::LEDGER_BROKEN);
        }
    }
    println!("{name}: {} rows, chain intact, head {}", chain.rows, chain.head);
    Ok(0)
}

/// The chain walked so far: how many rows, and the last row's hash.
struct Chain {
    rows: i64,
    head: String,
}

impl Chain {
    fn new() -> Chain {
        Chain { rows: 0, head: GENESIS.to_string() }
    }

    /// Takes the next row or says why it breaks the chain.
    fn next(&mut self, event_seq: i64, prev_hash: &str, fields: &[Option<String>], stored: &str) -> Result<(), String> {
        if event_seq != self.rows + 1 {
            return Err(format!(
                "event_seq {event_seq} where {} was expected: rows were removed or inserted before it",
                self.rows + 1
            ));
        }
        if prev_hash != self.head {
            return Err(format!("it points back to {prev_hash}, but the row before it hashes to {}", self.head));
        }
        let computed = row_hash(fields);
        if computed != stored {
            return Err(format!(
                "its content changed after it was written (stored hash {stored}, content hashes to {computed})"
            ));
        }
        self.rows += 1;
        self.head = computed;
        Ok(())
    }
}

/// sha256 (lowercase hex) of the hashed text of `fields`.
fn row_hash(fields: &[Option<String>]) -> String {
    let text = fields
        .iter()
        .map(|f| match f {
            Some(v) => format!("{}:{v}", v.len()),
            None => "-".to_string(),
        })
        .collect::<Vec<_>>()
        .join("|");
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(reason: Option<&str>, prev: &str) -> Vec<Option<String>> {
        let mut f: Vec<Option<String>> = ["7", "1", "2026-06-07T08:00:00.000000Z", "812", "trm_processor_rally"]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect();
        f.push(None); // directus_user
        for s in ["entry_penalties", "12", "insert"] {
            f.push(Some(s.to_string()));
        }
        f.push(None);
        f.push(Some(r#"{"id": 12, "seconds": 300}"#.to_string()));
        f.push(reason.map(str::to_string));
        f.push(None);
        f.push(Some(prev.to_string()));
        f
    }

    #[test]
    fn the_hashed_text_is_length_prefixed_so_no_two_contents_share_it() {
        // "a|b" in one field and "a", "b" in two must differ: the lengths say where a field ends.
        assert_ne!(row_hash(&[Some("a|b".into())]), row_hash(&[Some("a".into()), Some("b".into())]));
        assert_ne!(row_hash(&[None]), row_hash(&[Some("-".into())]));
        assert_ne!(row_hash(&[Some(String::new())]), row_hash(&[None]));
        // Byte length, not characters: what PostgreSQL's octet_length counts.
        assert_eq!(
            row_hash(&[Some("é".into())]),
            hex::encode(Sha256::digest("2:é".as_bytes())),
            "the length prefix counts UTF-8 bytes"
        );
    }

    #[test]
    fn a_chain_takes_its_rows_in_order_and_names_what_breaks_it() {
        let mut chain = Chain::new();
        let first = fields(None, GENESIS);
        let h1 = row_hash(&first);
        assert_eq!(chain.next(1, GENESIS, &first, &h1), Ok(()));
        let second = fields(Some("GPS drift"), &h1);
        let h2 = row_hash(&second);
        // A changed reason no longer hashes to what was stored.
        let tampered = fields(Some("GPS drift, approved"), &h1);
        let err = chain.next(2, &h1, &tampered, &h2).expect_err("tampered content");
        assert!(err.contains("content changed"), "{err}");
        // A gap in event_seq: a removed row.
        let err = chain.next(3, &h1, &second, &h2).expect_err("gap");
        assert!(err.contains("event_seq 3 where 2 was expected"), "{err}");
        // A row that points back elsewhere.
        let err = chain.next(2, GENESIS, &second, &h2).expect_err("bad link");
        assert!(err.contains("points back"), "{err}");
        assert_eq!(chain.next(2, &h1, &second, &h2), Ok(()));
        assert_eq!((chain.rows, chain.head.as_str()), (2, h2.as_str()));
    }
}

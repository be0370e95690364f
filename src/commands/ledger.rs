//! `trm-init ledger verify --event SLUG`: checks an event's chain in the timing ledger
//! (db-init-post/010_timing_ledger.sql) and names the first broken row; `trm-init ledger export`: the
//! stewards' file (the ledger and the published result versions, CSV or JSON, with the chain's head and
//! the verification line).
//!
//! Owns recomputing every row's hash from its stored content, independently of the database's own
//! function (a superuser who edits a row could also replace that), and the exit codes of the check.
//! Reads only: takes no lock, writes nothing. Never trusts a stored hash it has not recomputed.
//!
//! The hashed text (the one format, also written down in 010's header): the fields of `HASHED`, each as
//! `<byte length>:<text>` or `-` for NULL, joined by `|`; the hash is sha256 of it, in lowercase hex.

use crate::cli::{ExportArgs, ExportFormat, LedgerArgs, LedgerCommand};
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
        LedgerCommand::Export(args) => {
            db::with_session(&config, Locking::None, &shutdown, async |session| export(session, &args).await).await
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

/// What walking an event's chain found: the rows (as JSON, for an export), how far the chain held, and
/// the first break if any.
struct Walk {
    name: String,
    rows: Vec<serde_json::Value>,
    chain: Chain,
    broken: Option<String>,
}

impl Walk {
    /// The one line that says what the walk found (verify prints it; an export files it).
    fn verification(&self, head: Option<&str>) -> String {
        let name = &self.name;
        if let Some(broken) = &self.broken {
            return format!(
                "{name}: {broken}; the rows before it ({}) are intact, head {}",
                self.chain.rows, self.chain.head
            );
        }
        match head {
            Some(expected) if !expected.eq_ignore_ascii_case(&self.chain.head) => format!(
                "{name}: BROKEN: the head is {} after {} rows, not the filed head {expected} (rows were removed from the end, or the filed head is of another event)",
                self.chain.head, self.chain.rows
            ),
            _ => format!("{name}: {} rows, chain intact, head {}", self.chain.rows, self.chain.head),
        }
    }

    fn intact(&self, head: Option<&str>) -> bool {
        self.broken.is_none() && head.is_none_or(|h| h.eq_ignore_ascii_case(&self.chain.head))
    }
}

async fn walk(session: &Session, event: &Event) -> Result<Walk, Failure> {
    let query = format!(
        "SELECT seq, event_seq, hash, table_name, row_key, operation, to_jsonb(l)::text, {HASHED} FROM timing_ledger l WHERE event_id = $1 ORDER BY 2"
    );
    let rows = session.query_raw(&query, [&event.id]).await.map_err(|e| DbError::query("reading timing_ledger", &e))?;
    pin_mut!(rows);
    let mut walk = Walk {
        name: format!("ledger of event {} ({}, id {})", event.slug, event.organization, event.id),
        rows: Vec::new(),
        chain: Chain::new(),
        broken: None,
    };
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| DbError::query("reading timing_ledger", &e))?;
        let json: String = column(&row, 6, "timing_ledger")?;
        walk.rows.push(serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)));
        if walk.broken.is_some() {
            continue;
        }
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
            fields.push(column(&row, 7 + i, "timing_ledger")?);
        }
        let prev = fields[HASHED_COUNT - 1].clone().unwrap_or_default();
        if let Err(why) = walk.chain.next(event_seq, &prev, &fields, &stored) {
            walk.broken = Some(format!("BROKEN at row seq {seq} (event_seq {event_seq}, {what}): {why}"));
        }
    }
    Ok(walk)
}

async fn verify(session: &Session, args: &LedgerArgs) -> Result<u8, Failure> {
    let event = find_event(session, args).await?;
    let walk = walk(session, &event).await?;
    println!("{}", walk.verification(args.head.as_deref()));
    Ok(if walk.intact(args.head.as_deref()) { 0 } else { exit::LEDGER_BROKEN })
}

/// The stewards' file: the event's ledger and its published result versions, with the chain's head and
/// the verification line; exit as `verify` (67 when the chain is broken: the file says so too).
async fn export(session: &Session, args: &ExportArgs) -> Result<u8, Failure> {
    let event = find_event(session, &args.which).await?;
    let walk = walk(session, &event).await?;
    let head = args.which.head.as_deref();
    let verification = walk.verification(head);
    let versions: String = {
        let row = session
            .query_one(
                "SELECT coalesce(json_agg(v ORDER BY v.stage_sort, v.published_at, v.id), '[]')::text FROM (
                   SELECT rv.id, rv.stage_id, s.name AS stage, s.sort_order AS stage_sort, rv.label, rv.kind, rv.number,
                          rv.published_at, rv.published_by, rv.published_by_role, rv.reason, rv.regulation_article,
                          rv.protest_until, rv.entries_count, rv.ledger_head,
                          (SELECT coalesce(json_agg(json_build_object('entry_id', e.entry_id, 'race_number', n.race_number,
                                   'elapsed_seconds', e.elapsed_seconds, 'penalty_seconds', e.penalty_seconds,
                                   'total_seconds', e.total_seconds, 'position_overall', e.position_overall,
                                   'position_in_class', e.position_in_class, 'change', e.change, 'diff', e.diff)
                                   ORDER BY e.position_overall NULLS LAST, n.race_number), '[]')
                             FROM result_version_entries e JOIN entries n ON n.id = e.entry_id WHERE e.version_id = rv.id) AS entries
                     FROM result_versions rv JOIN stages s ON s.id = rv.stage_id WHERE s.event_id = $1) v",
                &[&event.id],
            )
            .await
            .map_err(|e| DbError::query("reading result_versions", &e))?;
        column(&row, 0, "result_versions")?
    };
    let versions: serde_json::Value = serde_json::from_str(&versions).unwrap_or_default();
    match args.format {
        ExportFormat::Json => {
            let doc = serde_json::json!({
                "event": {"id": event.id, "slug": event.slug, "organization": event.organization},
                "ledger": {"rows": walk.chain.rows, "head": walk.chain.head, "intact": walk.intact(head),
                           "verification": verification, "entries": walk.rows},
                "result_versions": versions,
            });
            emit(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()))?;
        }
        ExportFormat::Csv => emit(&csv(&walk, &verification, &versions))?,
    }
    Ok(if walk.intact(head) { 0 } else { exit::LEDGER_BROKEN })
}

const LEDGER_COLUMNS: &[&str] = &[
    "seq",
    "event_id",
    "event_seq",
    "recorded_at",
    "txid",
    "db_role",
    "directus_user",
    "actor",
    "table_name",
    "row_key",
    "operation",
    "before",
    "after",
    "reason",
    "regulation_article",
    "prev_hash",
    "hash",
];
const VERSION_COLUMNS: &[&str] = &[
    "stage",
    "label",
    "published_at",
    "published_by",
    "reason",
    "protest_until",
    "ledger_head",
    "race_number",
    "elapsed_seconds",
    "penalty_seconds",
    "total_seconds",
    "position_overall",
    "position_in_class",
    "change",
    "diff",
];

/// The CSV file: the verification line, the ledger (one row per ledger row), a blank line, the result
/// versions (one row per version entry), and the verification line again, so a cut file shows.
fn csv(walk: &Walk, verification: &str, versions: &serde_json::Value) -> String {
    let mut out = format!("# {verification}\n{}\n", LEDGER_COLUMNS.join(","));
    for row in &walk.rows {
        let cells: Vec<String> = LEDGER_COLUMNS.iter().map(|c| csv_cell(&row[*c])).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out.push_str(&format!("\n{}\n", VERSION_COLUMNS.join(",")));
    for version in versions.as_array().into_iter().flatten() {
        for entry in version["entries"].as_array().into_iter().flatten() {
            let cells: Vec<String> = VERSION_COLUMNS
                .iter()
                .map(|c| csv_cell(if version.get(*c).is_some() && *c != "diff" { &version[*c] } else { &entry[*c] }))
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out.push_str(&format!("# {verification}\n"));
    out
}

/// Writes the file to stdout; a reader that went away early (`| head`) is no error of the export.
fn emit(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::new(exit::FAILURE, format!("writing the export to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// One CSV cell (RFC 4180): text as is, JSON objects as their JSON, quoted when needed.
fn csv_cell(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
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
    fn csv_cells_are_quoted_only_when_needed() {
        use serde_json::json;
        assert_eq!(csv_cell(&json!(null)), "");
        assert_eq!(csv_cell(&json!(12)), "12");
        assert_eq!(csv_cell(&json!("GPS drift")), "GPS drift");
        assert_eq!(csv_cell(&json!("drift, then \"fixed\"")), "\"drift, then \"\"fixed\"\"\"");
        assert_eq!(csv_cell(&json!({"a": [1, 2]})), "\"{\"\"a\"\":[1,2]}\"");
        assert_eq!(csv_cell(&json!("two\nlines")), "\"two\nlines\"");
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

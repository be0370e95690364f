//! `trm-init ledger verify --event SLUG`: checks an event's chain in the timing ledger
//! (db-init-post/010_timing_ledger.sql; chain version 2 from db-init-post/026_ledger_chain_per_statement.sql,
//! version 3 from db-init-post/031_ledger_statement_rows.sql)
//! and names the first broken row; `trm-init ledger export`: the stewards' file (the ledger and the
//! published result versions, CSV or JSON, with the chain's head and the verification line).
//!
//! Owns recomputing every row's hash from its stored content, independently of the database's own
//! function (a superuser who edits a row could also replace that), and the exit codes of the check.
//! Reads only: takes no lock, writes nothing. Never trusts a stored hash it has not recomputed.
//!
//! The hashed texts (also written down in 010's and 026's headers): fields, each as `<byte length>:<text>`
//! or `-` for NULL, joined by `|`; a hash is sha256 of the text, in lowercase hex.
//! - version 1 (rows written before 026): a row's `hash` covers the fields of `HASHED`, the last of which
//!   is `prev_hash`, the hash of the row before it;
//! - version 2: a row's `content_hash` covers its own content (`chain_version`, the fields of `HASHED`
//!   but `prev_hash`, with `actor` after `directus_user`); the rows one statement appended to the event
//!   share `prev_hash` (the head before the statement) and `hash`, the statement's link: sha256 of
//!   `<prev_hash>|<content_hash 1>|...|<content_hash n>` in event_seq order. The head is the last
//!   row's `hash` in both versions, so a chain crosses from version 1 to version 2.
//! - version 3: one row per statement and event holding the statement's rows whole (`rows_before`,
//!   `rows_after`: json arrays, hashed as the text stored); its content hash is version 2's with `3` and
//!   the arrays' text in place of before / after, its `hash` the link of a statement of that one row.

use crate::cli::{ExportArgs, ExportFormat, LedgerArgs, LedgerCommand};
use crate::config::Config;
use crate::db::{self, column, DbError, Locking, Session};
use crate::exit::{self, Failure};
use futures_util::{pin_mut, StreamExt};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The hash a chain's first row points back to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hashed columns of version 1 in their order, each rendered as text the way 010 renders it
/// (version 2 takes them but `prev_hash`, and `actor`: `Row::content_fields`). `{BEFORE}` and
/// `{AFTER}`: `before::text` and `after::text`, or on a database with version 3 (031) the arrays'
/// stored text for a version-3 row (`hashed_columns`).
const HASHED: &str = "event_id::text, event_seq::text, \
     to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), txid, db_role, directus_user::text, \
     table_name, row_key, operation, {BEFORE}, {AFTER}, reason, regulation_article, prev_hash";
const HASHED_COUNT: usize = 14;

/// `HASHED` for a database with (`rows`) or without 031's `rows_before` / `rows_after`.
fn hashed_columns(rows: bool) -> String {
    let (before, after) = if rows {
        (
            "CASE WHEN chain_version = 3 THEN rows_before::text ELSE before::text END",
            "CASE WHEN chain_version = 3 THEN rows_after::text ELSE after::text END",
        )
    } else {
        ("before::text", "after::text")
    };
    HASHED.replace("{BEFORE}", before).replace("{AFTER}", after)
}

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
    /// the database has 031's version-3 columns and its view `timing_ledger_rows`
    statement_rows: bool,
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
    // chain_version and content_hash through the row's JSON: a database from before 026 has neither
    // column (every row is version 1 there). The version-3 arrays are read as their stored text (json
    // keeps it; to_jsonb would render it anew), so only where 031 made them.
    let has_rows = session
        .query_one(
            "SELECT EXISTS (SELECT FROM information_schema.columns
                             WHERE table_schema = current_schema() AND table_name = 'timing_ledger' AND column_name = 'rows_before')",
            &[],
        )
        .await
        .map_err(|e| DbError::query("reading the columns of timing_ledger", &e))?;
    let statement_rows: bool = column(&has_rows, 0, "timing_ledger.rows_before")?;
    let hashed = hashed_columns(statement_rows);
    let query = format!(
        "SELECT seq, event_seq, hash, table_name, row_key, operation, to_jsonb(l)::text,
                coalesce((to_jsonb(l) ->> 'chain_version')::int, 1), to_jsonb(l) ->> 'content_hash', actor, {hashed}
           FROM timing_ledger l WHERE event_id = $1 ORDER BY 2"
    );
    let rows = session.query_raw(&query, [&event.id]).await.map_err(|e| DbError::query("reading timing_ledger", &e))?;
    pin_mut!(rows);
    let mut walk = Walk {
        name: format!("ledger of event {} ({}, id {})", event.slug, event.organization, event.id),
        rows: Vec::new(),
        chain: Chain::new(),
        broken: None,
        statement_rows,
    };
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| DbError::query("reading timing_ledger", &e))?;
        let json: String = column(&row, 6, "timing_ledger")?;
        walk.rows.push(serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)));
        if walk.broken.is_some() {
            continue;
        }
        let mut fields: Vec<Option<String>> = Vec::with_capacity(HASHED_COUNT);
        for i in 0..HASHED_COUNT {
            fields.push(column(&row, 10 + i, "timing_ledger")?);
        }
        let entry = Row {
            seq: column(&row, 0, "timing_ledger.seq")?,
            event_seq: column(&row, 1, "timing_ledger.event_seq")?,
            hash: column(&row, 2, "timing_ledger.hash")?,
            what: format!(
                "{} {} {}",
                column::<String>(&row, 3, "timing_ledger.table_name")?,
                column::<String>(&row, 4, "timing_ledger.row_key")?,
                column::<String>(&row, 5, "timing_ledger.operation")?
            ),
            version: column(&row, 7, "timing_ledger.chain_version")?,
            content_hash: column(&row, 8, "timing_ledger.content_hash")?,
            actor: column(&row, 9, "timing_ledger.actor")?,
            fields,
        };
        walk.broken = walk.chain.next(&entry).err();
    }
    if walk.broken.is_none() {
        walk.broken = walk.chain.finish().err();
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
    let written = written_rows(session, &event, walk.statement_rows).await?;
    match args.format {
        ExportFormat::Json => {
            let doc = serde_json::json!({
                "event": {"id": event.id, "slug": event.slug, "organization": event.organization},
                "ledger": {"rows": walk.chain.rows, "head": walk.chain.head, "intact": walk.intact(head),
                           "verification": verification, "entries": walk.rows, "written_rows": written},
                "result_versions": versions,
            });
            emit(&format!("{}\n", serde_json::to_string_pretty(&doc).unwrap_or_default()))?;
        }
        ExportFormat::Csv => emit(&csv(&walk, &written, &verification, &versions))?,
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
    "chain_version",
    "content_hash",
    "rows_before",
    "rows_after",
];
/// The ledger read one written row at a time (031's view `timing_ledger_rows`: a version-3 row unnested).
const WRITTEN_COLUMNS: &[&str] = &[
    "seq",
    "event_seq",
    "row_in_statement",
    "recorded_at",
    "actor",
    "db_role",
    "table_name",
    "row_key",
    "operation",
    "before",
    "after",
    "reason",
    "regulation_article",
];

/// The event's ledger one written row at a time, in chain order (031's `timing_ledger_rows`, which
/// `statement_rows` says the walk found; on a database from before 031 the ledger's own rows are that
/// already: an empty list, the file says so by its `entries`).
async fn written_rows(session: &Session, event: &Event, statement_rows: bool) -> Result<serde_json::Value, Failure> {
    if !statement_rows {
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    let row = session
        .query_one(
            "SELECT coalesce(json_agg(r ORDER BY r.event_seq, r.row_in_statement), '[]')::text
               FROM timing_ledger_rows r WHERE r.event_id = $1",
            &[&event.id],
        )
        .await
        .map_err(|e| DbError::query("reading timing_ledger_rows", &e))?;
    let text: String = column(&row, 0, "timing_ledger_rows")?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

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

/// The CSV file: the verification line, the ledger (one row per ledger row), a blank line, the ledger
/// one written row at a time, a blank line, the result versions (one row per version entry), and the
/// verification line again, so a cut file shows.
fn csv(walk: &Walk, written: &serde_json::Value, verification: &str, versions: &serde_json::Value) -> String {
    let mut out = format!("# {verification}\n");
    csv_block(&mut out, LEDGER_COLUMNS, &walk.rows);
    out.push('\n');
    csv_block(&mut out, WRITTEN_COLUMNS, written.as_array().map(Vec::as_slice).unwrap_or_default());
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

/// A header row of `columns` and one row per JSON object of `rows` (a missing key is an empty cell).
fn csv_block(out: &mut String, columns: &[&str], rows: &[serde_json::Value]) {
    out.push_str(&columns.join(","));
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = columns.iter().map(|c| csv_cell(&row[*c])).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
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

/// One ledger row as read back: where it stands, what it says it is, and its hashed fields.
#[derive(Clone)]
struct Row {
    seq: i64,
    event_seq: i64,
    what: String,
    version: i32,
    /// version 1: the row's hash; versions 2 and 3: its statement's link
    hash: String,
    content_hash: Option<String>,
    actor: String,
    /// the fields of `HASHED`, rendered as the database renders them
    fields: Vec<Option<String>>,
}

impl Row {
    fn prev_hash(&self) -> &str {
        self.fields[HASHED_COUNT - 1].as_deref().unwrap_or_default()
    }

    /// Where a break is named: `BROKEN at row seq S (event_seq E, TABLE ROW OPERATION)`.
    fn at(&self) -> String {
        format!("BROKEN at row seq {} (event_seq {}, {})", self.seq, self.event_seq, self.what)
    }

    /// The content fields of versions 2 and 3: chain_version, the fields of `HASHED` up to
    /// directus_user, actor, the rest but prev_hash.
    fn content_fields(&self) -> Vec<Option<String>> {
        let mut f = Vec::with_capacity(HASHED_COUNT + 1);
        f.push(Some(self.version.to_string()));
        f.extend_from_slice(&self.fields[..6]);
        f.push(Some(self.actor.clone()));
        f.extend_from_slice(&self.fields[6..HASHED_COUNT - 1]);
        f
    }
}

/// The version-2 rows of one statement read so far (consecutive rows sharing prev_hash and hash).
struct Statement {
    /// the statement's first row, where a broken link is named
    first: String,
    first_event_seq: i64,
    prev: String,
    link: String,
    contents: Vec<String>,
}

/// The chain walked so far: how many rows, and the head (the last row's hash; while a statement's
/// rows are being read, the head before it).
struct Chain {
    rows: i64,
    head: String,
    open: Option<Statement>,
}

impl Chain {
    fn new() -> Chain {
        Chain { rows: 0, head: GENESIS.to_string(), open: None }
    }

    /// Takes the next row (in event_seq order) or says where and why the chain breaks: at this row, or
    /// at the first row of the statement this row ends, when that statement's link does not hold. After
    /// a break, `rows` and `head` are those of the chain before the break (a statement whose link was
    /// not checked counts as none of it).
    fn next(&mut self, row: &Row) -> Result<(), String> {
        let taken = self.take(row);
        if taken.is_err() {
            if let Some(open) = self.open.take() {
                self.rows = open.first_event_seq - 1;
            }
        }
        taken
    }

    fn take(&mut self, row: &Row) -> Result<(), String> {
        let continues =
            self.open.as_ref().is_some_and(|s| row.version == 2 && row.prev_hash() == s.prev && row.hash == s.link);
        if !continues {
            self.finish()?;
        }
        if row.event_seq != self.rows + 1 {
            return Err(format!(
                "{}: event_seq {} where {} was expected: rows were removed or inserted before it",
                row.at(),
                row.event_seq,
                self.rows + 1
            ));
        }
        match row.version {
            1 => {
                if row.prev_hash() != self.head {
                    return Err(format!(
                        "{}: it points back to {}, but the row before it hashes to {}",
                        row.at(),
                        row.prev_hash(),
                        self.head
                    ));
                }
                let computed = row_hash(&row.fields);
                if computed != row.hash {
                    return Err(format!(
                        "{}: its content changed after it was written (stored hash {}, content hashes to {computed})",
                        row.at(),
                        row.hash
                    ));
                }
                self.rows += 1;
                self.head = computed;
            }
            2 | 3 => {
                let computed = row_hash(&row.content_fields());
                let stored = row.content_hash.as_deref().unwrap_or("(none)");
                if computed != stored {
                    return Err(format!(
                        "{}: its content changed after it was written (stored content hash {stored}, content hashes to {computed})",
                        row.at()
                    ));
                }
                if !continues {
                    if row.prev_hash() != self.head {
                        return Err(format!(
                            "{}: its statement points back to {}, but the chain before it ends at {}",
                            row.at(),
                            row.prev_hash(),
                            self.head
                        ));
                    }
                    self.open = Some(Statement {
                        first: row.at(),
                        first_event_seq: row.event_seq,
                        prev: self.head.clone(),
                        link: row.hash.clone(),
                        contents: Vec::new(),
                    });
                }
                if let Some(open) = self.open.as_mut() {
                    open.contents.push(computed);
                }
                self.rows += 1;
            }
            other => {
                return Err(format!("{}: chain_version {other} is not one this trm-init knows (1, 2, 3)", row.at()))
            }
        }
        Ok(())
    }

    /// Closes the statement being read (at the end of the walk, or when a row of another begins):
    /// its link must be the hash of the head before it and its rows' content hashes.
    fn finish(&mut self) -> Result<(), String> {
        let Some(open) = self.open.take() else { return Ok(()) };
        let computed = statement_link(&open.prev, &open.contents);
        if computed != open.link {
            let n = open.contents.len();
            self.rows = open.first_event_seq - 1;
            return Err(format!(
                "{}: the link of its statement (event_seq {}-{}, {n} rows) is {}, but the chain before it and the rows' content hashes link to {computed}: a content hash was rewritten, or rows were removed, inserted or reordered in it",
                open.first,
                open.first_event_seq,
                open.first_event_seq + n as i64 - 1,
                open.link
            ));
        }
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

/// A version-2 statement's link: sha256 (lowercase hex) of `<prev>|<content hash 1>|...|<content hash n>`.
fn statement_link(prev: &str, contents: &[String]) -> String {
    let mut text = String::with_capacity(65 * (contents.len() + 1));
    text.push_str(prev);
    for c in contents {
        text.push('|');
        text.push_str(c);
    }
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 14 fields of `HASHED` of a penalty row at `event_seq`.
    fn fields(event_seq: i64, reason: Option<&str>, prev: &str) -> Vec<Option<String>> {
        let mut f: Vec<Option<String>> =
            ["7", &event_seq.to_string(), "2026-06-07T08:00:00.000000Z", "812", "trm_processor_rally"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect();
        f.push(None); // directus_user
        for s in ["entry_penalties", &(100 + event_seq).to_string(), "insert"] {
            f.push(Some(s.to_string()));
        }
        f.push(None);
        f.push(Some(format!(r#"{{"id": {}, "seconds": 300}}"#, 100 + event_seq)));
        f.push(reason.map(str::to_string));
        f.push(None);
        f.push(Some(prev.to_string()));
        f
    }

    /// A version-1 row as 010 wrote it, chained to `prev`.
    fn v1(event_seq: i64, reason: Option<&str>, prev: &str) -> Row {
        let fields = fields(event_seq, reason, prev);
        Row {
            seq: 1000 + event_seq,
            event_seq,
            what: format!("entry_penalties {} insert", 100 + event_seq),
            version: 1,
            hash: row_hash(&fields),
            content_hash: None,
            actor: "db:trm_processor_rally".to_string(),
            fields,
        }
    }

    /// One statement's version-2 rows as 026 writes them: event_seq from `first`, linked to `prev`.
    fn statement(first: i64, n: i64, prev: &str) -> Vec<Row> {
        let mut rows: Vec<Row> = (first..first + n)
            .map(|event_seq| {
                let mut row = v1(event_seq, None, prev);
                row.version = 2;
                row.content_hash = Some(row_hash(&row.content_fields()));
                row
            })
            .collect();
        let contents: Vec<String> = rows.iter().filter_map(|r| r.content_hash.clone()).collect();
        let link = statement_link(prev, &contents);
        for row in &mut rows {
            row.hash = link.clone();
        }
        rows
    }

    /// What a superuser who moved rows would do to hide it: the version-2 rows numbered 1, 2, ... again
    /// and their content hashes recomputed (their links left as they were).
    fn renumber(rows: &mut [Row]) {
        for (i, r) in rows.iter_mut().enumerate().filter(|(_, r)| r.version == 2) {
            r.event_seq = i as i64 + 1;
            r.fields[1] = Some(r.event_seq.to_string());
            r.content_hash = Some(row_hash(&r.content_fields()));
        }
    }

    /// Walks `rows` as `walk` does: Ok(head) or the first break.
    fn check(rows: &[Row]) -> Result<String, String> {
        let mut chain = Chain::new();
        for row in rows {
            chain.next(row)?;
        }
        chain.finish()?;
        Ok(chain.head)
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
    fn a_version_1_chain_takes_its_rows_in_order_and_names_what_breaks_it() {
        let first = v1(1, None, GENESIS);
        let second = v1(2, Some("GPS drift"), &first.hash);
        assert_eq!(check(&[v1(1, None, GENESIS), v1(2, Some("GPS drift"), &first.hash)]), Ok(second.hash.clone()));
        // A changed reason no longer hashes to what was stored.
        let mut tampered = v1(2, Some("GPS drift"), &first.hash);
        tampered.fields[11] = Some("GPS drift, approved".into());
        let err = check(&[v1(1, None, GENESIS), tampered]).expect_err("tampered content");
        assert!(err.starts_with("BROKEN at row seq 1002 (event_seq 2,") && err.contains("content changed"), "{err}");
        // A gap in event_seq: a removed row.
        let err = check(&[v1(1, None, GENESIS), v1(3, None, &first.hash)]).expect_err("gap");
        assert!(err.contains("event_seq 3 where 2 was expected"), "{err}");
        // A row that points back elsewhere.
        let err = check(&[v1(1, None, GENESIS), v1(2, None, GENESIS)]).expect_err("bad link");
        assert!(err.contains("points back"), "{err}");
    }

    #[test]
    fn a_chain_crosses_from_version_1_to_version_2_and_on() {
        let old = [v1(1, None, GENESIS), v1(2, Some("GPS drift"), &v1(1, None, GENESIS).hash)];
        let mut rows = old.to_vec();
        let a = statement(3, 3, &old[1].hash);
        let b = statement(6, 1, &a[0].hash);
        rows.extend(a.iter().cloned());
        rows.extend(b.iter().cloned());
        assert_eq!(check(&rows), Ok(b[0].hash.clone()), "the head is the last statement's link");
        // Two statements in a row that happen to be read as one would not link: each is its own.
        assert_ne!(a[0].hash, b[0].hash);
        // Every version-2 row of a statement carries its link and the head before it.
        assert!(a.iter().all(|r| r.hash == a[0].hash && r.prev_hash() == old[1].hash));
    }

    #[test]
    fn version_2_names_an_edited_row_and_the_statement_whose_link_breaks() {
        let head = v1(1, None, GENESIS);
        let with = |mut st: Vec<Row>| {
            st.insert(0, v1(1, None, GENESIS));
            st
        };
        let ok = with(statement(2, 4, &head.hash));
        assert!(check(&ok).is_ok());
        // Content edited, content hash left: the row itself is named.
        let mut rows = ok.clone();
        rows[2].fields[11] = Some("approved by the stewards".into());
        let err = check(&rows).expect_err("edited content");
        assert!(err.starts_with("BROKEN at row seq 1003 (event_seq 3,") && err.contains("content changed"), "{err}");
        let mut chain = Chain::new();
        let taken: Result<Vec<()>, String> = rows.iter().map(|r| chain.next(r)).collect();
        assert!(taken.is_err());
        assert_eq!(
            (chain.rows, chain.head.as_str()),
            (1, head.hash.as_str()),
            "intact: the row before the statement, whose link was not checked"
        );
        // Content and its content hash rewritten: the statement's link breaks; its first row is named.
        let mut rows = ok.clone();
        rows[3].fields[11] = Some("approved by the stewards".into());
        rows[3].content_hash = Some(row_hash(&rows[3].content_fields()));
        let err = check(&rows).expect_err("rewritten content hash");
        assert!(
            err.starts_with("BROKEN at row seq 1002 (event_seq 2,")
                && err.contains("the link of its statement (event_seq 2-5, 4 rows)"),
            "{err}"
        );
        // The actor is hashed in version 2.
        let mut rows = ok.clone();
        rows[1].actor = "directus:someone-else".into();
        assert!(check(&rows).expect_err("actor").contains("content changed"));
        // A removed row: a gap at the next one; removed and renumbered (content hashes rewritten): the link.
        let mut rows = ok.clone();
        rows.remove(2);
        assert!(check(&rows).expect_err("gap").contains("event_seq 4 where 3 was expected"));
        let mut renumbered = with(statement(2, 4, &head.hash));
        renumbered.remove(2);
        renumber(&mut renumbered);
        let err = check(&renumbered).expect_err("renumbered");
        assert!(err.contains("the link of its statement"), "{err}");
        // Two rows swapped (event_seq and content hashes rewritten to fit): the link's order breaks.
        let mut rows = ok.clone();
        rows.swap(2, 3);
        renumber(&mut rows);
        assert!(check(&rows).expect_err("swapped").contains("the link of its statement"));
        // A row inserted into the statement with its own content hash: the link again.
        let mut rows = ok.clone();
        let mut extra = rows[4].clone();
        extra.fields[7] = Some("999".into());
        rows.push(extra);
        renumber(&mut rows);
        assert!(check(&rows).expect_err("inserted").contains("the link of its statement (event_seq 2-6, 5 rows)"));
        // A rewritten link on every row of the statement: the next statement no longer points to it.
        let mut rows = ok.clone();
        rows.extend(statement(6, 2, &ok[4].hash));
        for r in rows.iter_mut().skip(1).take(4) {
            r.hash = "f".repeat(64);
        }
        let err = check(&rows).expect_err("rewritten link");
        assert!(err.contains("the link of its statement"), "{err}");
        // A statement split by rewriting the link of its last row: the row no longer continues it.
        let mut rows = ok.clone();
        rows[4].hash = statement_link(&head.hash, &[rows[4].content_hash.clone().unwrap_or_default()]);
        let err = check(&rows).expect_err("split");
        assert!(err.contains("the link of its statement (event_seq 2-4, 3 rows)"), "{err}");
        // A version the tool does not know.
        let mut rows = ok.clone();
        rows[1].version = 4;
        assert!(check(&rows).expect_err("version").contains("chain_version 4"));
    }

    /// A version-3 row as 031 writes it: one statement's `n` rows of the event as arrays, linked to `prev`.
    fn batch(event_seq: i64, n: usize, prev: &str) -> Row {
        let mut row = v1(event_seq, None, prev);
        row.version = 3;
        row.what = format!("entry_penalties rows:{n} update");
        row.fields[7] = Some(format!("rows:{n}"));
        row.fields[8] = Some("update".into());
        row.fields[9] = Some(format!("[{}]", vec![r#"{"id":1,"seconds":300}"#; n].join(", ")));
        row.fields[10] = Some(format!("[{}]", vec![r#"{"id":1,"seconds":360}"#; n].join(", ")));
        let content = row_hash(&row.content_fields());
        row.hash = statement_link(prev, std::slice::from_ref(&content));
        row.content_hash = Some(content);
        row
    }

    #[test]
    fn version_3_rows_chain_between_version_2_statements_and_name_an_edit() {
        let head = v1(1, None, GENESIS);
        let a = statement(2, 2, &head.hash);
        let b = batch(4, 300, &a[0].hash);
        let c = batch(5, 1000, &b.hash);
        let d = statement(6, 1, &c.hash);
        let mut rows = vec![head.clone()];
        rows.extend(a.iter().cloned());
        rows.extend([b.clone(), c.clone()]);
        rows.extend(d.iter().cloned());
        assert_eq!(check(&rows), Ok(d[0].hash.clone()), "v1 -> v2 -> v3 -> v3 -> v2");
        // One changed value inside the array: the row is named.
        let mut edited = rows.clone();
        edited[3].fields[10] = edited[3].fields[10].as_ref().map(|t| t.replacen("360", "0", 1));
        let err = check(&edited).expect_err("edited array");
        assert!(
            err.starts_with("BROKEN at row seq 1004 (event_seq 4, entry_penalties rows:300 update)")
                && err.contains("content changed"),
            "{err}"
        );
        // The array and its content hash rewritten: its link no longer holds.
        edited[3].content_hash = Some(row_hash(&edited[3].content_fields()));
        let err = check(&edited).expect_err("rewritten content hash");
        assert!(err.contains("the link of its statement (event_seq 4-4, 1 rows)"), "{err}");
        // A version-3 row that claims to be version 2 hashes differently.
        let mut relabelled = rows.clone();
        relabelled[3].version = 2;
        assert!(check(&relabelled).expect_err("relabelled").contains("content changed"));
        // Two version-3 rows are two statements even if a forger gives them one link.
        let mut joined = rows.clone();
        joined[4].fields[HASHED_COUNT - 1] = joined[3].fields[HASHED_COUNT - 1].clone();
        joined[4].hash = joined[3].hash.clone();
        let err = check(&joined).expect_err("joined");
        assert!(err.starts_with("BROKEN at row seq 1005") && err.contains("points back"), "{err}");
    }
}

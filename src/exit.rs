//! Exit codes of trm-init (the contract's table) and the `Failure` every command ends with.
//!
//! Owns the mapping from typed errors to process exit codes and the one table that `--help` and the
//! README show (a test checks both against `TABLE`). It does not print anything: `main` reports a
//! `Failure` once, where the process ends.

use std::fmt;

/// `trm-init health`: healthy.
pub(crate) const HEALTHY: u8 = 0;
/// `trm-init health`: not healthy; also an internal error (e.g. the signal handlers cannot be installed).
pub(crate) const FAILURE: u8 = 1;
/// The main child could not be executed (permission, not an executable).
pub(crate) const NOT_EXECUTABLE: u8 = 126;
/// The main child's program was not found.
pub(crate) const NOT_FOUND: u8 = 127;
/// Bad command line.
pub(crate) const USAGE: u8 = 64;
/// A migration failed or a migration file changed after it was applied.
pub(crate) const MIGRATION: u8 = 65;
/// The database (or the preflight lock) could not be had in time; Redis could not be told of new permissions.
pub(crate) const UNAVAILABLE: u8 = 69;
/// Directus bootstrap or schema apply failed, the snapshot would delete data, or the access file is
/// missing, invalid or names what the schema lacks.
pub(crate) const DIRECTUS: u8 = 70;
/// Invalid configuration.
pub(crate) const CONFIG: u8 = 78;
/// `trm-init ledger verify`: no such event (or its slug is ambiguous without --organization).
pub(crate) const LEDGER_NO_EVENT: u8 = 66;
/// `trm-init ledger verify`: the event's chain is broken (the output names the first broken row).
pub(crate) const LEDGER_BROKEN: u8 = 67;
/// Stopped by SIGTERM before the main child started (128 + 15).
pub(crate) const TERMINATED: u8 = 128 + libc::SIGTERM as u8;

/// The contract's table, in the order the README and `--help` show it: (code, meaning).
pub(crate) const TABLE: &[(&str, &str)] = &[
    ("child's code", "the main child exited normally"),
    ("128 + n", "the main child died of signal n (TERM during preflight: 143)"),
    ("126 / 127", "the command could not be executed / was not found"),
    ("64", "usage error"),
    ("65", "a migration failed or a migration file changed after it was applied"),
    (
        "69",
        "the database could not be reached before `wait_timeout` (or went away during any step), or a lock before `lock_timeout`; Redis could not be told that permissions changed",
    ),
    (
        "70",
        "Directus bootstrap or schema apply failed, the snapshot would delete data or comes from another major Directus, or the access file is missing, invalid or names what the schema lacks",
    ),
    ("78", "invalid configuration"),
    ("66", "`trm-init ledger verify` (and `export`): no such event (or its slug names events of several organizations: add `--organization`)"),
    (
        "67",
        "`trm-init ledger verify` (and `export`): the event's timing ledger is broken (a row changed, removed or inserted after it was written, or the chain does not end at `--head`); the output names the first broken row",
    ),
    ("1", "`trm-init health`: not healthy (also an internal error, such as failing to install signal handlers)"),
];

/// The table as `--help` prints it (after the options).
pub(crate) fn help_text() -> String {
    let width = TABLE.iter().map(|(code, _)| code.len()).max().unwrap_or(0);
    let mut out = String::from("Exit codes:\n");
    for (code, meaning) in TABLE {
        out.push_str(&format!("  {code:<width$}  {}\n", meaning.replace('`', "")));
    }
    out
}

/// The exit code for death by signal `sig`, shell style (128 + n, at most 255).
pub(crate) fn from_signal(sig: i32) -> u8 {
    (128 + sig.clamp(0, 127)) as u8
}

/// The exit code for a process status, shell style: its code, or 128 + the signal that killed it.
pub(crate) fn from_wait_status(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(sig)) => from_signal(sig),
        (None, None) => 255,
    }
}

/// An error that knows which exit code it stands for.
pub trait ExitCode: std::error::Error {
    fn exit_code(&self) -> u8;
}

/// How a command ended badly: the exit code and the whole message (with its causes).
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }

    /// Prefixes the message with where the error was met ("db-init pre: ...").
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit {})", self.message, self.code)
    }
}

impl<E: ExitCode> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure { code: err.exit_code(), message: error_chain(&err) }
    }
}

/// `err: cause: cause`, skipping causes whose text the outer message already contains.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let piece = cause.to_string();
        if !text.contains(&piece) {
            text.push_str(": ");
            text.push_str(&piece);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));

    #[test]
    fn readme_table_is_the_table() {
        let section = README.split("\n## Exit codes\n").nth(1).expect("README has an `## Exit codes` section");
        let rows: Vec<(String, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2) // header and separator
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
                (cells[0].to_string(), cells[1..].join(" | "))
            })
            .collect();
        let table: Vec<(String, String)> = TABLE.iter().map(|(c, m)| (c.to_string(), m.to_string())).collect();
        assert_eq!(rows, table, "README's exit-code table differs from src/exit.rs TABLE");
    }

    #[test]
    fn help_shows_every_row_and_the_constants_agree() {
        let help = crate::cli::long_help();
        for line in help_text().lines() {
            assert!(help.contains(line), "--help lacks {line:?}:\n{help}");
        }
        let codes: Vec<&str> = TABLE.iter().map(|(c, _)| *c).collect();
        for code in [USAGE, MIGRATION, UNAVAILABLE, DIRECTUS, CONFIG, FAILURE, LEDGER_NO_EVENT, LEDGER_BROKEN] {
            assert!(codes.contains(&code.to_string().as_str()), "{code} is not in TABLE");
        }
        assert!(codes.contains(&format!("{NOT_EXECUTABLE} / {NOT_FOUND}").as_str()));
        assert!(TABLE[1].1.contains(&TERMINATED.to_string()));
        assert_eq!(from_signal(libc::SIGTERM), TERMINATED);
    }
}

//! Exit codes of trm-init (the contract's table) and the `Failure` every command ends with.
//!
//! Owns the mapping from typed errors to process exit codes. It does not print anything: `main` reports
//! a `Failure` once, where the process ends.

use std::fmt;

/// The main child could not be executed (permission, not an executable).
pub const NOT_EXECUTABLE: u8 = 126;
/// The main child's program was not found.
pub const NOT_FOUND: u8 = 127;
/// Bad command line.
pub const USAGE: u8 = 64;
/// A migration failed or a migration file changed after it was applied.
pub const MIGRATION: u8 = 65;
/// The database (or the preflight lock) could not be had in time; Redis could not be told of new permissions.
pub const UNAVAILABLE: u8 = 69;
/// Directus bootstrap or schema apply failed, the snapshot would delete data, or the access file is
/// missing, invalid or names what the schema lacks.
pub const DIRECTUS: u8 = 70;
/// Invalid configuration.
pub const CONFIG: u8 = 78;
/// Stopped by SIGTERM before the main child started (128 + 15).
pub const TERMINATED: u8 = 143;

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

/// The exit code for a process status, shell style: its code, or 128 + the signal that killed it.
pub fn from_wait_status(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(sig)) => (128 + sig).min(255) as u8,
        (None, None) => 255,
    }
}

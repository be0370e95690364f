//! Running one Directus CLI command (`bootstrap`, `schema apply ...`) as a child of trm-init.
//!
//! Owns the child's command line, working directory and output: every line the command prints is relayed
//! into trm-init's log with a `[directus <command>]` prefix, and kept so callers can read a plan. The
//! process is spawned through the reaper and bounded by `schema.timeout` and the shutdown token. A
//! command fails when it exits non-zero OR prints a line Directus prints on failure while exiting 0.
//! It never touches the database itself.

use crate::process::{self, Stopped};
use crate::reaper::Reaper;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

/// Lines that mean failure even when Directus exits 0 (`schema apply` on a database without Directus).
const FAILURE_LINES: &[&str] = &["Directus isn't installed on this database"];

/// How long the output of a finished command may still trickle in (a grandchild holding the pipe).
const DRAIN: Duration = Duration::from_secs(2);

#[derive(Debug, Error)]
pub enum CliError {
    #[error("cannot start `{command}`: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("`{command}` failed: {status}")]
    Status { command: String, status: ExitStatus },
    #[error("`{command}` reported a failure although it exited 0: {line:?}")]
    FailureLine { command: String, line: String },
    #[error("`{command}` did not finish within {limit:?} (stopped: {status})")]
    TimedOut { command: String, limit: Duration, status: ExitStatus },
    #[error("`{command}` stopped by shutdown")]
    Cancelled { command: String },
}

impl crate::exit::ExitCode for CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Cancelled { .. } => crate::exit::TERMINATED,
            _ => crate::exit::DIRECTUS,
        }
    }
}

/// The Directus CLI as configured (`schema.directus`), e.g. `node /directus/cli.js`.
pub struct DirectusCli<'a> {
    pub prefix: &'a [String],
    pub reaper: &'a Reaper,
    pub shutdown: &'a CancellationToken,
    pub timeout: Duration,
    pub grace: Duration,
}

/// What a finished command printed (stdout and stderr, in arrival order per stream).
pub struct Output {
    pub lines: Vec<String>,
}

impl DirectusCli<'_> {
    /// Runs `<prefix> <args>` to the end. The working directory is the folder of `cli.js` when the prefix
    /// names one (as the image's WORKDIR /directus): Directus reads `.env` and its update-check cache there.
    pub async fn run(&self, args: &[&str]) -> Result<Output, CliError> {
        let name =
            args.iter().take_while(|a| !a.starts_with('-') && !a.contains('/')).copied().collect::<Vec<_>>().join(" ");
        let command = format!("directus {name}");
        // cli.js absolute: the command runs in its folder, so a relative path would no longer resolve.
        let mut argv: Vec<String> = self
            .prefix
            .iter()
            .map(|a| match is_cli_js(Path::new(a)) {
                true => std::path::absolute(a).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| a.clone()),
                false => a.clone(),
            })
            .collect();
        argv.extend(args.iter().map(|a| a.to_string()));
        let mut cmd = process::command(&argv);
        if let Some(dir) = install_dir(self.prefix) {
            cmd.current_dir(dir);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        tracing::info!(command = ?argv, "running {command}");
        let mut child = process::spawn(self.reaper, &mut cmd)
            .map_err(|e| CliError::Spawn { command: command.clone(), source: e.source })?;
        let out = relay(child.stdout.take(), &name);
        let err = relay(child.stderr.take(), &name);
        let wait = process::wait_or_stop(&mut child, self.shutdown, self.timeout, self.grace);
        let (status, lines) = run_to_end(wait, out, err).await;
        let status = match status {
            Ok(status) => status,
            Err(Stopped::Cancelled(_)) => return Err(CliError::Cancelled { command }),
            Err(Stopped::TimedOut(status)) => return Err(CliError::TimedOut { command, limit: self.timeout, status }),
        };
        if !status.success() {
            return Err(CliError::Status { command, status });
        }
        if let Some(line) = lines.iter().find(|l| FAILURE_LINES.iter().any(|f| l.contains(f))) {
            return Err(CliError::FailureLine { command, line: line.clone() });
        }
        Ok(Output { lines })
    }
}

/// Waits for the process while relaying; after it ends the streams get `DRAIN` to reach their end.
async fn run_to_end(
    wait: impl std::future::Future<Output = Result<ExitStatus, Stopped>>,
    out: impl std::future::Future<Output = Vec<String>>,
    err: impl std::future::Future<Output = Vec<String>>,
) -> (Result<ExitStatus, Stopped>, Vec<String>) {
    let streams = async { tokio::join!(out, err) };
    tokio::pin!(wait);
    tokio::pin!(streams);
    let mut lines = None;
    let status = loop {
        tokio::select! {
            status = &mut wait => break status,
            both = &mut streams, if lines.is_none() => lines = Some(both),
        }
    };
    let (out, err) = match lines {
        Some(both) => both,
        None => tokio::time::timeout(DRAIN, &mut streams).await.unwrap_or_default(),
    };
    (status, out.into_iter().chain(err).collect())
}

/// Logs every line of `pipe` with the command's prefix and returns them (ANSI colours removed).
async fn relay(pipe: Option<impl Into<std::os::fd::OwnedFd>>, name: &str) -> Vec<String> {
    let Some(pipe) = pipe else { return Vec::new() };
    let file = std::fs::File::from(pipe.into());
    let receiver = match tokio::net::unix::pipe::Receiver::from_file(file) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("[directus {name}] output cannot be read: {e}");
            return Vec::new();
        }
    };
    let mut reader = BufReader::new(receiver);
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) => break,
            Ok(_) => {
                let line = strip_ansi(&String::from_utf8_lossy(&buf));
                let line = line.trim_end();
                if line.trim().is_empty() {
                    continue;
                }
                log_line(name, line);
                lines.push(line.to_string());
            }
            Err(e) => {
                tracing::warn!("[directus {name}] output read failed: {e}");
                break;
            }
        }
    }
    lines
}

/// Directus's own level decides ours, so its errors stand out in trm-init's log.
fn log_line(name: &str, line: &str) {
    if line.contains("ERROR") || FAILURE_LINES.iter().any(|f| line.contains(f)) {
        tracing::error!("[directus {name}] {line}");
    } else if line.contains("WARN") {
        tracing::warn!("[directus {name}] {line}");
    } else {
        tracing::info!("[directus {name}] {line}");
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`) that Directus's pretty logger may emit.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

fn is_cli_js(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "cli.js")
}

/// The folder holding `cli.js` when the CLI prefix names one (`node /directus/cli.js` -> `/directus`).
pub fn install_dir(prefix: &[String]) -> Option<PathBuf> {
    let cli = prefix.iter().map(Path::new).find(|p| p.file_name().is_some_and(|n| n == "cli.js"))?;
    let dir = cli.parent()?;
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    dir.is_dir().then(|| dir.to_path_buf())
}

/// The Directus version of the installation the prefix names: `version` of the `package.json` next to
/// the real `cli.js` (symlinks followed). None when it cannot be read.
pub fn installed_version(prefix: &[String]) -> Option<String> {
    let cli = prefix.iter().map(Path::new).find(|p| p.file_name().is_some_and(|n| n == "cli.js"))?;
    let real = std::fs::canonicalize(cli).ok()?;
    let text = std::fs::read_to_string(real.parent()?.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[31mERROR\u{1b}[39m: boom"), "ERROR: boom");
    }

    #[test]
    fn install_dir_is_the_folder_of_cli_js() {
        let dir = tempfile::tempdir().unwrap();
        let cli = dir.path().join("cli.js");
        std::fs::write(&cli, "").unwrap();
        std::fs::write(dir.path().join("package.json"), r#"{"name":"directus","version":"11.17.4"}"#).unwrap();
        let prefix = vec!["node".to_string(), cli.to_string_lossy().into_owned()];
        assert_eq!(install_dir(&prefix).as_deref(), Some(dir.path()));
        assert_eq!(installed_version(&prefix).as_deref(), Some("11.17.4"));
        assert_eq!(install_dir(&["directus".to_string()]), None);
    }
}

//! The Directus step's one Node process: `directus-step/step.mjs`, shipped in the image.
//!
//! Owns that process: its command line (`schema.directus` with `cli.js` replaced by the script), its
//! working directory (the Directus folder), the pipes it talks on (commands as JSON lines on its stdin,
//! events as JSON lines on its descriptor 3), the relay of its stdout/stderr (Directus's own log) into
//! trm-init's log with a `[directus step]` prefix, and the bounds on each command: `schema.timeout`,
//! and the shutdown token (TERM, then KILL after the grace). The helper decides nothing; what to ask
//! and what its answers mean is the caller's (`super`). It never touches the database itself.

use crate::process::{self, Stopped};
use crate::reaper::{Child, Reaper};
use serde_json::Value;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio_util::sync::CancellationToken;

/// The descriptor the helper writes its events to (stdout belongs to Directus's logger).
const EVENTS_FD: i32 = 3;
/// How long the helper may take to exit after "exit" before it is stopped.
const EXIT_WAIT: Duration = Duration::from_secs(10);
/// How many of the helper's last output lines an error quotes.
const TAIL: usize = 3;

#[derive(Debug, Error)]
pub enum HelperError {
    #[error("cannot start the Directus step helper `{command}`: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("schema.directus = {prefix:?} names no cli.js, so the Directus folder is unknown")]
    NoDirectus { prefix: Vec<String> },
    #[error("the Directus step helper {path} is missing (schema.step_script): {source}")]
    NoScript { path: PathBuf, source: std::io::Error },
    #[error("`{command}`: the Directus step helper's pipe failed: {source}")]
    Pipe { command: String, source: std::io::Error },
    #[error("`{command}`: the Directus step helper exited ({status}){tail}")]
    Exited { command: String, status: ExitStatus, tail: String },
    #[error("`{command}`: the Directus step helper sent something that is not an event: {line:?}")]
    Protocol { command: String, line: String },
    #[error("`{command}` failed: {message}")]
    Failed { command: String, message: String, code: Option<String> },
    #[error("`{command}` did not finish within {limit:?} (schema.timeout; stopped: {status})")]
    TimedOut { command: String, limit: Duration, status: ExitStatus },
    #[error("`{command}` stopped by shutdown")]
    Cancelled { command: String },
}

impl crate::exit::ExitCode for HelperError {
    fn exit_code(&self) -> u8 {
        match self {
            HelperError::Cancelled { .. } => crate::exit::TERMINATED,
            _ => crate::exit::DIRECTUS,
        }
    }
}

/// How to start the helper, from the configuration.
pub struct Launch<'a> {
    /// `schema.directus`, e.g. `node /directus/cli.js`.
    pub prefix: &'a [String],
    /// `schema.step_script`.
    pub script: &'a Path,
    pub timeout: Duration,
    pub grace: Duration,
    /// `NODE_COMPILE_CACHE` for the helper (`compile_cache`'s decision): it imports Directus's modules too.
    pub compile_cache: Option<(&'static str, &'a Path)>,
    /// `child.resolve_hook`'s decision: the helper's `node` gets the same `--import` as the main child.
    pub resolve_hook: &'a crate::resolve_hook::Decision,
}

/// The running helper.
pub struct Helper<'a> {
    child: Child,
    commands: pipe::Sender,
    events: BufReader<pipe::Receiver>,
    relay: Relay,
    tail: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
    reaper: &'a Reaper,
    shutdown: &'a CancellationToken,
    timeout: Duration,
    grace: Duration,
    /// What the helper said when it started (`{"event":"ready","directus":...}`).
    pub ready: Value,
}

impl<'a> Helper<'a> {
    /// Starts the helper in the Directus folder and waits for its "ready" event (bounded like a command).
    pub async fn start(
        launch: &Launch<'_>,
        reaper: &'a Reaper,
        shutdown: &'a CancellationToken,
    ) -> Result<Helper<'a>, HelperError> {
        let dir = super::install::install_dir(launch.prefix)
            .ok_or_else(|| HelperError::NoDirectus { prefix: launch.prefix.to_vec() })?;
        let script = std::path::absolute(launch.script).unwrap_or_else(|_| launch.script.to_path_buf());
        std::fs::metadata(&script).map_err(|source| HelperError::NoScript { path: script.clone(), source })?;
        // `node /directus/cli.js` -> `node <script> /directus`: same program and options, our script.
        let mut argv: Vec<String> = launch
            .prefix
            .iter()
            .take_while(|a| Path::new(a).file_name().is_none_or(|n| n != "cli.js"))
            .cloned()
            .collect();
        argv.push(script.to_string_lossy().into_owned());
        argv.push(dir.to_string_lossy().into_owned());
        let argv = launch.resolve_hook.command(&argv);
        let command = argv.join(" ");
        let spawn_err = |source| HelperError::Spawn { command: command.clone(), source };

        let (stdin_read, stdin_write) = process::pipe_cloexec().map_err(spawn_err)?;
        let (events_read, events_write) = process::pipe_cloexec().map_err(spawn_err)?;
        let mut cmd = process::command(&argv);
        cmd.current_dir(&dir).stdin(Stdio::from(stdin_read)).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.envs(launch.compile_cache);
        process::inherit_as(&mut cmd, &events_write, EVENTS_FD);
        tracing::info!(command = ?argv, dir = %dir.display(), "starting the Directus step helper");
        let mut child = process::spawn(reaper, &mut cmd).map_err(|e| spawn_err(e.source))?;
        drop(cmd); // the child's ends of the pipes are closed here, in trm-init
        drop(events_write);

        let tail = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let out = relay(child.stdout.take().map(OwnedFd::from), tail.clone());
        let err = relay(child.stderr.take().map(OwnedFd::from), tail.clone());
        let relay = Relay(Some(tokio::spawn(async move {
            tokio::join!(out, err);
        })));
        let pipe_err = |source| HelperError::Pipe { command: "start".into(), source };
        let commands = pipe::Sender::from_owned_fd(stdin_write).map_err(pipe_err)?;
        let events = BufReader::new(pipe::Receiver::from_owned_fd(events_read).map_err(pipe_err)?);
        let mut helper = Helper {
            child,
            commands,
            events,
            relay,
            tail,
            reaper,
            shutdown,
            timeout: launch.timeout,
            grace: launch.grace,
            ready: Value::Null,
        };
        helper.ready = helper.bounded("start", None).await?;
        Ok(helper)
    }

    /// The helper's process id.
    pub fn pid(&self) -> i32 {
        self.child.pid
    }

    /// Sends one command and waits for its "done" event (returned); an "error" event is `Failed`.
    pub async fn call(&mut self, name: &str, command: Value) -> Result<Value, HelperError> {
        self.bounded(name, Some(command)).await
    }

    /// Asks the helper to exit and waits for it (stopping it if it lingers).
    pub async fn finish(mut self) {
        if self.child.exited().is_none() {
            let _ = self.commands.write_all(b"{\"cmd\":\"exit\"}\n").await;
            let status = process::wait_or_stop(&mut self.child, self.shutdown, EXIT_WAIT, self.grace).await;
            if let Err(stopped) = status {
                tracing::warn!(?stopped, "the Directus step helper did not exit when asked; it was stopped");
            }
        }
        self.relay.finish().await;
    }

    /// Stops the helper at once (TERM, KILL after the grace) after a failure; nothing when it is gone.
    pub async fn kill(mut self) {
        process::stop(&mut self.child, self.grace).await;
        self.relay.finish().await;
    }

    /// `command` (None: just the next event), bounded by `schema.timeout` and shutdown.
    async fn bounded(&mut self, name: &str, command: Option<Value>) -> Result<Value, HelperError> {
        let shutdown = self.shutdown.clone();
        let limit = self.timeout;
        let outcome = tokio::select! {
            r = self.exchange(name, command) => return r,
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(limit) => false,
        };
        let status = process::stop(&mut self.child, self.grace).await;
        let command = name.to_string();
        Err(if outcome { HelperError::Cancelled { command } } else { HelperError::TimedOut { command, limit, status } })
    }

    async fn exchange(&mut self, name: &str, command: Option<Value>) -> Result<Value, HelperError> {
        let pipe_err = |source| HelperError::Pipe { command: name.to_string(), source };
        if let Some(command) = command {
            let mut line = command.to_string();
            line.push('\n');
            if let Err(e) = self.commands.write_all(line.as_bytes()).await {
                // The helper is gone: report how it ended rather than the broken pipe.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Err(self.exited(name).await);
                }
                return Err(pipe_err(e));
            }
        }
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.events.read_line(&mut line).await.map_err(pipe_err)?;
            if n == 0 {
                return Err(self.exited(name).await);
            }
            if line.trim().is_empty() {
                continue;
            }
            let event: Value = serde_json::from_str(&line)
                .map_err(|_| HelperError::Protocol { command: name.to_string(), line: line.trim().to_string() })?;
            match event.get("event").and_then(Value::as_str) {
                Some("done") | Some("ready") => return Ok(event),
                Some("error") => {
                    let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
                    return Err(HelperError::Failed {
                        command: name.to_string(),
                        // One line: the failure ends up in trm-init's single error line.
                        message: text("message")
                            .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
                            .unwrap_or_else(|| "no message".into()),
                        code: text("code"),
                    });
                }
                _ => tracing::debug!(%event, "ignoring an unknown event of the Directus step helper"),
            }
        }
    }

    /// The helper closed its events pipe: wait for its status and quote its last lines.
    async fn exited(&mut self, name: &str) -> HelperError {
        let never = CancellationToken::new();
        let status = match process::wait_or_stop(&mut self.child, &never, EXIT_WAIT, self.grace).await {
            Ok(s) | Err(Stopped::Cancelled(s)) | Err(Stopped::TimedOut(s)) => s,
        };
        self.relay.finish().await;
        let lines: Vec<String> = self.tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
        let tail = if lines.is_empty() { String::new() } else { format!("; its last output: {}", lines.join(" | ")) };
        let _ = self.reaper;
        HelperError::Exited { command: name.to_string(), status, tail }
    }
}

/// The task relaying the helper's stdout/stderr. Its handle is awaited until it completes and never
/// after: a `JoinHandle` polled again once it returned panics, and every stop path (`exited`, `finish`,
/// `kill`) waits for the relay.
struct Relay(Option<tokio::task::JoinHandle<()>>);

impl Relay {
    /// Waits up to 2 s for the relay to end (the helper's output closed); later calls do nothing once it has.
    async fn finish(&mut self) {
        if let Some(handle) = self.0.as_mut() {
            if tokio::time::timeout(Duration::from_secs(2), handle).await.is_ok() {
                self.0 = None;
            }
        }
    }
}

/// Logs every line of `pipe` with the `[directus step]` prefix (ANSI colours removed), keeping the last few.
async fn relay(pipe: Option<OwnedFd>, tail: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>) {
    let Some(pipe) = pipe else { return };
    let receiver = match pipe::Receiver::from_owned_fd(pipe) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("[directus step] output cannot be read: {e}");
            return;
        }
    };
    let mut reader = BufReader::new(receiver);
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
                log_line(line);
                if let Ok(mut t) = tail.lock() {
                    if t.len() == TAIL {
                        t.pop_front();
                    }
                    t.push_back(line.to_string());
                }
            }
            Err(e) => {
                tracing::warn!("[directus step] output read failed: {e}");
                break;
            }
        }
    }
}

/// Directus's own level decides ours, so its errors stand out in trm-init's log.
fn log_line(line: &str) {
    if line.contains("ERROR") || line.contains("\"level\":50") || line.contains("\"level\":60") {
        tracing::error!("[directus step] {line}");
    } else if line.contains("WARN") || line.contains("\"level\":40") {
        tracing::warn!("[directus step] {line}");
    } else {
        tracing::info!("[directus step] {line}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[31mERROR\u{1b}[39m: boom"), "ERROR: boom");
    }
}

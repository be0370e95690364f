//! The one owner of `waitpid`.
//!
//! Every child of trm-init — the main child, preflight processes, and orphans re-parented to it as PID 1
//! or subreaper — is reaped here, by `waitpid(-1, WNOHANG)` on each SIGCHLD. Whoever spawned a process
//! gets its status from here through a `Child`; nothing else in the program may call any `wait*`.
//! Spawning goes through `Reaper::spawn` so a pid is registered before it can be reaped: the table's
//! lock is held while std forks (std itself waits for a child whose exec failed, and must not race us).

use std::collections::HashMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

#[derive(Clone, Default)]
pub struct Reaper {
    table: Arc<Mutex<Table>>,
}

#[derive(Default)]
struct Table {
    awaited: HashMap<i32, oneshot::Sender<ExitStatus>>,
    orphans_reaped: u64,
}

/// A process spawned through the reaper; its exit status arrives from the reaper.
pub struct Child {
    pub pid: i32,
    status: oneshot::Receiver<ExitStatus>,
    /// The status once delivered: a oneshot receiver must never be polled again after it completed
    /// (tokio panics), so every later `wait` answers from here.
    exited: Option<ExitStatus>,
    /// Piped stdio, when the command asked for it.
    pub(crate) stdout: Option<std::process::ChildStdout>,
    pub(crate) stderr: Option<std::process::ChildStderr>,
}

impl Child {
    /// Waits for the reaper to deliver this child's exit status. Cancel-safe, and safe to call again
    /// after it returned (from a `select!` arm, a timeout, a second stop path): it answers the same status.
    pub async fn wait(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        let status = match (&mut self.status).await {
            Ok(status) => status,
            // The reaper never drops a sender without sending; should it happen, report "killed".
            Err(_) => ExitStatus::from_raw(libc::SIGKILL),
        };
        self.exited = Some(status);
        status
    }

    /// The exit status if the child has exited (never waits).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            match self.status.try_recv() {
                Ok(status) => self.exited = Some(status),
                Err(oneshot::error::TryRecvError::Closed) => self.exited = Some(ExitStatus::from_raw(libc::SIGKILL)),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
        self.exited
    }
}

impl Reaper {
    pub fn new() -> Self {
        Reaper::default()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table inconsistent (plain inserts/removes).
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Spawns `cmd` (see `process::command` for how the child is prepared) and registers its pid.
    pub(crate) fn spawn(&self, cmd: &mut Command) -> io::Result<Child> {
        let mut table = self.lock();
        let mut child = cmd.spawn()?;
        let pid = child.id() as i32;
        let (tx, rx) = oneshot::channel();
        table.awaited.insert(pid, tx);
        Ok(Child { pid, status: rx, exited: None, stdout: child.stdout.take(), stderr: child.stderr.take() })
        // std's `Child` is dropped here without waiting: the reaper owns the wait.
    }

    /// Reaps every child that has exited; call on SIGCHLD. Returns how many were reaped.
    pub fn reap(&self) -> usize {
        let mut table = self.lock();
        let mut reaped = 0;
        loop {
            let mut raw = 0;
            // SAFETY: `raw` is a valid, writable int for the status; WNOHANG never blocks.
            let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
            if pid > 0 {
                reaped += 1;
                let status = ExitStatus::from_raw(raw);
                match table.awaited.remove(&pid) {
                    // The receiver may be gone (caller lost interest); the status is simply dropped.
                    Some(tx) => drop(tx.send(status)),
                    None => {
                        table.orphans_reaped += 1;
                        tracing::debug!(pid, %status, "reaped orphan");
                    }
                }
                continue;
            }
            if pid == 0 {
                break; // children remain, none exited
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => break, // no children at all
                _ => {
                    tracing::warn!(error = %io::Error::last_os_error(), "waitpid failed");
                    break;
                }
            }
        }
        reaped
    }

    /// Whether any child (running or zombie) is left. Peeks without reaping (`WNOWAIT`).
    pub(crate) fn has_children(&self) -> bool {
        let _table = self.lock();
        // SAFETY: siginfo_t is plain data, so all-zero bytes are a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t; WNOWAIT leaves any zombie for `reap`.
        let rc = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
        !(rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
    }

    /// How many processes nobody awaited (orphans) were reaped so far.
    pub fn orphans_reaped(&self) -> u64 {
        self.lock().orphans_reaped
    }
}

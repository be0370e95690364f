//! The main child spawned during the preflight, once it has work (`child.preload`): Node loads Directus's modules while the
//! preflight runs, and Directus's server starts only on trm-init's "go" (see `directus-step/preload.mjs`).
//!
//! Owns the go pipe (the write end is trm-init's alone; the read end is the child's descriptor 3) and the
//! preloaded child from its spawn to the go or to its stop. It never waits for a process itself (statuses
//! come from `reaper`, driven by `supervisor::drive` meanwhile), never decides when the go is due (`run`:
//! after a successful preflight, never after a stop signal), and never supervises the started server
//! (`supervisor`).

use crate::process::{self, SpawnError};
use crate::reaper::{Child, Reaper};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

/// The child's descriptor that carries the go (documented in `directus-step/preload.mjs`).
pub(crate) const GO_FD: i32 = 3;

/// The main child, loaded and waiting for the go.
pub(crate) struct Preloaded {
    child: Child,
    /// The pipe's write end; closing it without the go tells the child to exit without serving.
    go: OwnedFd,
    /// Whether the child's early exit has been logged.
    exit_logged: bool,
}

/// Why the go did not start the server: the child had exited (or its pipe is closed).
#[derive(Debug)]
pub(crate) struct NotStarted(pub(crate) String);

impl Preloaded {
    /// Spawns `argv` (with `env` added) through the reaper with the go pipe's read end as descriptor 3.
    pub(crate) fn spawn(reaper: &Reaper, argv: &[String], env: &[(&str, &Path)]) -> Result<Preloaded, SpawnError> {
        let program = argv.first().cloned().unwrap_or_default();
        let (read, write) = process::pipe_cloexec().map_err(|source| SpawnError { program, source })?;
        let mut cmd = process::command(argv);
        cmd.envs(env.iter().copied());
        process::inherit_as(&mut cmd, &read, GO_FD);
        let child = process::spawn(reaper, &mut cmd)?;
        drop(cmd);
        drop(read); // the child holds the only read end now: its exit makes a write fail with EPIPE
        tracing::info!(pid = child.pid, command = ?argv, "main child preloading Directus's modules during the preflight (child.preload)");
        Ok(Preloaded { child, go: write, exit_logged: false })
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.pid
    }

    /// Resolves when the preloaded child exits (logging one warning); never again after that. For a
    /// `select!` beside the preflight: a broken preload never stops a boot, the child is started the normal
    /// way after the preflight.
    pub(crate) async fn exited(&mut self) {
        if self.exit_logged {
            return std::future::pending().await;
        }
        let status = self.child.wait().await;
        self.exit_logged = true;
        tracing::warn!(
            pid = self.child.pid, %status,
            "the preloaded main child exited during the preflight: it is started again after the preflight, without preload"
        );
    }

    /// Sends the go and hands over the child, now starting its server. `NotStarted` when it has exited or
    /// its end of the pipe is closed (it is then stopped by the caller and spawned again).
    pub(crate) fn go(mut self) -> Result<Child, (Preloaded, NotStarted)> {
        if let Some(status) = self.child.exited() {
            return Err((self, NotStarted(format!("it exited during the preflight ({status})"))));
        }
        let msg = b"go\n";
        // SAFETY: write(2) on a descriptor we own, from a valid 3-byte buffer. An empty pipe takes 3
        // bytes at once (PIPE_BUF is at least 512), so this never blocks; a closed read end is EPIPE
        // (SIGPIPE is ignored in Rust programs).
        let n = unsafe { libc::write(self.go.as_raw_fd(), msg.as_ptr().cast(), msg.len()) };
        if n != msg.len() as isize {
            let e = std::io::Error::last_os_error();
            return Err((self, NotStarted(format!("the go could not be written on its pipe: {e}"))));
        }
        process::give_terminal(self.child.pid);
        // The write end closes here: the child reads "go\n" and then end of file.
        Ok(self.child)
    }

    /// Stops the preloaded child: end of file on its pipe, then `process::stop` (TERM to its group,
    /// `grace`, KILL). The reaper must be driven meanwhile (`supervisor::drive`).
    pub(crate) async fn stop(self, grace: Duration) -> ExitStatus {
        let Preloaded { mut child, go, .. } = self;
        drop(go);
        let status = process::stop(&mut child, grace).await;
        tracing::info!(pid = child.pid, %status, "preloaded main child stopped: its server never started");
        status
    }
}

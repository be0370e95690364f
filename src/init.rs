//! Becoming an init for one command: the prologue and the stop rule every command that runs processes
//! or cancellable database work shares (`run`, `preflight`, `db-init`, `schema`, `access ...`, `status`:
//! every command that can run as a container's PID 1, whose default dispositions would ignore TERM).
//!
//! Owns installing the signal handlers, registering as child subreaper when not PID 1, the reaper and
//! the shutdown token, and the rule that a stop signal before the main child runs cancels the work and
//! ends trm-init with 128 + n. It does not decide what the work is, nor how the main child is watched
//! (`supervisor`); it never calls `wait*` itself (`reaper`).

use crate::config::ChildConfig;
use crate::exit::{self, Failure};
use crate::lifecycle::Lifecycle;
use crate::reaper::Reaper;
use crate::{signals, supervisor};
use signal_hook_tokio::Signals;
use std::future::Future;
use tokio_util::sync::CancellationToken;

/// Whether the command asks to receive orphaned grandchildren when it is not PID 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Orphans {
    /// Register as child subreaper (`run`, `preflight`: Directus may leave processes behind).
    Adopt,
    /// Leave orphans to the real init (`db-init`, `schema`: short commands run by an operator).
    Leave,
}

/// An init for the length of one command. `reaper` and `shutdown` are cheap to clone into the work.
pub(crate) struct Init {
    signals: Signals,
    pub(crate) reaper: Reaper,
    /// Cancelled by the first stop signal; work must then stop its processes and queries.
    pub(crate) shutdown: CancellationToken,
}

/// How driven work ended.
pub(crate) enum Ended<T> {
    /// The work ran to its end.
    Finished(T),
    /// A stop signal cancelled it; the exit code is 128 + n.
    Stopped(u8),
}

impl Init {
    /// Installs the signal handlers (exit 1 when that fails) and registers as subreaper if asked.
    pub(crate) fn start(orphans: Orphans) -> Result<Init, Failure> {
        let signals = signals::listen()
            .map_err(|e| Failure::new(exit::FAILURE, format!("cannot install signal handlers: {e}")))?;
        if orphans == Orphans::Adopt {
            become_subreaper_unless_pid1();
        }
        Ok(Init { signals, reaper: Reaper::new(), shutdown: CancellationToken::new() })
    }

    /// Runs `work` while keeping the init duties (see `supervisor::drive`). A stop signal cancels
    /// `shutdown`; once the work has wound down, it ends as `Stopped(128 + n)` whatever it returned.
    pub(crate) async fn drive<T>(&mut self, what: &str, work: impl Future<Output = T>) -> Ended<T> {
        let (out, stop) = supervisor::drive(&mut self.signals, &self.reaper, &self.shutdown, work).await;
        match stop {
            Some(sig) => {
                tracing::warn!(signal = %signals::name(sig), "{what} stopped by signal");
                Ended::Stopped(exit::from_signal(sig))
            }
            None => Ended::Finished(out),
        }
    }

    /// A whole command: `work` driven to its end, exit 0 when it succeeds, 128 + n when stopped.
    pub(crate) async fn command(
        mut self,
        what: &str,
        work: impl Future<Output = Result<u8, Failure>>,
    ) -> Result<u8, Failure> {
        match self.drive(what, work).await {
            Ended::Finished(result) => result,
            Ended::Stopped(code) => Ok(code),
        }
    }

    /// Starts `argv` (with `env` added to trm-init's environment) as the main child and supervises it to
    /// the end; returns trm-init's exit code.
    pub(crate) async fn supervise(
        mut self,
        argv: &[String],
        env: &[(&str, &std::path::Path)],
        child: &ChildConfig,
        lifecycle: &Lifecycle,
    ) -> Result<u8, Failure> {
        let code = supervisor::supervise(argv, env, child, &mut self.signals, &self.reaper, lifecycle).await;
        self.shutdown.cancel();
        code
    }

    /// Supervises a main child that is already running (a preloaded one after its go) to the end.
    pub(crate) async fn supervise_started(
        mut self,
        child: crate::reaper::Child,
        cfg: &ChildConfig,
        lifecycle: &Lifecycle,
    ) -> Result<u8, Failure> {
        let code = supervisor::supervise_started(child, cfg, &mut self.signals, &self.reaper, lifecycle).await;
        self.shutdown.cancel();
        code
    }
}

/// Orphans are re-parented to PID 1; when trm-init is not PID 1 it asks to receive them instead.
fn become_subreaper_unless_pid1() {
    if std::process::id() == 1 {
        return;
    }
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes integer arguments only and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "not PID 1 and cannot become a child subreaper: orphaned grandchildren will be reaped by the real init, not by trm-init"
        );
    } else {
        tracing::debug!("not PID 1: registered as child subreaper");
    }
}

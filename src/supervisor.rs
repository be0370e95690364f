//! The supervisor: one loop that waits for a signal, forwards it, reaps — tini's loop, with an end.
//!
//! Owns the main child from spawn (or from the go of a preloaded one, see `preload`) to exit code, and the signal stream for the whole life of trm-init
//! (`drive` lends it to preflight). It decides every exit path:
//!   * the main child exits          -> stop its leftovers, exit with its code (128 + n for signal n);
//!   * TERM/INT/QUIT to trm-init     -> forward, KILL after `stop_grace`, exit with the child's code;
//!     with `child.drain` > 0 the signal is held back first: phase draining (`/readyz` 503) while the
//!     child keeps serving for `drain`; a second stop signal ends the drain at once and is forwarded;
//!   * the child cannot be executed  -> 127 (not found) or 126 (not executable);
//!   * a stop signal during preflight -> cancel preflight, never start the child (a preloaded one is
//!     stopped without its go), exit 128 + n.

use crate::config::{ChildConfig, SignalTarget};
use crate::exit::{self, Failure};
use crate::lifecycle::{Lifecycle, Phase};
use crate::process;
use crate::reaper::{Child, Reaper};
use crate::signals;
use futures_util::StreamExt;
use signal_hook_tokio::Signals;
use std::future::Future;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// Runs `work` while keeping the init duties: every SIGCHLD reaps; the first stop signal cancels
/// `shutdown` (the work must then stop its processes and queries). Other signals are logged and dropped:
/// there is no main child yet. Returns the work's output and the stop signal, if one came.
pub async fn drive<T>(
    signals: &mut Signals,
    reaper: &Reaper,
    shutdown: &CancellationToken,
    work: impl Future<Output = T>,
) -> (T, Option<i32>) {
    tokio::pin!(work);
    let mut stop_signal = None;
    loop {
        tokio::select! {
            out = &mut work => return (out, stop_signal),
            Some(sig) = signals.next() => {
                if sig == libc::SIGCHLD {
                    reaper.reap();
                } else if signals::is_stop_signal(sig) {
                    if stop_signal.is_none() {
                        tracing::warn!(signal = %signals::name(sig), "stop requested during preflight: cancelling it");
                        stop_signal = Some(sig);
                        shutdown.cancel();
                    }
                } else {
                    tracing::info!(signal = %signals::name(sig), "signal ignored: the main child is not running yet");
                }
            }
        }
    }
}

/// Spawns the main child (trm-init's environment plus `env`) and supervises it to the end; returns
/// trm-init's exit code.
pub(crate) async fn supervise(
    argv: &[String],
    env: &[(&str, &std::path::Path)],
    cfg: &ChildConfig,
    signals: &mut Signals,
    reaper: &Reaper,
    lifecycle: &Lifecycle,
) -> Result<u8, Failure> {
    let child = process::spawn(reaper, process::command(argv).envs(env.iter().copied()))?;
    tracing::info!(pid = child.pid, command = ?argv, "main child started");
    supervise_started(child, cfg, signals, reaper, lifecycle).await
}

/// Supervises a main child that is already running (just spawned, or preloaded and given the go: see
/// `preload`) to the end; returns trm-init's exit code.
pub(crate) async fn supervise_started(
    mut child: Child,
    cfg: &ChildConfig,
    signals: &mut Signals,
    reaper: &Reaper,
    lifecycle: &Lifecycle,
) -> Result<u8, Failure> {
    lifecycle.set(Phase::Starting);
    crate::metrics::child_started();
    // Once the child has settled, give back what only start-up needed (on the memory thread, off the
    // signal/reap path).
    crate::memory::trim_later(Duration::from_secs(1));
    let grace = cfg.stop_grace.get();
    let target = match cfg.signal_target {
        SignalTarget::Child => child.pid,
        SignalTarget::Group => -child.pid,
    };

    let drain = cfg.drain.get();
    let mut kill_at: Option<Instant> = None;
    // Whether a stop signal has been forwarded (the KILL timer is armed once).
    let mut stop_sent = false;
    // A stop signal held back while the drain passes, and when the drain ends.
    let mut draining: Option<(i32, Instant)> = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(sig) = signals.next() => {
                if sig == libc::SIGCHLD {
                    reaper.reap();
                    continue;
                }
                let stop = signals::is_stop_signal(sig) && !stop_sent;
                if stop && !drain.is_zero() && draining.is_none() {
                    lifecycle.set(Phase::Draining);
                    tracing::info!(
                        signal = %signals::name(sig), drain = ?drain,
                        "stop requested: /readyz now answers 503; the main child keeps serving for child.drain, then gets the signal"
                    );
                    draining = Some((sig, Instant::now() + drain));
                    continue;
                }
                if stop && draining.take().is_some() {
                    tracing::warn!(signal = %signals::name(sig), "second stop signal during the drain: ending the drain now");
                }
                forward(target, sig);
                if stop {
                    lifecycle.set(Phase::Stopping);
                    kill_at = Some(Instant::now() + grace);
                    stop_sent = true;
                }
            }
            _ = sleep_until(draining.map_or_else(Instant::now, |(_, until)| until)), if draining.is_some() => {
                if let Some((sig, _)) = draining.take() {
                    tracing::info!(drain = ?drain, "drain over");
                    forward(target, sig);
                    lifecycle.set(Phase::Stopping);
                    kill_at = Some(Instant::now() + grace);
                    stop_sent = true;
                }
            }
            _ = sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                tracing::warn!(pid = child.pid, grace = ?grace, "main child still running after stop_grace: sending SIGKILL");
                process::signal_group(child.pid, libc::SIGKILL);
                kill_at = None;
            }
        }
    };
    lifecycle.set(Phase::Stopping);
    let code = exit::from_wait_status(status);
    crate::metrics::child_exited(code);
    tracing::info!(pid = child.pid, %status, exit_code = code, "main child exited");
    stop_leftovers(child.pid, grace, signals, reaper).await;
    Ok(code)
}

fn forward(target: i32, sig: i32) {
    tracing::info!(signal = %signals::name(sig), target, "forwarding signal");
    // SAFETY: kill with a pid we own; ESRCH (already gone) is harmless.
    unsafe { libc::kill(target, sig) };
}

/// What the main child left behind (its group, and every process re-parented to us) gets one SIGTERM;
/// trm-init then sleeps, reaping on each SIGCHLD, until the last of them is gone or `grace` has passed,
/// sends one SIGKILL to whatever remains and waits (up to `KILL_WAIT`) for those to be reaped. One
/// signal of each kind: many programs read a second TERM as "force quit now". As PID 1 the leftovers
/// are every other process of the namespace (`kill(-1)`), which also reaches descendants whose own
/// parent still lives.
async fn stop_leftovers(child_pid: i32, grace: Duration, signals: &mut Signals, reaper: &Reaper) {
    reaper.reap();
    if !reaper.has_children() {
        return;
    }
    let as_pid1 = std::process::id() == 1;
    tracing::info!(pids = ?process::our_children(), "stopping processes the main child left behind");
    signal_leftovers(child_pid, as_pid1, libc::SIGTERM);
    if reap_until(Instant::now() + grace, signals, reaper).await {
        tracing::info!("all leftover processes exited");
        return;
    }
    tracing::warn!(pids = ?process::our_children(), "leftover processes still running after stop_grace: sending SIGKILL");
    signal_leftovers(child_pid, as_pid1, libc::SIGKILL);
    if !reap_until(Instant::now() + KILL_WAIT, signals, reaper).await {
        tracing::error!(pids = ?process::our_children(), "processes survive SIGKILL (uninterruptible sleep?); exiting without them");
    }
}

/// How long processes that got SIGKILL may take to be reaped before trm-init exits without them.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Reaps on every SIGCHLD until no child is left (true) or `deadline` passes (false). Sleeps in between:
/// nothing is polled.
async fn reap_until(deadline: Instant, signals: &mut Signals, reaper: &Reaper) -> bool {
    let timer = sleep_until(deadline);
    tokio::pin!(timer);
    loop {
        reaper.reap();
        if !reaper.has_children() {
            return true;
        }
        tokio::select! {
            biased;
            // Other signals arriving now have nobody to go to: the main child is gone.
            Some(_) = signals.next() => {}
            _ = &mut timer => {
                reaper.reap();
                return !reaper.has_children();
            }
        }
    }
}

fn signal_leftovers(child_pid: i32, as_pid1: bool, sig: i32) {
    if as_pid1 {
        // SAFETY: kill takes integers only; -1 as PID 1 is every process of our namespace but us.
        unsafe { libc::kill(-1, sig) };
    } else {
        // SAFETY: kill takes integers only; ESRCH (the group is gone) is harmless.
        unsafe { libc::kill(-child_pid, sig) };
        for pid in process::our_children() {
            // SAFETY: as above, for one pid.
            unsafe { libc::kill(pid, sig) };
        }
    }
}

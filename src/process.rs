//! How trm-init prepares every process it starts, and how it finds and stops the ones left behind.
//!
//! Owns the child's initial state (signal mask, dispositions, process group, terminal, descriptors) and
//! the reading of `/proc` for our children. It never waits for a process: statuses come from `reaper`.

use crate::reaper::{Child, Reaper};
use std::ffi::OsStr;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::time::Duration;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// A command could not be started.
#[derive(Debug, Error)]
#[error("cannot execute {program:?}: {source}")]
pub struct SpawnError {
    pub program: String,
    #[source]
    pub source: io::Error,
}

impl crate::exit::ExitCode for SpawnError {
    /// 127 when the program does not exist, 126 when it exists but cannot be executed (tini's convention).
    fn exit_code(&self) -> u8 {
        match self.source.kind() {
            io::ErrorKind::NotFound => crate::exit::NOT_FOUND,
            _ => crate::exit::NOT_EXECUTABLE,
        }
    }
}

/// A `Command` for `argv` whose child starts clean: empty signal mask, default dispositions, its own
/// process group (the terminal's foreground group when stdin is a TTY), and no descriptor above 2.
/// The working directory and environment are trm-init's own.
pub fn command<S: AsRef<OsStr>>(argv: &[S]) -> Command {
    let mut cmd = Command::new(argv[0].as_ref());
    cmd.args(&argv[1..]);
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe calls
    // (setpgid, isatty, tcsetpgrp, getpid, sigaction, sigprocmask, syscall); it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            prepare_child();
            Ok(())
        });
    }
    cmd
}

/// Runs in the forked child, before exec.
fn prepare_child() {
    // SAFETY: see `command`; all arguments are valid for these calls.
    unsafe {
        libc::setpgid(0, 0);
        if libc::isatty(libc::STDIN_FILENO) == 1 {
            // SIGTTOU is still ignored here (inherited from trm-init), so this cannot stop us.
            libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
        }
        // The raw syscall, not glibc's sigaction: glibc refuses 32 and 33 (kept for its threads), yet
        // they may arrive ignored from our own parent and must not stay ignored in the child.
        let default = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
        for sig in 1..libc::SIGRTMAX() + 1 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &default as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // Mark every descriptor above stderr close-on-exec (std's own error pipe already is).
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC);
    }
}

/// The kernel's `struct sigaction` on x86_64 (handler, flags, restorer, 64-bit mask).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// Spawns `cmd` through the reaper, naming the program in the error.
pub fn spawn(reaper: &Reaper, cmd: &mut Command) -> Result<Child, SpawnError> {
    reaper.spawn(cmd).map_err(|source| SpawnError { program: cmd.get_program().to_string_lossy().into_owned(), source })
}

/// Why `wait_or_stop` returned without the process's own ending.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// `shutdown` was cancelled: the process was terminated.
    Cancelled(ExitStatus),
    /// `limit` passed: the process was terminated.
    TimedOut(ExitStatus),
}

/// Waits for `child`; on `shutdown` or after `limit` it TERMs the child's group, then KILLs it after
/// `grace`. Used for preflight processes (the reaper must be driven meanwhile, see `supervisor::drive`).
pub async fn wait_or_stop(
    child: &mut Child,
    shutdown: &CancellationToken,
    limit: Duration,
    grace: Duration,
) -> Result<ExitStatus, Stopped> {
    let cancelled = tokio::select! {
        status = child.wait() => return Ok(status),
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(limit) => false,
    };
    signal_group(child.pid, libc::SIGTERM);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            signal_group(child.pid, libc::SIGKILL);
            child.wait().await
        }
    };
    Err(if cancelled { Stopped::Cancelled(status) } else { Stopped::TimedOut(status) })
}

/// Sends `sig` to the process group led by `pid` and to `pid` itself (it may have left the group).
pub fn signal_group(pid: i32, sig: i32) {
    // SAFETY: kill with explicit pids; errors (ESRCH) are expected when they are gone.
    unsafe {
        libc::kill(-pid, sig);
        libc::kill(pid, sig);
    }
}

/// Pids whose parent is this process, read from /proc (orphans re-parented to us included). Empty when
/// /proc belongs to another PID namespace (then its pids mean nothing here).
pub fn our_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let proc_is_ours = std::fs::read_link("/proc/self").ok().and_then(|p| p.to_str()?.parse::<i32>().ok()) == Some(me);
    if !proc_is_ours {
        return Vec::new();
    }
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent_of(*pid) == Some(me))
        .collect()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" {
        return None; // a zombie is already dead; it only waits for the reaper
    }
    fields.next()?.parse().ok()
}

//! How trm-init prepares every process it starts, and how it finds and stops the ones left behind.
//!
//! Owns the child's initial state (signal mask, dispositions, process group, terminal, descriptors) and
//! the reading of `/proc` for our children. It never waits for a process: statuses come from `reaper`.

use crate::reaper::{Child, Reaper};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
/// The working directory and environment are trm-init's own. An empty `argv` gives a command that
/// `spawn` refuses with a clear error (callers refuse it earlier, where they build it).
pub fn command<S: AsRef<OsStr>>(argv: &[S]) -> Command {
    let mut cmd = match argv.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program.as_ref());
            cmd.args(args);
            cmd
        }
        None => Command::new(""),
    };
    // SAFETY: `pre_exec` runs the closure in the forked child before exec; `prepare_child` makes only
    // async-signal-safe calls (see there) and allocates nothing, as a forked child of a threaded parent
    // requires.
    unsafe {
        cmd.pre_exec(|| {
            prepare_child();
            Ok(())
        });
    }
    cmd
}

/// Runs in the forked child, before exec. Every call here is async-signal-safe and failures are
/// ignored: the child then starts with what it inherited, which is what tini does too.
fn prepare_child() {
    // SAFETY: setpgid(0, 0) makes the calling process a group leader; no pointers.
    unsafe { libc::setpgid(0, 0) };
    // SAFETY: isatty on a descriptor number; no pointers.
    if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
        // SIGTTOU is still ignored here (inherited from trm-init), so this cannot stop us.
        // SAFETY: tcsetpgrp on stdin with our own pid (getpid cannot fail); no pointers.
        unsafe { libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid()) };
    }
    reset_dispositions();
    // SAFETY: sigset_t is plain data, so all-zero bytes are a valid value; sigemptyset initialises it
    // through a pointer to that local.
    let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `empty` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut empty) };
    // SAFETY: `empty` is initialised; the old-mask pointer may be null.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) };
    // Mark every descriptor above stderr close-on-exec (std's own error pipe already is).
    // SAFETY: close_range takes integers only; CLOSE_RANGE_CLOEXEC closes nothing now.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
}

/// Sets every catchable signal back to its default disposition with the raw syscall, not glibc's
/// sigaction: glibc refuses 32 and 33 (kept for its threads), yet they may arrive ignored from our own
/// parent and must not stay ignored in the child.
fn reset_dispositions() {
    let default = KernelSigaction { handler: libc::SIG_DFL, flags: 0, restorer: 0, mask: 0 };
    for sig in 1..libc::SIGRTMAX() + 1 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: `default` is a valid kernel sigaction for this architecture (see `KernelSigaction`)
            // that outlives the call; the old-action pointer is null; 8 is the kernel's sigset size.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &default as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                )
            };
        }
    }
}

/// The kernel's `struct sigaction` on x86_64 (handler, flags, restorer, 64-bit mask). Other
/// architectures order these fields differently (or lack `restorer`): they need their own layout.
#[cfg(target_arch = "x86_64")]
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "trm-init's process.rs knows the kernel `struct sigaction` layout of x86_64 only: add this \
     architecture's layout to `KernelSigaction` (see the kernel's arch/*/include/uapi/asm/signal.h)"
);

/// A pipe whose both ends are close-on-exec: (read end, write end).
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 with a valid two-int buffer; on success both descriptors are ours to own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just created, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Makes `fd` (trm-init's, close-on-exec) the child's descriptor `target`. The caller keeps `fd` open
/// until the spawn and closes its copy right after.
pub(crate) fn inherit_as(cmd: &mut Command, fd: &OwnedFd, target: i32) {
    let raw = fd.as_raw_fd();
    // SAFETY: runs between fork and exec, after `command`'s own preparation (which marks every
    // descriptor above 2 close-on-exec); dup2 and fcntl are async-signal-safe and allocate nothing.
    unsafe {
        cmd.pre_exec(move || {
            if raw == target {
                let flags = libc::fcntl(target, libc::F_GETFD);
                libc::fcntl(target, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            } else if libc::dup2(raw, target) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Gives the terminal on stdin (when it is one) to `pid`'s process group: the main child's, once it
/// starts serving after a preload (the step helper, spawned later, took it meanwhile).
pub(crate) fn give_terminal(pid: i32) {
    // SAFETY: isatty and tcsetpgrp take integers only; SIGTTOU is ignored by trm-init (`signals`), so a
    // background trm-init may set the foreground group.
    unsafe {
        if libc::isatty(libc::STDIN_FILENO) == 1 {
            libc::tcsetpgrp(libc::STDIN_FILENO, pid);
        }
    }
}

/// Spawns `cmd` through the reaper, naming the program in the error.
pub fn spawn(reaper: &Reaper, cmd: &mut Command) -> Result<Child, SpawnError> {
    if cmd.get_program().is_empty() {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "the command is empty: no program to execute");
        return Err(SpawnError { program: String::new(), source });
    }
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

/// Waits for `child`; on `shutdown` or after `limit` it stops the child (`stop`).
/// Used for preflight processes (the reaper must be driven meanwhile, see `supervisor::drive`).
pub(crate) async fn wait_or_stop(
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
    let status = stop(child, grace).await;
    Err(if cancelled { Stopped::Cancelled(status) } else { Stopped::TimedOut(status) })
}

/// The one TERM -> grace -> KILL of a process trm-init started (the main child's is the supervisor's
/// loop): TERM to its group, wait up to `grace`, KILL once, wait. Answers at once when it already
/// exited.
pub(crate) async fn stop(child: &mut Child, grace: Duration) -> ExitStatus {
    if let Some(status) = child.exited() {
        return status;
    }
    signal_group(child.pid, libc::SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            signal_group(child.pid, libc::SIGKILL);
            child.wait().await
        }
    }
}

/// Sends `sig` to the process group led by `pid` and to `pid` itself (it may have left the group).
pub fn signal_group(pid: i32, sig: i32) {
    // SAFETY: kill takes integers only; ESRCH (already gone) is expected and harmless.
    unsafe { libc::kill(-pid, sig) };
    // SAFETY: as above.
    unsafe { libc::kill(pid, sig) };
}

/// Pids whose parent is this process, read from /proc (orphans re-parented to us included). Empty when
/// /proc belongs to another PID namespace (then its pids mean nothing here).
pub(crate) fn our_children() -> Vec<i32> {
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

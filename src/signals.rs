//! Which signals trm-init catches, and the stream that delivers them.
//!
//! Owns the signal dispositions of the trm-init process. It forwards nothing itself: the supervisor
//! decides what each signal means in each phase.

use signal_hook_tokio::Signals;
use std::io;

/// Not forwarded: SIGCHLD (reaping), SIGKILL/SIGSTOP (uncatchable), the synchronous faults (they concern
/// trm-init itself), SIGPIPE (trm-init's own broken pipes must not kill the child), SIGTTIN/SIGTTOU
/// (ignored so a background trm-init is never stopped by its terminal).
const NOT_FORWARDED: &[i32] = &[
    libc::SIGCHLD,
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGABRT,
    libc::SIGPIPE,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// Signals that ask trm-init to stop: forwarded, then KILL after the grace period.
pub(crate) fn is_stop_signal(sig: i32) -> bool {
    matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)
}

/// Every signal that is forwarded to the main child.
pub(crate) fn forwarded() -> Vec<i32> {
    (1..=libc::SIGRTMAX())
        // 32 and 33 sit below SIGRTMIN: glibc keeps them for its threads.
        .filter(|s| !NOT_FORWARDED.contains(s) && (*s < 32 || *s >= libc::SIGRTMIN()))
        .collect()
}

/// Installs the handlers and returns the stream: SIGCHLD plus every forwarded signal.
/// SIGTTIN and SIGTTOU are ignored (children get them back at default, see `process`).
pub fn listen() -> io::Result<Signals> {
    // SAFETY: SIG_IGN installs no handler code, so no handler-safety rules apply.
    unsafe { libc::signal(libc::SIGTTIN, libc::SIG_IGN) };
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGTTOU, libc::SIG_IGN) };
    let mut wanted = forwarded();
    wanted.push(libc::SIGCHLD);
    Signals::new(wanted)
}

/// "SIGTERM" for 15.
pub(crate) fn name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig).map(|s| s.as_str().to_string()).unwrap_or_else(|_| format!("SIG{sig}"))
}

//! The phase trm-init is in, shared with the health server.
//!
//! Owns the `Phase` value and when it began. The supervisor moves it through preflight -> starting ->
//! (draining ->) stopping; the health server reads it and may mark `running` once the upstream answered.

use serde::Serialize;
use std::time::Instant;
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Preflight,
    Starting,
    Running,
    /// A stop signal arrived and `child.drain` is passing: the child still serves, `/readyz` is 503.
    Draining,
    Stopping,
}

impl Phase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Draining => "draining",
            Phase::Stopping => "stopping",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct PhaseState {
    pub(crate) phase: Phase,
    pub(crate) since: Instant,
}

/// Cheap to clone; every clone sees and sets the same phase.
#[derive(Clone)]
pub struct Lifecycle {
    tx: watch::Sender<PhaseState>,
}

impl Lifecycle {
    pub fn new(phase: Phase) -> Self {
        Lifecycle { tx: watch::Sender::new(PhaseState { phase, since: Instant::now() }) }
    }

    pub(crate) fn set(&self, phase: Phase) {
        self.tx.send_if_modified(|state| {
            let changed = state.phase != phase;
            if changed {
                *state = PhaseState { phase, since: Instant::now() };
            }
            changed
        });
    }

    /// Moves `from` -> `to` only if the phase is still `from` (e.g. starting -> running, never
    /// stopping -> running).
    pub(crate) fn advance(&self, from: Phase, to: Phase) {
        self.tx.send_if_modified(|state| {
            let changed = state.phase == from;
            if changed {
                *state = PhaseState { phase: to, since: Instant::now() };
            }
            changed
        });
    }

    pub(crate) fn current(&self) -> PhaseState {
        *self.tx.borrow()
    }
}

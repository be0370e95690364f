//! Gives back the memory a burst of health traffic faulted in, once the server has been quiet a while.
//!
//! Owns only the timing: every request and every upstream ping `touch`es; `QUIET` after the last
//! touch, while the main child runs, it asks `memory::trim_later` (clean code pages of our
//! own binary and free heap go back; they refault from the page cache if needed). A probe every 30 s
//! (Docker's default) would otherwise keep hyper's code resident for good. During a flood nothing is
//! trimmed: there is never a quiet moment, and `touch` costs two atomic operations.

use crate::lifecycle::{Lifecycle, Phase};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Quiet time after the last request or ping before trimming.
pub(crate) const QUIET: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) struct Quiet {
    inner: Arc<Inner>,
}

struct Inner {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last touch.
    last: AtomicU64,
    /// A trim is pending (the watcher is counting down).
    armed: AtomicBool,
    wake: Notify,
}

impl Default for Quiet {
    fn default() -> Self {
        Quiet {
            inner: Arc::new(Inner {
                epoch: Instant::now(),
                last: AtomicU64::new(0),
                armed: AtomicBool::new(false),
                wake: Notify::new(),
            }),
        }
    }
}

impl Quiet {
    pub(crate) fn touch(&self) {
        let now = self.inner.epoch.elapsed().as_millis() as u64;
        self.inner.last.store(now, Ordering::Relaxed);
        if !self.inner.armed.swap(true, Ordering::Relaxed) {
            self.inner.wake.notify_one();
        }
    }

    /// Runs for the life of the server.
    pub(crate) async fn trim_when_quiet(self, lifecycle: Lifecycle) {
        loop {
            self.inner.wake.notified().await;
            loop {
                let last = self.inner.epoch + Duration::from_millis(self.inner.last.load(Ordering::Relaxed));
                if last.elapsed() >= QUIET {
                    break;
                }
                tokio::time::sleep_until(last + QUIET).await;
            }
            self.inner.armed.store(false, Ordering::Relaxed);
            // In preflight the pages are still in use, and the supervisor trims once the child runs.
            if matches!(lifecycle.current().phase, Phase::Starting | Phase::Running) {
                crate::memory::trim_later(Duration::ZERO);
            }
        }
    }
}

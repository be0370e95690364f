//! The upstream ping (`GET health.upstream`, expecting 200 `pong`) and the coalescing in front of it.
//!
//! Owns every request trm-init makes to Directus. Probes never ping by themselves: they ask the
//! `Pinger`, which keeps at most one ping in flight and reuses an answer for `cache_ttl` (at least
//! `MIN_INTERVAL`), so any probe rate costs Directus at most 1 / (cache_ttl + ping time) requests per
//! second. The first `pong` moves the lifecycle from starting to running. It never blocks: connect, write
//! and read are async and bounded by `upstream_timeout`.

use super::client::{self, GetError};
use super::quiet::Quiet;
use super::target::Target;
use crate::lifecycle::{Lifecycle, Phase};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Whatever `cache_ttl` says, two pings start at least this far apart (<= 10 pings/s).
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// What the upstream answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Pong,
    Refused,
    TimedOut(Duration),
    /// An HTTP status other than 200.
    Status(u16),
    /// 200 with another body.
    NotPong,
    /// Reset, closed early, not HTTP, ...
    Failed(String),
}

impl Answer {
    pub(crate) fn is_pong(&self) -> bool {
        matches!(self, Answer::Pong)
    }

    /// A short machine-friendly word: `pong`, `refused`, `timeout`, `status 500`, `not pong`, `error`.
    pub(crate) fn key(&self) -> String {
        match self {
            Answer::Pong => "pong".into(),
            Answer::Refused => "refused".into(),
            Answer::TimedOut(_) => "timeout".into(),
            Answer::Status(code) => format!("status {code}"),
            Answer::NotPong => "not pong".into(),
            Answer::Failed(_) => "error".into(),
        }
    }

    /// A sentence for people, naming the upstream.
    pub(crate) fn reason(&self, upstream: &Target) -> String {
        match self {
            Answer::Pong => format!("{upstream} answered pong"),
            Answer::Refused => format!("{upstream} refused the connection"),
            Answer::TimedOut(limit) => {
                format!("{upstream} did not answer within {}", humantime::format_duration(*limit))
            }
            Answer::Status(code) if *code >= 500 => {
                format!("{upstream} answered {code} (server error)")
            }
            Answer::Status(code) => format!("{upstream} answered {code}"),
            Answer::NotPong => format!("{upstream} answered 200 but not pong"),
            Answer::Failed(e) => format!("{upstream} {e}"),
        }
    }
}

/// One ping, bounded by `limit` as a whole (connect, request, response head and body).
pub(crate) async fn ping(target: &Target, limit: Duration) -> Answer {
    match client::get(target, limit, limit).await {
        Ok(reply) if reply.status != 200 => Answer::Status(reply.status),
        Ok(reply) if reply.body.trim_ascii() == b"pong" => Answer::Pong,
        Ok(_) => Answer::NotPong,
        Err(GetError::Refused) => Answer::Refused,
        Err(GetError::TimedOut { .. }) => Answer::TimedOut(limit),
        Err(e) => Answer::Failed(e.to_string()),
    }
}

/// Shares pings between probes. Cheap to clone.
#[derive(Clone)]
pub struct Pinger {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    timeout: Duration,
    ttl: Duration,
    lifecycle: Lifecycle,
    quiet: Quiet,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The last answer and when it arrived.
    last: Option<(Instant, Answer)>,
    /// The ping in flight: its answer appears here.
    in_flight: Option<watch::Receiver<Option<Answer>>>,
    pings: u64,
}

impl Pinger {
    pub(crate) fn new(
        target: Target,
        timeout: Duration,
        cache_ttl: Duration,
        lifecycle: Lifecycle,
        quiet: Quiet,
    ) -> Pinger {
        let ttl = cache_ttl.max(MIN_INTERVAL);
        let state = Mutex::new(State::default());
        Pinger { inner: Arc::new(Inner { target, timeout, ttl, lifecycle, quiet, state }) }
    }

    pub(crate) fn target(&self) -> &Target {
        &self.inner.target
    }

    /// How many pings were started so far.
    pub fn pings(&self) -> u64 {
        self.lock().pings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain assignments under the lock: a poisoned state is still consistent.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The upstream's answer: the cached one if fresh, the one in flight, or a new ping's.
    pub(crate) async fn answer(&self) -> Answer {
        let mut rx = {
            let mut state = self.lock();
            if let Some((at, answer)) = &state.last {
                if at.elapsed() < self.inner.ttl {
                    return answer.clone();
                }
            }
            match &state.in_flight {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    state.in_flight = Some(rx.clone());
                    state.pings += 1;
                    // Its own task: a probe that goes away must not cancel the ping others wait for.
                    tokio::spawn(self.clone().ping_and_publish(tx));
                    rx
                }
            }
        };
        let answer = match rx.wait_for(Option::is_some).await {
            Ok(answer) => answer.clone(),
            Err(_) => None,
        };
        answer.unwrap_or_else(|| Answer::Failed("the ping was abandoned".into()))
    }

    async fn ping_and_publish(self, tx: watch::Sender<Option<Answer>>) {
        self.inner.quiet.touch();
        let started = Instant::now();
        let answer = ping(&self.inner.target, self.inner.timeout).await;
        crate::metrics::ping(&answer.key(), started.elapsed());
        tracing::debug!(upstream = %self.inner.target, answer = %answer.key(), "upstream ping");
        if answer.is_pong() {
            let before = self.inner.lifecycle.current();
            self.inner.lifecycle.advance(Phase::Starting, Phase::Running);
            if before.phase == Phase::Starting {
                let secs = before.since.elapsed().as_secs_f64();
                tracing::info!(upstream = %self.inner.target, starting_s = secs, "upstream answered pong after {secs:.1} s: running");
            }
        }
        {
            let mut state = self.lock();
            state.last = Some((Instant::now(), answer.clone()));
            state.in_flight = None;
        }
        self.inner.quiet.touch();
        let _ = tx.send(Some(answer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_upstream_and_the_failure() {
        let t = Target::parse("http://127.0.0.1:8055/server/ping").unwrap();
        assert_eq!(Answer::Refused.reason(&t), "http://127.0.0.1:8055/server/ping refused the connection");
        assert!(Answer::Status(503).reason(&t).contains("503 (server error)"));
        assert!(Answer::TimedOut(Duration::from_secs(2)).reason(&t).contains("within 2s"));
        assert_eq!(Answer::NotPong.key(), "not pong");
    }
}

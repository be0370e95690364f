//! trm-init's own log lines (tracing), as text or JSON on stderr.
//!
//! Owns the subscriber. The main child's stdout and stderr never pass through here: they are the
//! child's own descriptors, untouched.

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` is a level (`info`) or a filter (`trm_init=debug`).
pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_new(&cfg.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = match cfg.format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    if let Err(e) = result {
        eprintln!("trm-init: logging already initialised: {e}");
    }
}

/// Logs the start of a phase and, when dropped through `end`, its end with the duration.
pub struct PhaseTimer {
    name: &'static str,
    started: std::time::Instant,
}

impl PhaseTimer {
    pub fn start(name: &'static str) -> Self {
        tracing::info!(phase = name, "{name}: started");
        PhaseTimer { name, started: std::time::Instant::now() }
    }

    /// Logs the end with `outcome` ("ok", "failed", "skipped", ...).
    pub fn end(self, outcome: &str) {
        let ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(phase = self.name, outcome, duration_ms = ms, "{}: {outcome} in {ms} ms", self.name);
    }
}

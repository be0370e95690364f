//! trm-init's own log lines (tracing), as text or JSON on stderr.
//!
//! Owns the subscriber. The main child's stdout and stderr never pass through here: they are the
//! child's own descriptors, untouched.

use crate::config::{Config, Invalid, LogConfig, LogFormat};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Parses a level (`info`) or per-target filter (`warn,trm_init=debug`). Every directive must name a
/// level, so a typo such as `inf` is refused instead of read as a target name.
pub(crate) fn parse_filter(level: &str) -> Result<Targets, String> {
    for directive in level.split(',').map(str::trim) {
        let lvl = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&lvl.to_ascii_lowercase().as_str()) {
            return Err(format!("{directive:?} names no level (one of {})", LEVELS.join(", ")));
        }
    }
    level.parse::<Targets>().map_err(|e| e.to_string())
}

/// `log.level` checked at load time by the parser `init` uses; a `config::Check`.
pub(crate) fn check_config(config: &Config) -> Result<(), Invalid> {
    parse_filter(&config.log.level).map(drop).map_err(|e| Invalid {
        key: "log.level",
        value: format!("{:?}", config.log.level),
        reason: format!("not a log level or filter ({e})"),
    })
}

/// Installs the global subscriber. `cfg.level` was validated with `parse_filter` when loaded.
pub(crate) fn init(cfg: &LogConfig) {
    let filter = parse_filter(&cfg.level).unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
    let result = match cfg.format {
        LogFormat::Text => tracing_subscriber::registry().with(fmt.with_ansi(false)).with(filter).try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(fmt.json().flatten_event(true).with_current_span(false).with_span_list(false))
            .with(filter)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("trm-init: logging already initialised: {e}");
    }
}

/// Logs the start of a phase and, when dropped through `end`, its end with the duration.
pub(crate) struct PhaseTimer {
    name: &'static str,
    started: std::time::Instant,
}

impl PhaseTimer {
    pub(crate) fn start(name: &'static str) -> Self {
        tracing::info!(phase = name, "{name}: started");
        PhaseTimer { name, started: std::time::Instant::now() }
    }

    /// Logs the end with `outcome` ("ok", "failed", "skipped", ...).
    pub(crate) fn end(self, outcome: &str) {
        let took = self.started.elapsed();
        crate::metrics::phase(self.name, outcome, took);
        let ms = took.as_millis() as u64;
        tracing::info!(phase = self.name, outcome, duration_ms = ms, "{}: {outcome} in {ms} ms", self.name);
    }
}

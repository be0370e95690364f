//! Prometheus metrics, served as `GET /metrics` by the health server when `health.metrics = true`.
//!
//! Owns the registry (one per process, created by `enable` in `trm-init run`) and the recording
//! functions the rest of trm-init calls. Every recording function is a no-op until `enable` ran, so the
//! other commands (and `health.metrics = false`) pay one atomic load. It never touches processes,
//! signals or the database: what happens there is reported to it. The hot paths stay free of work:
//! signal forwarding records nothing, and reaped orphans are read from the reaper's own counter at scrape
//! time. The text is encoded by the `prometheus-client` crate (OpenMetrics text format, which Prometheus
//! scrapes as it is).
//!
//! Metrics (all prefixed `trm_init_`):
//! * `build_info{version}`;
//! * `phase_duration_seconds{phase,outcome}`: `wait` (database reachable), `preflight`, each preflight
//!   step as logged (`db-init pre`, `directus schema`, `db-init post`, and any later step such as
//!   `access`), and `bootstrap` / `apply` inside the schema step;
//! * `migrations_applied_total{phase}`; `schema_step{result}` = 1 for `applied`, `skipped`, `refused`,
//!   `failed` or `disabled`; `lock_wait_seconds`;
//! * `child_start_time_seconds` (Unix time), `child_exit_code` (-1 while it runs);
//! * `orphans_reaped_total`; `probes_total{endpoint,status}`;
//! * `upstream_ping_duration_seconds` (histogram), `upstream_pings_total{answer}`.

use crate::reaper::Reaper;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The content type of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the upstream ping histogram, in seconds (the ping is bounded by upstream_timeout).
const PING_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

struct Metrics {
    registry: Registry,
    phase_seconds: Family<Labels, FloatGauge>,
    migrations_applied: Family<Labels, Counter>,
    schema_step: Family<Labels, Gauge>,
    lock_wait_seconds: FloatGauge,
    child_start_time: FloatGauge,
    child_exit_code: Gauge,
    orphans_reaped: Counter,
    probes: Family<Labels, Counter>,
    ping_seconds: Histogram,
    pings: Family<Labels, Counter>,
    reaper: OnceLock<Reaper>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// Creates the registry; from now on the recording functions record. Idempotent.
pub fn enable() {
    METRICS.get_or_init(Metrics::new);
}

/// Whether `enable` ran (the health server then answers `/metrics`).
pub fn enabled() -> bool {
    METRICS.get().is_some()
}

/// The reaper whose orphan count `orphans_reaped_total` reports (read at scrape time only).
pub fn watch_reaper(reaper: &Reaper) {
    if let Some(m) = METRICS.get() {
        let _ = m.reaper.set(reaper.clone());
    }
}

impl Metrics {
    fn new() -> Metrics {
        let m = Metrics {
            registry: Registry::with_prefix("trm_init"),
            phase_seconds: Family::default(),
            migrations_applied: Family::default(),
            schema_step: Family::default(),
            lock_wait_seconds: FloatGauge::default(),
            child_start_time: FloatGauge::default(),
            child_exit_code: Gauge::default(),
            orphans_reaped: Counter::default(),
            probes: Family::default(),
            ping_seconds: Histogram::new(PING_BUCKETS),
            pings: Family::default(),
            reaper: OnceLock::new(),
        };
        m.child_exit_code.set(-1);
        let mut r = m.registry;
        r.register("build", "trm-init's version", Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]));
        r.register(
            "phase_duration_seconds",
            "How long each start-up phase took (wait, preflight and its steps, bootstrap, apply)",
            m.phase_seconds.clone(),
        );
        r.register(
            "migrations_applied",
            "db-init files applied by this start, per phase",
            m.migrations_applied.clone(),
        );
        r.register(
            "schema_step",
            "The Directus schema step's result (1 on the result that happened)",
            m.schema_step.clone(),
        );
        r.register("lock_wait_seconds", "Time spent waiting for the preflight lock", m.lock_wait_seconds.clone());
        r.register(
            "child_start_time_seconds",
            "When the main child started, Unix time (0 until then)",
            m.child_start_time.clone(),
        );
        r.register("child_exit_code", "The main child's exit code (-1 while it runs)", m.child_exit_code.clone());
        r.register("orphans_reaped", "Processes reaped that nobody awaited (orphans)", m.orphans_reaped.clone());
        r.register("probes", "Health requests answered, by endpoint and HTTP status", m.probes.clone());
        r.register(
            "upstream_ping_duration_seconds",
            "Time of each upstream ping (Directus /server/ping), whatever its answer",
            m.ping_seconds.clone(),
        );
        r.register("upstream_pings", "Upstream pings by answer", m.pings.clone());
        Metrics { registry: r, ..m }
    }
}

/// The text for `GET /metrics`, or None when metrics are off.
pub fn scrape() -> Option<String> {
    let m = METRICS.get()?;
    if let Some(reaper) = m.reaper.get() {
        let now = reaper.orphans_reaped();
        let before = m.orphans_reaped.get();
        if now > before {
            m.orphans_reaped.inc_by(now - before);
        }
    }
    let mut text = String::new();
    match encode(&mut text, &m.registry) {
        Ok(()) => Some(text),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: encoding failed");
            None
        }
    }
}

/// A phase ended (`outcome`: ok, failed, skipped...).
pub fn phase(name: &str, outcome: &str, took: Duration) {
    if let Some(m) = METRICS.get() {
        let labels = vec![("phase", name.to_string()), ("outcome", outcome.to_string())];
        m.phase_seconds.get_or_create(&labels).set(took.as_secs_f64());
    }
}

pub fn migrations_applied(phase: &str, count: usize) {
    if let Some(m) = METRICS.get() {
        m.migrations_applied.get_or_create(&vec![("phase", phase.to_string())]).inc_by(count as u64);
    }
}

/// The schema step's result: `applied`, `skipped`, `refused`, `failed` or `disabled`.
pub fn schema_result(result: &'static str) {
    if let Some(m) = METRICS.get() {
        m.schema_step.get_or_create(&vec![("result", result.to_string())]).set(1);
    }
}

pub fn lock_waited(took: Duration) {
    if let Some(m) = METRICS.get() {
        m.lock_wait_seconds.set(took.as_secs_f64());
    }
}

pub fn child_started() {
    if let Some(m) = METRICS.get() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        m.child_start_time.set(now.as_secs_f64());
    }
}

pub fn child_exited(code: u8) {
    if let Some(m) = METRICS.get() {
        m.child_exit_code.set(i64::from(code));
    }
}

/// A health request was answered.
pub fn probe(endpoint: &str, status: u16) {
    if let Some(m) = METRICS.get() {
        // Unknown paths are one label value, so a scanner cannot grow the family without bound.
        let endpoint = match endpoint {
            "/livez" | "/readyz" | "/healthz" | "/metrics" => endpoint,
            _ => "other",
        };
        m.probes.get_or_create(&vec![("endpoint", endpoint.to_string()), ("status", status.to_string())]).inc();
    }
}

/// An upstream ping finished with `answer` (its short key) after `took`.
pub fn ping(answer: &str, took: Duration) {
    if let Some(m) = METRICS.get() {
        m.ping_seconds.observe(took.as_secs_f64());
        let answer = if answer.starts_with("status ") { "status" } else { answer };
        m.pings.get_or_create(&vec![("answer", answer.to_string())]).inc();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scrape_is_openmetrics_text_with_every_family() {
        super::enable();
        super::phase("wait", "ok", std::time::Duration::from_millis(1500));
        super::probe("/readyz", 503);
        super::probe("/../etc", 404);
        super::ping("status 503", std::time::Duration::from_millis(3));
        let text = super::scrape().unwrap();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("trm_init_phase_duration_seconds{phase=\"wait\",outcome=\"ok\"} 1.5"), "{text}");
        assert!(text.contains("trm_init_probes_total{endpoint=\"other\",status=\"404\"} 1"), "{text}");
        assert!(text.contains("trm_init_upstream_pings_total{answer=\"status\"} 1"), "{text}");
        assert!(text.contains("trm_init_child_exit_code -1"), "{text}");
        assert!(text.contains("trm_init_build_info{version="), "{text}");
    }
}

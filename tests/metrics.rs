//! `GET /metrics` (health.metrics = true) after a real preflight against PostgreSQL, scraped and parsed
//! by a real Prometheus text parser: the OpenMetrics parser of the Python `prometheus_client` package
//! (Debian's python3-prometheus-client, installed by scripts/test.sh).
use trm_test_support as common;

use common::{eventually, migration_dir, Pid1, TestDb};
use common::{free_port, get, probe, FakeUpstream, Mode};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);
/// Debian's Python, where python3-prometheus-client installs (not a pyenv or venv one on PATH).
const PYTHON: &str = "/usr/bin/python3";

/// One sample: metric name, labels, value.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

const PARSER: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append({"name": s.name, "labels": dict(s.labels), "value": float(s.value), "type": family.type})
print(json.dumps(out))
"#;

/// Parses `text` with the Python parser; panics with the parser's complaint if it is not valid.
fn parse(text: &str) -> Vec<Sample> {
    let have = Command::new(PYTHON).args(["-c", "import prometheus_client"]).status().is_ok_and(|s| s.success());
    common::require(
        "Debian's python3 (/usr/bin/python3) with prometheus_client",
        have,
        "apt-get install python3-prometheus-client (scripts/test.sh does)",
    );
    let mut child = Command::new(PYTHON)
        .args(["-c", PARSER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to the parser");
    let out = child.wait_with_output().expect("parser output");
    assert!(
        out.status.success(),
        "the Prometheus parser refused /metrics:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser JSON")
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
}

#[test]
fn metrics_after_a_real_preflight_parse_and_tell_what_happened() {
    let db = TestDb::fresh("metrics_preflight");
    let pre = migration_dir(&[("001_a.sql", "CREATE TABLE a (id int);"), ("002_b.sql", "CREATE TABLE b (id int);")]);
    let post = migration_dir(&[("001_c.sql", "CREATE TABLE c (id int);")]);
    let upstream = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let port = free_port();
    let (listen, url) = (format!("127.0.0.1:{port}"), upstream.url());
    let (pre_dir, post_dir) = (pre.path().display().to_string(), post.path().display().to_string());
    let mut env: Vec<(String, String)> = db.env();
    env.extend(
        [
            ("TRM_INIT_HEALTH__LISTEN", listen.as_str()),
            ("TRM_INIT_HEALTH__UPSTREAM", url.as_str()),
            ("TRM_INIT_HEALTH__CACHE_TTL", "100ms"),
            ("TRM_INIT_HEALTH__METRICS", "true"),
            ("TRM_INIT_SCHEMA__ENABLED", "false"),
            ("TRM_INIT_DB_INIT__PRE_DIR", pre_dir.as_str()),
            ("TRM_INIT_DB_INIT__POST_DIR", post_dir.as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // The child leaves an orphan behind (a background sleep whose parent exits), then runs on.
    let init = Pid1::start(&["run", "--", "sh", "-c", "sh -c 'sleep 0.2 &'; exec sleep 60"], &env);

    let ready = eventually(LIMIT, || matches!(probe(port, "/readyz"), Some((200, _))));
    assert!(ready, "/readyz never answered 200: {}", init.stderr_so_far());
    assert_eq!(get(port, "/nowhere").map(|(s, _)| s), Some(404));
    assert!(
        eventually(LIMIT, || init.stderr_so_far().contains("reaped orphan") || {
            get(port, "/metrics").is_some_and(|(_, t)| t.contains("trm_init_orphans_reaped_total 1"))
        }),
        "no orphan reaped: {}",
        init.stderr_so_far()
    );

    let (status, text) = get(port, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200, "{text}");
    let samples = parse(&text);

    let v = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);
    assert_eq!(v("trm_init_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1.0), "{text}");
    for phase in ["wait", "preflight", "db-init pre", "db-init post", "directus schema"] {
        let secs = v("trm_init_phase_duration_seconds", &[("phase", phase), ("outcome", "ok")]);
        assert!(secs.is_some_and(|s| s >= 0.0), "no duration for phase {phase}:\n{text}");
    }
    assert_eq!(v("trm_init_migrations_applied_total", &[("phase", "pre")]), Some(2.0), "{text}");
    assert_eq!(v("trm_init_migrations_applied_total", &[("phase", "post")]), Some(1.0), "{text}");
    assert_eq!(v("trm_init_schema_step", &[("result", "disabled")]), Some(1.0), "{text}");
    assert!(v("trm_init_lock_wait_seconds", &[]).is_some_and(|s| s >= 0.0), "{text}");
    assert!(v("trm_init_child_start_time_seconds", &[]).is_some_and(|t| t > 1.7e9), "{text}");
    assert_eq!(v("trm_init_child_exit_code", &[]), Some(-1.0), "{text}");
    assert_eq!(v("trm_init_orphans_reaped_total", &[]), Some(1.0), "{text}");
    assert!(v("trm_init_probes_total", &[("endpoint", "/readyz"), ("status", "200")]).is_some_and(|n| n >= 1.0));
    assert_eq!(v("trm_init_probes_total", &[("endpoint", "other"), ("status", "404")]), Some(1.0), "{text}");
    let pings = v("trm_init_upstream_ping_duration_seconds_count", &[]).expect("ping histogram count");
    assert!(pings >= 1.0, "{text}");
    assert_eq!(v("trm_init_upstream_ping_duration_seconds_bucket", &[("le", "+Inf")]), Some(pings), "{text}");
    assert!(v("trm_init_upstream_pings_total", &[("answer", "pong")]).is_some_and(|n| n >= 1.0), "{text}");

    init.signal(libc::SIGTERM);
    assert_eq!(init.wait(LIMIT).code(), 143);
}

#[test]
fn metrics_are_off_by_default() {
    let upstream = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let port = free_port();
    let (listen, url) = (format!("127.0.0.1:{port}"), upstream.url());
    let init = Pid1::start(
        &["run", "--no-preflight", "--", "sleep", "60"],
        &[("TRM_INIT_HEALTH__LISTEN", &listen), ("TRM_INIT_HEALTH__UPSTREAM", &url)],
    );
    assert!(eventually(LIMIT, || get(port, "/livez").is_some()), "{}", init.stderr_so_far());
    assert_eq!(get(port, "/metrics").map(|(s, _)| s), Some(404));
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait(LIMIT).code(), 143);
}

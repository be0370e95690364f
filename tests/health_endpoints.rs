//! The health endpoints seen from outside: phases and reasons while a fake upstream is down, slow,
//! failing, not answering pong, then up; the HTTP edges (404, 405, 400, oversized); coalescing.

use trm_test_support as common;

use common::eventually;
use common::{probe, request, FakeUpstream, Mode, Trm};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use trm_init::config::HealthConfig;
use trm_init::health;
use trm_init::lifecycle::{Lifecycle, Phase};

const WAIT: Duration = Duration::from_secs(10);

/// Waits until `path` answers `status` with a body for which `check` holds; returns that body.
fn wait_for(port: u16, path: &str, status: u16, check: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let mut last = None;
    let ok = eventually(WAIT, || {
        last = probe(port, path);
        matches!(&last, Some((s, body)) if *s == status && check(body))
    });
    assert!(ok, "{path} never answered {status} as expected; last answer: {last:?}");
    last.unwrap().1
}

#[test]
fn readiness_follows_the_upstream_from_refused_to_pong_and_back() {
    let upstream_port = common::free_port();
    let url = format!("http://127.0.0.1:{upstream_port}/server/ping");
    let trm = Trm::start(&url, &["sleep", "60"], &[]);

    // Nothing listens: refused, phase starting; alive all the same.
    let body = wait_for(trm.port, "/readyz", 503, |b| b["upstream"] == "refused");
    assert_eq!(body["phase"], "starting");
    assert_eq!(body["status"], "unavailable");
    assert!(body["reason"].as_str().unwrap().contains("refused"), "{body}");
    assert!(body["phase_seconds"].as_f64().is_some(), "{body}");
    let (code, live) = probe(trm.port, "/livez").unwrap();
    assert_eq!((code, live["status"].as_str()), (200, Some("ok")));

    let fake = FakeUpstream::start_on(upstream_port, Mode::Slow(Duration::from_secs(2)));
    let body = wait_for(trm.port, "/healthz", 503, |b| b["upstream"] == "timeout");
    assert!(body["reason"].as_str().unwrap().contains("did not answer within"), "{body}");

    fake.set(Mode::ServerError);
    let body = wait_for(trm.port, "/healthz", 503, |b| b["upstream"] == "status 500");
    assert!(body["reason"].as_str().unwrap().contains("server error"), "{body}");
    assert_eq!(body["phase"], "starting");

    fake.set(Mode::NotPong);
    wait_for(trm.port, "/readyz", 503, |b| b["upstream"] == "not pong");

    fake.set(Mode::Pong { delay: Duration::ZERO });
    let body = wait_for(trm.port, "/healthz", 200, |_| true);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["phase"], "running");
    assert_eq!(body["upstream"], "pong");
    assert!(body.get("reason").is_none(), "{body}");

    // Running stays running; a failing upstream makes it unready again, with the reason.
    fake.set(Mode::ServerError);
    let body = wait_for(trm.port, "/readyz", 503, |b| b["upstream"] == "status 500");
    assert_eq!(body["phase"], "running");
}

#[test]
fn nothing_pings_the_upstream_until_a_probe_asks_and_pong_makes_it_running() {
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let trm = Trm::start(&fake.url(), &["sleep", "60"], &[]);
    // /livez never pings, and an unprobed server stays quiet.
    std::thread::sleep(Duration::from_millis(500));
    let (code, body) = probe(trm.port, "/livez").unwrap();
    assert_eq!((code, body["phase"].as_str()), (200, Some("starting")));
    assert_eq!(fake.pings(), 0);
    let body = wait_for(trm.port, "/healthz", 200, |_| true);
    assert_eq!(body["phase"], "running");
    assert_eq!(fake.pings(), 1);
    assert_eq!(probe(trm.port, "/livez").unwrap().1["phase"], "running");
}

#[test]
fn stopping_phase_fails_liveness_and_readiness() {
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let child = ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"];
    let trm = Trm::start(&fake.url(), &child, &[("TRM_INIT_CHILD__STOP_GRACE", "20s")]);
    wait_for(trm.port, "/healthz", 200, |_| true);
    trm.signal(libc::SIGTERM);
    let body = wait_for(trm.port, "/livez", 503, |b| b["phase"] == "stopping");
    assert!(body["reason"].as_str().unwrap().contains("shutting down"), "{body}");
    wait_for(trm.port, "/healthz", 503, |b| b["phase"] == "stopping");
    trm.signal(libc::SIGKILL);
}

#[test]
fn preflight_phase_is_alive_but_not_ready() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let lifecycle = Lifecycle::new(Phase::Preflight);
        let shutdown = CancellationToken::new();
        let cfg = HealthConfig { listen: "127.0.0.1:0".parse().unwrap(), ..HealthConfig::default() };
        let server = health::start(&cfg, &lifecycle, &shutdown).expect("start the health server");
        let port = server.local_addr.port();
        let ask = |path: &'static str| tokio::task::spawn_blocking(move || probe(port, path).unwrap());

        let (code, body) = ask("/livez").await.unwrap();
        assert_eq!((code, body["phase"].as_str()), (200, Some("preflight")));
        let (code, body) = ask("/readyz").await.unwrap();
        assert_eq!(code, 503);
        assert_eq!(body["phase"], "preflight");
        assert_eq!(body["reason"], "preflight has not finished");
        assert_eq!(server.pinger.pings(), 0, "no ping while preflight runs");

        // A stop signal during preflight cancels the token: stopping, even though the phase never moved.
        shutdown.cancel();
        let (code, body) = ask("/livez").await.unwrap();
        assert_eq!((code, body["phase"].as_str()), (503, Some("stopping")));
    });
}

/// Preflight waiting for a database that does not answer: alive, not ready, no upstream ping; a stop
/// signal makes it `stopping` (the process then ends with 143).
#[test]
fn preflight_waiting_for_the_database_is_alive_but_not_ready() {
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let db_port = common::free_port().to_string();
    let env = [
        ("DB_CLIENT", "pg"),
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", db_port.as_str()),
        ("DB_DATABASE", "nothing_here"),
        ("DB_USER", "nobody"),
        ("DB_PASSWORD", "x"),
        ("TRM_INIT_DATABASE__WAIT_TIMEOUT", "60s"),
    ];
    let mut trm = Trm::start_with(&["run", "--"], &fake.url(), &["sleep", "60"], &env);
    let (code, body) = probe(trm.port, "/livez").unwrap();
    assert_eq!((code, body["phase"].as_str()), (200, Some("preflight")), "{body}");
    let (code, body) = probe(trm.port, "/healthz").unwrap();
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["phase"], "preflight");
    assert_eq!(body["reason"], "preflight has not finished");
    assert_eq!(fake.pings(), 0, "no upstream ping during preflight");

    trm.signal(libc::SIGTERM);
    let status = common::wait_child(&mut trm.child, WAIT);
    assert_eq!(status.code(), Some(143));
}

#[test]
fn listen_address_in_use_is_a_configuration_error_naming_health_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = common::trm_init_command(&["run", "--no-preflight", "--", "true"], &[("TRM_INIT_HEALTH__LISTEN", &addr)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains(&format!("health.listen = {addr}")), "{stderr}");
    // The error names the keys that move the server and that turn it off.
    assert!(stderr.contains("TRM_INIT_HEALTH__LISTEN") && stderr.contains("health.enabled = false"), "{stderr}");
}

/// `health.enabled = false`: no health server at all, so a taken health port is no obstacle (two
/// trm-inits in one network namespace), and `trm-init health` says there is nothing to probe.
#[test]
fn health_disabled_starts_no_server_and_ignores_a_taken_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let env = [("TRM_INIT_HEALTH__ENABLED", "false"), ("TRM_INIT_HEALTH__LISTEN", addr.as_str())];
    let out = common::trm_init(&["run", "--no-preflight", "--", "sh", "-c", "exit 7"], &env, WAIT);
    assert_eq!(out.code(), 7, "the child's code, no bind error: {}", out.stderr);
    assert!(out.stderr.contains("health.enabled = false: no health server"), "{}", out.stderr);
    assert!(!out.stderr.contains("health server listening"), "{}", out.stderr);

    let (code, text) = common::health_cmd(&[], &env);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("health.enabled = false"), "{text}");
}

#[test]
fn listening_socket_is_not_inherited_by_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let fds = dir.path().join("fds");
    let script = format!("ls -l /proc/$$/fd > {}; sleep 60", fds.display());
    let trm = Trm::start("http://127.0.0.1:9/", &["sh", "-c", &script], &[]);
    assert!(eventually(WAIT, || std::fs::read_to_string(&fds).map(|t| !t.is_empty()).unwrap_or(false)));
    let listing = std::fs::read_to_string(&fds).unwrap();
    assert!(!listing.contains("socket:"), "the child inherited a socket:\n{listing}");
    drop(trm);
}

#[test]
fn other_paths_methods_and_malformed_requests_are_refused() {
    let trm = Trm::start("http://127.0.0.1:9/", &["sleep", "60"], &[]);
    let p = trm.port;
    assert_eq!(request(p, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap().0, 404);
    assert_eq!(
        request(p, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap().0,
        405
    );
    assert_eq!(request(p, "DELETE /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap().0, 405);
    assert_eq!(request(p, "HELLO\r\n\r\n").unwrap().0, 400);
    assert_eq!(request(p, "GET /livez HTTP/1.1\r\nHost x\r\n\r\n").unwrap().0, 400);
    assert_eq!(request(p, "GET /livez HTTP/9.9\r\n\r\n").unwrap().0, 400);
    // A request head larger than the 8 KiB buffer is refused (431), not buffered.
    let big = format!("GET /livez HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n", "a".repeat(20_000));
    let status = request(p, &big).map(|(s, _)| s);
    assert!(matches!(status, Some(431) | None), "oversized request answered {status:?}");
    // HEAD answers the status without a body.
    let head = request(p, "HEAD /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(head, (200, String::new()));
    // None of that hurt: still alive.
    assert_eq!(probe(p, "/livez").unwrap().0, 200);
}

#[test]
fn thousand_concurrent_probes_cost_a_handful_of_upstream_pings() {
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::from_millis(200) });
    let trm = Trm::start(
        &fake.url(),
        &["sleep", "60"],
        &[("TRM_INIT_HEALTH__CACHE_TTL", "1s"), ("TRM_INIT_HEALTH__UPSTREAM_TIMEOUT", "2s")],
    );
    wait_for(trm.port, "/healthz", 200, |_| true);
    let before = fake.pings();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let statuses: Vec<Option<u16>> = rt.block_on(async {
        let probes = (0..1000).map(|_| tokio::spawn(async_get(trm.port, "/healthz")));
        let mut out = Vec::new();
        for p in probes.collect::<Vec<_>>() {
            out.push(p.await.unwrap());
        }
        out
    });
    let pings = fake.pings() - before;
    let ok = statuses.iter().filter(|s| **s == Some(200)).count();
    assert_eq!(
        ok,
        1000,
        "every probe is answered 200; got {:?}",
        statuses.iter().filter(|s| **s != Some(200)).take(5).collect::<Vec<_>>()
    );
    assert!(pings <= 5, "1000 probes caused {pings} upstream pings");
}

async fn async_get(port: u16, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.ok()?;
    let mut text = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut text)).await.ok()?.ok()?;
    String::from_utf8_lossy(&text).split_whitespace().nth(1)?.parse().ok()
}

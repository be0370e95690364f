//! `child.drain` with trm-init as PID 1: on the stop signal `/readyz` turns 503 at once while the child
//! (a test double that records the signals it gets) keeps running; the child gets the signal only when
//! the drain is over, or at once when a second stop signal cuts the drain short.
use trm_test_support as common;

use common::{eventually, Pid1};
use common::{free_port, probe, FakeUpstream, Mode};
use std::path::Path;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// A child that writes the name of each stop signal it gets to `log`, and exits 0 on TERM or INT.
fn recording_child(log: &Path) -> String {
    let log = log.display();
    format!(
        "trap 'echo TERM >> {log}; exit 0' TERM; trap 'echo INT >> {log}; exit 0' INT; \
         echo started >> {log}; while :; do sleep 0.05; done"
    )
}

fn start(drain: &str, log: &Path) -> (Pid1, u16, FakeUpstream) {
    let upstream = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = upstream.url();
    let script = recording_child(log);
    let init = Pid1::start(
        &["run", "--no-preflight", "--", "sh", "-c", &script],
        &[
            ("TRM_INIT_HEALTH__LISTEN", &listen),
            ("TRM_INIT_HEALTH__UPSTREAM", &url),
            ("TRM_INIT_HEALTH__CACHE_TTL", "100ms"),
            ("TRM_INIT_CHILD__DRAIN", drain),
            ("TRM_INIT_CHILD__STOP_GRACE", "5s"),
        ],
    );
    let ready = eventually(LIMIT, || matches!(probe(port, "/readyz"), Some((200, _))));
    assert!(ready, "/readyz never answered 200: {}", init.stderr_so_far());
    assert!(read(log).contains("started"), "the child did not start: {}", init.stderr_so_far());
    (init, port, upstream)
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn readyz_turns_503_at_once_while_the_child_serves_until_the_drain_is_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("signals");
    let (init, port, _upstream) = start("3s", &log);

    init.signal(libc::SIGTERM);
    let sent = Instant::now();
    let draining = eventually(LIMIT, || matches!(probe(port, "/readyz"), Some((503, b)) if b["phase"] == "draining"));
    assert!(draining, "/readyz did not turn 503 (draining): {}", init.stderr_so_far());
    let (code, body) = probe(port, "/readyz").expect("readyz answers during the drain");
    assert_eq!(code, 503);
    assert!(body["reason"].as_str().unwrap_or("").contains("draining"), "{body}");
    let (code, live) = probe(port, "/livez").expect("livez answers during the drain");
    assert_eq!((code, live["phase"].as_str()), (200, Some("draining")), "{live}");

    // While /readyz says draining, the child runs and has not been signalled.
    while sent.elapsed() < Duration::from_millis(1500) {
        assert!(!read(&log).contains("TERM"), "the child got TERM during the drain");
        assert!(!init.namespace_pids().is_empty(), "the child is gone during the drain");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "the child exits 0 on TERM: {}", out.stderr);
    assert!(read(&log).contains("TERM"), "the child never got TERM: {}", out.stderr);
    assert!(sent.elapsed() >= Duration::from_secs(3), "trm-init exited before the drain was over");
    assert!(out.stderr.contains("drain over"), "{}", out.stderr);
}

#[test]
fn a_second_stop_signal_ends_the_drain_and_is_the_one_forwarded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("signals");
    let (init, port, _upstream) = start("60s", &log);

    init.signal(libc::SIGTERM);
    let draining = eventually(LIMIT, || matches!(probe(port, "/readyz"), Some((503, b)) if b["phase"] == "draining"));
    assert!(draining, "/readyz did not turn 503 (draining): {}", init.stderr_so_far());
    assert!(!read(&log).contains("TERM"), "the child got TERM during the drain");

    init.signal(libc::SIGINT);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let got = read(&log);
    assert!(got.contains("INT") && !got.contains("TERM"), "the child got {got:?}: {}", out.stderr);
    assert!(out.stderr.contains("second stop signal during the drain"), "{}", out.stderr);
}

#[test]
fn without_drain_the_signal_is_forwarded_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("signals");
    let (init, _port, _upstream) = start("0s", &log);
    init.signal(libc::SIGTERM);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(read(&log).contains("TERM"));
    assert!(!out.stderr.contains("drain"), "{}", out.stderr);
}

#[test]
fn the_child_exiting_during_the_drain_ends_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("quit");
    let upstream = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let url = upstream.url();
    // The child quits by itself (exit 7) once the marker exists, ignoring TERM meanwhile.
    let script = format!("trap '' TERM; while [ ! -e {} ]; do sleep 0.05; done; exit 7", marker.display());
    let init = Pid1::start(
        &["run", "--no-preflight", "--", "sh", "-c", &script],
        &[("TRM_INIT_HEALTH__UPSTREAM", &url), ("TRM_INIT_CHILD__DRAIN", "60s")],
    );
    assert!(init.wait_for_output("main child started", LIMIT), "{}", init.stderr_so_far());
    init.signal(libc::SIGTERM);
    assert!(init.wait_for_output("stop requested", LIMIT), "{}", init.stderr_so_far());
    std::fs::write(&marker, b"").expect("write marker");
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 7, "{}", out.stderr);
}

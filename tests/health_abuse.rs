//! The health server under abuse: stalled half-requests do not lock out a real probe, and a flood of
//! probes does not delay signal forwarding (trm-init as PID 1).

use trm_test_support as common;

use common::{eventually, Pid1};
use common::{get, health_cmd, FakeUpstream, Mode, Trm};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Opens `n` connections that each send half a request head and then stall. Connections the server
/// drops stay open on this side (nobody reads them).
fn stall_connections(port: u16, n: usize) -> Vec<TcpStream> {
    raise_fd_limit(n as u64 + 512);
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect a stalling client");
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        held.push(s);
    }
    held
}

fn raise_fd_limit(want: u64) {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn two_thousand_stalled_half_requests_do_not_lock_out_a_real_probe() {
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let trm = Trm::start(&fake.url(), &["sleep", "120"], &[]);
    assert!(eventually(Duration::from_secs(10), || get(trm.port, "/healthz").map(|r| r.0) == Some(200)));

    let stalled = stall_connections(trm.port, 2000);
    let url = format!("http://127.0.0.1:{}/healthz", trm.port);
    // Well inside Docker's default 30 s probe timeout.
    let (code, out) = health_cmd(&["--url", &url, "--timeout", "10s"], &[]);
    assert_eq!(code, 0, "a probe behind 2000 stalled connections: {out}");
    assert!(out.starts_with("healthy: 200"), "{out}");
    drop(stalled);
}

#[test]
fn signals_are_forwarded_while_the_health_server_is_flooded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("signals");
    let port = common::free_port();
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::from_millis(50) });
    let script = format!(
        "trap 'echo USR1 >> {log}' USR1; trap 'echo TERM >> {log}; exit 0' TERM; while :; do sleep 0.05; done",
        log = log.display()
    );
    let listen = format!("127.0.0.1:{port}");
    let upstream = fake.url();
    let pid1 = Pid1::start(
        &["run", "--no-preflight", "--", "sh", "-c", &script],
        &[("TRM_INIT_HEALTH__LISTEN", &listen), ("TRM_INIT_HEALTH__UPSTREAM", &upstream)],
    );
    assert!(eventually(Duration::from_secs(10), || get(port, "/livez").is_some()), "health server did not come up");

    // The flood: stalled connections plus clients probing as fast as they can.
    let stalled = stall_connections(port, 1000);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<_> = (0..8)
        .map(|_| {
            let (stop, answered) = (stop.clone(), answered.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if get(port, "/healthz").is_some() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || answered.load(Ordering::Relaxed) > 100),
        "the flood is not being answered"
    );

    let count = |word: &str| std::fs::read_to_string(&log).unwrap_or_default().lines().filter(|l| *l == word).count();
    for i in 1..=5 {
        pid1.signal(libc::SIGUSR1);
        assert!(
            eventually(Duration::from_secs(5), || count("USR1") >= i),
            "SIGUSR1 #{i} was not forwarded to the child during the flood"
        );
    }
    pid1.signal(libc::SIGTERM);
    let outcome = pid1.wait(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        let _ = f.join();
    }
    drop(stalled);
    assert_eq!(count("TERM"), 1, "SIGTERM was not forwarded: {}", outcome.stderr);
    assert_eq!(outcome.code(), 0, "{}", outcome.stderr);
}

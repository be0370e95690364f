//! `trm-init health`: exit 0 on 200 and 1 on anything else, one short line, no DNS, nothing but the
//! binary needed.

use trm_test_support as common;

use common::eventually;
use common::{health_cmd, FakeUpstream, Mode, Trm};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A server on a free port that handles each connection with `handler` (in its own thread).
fn raw_server(handler: fn(std::net::TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || handler(s));
        }
    });
    port
}

fn read_request(s: &mut std::net::TcpStream) {
    let mut buf = [0u8; 1024];
    let _ = s.read(&mut buf);
}

fn assert_one_short_line(out: &str) {
    assert!(out.len() <= 4096, "output is {} bytes", out.len());
    assert_eq!(out.trim_end().lines().count(), 1, "output is not one line: {out:?}");
}

#[test]
fn healthy_server_exits_0_from_the_configured_address() {
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let trm = Trm::start(&fake.url(), &["sleep", "60"], &[]);
    let listen = format!("127.0.0.1:{}", trm.port);
    let mut last = (0, String::new());
    let ok = eventually(Duration::from_secs(10), || {
        last = health_cmd(&[], &[("TRM_INIT_HEALTH__LISTEN", &listen)]);
        last.0 == 0
    });
    assert!(ok, "trm-init health never exited 0: {last:?}");
    assert!(last.1.starts_with("healthy: 200 "), "{}", last.1);
    assert!(last.1.contains("\"phase\":\"running\""), "{}", last.1);
    assert_one_short_line(&last.1);
}

#[test]
fn unready_server_exits_1_with_the_reason() {
    let trm = Trm::start("http://127.0.0.1:9/server/ping", &["sleep", "60"], &[]);
    let url = format!("http://127.0.0.1:{}/healthz", trm.port);
    let (code, out) = health_cmd(&["--url", &url], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("unhealthy: 503 "), "{out}");
    assert!(out.contains("refused"), "{out}");
    assert_one_short_line(&out);
}

#[test]
fn refused_connection_exits_1() {
    let port = common::free_port();
    let (code, out) = health_cmd(&["--url", &format!("http://127.0.0.1:{port}/healthz")], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused the connection"), "{out}");
    assert_one_short_line(&out);
}

#[test]
fn server_that_accepts_and_never_answers_exits_1_at_the_timeout() {
    let port = raw_server(|mut s| {
        read_request(&mut s);
        std::thread::sleep(Duration::from_secs(30));
    });
    let (code, out) = health_cmd(&["--url", &format!("http://127.0.0.1:{port}/healthz"), "--timeout", "500ms"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("did not answer within 500ms"), "{out}");
    assert_one_short_line(&out);
}

#[test]
fn garbage_answers_exit_1() {
    let not_http = raw_server(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\r\n");
    });
    let endless_head = raw_server(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
        let pad = vec![b'a'; 64 * 1024];
        let _ = s.write_all(b"X-Pad: ");
        let _ = s.write_all(&pad);
        std::thread::sleep(Duration::from_secs(30));
    });
    let closes_early = raw_server(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 20");
    });
    let silent_close = raw_server(|mut s| read_request(&mut s));
    for (port, expect) in [
        (not_http, "not HTTP"),
        (endless_head, "larger than 4096 bytes"),
        (closes_early, "in the middle of its answer"),
        (silent_close, "without answering"),
    ] {
        let (code, out) = health_cmd(&["--url", &format!("http://127.0.0.1:{port}/healthz"), "--timeout", "5s"], &[]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(expect), "expected {expect:?} in {out:?}");
        assert_one_short_line(&out);
    }
}

#[test]
fn any_status_but_200_exits_1_and_a_huge_body_is_cut() {
    let redirect = raw_server(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n");
    });
    let (code, out) = health_cmd(&["--url", &format!("http://127.0.0.1:{redirect}/")], &[]);
    assert_eq!(code, 1, "{out}");
    let huge = raw_server(|mut s| {
        read_request(&mut s);
        let body = "x\n".repeat(100_000);
        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    });
    let (code, out) = health_cmd(&["--url", &format!("http://127.0.0.1:{huge}/")], &[]);
    assert_eq!(code, 0, "{out}");
    assert_one_short_line(&out);
}

#[test]
fn bad_url_or_configuration_exits_1_never_2() {
    let (code, out) = health_cmd(&["--url", "http://directus:8055/healthz"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no DNS"), "{out}");
    let (code, out) = health_cmd(&[], &[("TRM_INIT_HEALTH__LISTEN", "not-an-address")]);
    assert_eq!(code, 1, "{out}");
    assert_one_short_line(&out);
}

/// Only the static binary in an otherwise empty root: no libc, no /etc, no resolver, no /proc.
#[test]
fn works_in_an_empty_chroot_with_only_the_binary() {
    common::require_root();
    let fake = FakeUpstream::start(Mode::Pong { delay: Duration::ZERO });
    let trm = Trm::start(&fake.url(), &["sleep", "60"], &[]);
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(common::bin(), root.path().join("trm-init")).unwrap();
    let chroot =
        ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"].into_iter().find(|p| std::path::Path::new(p).exists());
    common::require("chroot", chroot.is_some(), "install coreutils");
    let run = |url: String| {
        let out = std::process::Command::new(chroot.unwrap())
            .arg(root.path())
            .args(["/trm-init", "health", "--url", &url])
            .env_clear()
            .output()
            .expect("run chroot");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let url = format!("http://127.0.0.1:{}/healthz", trm.port);
    let mut last = (None, String::new());
    assert!(
        eventually(Duration::from_secs(10), || {
            last = run(url.clone());
            last.0 == Some(0)
        }),
        "in an empty chroot: {last:?}"
    );
    let (code, out) = run(format!("http://localhost:{}/healthz", common::free_port()));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("refused"), "{out}");
}

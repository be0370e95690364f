//! HTTP for the tests: a free loopback port, one plain HTTP/1.1 request (no client library), a fake
//! upstream standing in for Directus's `/server/ping`, and trm-init with its health server on a free port.

use crate::{eventually, trm_init, trm_init_command};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A loopback port that accepts TCP connections, counts them and never answers or closes one (a
/// black-holed proxy, a database that never speaks).
pub fn black_hole() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the black hole");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(stream); // never answered, never closed
        }
    });
    (port, count)
}

/// A loopback port nothing listens on (it was free a moment ago).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Sends raw bytes to 127.0.0.1:`port`, reads the whole answer (the server closes), and splits status
/// and body; None when there is no HTTP answer.
pub fn request(port: u16, raw: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    s.write_all(raw.as_bytes()).ok()?;
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// GET `path` on 127.0.0.1:`port`: the status and body, or None when there is no HTTP answer.
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    request(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
}

/// The status and the JSON body of a health endpoint.
pub fn probe(port: u16, path: &str) -> Option<(u16, serde_json::Value)> {
    let (status, body) = get(port, path)?;
    Some((status, serde_json::from_str(&body).ok()?))
}

/// A JSON request (Directus's REST API), optionally with a bearer token; (0, "") when nothing answers.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    http_with(port, method, path, token, &[], body)
}

/// Like `http`, with extra request headers (name, value).
pub fn http_with(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    let body = body.unwrap_or("");
    let mut extra = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    for (name, value) in headers {
        extra.push_str(&format!("{name}: {value}\r\n"));
    }
    let raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    request(port, &raw).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 `pong` after `delay`.
    Pong { delay: Duration },
    /// Answers nothing for this long, then `pong` (longer than the upstream timeout under test).
    Slow(Duration),
    /// 500 with an error body.
    ServerError,
    /// 200 with another body.
    NotPong,
}

/// A small HTTP server answering every request according to its mode, counting requests.
pub struct FakeUpstream {
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    pings: Arc<AtomicUsize>,
}

impl FakeUpstream {
    pub fn start(mode: Mode) -> FakeUpstream {
        Self::start_on(0, mode)
    }

    /// Listens on `port` (0: any).
    pub fn start_on(port: u16, mode: Mode) -> FakeUpstream {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("fake upstream: bind");
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let pings = Arc::new(AtomicUsize::new(0));
        let (m, p) = (mode.clone(), pings.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (m, p) = (m.clone(), p.clone());
                std::thread::spawn(move || answer(stream, &m, &p));
            }
        });
        FakeUpstream { port, mode, pings }
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Requests received so far.
    pub fn pings(&self) -> usize {
        self.pings.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/server/ping", self.port)
    }
}

fn answer(mut stream: TcpStream, mode: &Mutex<Mode>, pings: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    pings.fetch_add(1, Ordering::SeqCst);
    let mode = *mode.lock().unwrap();
    let (status, body) = match mode {
        Mode::Pong { delay } => {
            std::thread::sleep(delay);
            ("200 OK", "pong")
        }
        Mode::Slow(delay) => {
            std::thread::sleep(delay);
            ("200 OK", "pong")
        }
        Mode::ServerError => ("500 Internal Server Error", "{\"errors\":[]}"),
        Mode::NotPong => ("200 OK", "<html>maintenance</html>"),
    };
    let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
}

/// trm-init (not PID 1) supervising `child`, without preflight, health on a free port.
pub struct Trm {
    pub child: Child,
    pub port: u16,
}

impl Trm {
    pub fn start(upstream: &str, child: &[&str], extra_env: &[(&str, &str)]) -> Trm {
        Self::start_with(&["run", "--no-preflight", "--"], upstream, child, extra_env)
    }

    /// `trm-init ARGS CHILD...` with the health settings of `start`.
    pub fn start_with(args: &[&str], upstream: &str, child: &[&str], extra_env: &[(&str, &str)]) -> Trm {
        let port = free_port();
        let mut all_args = args.to_vec();
        all_args.extend(child);
        let mut cmd = trm_init_command(&all_args, extra_env);
        cmd.env("TRM_INIT_HEALTH__LISTEN", format!("127.0.0.1:{port}"))
            .env("TRM_INIT_HEALTH__UPSTREAM", upstream)
            .env("TRM_INIT_HEALTH__UPSTREAM_TIMEOUT", "300ms")
            .env("TRM_INIT_HEALTH__CACHE_TTL", "100ms");
        // The test's own variables win over these defaults.
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().expect("start trm-init");
        let trm = Trm { child, port };
        assert!(
            eventually(Duration::from_secs(10), || get(port, "/livez").is_some()),
            "trm-init's health server did not come up on port {port}"
        );
        trm
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill takes integers only; the pid is a process this test started.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }
}

impl Drop for Trm {
    fn drop(&mut self) {
        self.signal(libc::SIGTERM);
        if eventually(Duration::from_secs(5), || matches!(self.child.try_wait(), Ok(Some(_)))) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `trm-init health ARGS` with `env`; returns its exit code and output (stdout then stderr).
pub fn health_cmd(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut health = vec!["health"];
    health.extend(args);
    let out = trm_init(&health, env, Duration::from_secs(30));
    (out.status.code().unwrap_or(-1), format!("{}{}", out.stdout, out.stderr))
}

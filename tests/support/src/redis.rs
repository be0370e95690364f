//! Redis (Debian's redis-server): one per test on a free loopback port, stopped and resumed at will.

use crate::{eventually, free_port, wait_child};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const REDIS_HOW: &str = "install Debian's redis-server (apt-get install redis-server); scripts/test.sh does this";

/// A throwaway redis-server on a free loopback port, persisting to an append-only file in its own temporary
/// folder. Stop and start it again on the same port to simulate an outage.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let mut redis = RedisServer { port: free_port(), dir: tempfile::tempdir().expect("tempdir"), child: None };
        redis.resume();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts the server on its port and waits until it answers PING.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "redis-server already runs");
        let child = Command::new("redis-server")
            // Append-only file in its own folder: like a production Redis, the stream survives a restart.
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server cannot run ({e}); {REDIS_HOW}"));
        self.child = Some(child);
        let up = eventually(Duration::from_secs(10), || self.try_cli(&["PING"]).as_deref() == Some("PONG"));
        assert!(up, "redis-server did not answer PING on port {} within 10 s", self.port);
    }

    /// Stops the server (SIGTERM, then waits): the port refuses connections until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill with the pid of a child we started.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            wait_child(&mut child, Duration::from_secs(10));
        }
    }

    fn try_cli(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// `redis-cli --raw ARGS`; panics when it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|| panic!("redis-cli {args:?} failed on port {}; {REDIS_HOW}", self.port))
    }

    /// The entries of `stream`: (entry id, fields), oldest first. Field values must not contain newlines.
    pub fn stream(&self, stream: &str) -> Vec<(String, HashMap<String, String>)> {
        let raw = self.cli(&["XRANGE", stream, "-", "+"]);
        let lines: Vec<&str> = raw.lines().collect();
        let mut out = Vec::new();
        let mut i = 0;
        // --raw prints an entry as its id, then field and value lines alternating; an id has the form
        // <ms>-<seq>, which no field name of ours has.
        while i < lines.len() {
            let id = lines[i].to_string();
            i += 1;
            let mut fields = HashMap::new();
            while i < lines.len() && !is_stream_id(lines[i]) {
                fields.insert(lines[i].to_string(), lines.get(i + 1).copied().unwrap_or_default().to_string());
                i += 2;
            }
            out.push((id, fields));
        }
        out
    }
}

fn is_stream_id(s: &str) -> bool {
    s.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
    })
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

//! Shared test harness: the trm-init binary, trm-init as PID 1 of a fresh PID namespace, and fresh
//! PostgreSQL databases. Each test file uses the parts it needs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test (cargo builds it for integration tests).
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trm-init"))
}

/// Fails the test, saying how to provide what is missing. Tests never skip silently.
pub fn require(what: &str, ok: bool, how: &str) {
    assert!(ok, "this test needs {what}; {how}");
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    require("root (for unshare --pid)", root, "run the tests as root, as scripts/test.sh does in CI");
}

/// trm-init running as PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`).
pub struct Pid1 {
    unshare: Child,
    /// trm-init's pid as seen from outside the namespace.
    pub outer_pid: i32,
    exited: Option<ExitStatus>,
    stdout: Captured,
    stderr: Captured,
}

/// Output of a process, read continuously by a thread so a chatty process never blocks on a full pipe.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<String>>);

impl Captured {
    pub fn read_from(pipe: Option<impl Read + Send + 'static>) -> Captured {
        let captured = Captured::default();
        if let Some(mut pipe) = pipe {
            let sink = captured.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.0.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        captured
    }

    /// Everything read so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Pid1 {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Pid1 {
        Self::start_with(args, env, |_| {})
    }

    pub fn start_with(args: &[&str], env: &[(&str, &str)], tweak: impl FnOnce(&mut Command)) -> Pid1 {
        require_root();
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc"]).arg(bin()).args(args);
        cmd.env_remove("TRM_INIT_CONFIG");
        // Tests run in parallel in one network namespace: unless a test says otherwise, the health
        // server takes any free loopback port.
        cmd.env("TRM_INIT_HEALTH__LISTEN", "127.0.0.1:0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        tweak(&mut cmd);
        let mut unshare = cmd.spawn().expect("unshare must be installed (util-linux)");
        let stdout = Captured::read_from(unshare.stdout.take());
        let stderr = Captured::read_from(unshare.stderr.take());
        // trm-init may already be gone (a config error exits at once): then there is no pid to signal.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut outer_pid = 0;
        let mut exited = None;
        while Instant::now() < deadline {
            if let Some(pid) = children_of(unshare.id() as i32).first() {
                outer_pid = *pid;
                break;
            }
            if let Some(status) = unshare.try_wait().expect("try_wait on unshare") {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(outer_pid != 0 || exited.is_some(), "unshare did not start trm-init within 5 s");
        Pid1 { unshare, outer_pid, exited, stdout, stderr }
    }

    /// trm-init's (and its children's) stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.text()
    }

    /// stdout so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.text()
    }

    /// Waits until stdout or stderr contains `needle`.
    pub fn wait_for_output(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.stderr.text().contains(needle) || self.stdout.text().contains(needle))
    }

    pub fn signal(&self, sig: i32) {
        assert!(self.outer_pid > 0, "trm-init already exited; cannot send signal {sig}");
        // SAFETY: kill with a pid we started.
        unsafe { libc::kill(self.outer_pid, sig) };
    }

    /// Waits for trm-init to exit; returns its exit code (unshare passes it on) and output.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let status = match self.exited {
            Some(status) => status,
            None => wait_child(&mut self.unshare, limit),
        };
        // Give the reader threads a moment to drain what the pipes still hold.
        std::thread::sleep(Duration::from_millis(50));
        Outcome { status, stdout: self.stdout.text(), stderr: self.stderr.text() }
    }

    /// Pids (outer view) of every process in trm-init's namespace other than trm-init.
    pub fn namespace_pids(&self) -> Vec<i32> {
        if self.outer_pid <= 0 {
            return vec![];
        }
        let Ok(my_ns) = std::fs::read_link(format!("/proc/{}/ns/pid", self.outer_pid)) else { return vec![] };
        std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                    .filter(|p| *p != self.outer_pid)
                    .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_ref() == Some(&my_ns))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        if self.outer_pid > 0 && self.exited.is_none() {
            // SAFETY: kill with a pid we started (SIGKILL to PID 1 of a namespace ends the namespace).
            unsafe { libc::kill(self.outer_pid, libc::SIGKILL) };
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.status.code().unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }
}

/// Waits for `child` up to `limit`; kills it and panics if it does not exit.
pub fn wait_child(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first child of `parent` (read from /proc), waiting up to `limit` for it to appear.
pub fn wait_for_child_of(parent: i32, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(pid) = children_of(parent).first() {
            return Some(*pid);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

pub fn children_of(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) {
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// Zombie processes among `pids`.
pub fn zombies(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
                .unwrap_or(false)
        })
        .collect()
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL

const PG_HOW: &str = "start PostgreSQL and export TRM_TEST_PG (a libpq conninfo of a superuser), e.g. \
                      `eval \"$(scripts/pg-up.sh)\"`; scripts/test.sh does this";

/// The admin conninfo from TRM_TEST_PG, e.g. "host=127.0.0.1 port=5432 user=trm password=... dbname=postgres".
pub fn pg_admin() -> String {
    let conninfo = std::env::var("TRM_TEST_PG").unwrap_or_default();
    require("PostgreSQL (TRM_TEST_PG is not set)", !conninfo.is_empty(), PG_HOW);
    conninfo
}

pub fn conninfo_map(conninfo: &str) -> HashMap<String, String> {
    conninfo
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs SQL through psql as the admin role on `db`; returns stdout (unaligned, tuples only).
pub fn psql(db: &str, sql: &str) -> String {
    let admin = conninfo_map(&pg_admin());
    let out = Command::new("psql")
        .args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGHOST", &admin["host"])
        .env("PGPORT", &admin["port"])
        .env("PGUSER", &admin["user"])
        .env("PGPASSWORD", admin.get("password").map(String::as_str).unwrap_or(""))
        .env("PGDATABASE", db)
        .output()
        .unwrap_or_else(|e| panic!("psql cannot run ({e}); {PG_HOW}"));
    assert!(out.status.success(), "psql {sql:?} on {db} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A database created for one test and dropped afterwards.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// Creates an empty database named after the test (plus the pid, so parallel runs do not collide).
    pub fn fresh(test: &str) -> TestDb {
        let name = format!("t_{}_{}", test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), std::process::id())
            .to_lowercase();
        psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDb { name }
    }

    /// Directus-style DB_* variables for trm-init (and Directus) pointing at this database.
    pub fn env(&self) -> Vec<(String, String)> {
        let admin = conninfo_map(&pg_admin());
        vec![
            ("DB_CLIENT".into(), "pg".into()),
            ("DB_HOST".into(), admin["host"].clone()),
            ("DB_PORT".into(), admin["port"].clone()),
            ("DB_USER".into(), admin["user"].clone()),
            ("DB_PASSWORD".into(), admin.get("password").cloned().unwrap_or_default()),
            ("DB_DATABASE".into(), self.name.clone()),
        ]
    }

    pub fn query(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            psql("postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Processes

/// The command name (`comm`) of `pid`.
pub fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_string())
}

impl Pid1 {
    /// Waits until a process named `name` runs in trm-init's namespace; returns its outer pid.
    pub fn wait_for_process(&self, name: &str, limit: Duration) -> i32 {
        let mut found = None;
        let ok = eventually(limit, || {
            found = self.namespace_pids().into_iter().find(|p| comm(*p).as_deref() == Some(name));
            found.is_some()
        });
        assert!(ok, "no process {name:?} appeared in trm-init's namespace within {limit:?}");
        found.unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------------
// db-init (migration folders and `trm-init db-init` runs)

/// The repository's own migration folders.
pub fn repo_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// A temporary migration folder holding `files` (name, content).
pub fn migration_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write migration");
    }
    dir
}

/// `trm-init db-init ARGS` against `db` with the given folders (config file ignored, env only).
pub fn db_init_command(db: &TestDb, pre: &std::path::Path, post: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("db-init").args(args);
    cmd.env_remove("TRM_INIT_CONFIG");
    for (k, v) in db.env() {
        cmd.env(k, v);
    }
    cmd.env("TRM_INIT_DB_INIT__PRE_DIR", pre).env("TRM_INIT_DB_INIT__POST_DIR", post);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs a prepared command to the end (bounded), returning its outcome.
pub fn run_to_end(mut cmd: Command, limit: Duration) -> Outcome {
    let mut child = cmd.spawn().expect("spawn trm-init");
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let status = wait_child(&mut child, limit);
    Outcome { status, stdout: out_reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() }
}

/// Backends of trm-init on `db` running a statement that contains `needle`.
pub fn trm_backends_running(db: &TestDb, needle: &str) -> Vec<i32> {
    let sql = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'trm-init' \
         AND state = 'active' AND pid <> pg_backend_pid() AND position('{needle}' in query) > 0"
    );
    db.query(&sql).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

// ---------------------------------------------------------------------------------------------------
// Directus (real 11.17.4 from TRM_TEST_DIRECTUS_DIR)

const DIRECTUS_HOW: &str = "install Node 22 + Directus 11.17.4 with scripts/install-directus.sh, export \
                            TRM_TEST_DIRECTUS_DIR=<the folder it prints> and put Node 22 first on PATH; \
                            scripts/test.sh does this";

/// The folder holding Directus's cli.js.
pub fn directus_dir() -> PathBuf {
    let dir = std::env::var("TRM_TEST_DIRECTUS_DIR").unwrap_or_default();
    require("Directus (TRM_TEST_DIRECTUS_DIR is not set)", !dir.is_empty(), DIRECTUS_HOW);
    let dir = PathBuf::from(dir);
    require("Directus's cli.js in TRM_TEST_DIRECTUS_DIR", dir.join("cli.js").exists(), DIRECTUS_HOW);
    dir
}

/// The repository's slice-1 snapshot.
pub fn repo_snapshot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots/schema.yaml")
}

/// The repository's Directus step helper (the image ships it as /directus/directus-step/step.mjs).
pub fn step_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("directus-step/step.mjs")
}

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "e2e-admin-pw";

/// Everything trm-init and Directus need for `db` with Directus on `port`: DB_*, Directus's own
/// variables, and trm-init's schema keys pointing at the test install and the repository's snapshot.
/// The update check Directus makes on every command goes through an unreachable proxy, so it fails at
/// once instead of waiting up to 8 s for the npm registry.
pub fn directus_env(db: &TestDb, port: u16) -> Vec<(String, String)> {
    let dir = directus_dir();
    let cli = dir.join("cli.js").to_string_lossy().into_owned();
    let mut env = db.env();
    let pairs: Vec<(&str, String)> = vec![
        ("TELEMETRY", "false".into()),
        ("SECRET", "e2e-secret-e2e-secret-e2e-secret-e2e".into()),
        ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
        ("HOST", "127.0.0.1".into()),
        ("PORT", port.to_string()),
        ("PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("HTTPS_PROXY", "http://127.0.0.1:9".into()),
        ("NO_PROXY", "127.0.0.1,localhost".into()),
        ("TRM_INIT_SCHEMA__DIRECTUS", format!("[\"node\", \"{cli}\"]")),
        ("TRM_INIT_SCHEMA__SNAPSHOT", repo_snapshot().to_string_lossy().into_owned()),
        ("TRM_INIT_SCHEMA__STEP_SCRIPT", step_script().to_string_lossy().into_owned()),
        // In Directus's folder, as in the image (WORKDIR /directus); `env` execs node.
        (
            "TRM_INIT_CHILD__COMMAND",
            format!("[\"env\", \"-C\", \"{}\", \"node\", \"cli.js\", \"start\"]", dir.display()),
        ),
    ];
    env.extend(pairs.into_iter().map(|(k, v)| (k.to_string(), v)));
    env
}

/// Runs `trm-init ARGS` (not as PID 1) with `env`; returns the outcome.
pub fn trm_init(args: &[&str], env: &[(String, String)], limit: Duration) -> Outcome {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("TRM_INIT_CONFIG").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("trm-init starts");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let status = wait_child(&mut child, limit);
    Outcome { status, stdout: out_reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() }
}

/// Runs Directus's own CLI (`node cli.js ARGS`) in its folder with `env`; panics on failure.
pub fn directus_cli(args: &[&str], env: &[(String, String)]) -> String {
    let out = Command::new("node")
        .arg(directus_dir().join("cli.js"))
        .args(args)
        .current_dir(directus_dir())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("node cannot run ({e}); {DIRECTUS_HOW}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "directus {args:?} failed: {text}");
    text
}

/// A plain HTTP/1.1 request on loopback; returns (status, body). No client library needed.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    use std::io::Write;
    let mut stream = match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(_) => return (0, String::new()),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let body = body.unwrap_or("");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut resp = String::new();
    let _ = stream.read_to_string(&mut resp);
    let status = resp.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Logs in as the test admin; returns the access token.
pub fn directus_login(port: u16) -> String {
    let body = format!("{{\"email\":\"{ADMIN_EMAIL}\",\"password\":\"{ADMIN_PASSWORD}\"}}");
    let (status, text) = http(port, "POST", "/auth/login", None, Some(&body));
    assert_eq!(status, 200, "login failed: {text}");
    let start = text.find("\"access_token\":\"").expect("access_token in the login answer") + 16;
    text[start..].split('"').next().unwrap_or_default().to_string()
}

/// Ports of one booted stack: Directus's own and trm-init's health server.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub directus: u16,
    pub health: u16,
}

impl Ports {
    pub fn free() -> Ports {
        Ports { directus: free_port(), health: free_port() }
    }
}

/// Everything a full boot of trm-init + Directus needs on `db` with `ports`.
pub fn boot_env(db: &TestDb, ports: Ports) -> Vec<(String, String)> {
    let mut env = directus_env(db, ports.directus);
    env.extend([
        ("TRM_INIT_HEALTH__LISTEN".to_string(), format!("127.0.0.1:{}", ports.health)),
        ("TRM_INIT_HEALTH__UPSTREAM".to_string(), format!("http://127.0.0.1:{}/server/ping", ports.directus)),
        ("TRM_INIT_DB_INIT__PRE_DIR".to_string(), repo_dir("db-init").to_string_lossy().into_owned()),
        ("TRM_INIT_DB_INIT__POST_DIR".to_string(), repo_dir("db-init-post").to_string_lossy().into_owned()),
    ]);
    env
}

/// trm-init as PID 1 with its output (stdout and stderr) in a file that can be read while it runs.
pub struct Boot {
    pub pid1: Pid1,
    pub ports: Ports,
    log: tempfile::NamedTempFile,
}

impl Boot {
    pub fn start(env: &[(String, String)], ports: Ports) -> Boot {
        let log = tempfile::NamedTempFile::new().expect("a log file");
        // Both streams append to one file (separate offsets would overwrite each other).
        let append = || std::fs::OpenOptions::new().append(true).open(log.path()).expect("log file");
        let (out, err) = (append(), append());
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let pid1 = Pid1::start_with(&[], &env, |cmd| {
            cmd.stdout(out).stderr(err);
        });
        Boot { pid1, ports, log }
    }

    /// Everything trm-init and its children printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Waits until the stack answers healthy: trm-init's /healthz when its health server runs,
    /// otherwise Directus's own /server/ping. Panics with the log when it does not within `limit`.
    pub fn wait_healthy(&self, limit: Duration) {
        let ok = eventually(limit, || {
            std::thread::sleep(Duration::from_millis(200));
            http(self.ports.health, "GET", "/healthz", None, None).0 == 200
                || (http(self.ports.health, "GET", "/livez", None, None).0 == 0
                    && http(self.ports.directus, "GET", "/server/ping", None, None).0 == 200)
                || !self.running()
        });
        assert!(ok && self.running(), "the stack did not become healthy within {limit:?}; log:\n{}", self.log());
    }

    pub fn running(&self) -> bool {
        std::fs::metadata(format!("/proc/{}", self.pid1.outer_pid)).is_ok()
            && !zombies(&[self.pid1.outer_pid]).contains(&self.pid1.outer_pid)
    }

    /// SIGTERM, then waits for trm-init's exit; returns its code and the whole log.
    pub fn stop(self, limit: Duration) -> (i32, String) {
        self.pid1.signal(libc::SIGTERM);
        self.wait(limit)
    }

    /// Waits for trm-init to exit by itself.
    pub fn wait(self, limit: Duration) -> (i32, String) {
        let Boot { pid1, log, .. } = self;
        let outcome = pid1.wait(limit);
        (outcome.code(), std::fs::read_to_string(log.path()).unwrap_or_default())
    }
}

//! The real Directus 11.17.4 (`TRM_TEST_DIRECTUS_DIR`): its environment for a test database, its CLI,
//! logging in, and a full boot of trm-init + Directus as PID 1 with the log in a file.

use crate::{eventually, free_port, http, repo_dir, require, zombies, Pid1, RedisServer, TestDb};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

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

/// The repository's schema snapshot.
pub fn repo_snapshot() -> PathBuf {
    repo_dir("snapshots/schema.yaml")
}

/// The repository's Directus step helper (the image ships it as /directus/directus-step/step.mjs).
pub fn step_script() -> PathBuf {
    repo_dir("directus-step/step.mjs")
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
        // The project's extensions, built from extensions/, as the image ships them.
        ("EXTENSIONS_PATH", crate::extensions_path().to_string_lossy().into_owned()),
        // Directus writes the admin app's extension bundle under TEMP_PATH (default
        // ./node_modules/.directus, in the shared Directus folder) and serves it from there: every
        // Directus started from that folder (other tests, other checkouts) would overwrite this one's.
        (
            "TEMP_PATH",
            std::env::temp_dir().join(format!("trm-directus-temp-{}", db.name)).to_string_lossy().into_owned(),
        ),
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

/// Logs in as the test admin; returns the access token.
pub fn directus_login(port: u16) -> String {
    login(port, ADMIN_EMAIL, ADMIN_PASSWORD)
}

/// The one login of the tests: `POST /auth/login` as `email`, the access token it answers.
pub fn login(port: u16, email: &str, password: &str) -> String {
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    let (status, text) = http(port, "POST", "/auth/login", None, Some(&body));
    assert_eq!(status, 200, "login as {email}: {text}");
    let answer: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("login as {email}: {e}: {text}"));
    answer["data"]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login as {email}: no access_token: {text}"))
        .to_string()
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

/// A full stack for the API suites (access_boundary, tenant_attacks): a fresh database named after
/// `test`, its own Redis, trm-init + Directus with the recompute stream `stream`, Directus's pressure
/// limiter off (a shared 2-core machine lags; the suites are about permissions) and `extra` variables,
/// healthy within `limit`; with the admin's token.
pub struct ApiStack {
    pub db: TestDb,
    pub redis: RedisServer,
    pub boot: Boot,
    pub admin: String,
}

impl ApiStack {
    pub fn start(test: &str, stream: &str, extra: &[(&str, &str)], limit: Duration) -> ApiStack {
        let db = TestDb::fresh(test);
        let redis = RedisServer::start();
        let ports = Ports::free();
        let mut env = boot_env(&db, ports);
        env.extend([
            ("REDIS".to_string(), redis.url()),
            ("RECOMPUTE_STREAM".to_string(), stream.to_string()),
            ("PRESSURE_LIMITER_ENABLED".to_string(), "false".to_string()),
        ]);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let boot = Boot::start(&env, ports);
        boot.wait_healthy(limit);
        let admin = directus_login(ports.directus);
        ApiStack { db, redis, boot, admin }
    }
}

/// One booted stack (trm-init as PID 1 + Directus on a fresh database) shared by every test of one test
/// binary: booted on first use by `shared_stack`, killed and its database dropped when the binary exits
/// (statics are never dropped, so an `atexit` handler does it).
pub struct SharedStack {
    pub boot: Boot,
    pub db: TestDb,
}

impl SharedStack {
    /// The organisations (id, name, slug) and their members (email, organisation id, organisation
    /// role): each organisation inserted, each user created through the API as a TRM member
    /// (`MEMBER_ROLE`) with `password`, and given the membership.
    pub fn add_members(&self, organizations: &[(&str, &str, &str)], users: &[(&str, &str, &str)], password: &str) {
        for (id, name, slug) in organizations {
            self.db.query(&format!("INSERT INTO organizations (id, name, slug) VALUES ('{id}', '{name}', '{slug}')"));
        }
        let admin = directus_login(self.boot.ports.directus);
        for (email, organization, role) in users {
            let body = serde_json::json!({"email": email, "password": password, "status": "active", "role": crate::MEMBER_ROLE})
                .to_string();
            let (status, text) = http(self.boot.ports.directus, "POST", "/users", Some(&admin), Some(&body));
            assert_eq!(status, 200, "POST /users {email}: {text}");
            let answer: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST /users {email}: {e}: {text}"));
            let id = answer["data"]["id"].as_str().unwrap_or_else(|| panic!("POST /users {email}: no id: {text}"));
            self.db.query(&format!(
                "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('{organization}', '{id}', '{role}')"
            ));
        }
    }
}

static SHARED_STACK: std::sync::OnceLock<SharedStack> = std::sync::OnceLock::new();
static SHARED_STACK_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
static SHARED_STACK_DB: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

extern "C" fn stop_shared_stack() {
    let pid = SHARED_STACK_PID.load(std::sync::atomic::Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill with the pid of the trm-init we started (PID 1 of its namespace: all of it goes).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let name = SHARED_STACK_DB.lock().map(|n| n.clone()).unwrap_or_default();
    if !name.is_empty() {
        std::thread::sleep(Duration::from_millis(200));
        let _ = crate::psql_result("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// The test binary's shared stack on a database named after `test`, healthy within `limit`; `ready`
/// runs once, right after the boot (checks of the boot log, fixtures every test needs).
pub fn shared_stack(test: &str, limit: Duration, ready: impl FnOnce(&SharedStack)) -> &'static SharedStack {
    SHARED_STACK.get_or_init(|| {
        let db = TestDb::fresh(test);
        let ports = Ports::free();
        let boot = Boot::start(&boot_env(&db, ports), ports);
        SHARED_STACK_PID.store(boot.pid1.outer_pid, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut name) = SHARED_STACK_DB.lock() {
            *name = db.name.clone();
        }
        // SAFETY: registering a plain extern "C" function with no preconditions.
        unsafe { libc::atexit(stop_shared_stack) };
        boot.wait_healthy(limit);
        let stack = SharedStack { boot, db };
        ready(&stack);
        stack
    })
}

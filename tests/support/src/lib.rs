//! The integration tests' harness: the trm-init binary and the one way to launch it, plus the parts
//! (PID 1, PostgreSQL, Directus, HTTP) each test file uses. Re-exported at the root, so a test writes
//! `use trm_test_support as common;` and `common::TestDb`. `dockerfile_model` (the Dockerfile parsed)
//! stays a module of its own: its names (`Copy`, `Stage`) would shadow std's.
//!
//! Tests never skip: what a test needs and lacks makes it fail with `require`, saying how to provide it.

mod cargo;
mod directus;
pub mod dockerfile_model;
mod extensions;
mod http;
mod pid1;
mod postgres;
mod redis;
mod snapshot;

pub use cargo::*;
pub use directus::*;
pub use extensions::*;
pub use http::*;
pub use pid1::*;
pub use postgres::*;
pub use redis::*;
pub use snapshot::*;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: `trm-init` next to the test executable's `deps` folder (cargo builds it
/// before it runs integration tests), or the file `TRM_TEST_BIN` names: e.g. the release build
/// (`TRM_TEST_BIN=$TRM_RELEASE_BIN cargo test --test pid1_signals`), linked as the image's binary is.
pub fn bin() -> PathBuf {
    if let Some(named) = std::env::var_os("TRM_TEST_BIN").filter(|v| !v.is_empty()).map(PathBuf::from) {
        require("the binary TRM_TEST_BIN names", named.is_file(), &format!("{} is not a file", named.display()));
        return named;
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe.parent().and_then(|deps| deps.parent()).map(|dir| dir.join("trm-init")).unwrap_or_default();
    require("the trm-init binary", bin.exists(), "run the tests with `cargo test`, which builds it first");
    bin
}

/// The id of the Directus role every TRM user gets ("TRM member" in snapshots/access.yaml; what a member
/// may do comes from organization_users). tests/access_docs.rs checks it against the access file.
pub const MEMBER_ROLE: &str = "7e1a0000-0000-4000-8000-000000000001";

/// A path in the repository (`db-init`, `snapshots/schema.yaml`, `README.md`...).
pub fn repo_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(name)
}

/// Fails the test, saying how to provide what is missing. Tests never skip silently.
pub fn require(what: &str, ok: bool, how: &str) {
    assert!(ok, "this test needs {what}; {how}");
}

pub fn require_root() {
    // SAFETY: geteuid takes no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    require("root (for unshare --pid)", root, "run the tests as root, as scripts/test.sh does in CI");
}

/// The one launcher: `trm-init ARGS` (not PID 1) with `env`, no config file, stdin closed, output
/// piped, and its health server on a free loopback port unless `env` says otherwise (tests run in
/// parallel in one network namespace).
pub fn trm_init_command<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
    args: &[&str],
    env: &[(K, V)],
) -> Command {
    trm_init_command_of(&bin(), args, env)
}

/// [`trm_init_command`] for another copy of the binary (one put where another uid can run it: the
/// checkout, and with it `target/`, may sit in a folder only root can enter).
pub fn trm_init_command_of<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
    binary: &Path,
    args: &[&str],
    env: &[(K, V)],
) -> Command {
    let mut cmd = Command::new(binary);
    cmd.args(args).env_remove("TRM_INIT_CONFIG").env("TRM_INIT_HEALTH__LISTEN", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k.as_ref(), v.as_ref());
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs `trm-init ARGS` with `env` to its end (bounded by `limit`).
pub fn trm_init<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
    args: &[&str],
    env: &[(K, V)],
    limit: Duration,
) -> Outcome {
    run_to_end(trm_init_command(args, env), limit)
}

/// How a process ended and what it printed.
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The exit code, shell style (128 + n for death by signal n).
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.status.code().unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }
}

/// Runs a prepared command to the end (bounded), returning its outcome.
pub fn run_to_end(mut cmd: Command, limit: Duration) -> Outcome {
    let mut child = cmd.spawn().expect("spawn the command");
    let stdout = Captured::read_from(child.stdout.take());
    let stderr = Captured::read_from(child.stderr.take());
    let status = wait_child(&mut child, limit);
    Outcome { status, stdout: stdout.all(), stderr: stderr.all() }
}

/// Output of a process, read continuously by a thread so a chatty process never blocks on a full pipe.
#[derive(Clone, Default)]
pub struct Captured {
    text: std::sync::Arc<std::sync::Mutex<String>>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Captured {
    pub fn read_from(pipe: Option<impl Read + Send + 'static>) -> Captured {
        let captured = Captured::default();
        let sink = captured.clone();
        std::thread::spawn(move || {
            if let Some(mut pipe) = pipe {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.text.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
            sink.done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        captured
    }

    /// Everything read so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Everything, once the pipe is closed (or after 2 s, when a grandchild still holds it open).
    pub(crate) fn all(&self) -> String {
        eventually(Duration::from_secs(2), || self.done.load(std::sync::atomic::Ordering::SeqCst));
        self.text()
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

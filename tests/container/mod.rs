//! The real container engine for the tests/container_*.rs files: the tests' own dockerd
//! (scripts/docker-up.sh), the stand-in base images (stand-ins/build.sh), one image built from the
//! unchanged Dockerfile, and containers of it on the suite's PostgreSQL.
//!
//! Owns: the `docker` CLI calls of the container tests and the containers they start (removed on drop).
//! Never: pulls from a registry (`--pull never`), uses a bridge network (always `--network host`, every
//! port a free one on 127.0.0.1), or stops the engine (scripts/test.sh stops it by pid at the end).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use trm_test_support::*;

/// The image every container test runs: `docker build` of the repository's Dockerfile.
pub const IMAGE: &str = "trm-directus:test";

const ENGINE_HOW: &str =
    "run the tests as root on Debian (scripts/test.sh does: scripts/docker-up.sh installs docker.io \
                          and starts the tests' dockerd, stand-ins/build.sh builds the base images)";

fn script(path: &str) -> Output {
    let out = Command::new(repo_dir(path))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{path} cannot run ({e}); {ENGINE_HOW}"));
    require(&format!("{path} to succeed"), out.status.success(), ENGINE_HOW);
    out
}

/// The `DOCKER_HOST` of the tests' engine: started (or found running) by scripts/docker-up.sh, with the
/// stand-ins built (cached) and the project's image built from the Dockerfile, once per test binary.
/// Both scripts hold a lock file, so test binaries never build at the same time.
pub fn engine() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        require_root();
        let _lock = lock("engine");
        let up = String::from_utf8_lossy(&script("scripts/docker-up.sh").stdout).into_owned();
        let host = up
            .split_whitespace()
            .find_map(|w| w.strip_prefix("DOCKER_HOST="))
            .unwrap_or_else(|| panic!("scripts/docker-up.sh printed no DOCKER_HOST: {up}"))
            .to_string();
        std::env::set_var("DOCKER_HOST", &host);
        std::env::set_var("DOCKER_BUILDKIT", "0");
        script("stand-ins/build.sh");
        let started = Instant::now();
        let out = docker(&["build", "--pull=false", "-q", "-t", IMAGE, &repo_dir("").to_string_lossy()]);
        assert!(out.status.success(), "docker build of the Dockerfile failed:\n{}", text(&out));
        eprintln!("[container] {IMAGE} built (or cached) in {:.1}s", started.elapsed().as_secs_f64());
        host
    })
}

/// An exclusive lock file in the cache (flock), held while the guard lives.
pub fn lock(name: &str) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).expect("the cache folder");
    let file = std::fs::File::create(dir.join(format!("{name}.lock"))).expect("a lock file");
    // SAFETY: flock on a descriptor we own; blocks until the lock is ours.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {name}.lock");
    file
}

/// TRM_CACHE (~/.cache/trm-init), as scripts/lib.sh sets it.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("TRM_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/trm-init")
    })
}

/// Runs `docker ARGS` against the tests' engine (call `engine()` first).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("docker cannot run ({e}); {ENGINE_HOW}"))
}

/// `docker run --rm --network host --pull never ARGS` to its end (ARGS: options, image, command).
pub fn run_to_exit(args: &[&str]) -> Output {
    let mut all = vec!["run", "--rm", "--network", "host", "--pull", "never"];
    all.extend(args);
    docker(&all)
}

/// `docker ARGS` that must succeed; its trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(out.status.success(), "docker {args:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The environment of a container of IMAGE on `db`: Directus's variables, free loopback ports for
/// Directus and trm-init's health server (containers share the host's network with other tests), and
/// the one relaxation this machine needs: the suite's PostgreSQL has PostGIS but not TimescaleDB (not
/// packaged for Debian), so `db_init.required_extensions` is `["postgis"]` instead of the image's two.
pub fn container_env(db: &TestDb, ports: Ports) -> Vec<(String, String)> {
    let mut env = db.env();
    env.extend(
        [
            ("TELEMETRY", "false".to_string()),
            ("SECRET", "container-secret-container-secret-0123".into()),
            ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
            ("HOST", "127.0.0.1".into()),
            ("PORT", ports.directus.to_string()),
            ("PUBLIC_URL", format!("http://127.0.0.1:{}", ports.directus)),
            // Directus's own outbound calls (update check, telemetry) fail at once instead of waiting.
            ("HTTPS_PROXY", "http://127.0.0.1:9".into()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
            ("TRM_INIT_HEALTH__LISTEN", format!("127.0.0.1:{}", ports.health)),
            ("TRM_INIT_HEALTH__UPSTREAM", format!("http://127.0.0.1:{}/server/ping", ports.directus)),
            ("TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS", "[\"postgis\"]".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v)),
    );
    env
}

/// One container, removed (with `-f`) when dropped.
pub struct Container {
    pub id: String,
    pub ports: Ports,
}

impl Container {
    /// `docker run -d --network host --pull never [extra] --env... IMAGE [args]`.
    pub fn run(image: &str, env: &[(String, String)], ports: Ports, extra: &[&str], args: &[&str]) -> Container {
        engine();
        let mut cmd: Vec<String> =
            ["run", "-d", "--network", "host", "--pull", "never"].iter().map(|s| s.to_string()).collect();
        cmd.extend(extra.iter().map(|s| s.to_string()));
        for (k, v) in env {
            cmd.push("-e".into());
            cmd.push(format!("{k}={v}"));
        }
        cmd.push(image.into());
        cmd.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        Container { id: docker_ok(&refs), ports }
    }

    /// `docker inspect -f FORMAT`.
    pub fn inspect(&self, format: &str) -> String {
        docker(&["inspect", "-f", format, &self.id])
            .stdout
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
            .trim()
            .to_string()
    }

    pub fn health(&self) -> String {
        self.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}")
    }

    pub fn status(&self) -> String {
        self.inspect("{{.State.Status}}")
    }

    pub fn exit_code(&self) -> i32 {
        self.inspect("{{.State.ExitCode}}").parse().unwrap_or(-1)
    }

    /// The exit code of every run of this container that has ended, oldest first (the engine's `die`
    /// events). Unlike `.State.ExitCode`, which the next start of a restart policy resets to 0, they stay.
    pub fn exit_codes(&self) -> Vec<i32> {
        let until = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() + 1)
            .unwrap_or(0)
            .to_string();
        let filter = format!("container={}", self.id);
        let format = "{{index .Actor.Attributes \"exitCode\"}}";
        let args = ["events", "--since", "0", "--until", &until, "--filter", &filter, "--filter", "event=die"];
        let out = docker_ok(&[&args[..], &["--format", format]].concat());
        out.lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    pub fn logs(&self) -> String {
        text(&docker(&["logs", &self.id]))
    }

    /// Waits until the Health status is `want`; every distinct status seen on the way, in order.
    pub fn wait_health(&self, want: &str, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let now = self.health();
            if seen.last() != Some(&now) {
                seen.push(now.clone());
            }
            if now == want {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "container not {want} within {limit:?} (statuses {seen:?}, state {}); log:\n{}",
                self.status(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the container is no longer running; its exit code.
    pub fn wait_exit(&self, limit: Duration) -> i32 {
        let ok = eventually(limit, || self.status() == "exited");
        assert!(ok, "container still {} after {limit:?}; log:\n{}", self.status(), self.logs());
        self.exit_code()
    }

    /// `docker exec [extra] ID ARGS`.
    pub fn exec(&self, extra: &[&str], args: &[&str]) -> Output {
        let mut cmd = vec!["exec"];
        cmd.extend(extra);
        cmd.push(&self.id);
        cmd.extend(args);
        docker(&cmd)
    }

    /// The container's processes as the host sees them: (host pid, uid, state, command name).
    pub fn processes(&self) -> Vec<(i32, u32, char, String)> {
        let pid: i32 = self.inspect("{{.State.Pid}}").parse().unwrap_or(0);
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            if ns.is_none() || std::fs::read_link(format!("/proc/{p}/ns/pid")).ok() != ns {
                continue;
            }
            let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else { continue };
            let field = |name: &str| {
                status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
            };
            let uid = field("Uid:").split_whitespace().next().and_then(|u| u.parse().ok()).unwrap_or(u32::MAX);
            let state = field("State:").chars().next().unwrap_or('?');
            out.push((p, uid, state, field("Name:")));
        }
        out
    }

    /// The in-container PID 1's host pid.
    pub fn host_pid(&self) -> i32 {
        self.inspect("{{.State.Pid}}").parse().unwrap_or(0)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.id]);
    }
}

/// The PID inside the container of a host pid (the last NSpid entry).
pub fn pid_in_container(host_pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{host_pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("NSpid:")).and_then(|v| v.split_whitespace().last()?.parse().ok())
}

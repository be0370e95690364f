//! Image rehearsal, without a Docker engine: the final stage's filesystem is assembled the way the
//! Dockerfile says (its COPY lines are read, not restated here), with a real Directus install at
//! /directus and the host's system libraries for Node; trm-init then boots as PID 1 of a new PID
//! namespace, chrooted there, as the image's USER, on a fresh database. The HEALTHCHECK command is run
//! the way Docker runs it (from outside, entering the container with nsenter) until healthy, and the
//! container is stopped the way `docker stop` stops it (STOPSIGNAL, KILL after 10 s). In between, the
//! seed runs the way its README says (`docker exec <container> node /directus/seed/load.mjs`). A Node
//! build stage the final stage copies from (the seed's npm dependencies) is run on the host.
//!
//! How it maps onto Docker:
//! - base image `directus/directus` = an overlay whose lower layer is TRM_TEST_DIRECTUS_DIR (cli.js and
//!   node_modules) and whose upper layer receives the Dockerfile's COPYs into /directus; Node 22 at
//!   /usr/local/bin/node and the host's /usr/lib stand in for node:22-alpine's runtime;
//! - `docker run` = `unshare --pid --fork --mount-proc --root --wd --setuid --setgid` exec'ing ENTRYPOINT;
//! - HEALTHCHECK = `nsenter --target <pid 1> --pid --mount --root --wd --setuid --setgid` + its argv;
//! - `docker stop` = SIGTERM (STOPSIGNAL) to PID 1, SIGKILL after 10 s.
//!
//! Differences, all environment: the network is the host's (so Directus and the health server get free
//! loopback ports through PORT / TRM_INIT_HEALTH__*), and this PostgreSQL has no TimescaleDB (so the
//! production config's required_extensions is emptied through TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS).

use trm_test_support as common;

use common::dockerfile_model::{repo, Copy, Stage};
use common::{free_port, require, require_root, TestDb};
use std::fs::File;
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the official image keeps Directus (its WORKDIR; cli.js lives there).
const DIRECTUS_ROOT: &str = "/directus";
/// The build output the final stage copies `--from` the build stage.
const BUILD_OUTPUT: &str = "target/x86_64-unknown-linux-gnu/release/trm-init";
/// `docker stop`'s default timeout before SIGKILL.
const DOCKER_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The base image's ENV (node:22-alpine, then directus/directus:11), as Docker would hand it over.
const BASE_ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    ("NODE_VERSION", "22"),
    ("DB_CLIENT", "sqlite3"),
    ("DB_FILENAME", "/directus/database/database.sqlite"),
    ("NODE_ENV", "production"),
    ("NPM_CONFIG_UPDATE_NOTIFIER", "false"),
];
/// node:22-alpine's users: root and node (1000).
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n";
const GROUP: &str = "root:x:0:root\nnode:x:1000:node\n";
/// Host paths bind-mounted read-only at the same place (symlinks such as /lib -> usr/lib are recreated).
const HOST_SYSTEM: &[&str] = &[
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/etc/ssl",
    "/usr/share/ca-certificates",
    "/etc/ca-certificates",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
];

#[test]
fn image_boots_as_pid1_gets_healthy_and_stops_like_docker_stop() {
    require_root();
    let dockerfile = common::dockerfile_model::load();
    let stage = dockerfile.final_stage().clone();
    let directus = directus_install();
    let node = node22();
    let db = TestDb::fresh("image_rehearsal");

    let image = Image::assemble(&stage, &directus, &node);
    let directus_port = free_port();
    let health_port = free_port();
    let mut env = image.env.clone();
    env.extend(db.env());
    for (k, v) in [
        ("SECRET", "rehearsal-secret-0123456789abcdef0123456789".to_string()),
        ("ADMIN_EMAIL", "admin@example.com".into()),
        ("ADMIN_PASSWORD", "rehearsal-admin-pw".into()),
        ("PUBLIC_URL", format!("http://127.0.0.1:{directus_port}")),
        ("TELEMETRY", "false".into()),
        ("PORT", directus_port.to_string()),
        ("TRM_INIT_HEALTH__LISTEN", format!("127.0.0.1:{health_port}")),
        ("TRM_INIT_HEALTH__UPSTREAM", format!("http://127.0.0.1:{directus_port}/server/ping")),
        ("TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS", "[]".into()),
    ] {
        env.push((k.to_string(), v));
    }

    let mut container = image.run(&env);
    let pid1 = container.pid1;
    assert_eq!(ns_pid(pid1), Some(1), "trm-init is PID 1 of its namespace");
    assert_eq!(uid_of(pid1), Some(image.uid), "trm-init runs as the image's USER");

    let health = stage.healthcheck().expect("HEALTHCHECK");
    let argv = health.exec.clone().expect("HEALTHCHECK in exec form");
    let probe_timeout = health.timeout.unwrap_or(Duration::from_secs(30));
    let interval = health.interval.unwrap_or(Duration::from_secs(30));
    let limit = health.start_period.unwrap_or_default() + interval * health.retries.unwrap_or(3);
    let started = Instant::now();
    let mut last;
    let healthy = loop {
        if let Some(status) = container.process.try_wait().expect("try_wait") {
            panic!("the container exited before it was healthy ({status}); {}", container.logs());
        }
        let probe = probe(pid1, &argv, &env, image.uid, image.gid, probe_timeout);
        assert!(probe.output.len() <= 4096, "the health check printed more than Docker keeps (4 KiB)");
        last = format!("exit {:?}: {}", probe.code, probe.output.trim());
        if probe.code == Some(0) {
            break true;
        }
        if started.elapsed() > limit {
            break false;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    eprintln!("healthy: {healthy} after {:?}; last probe {last}", started.elapsed());
    assert!(
        healthy,
        "not healthy within {limit:?} (start period + retries x interval); last probe {last}; {}",
        container.logs()
    );

    // The image seeds a fresh environment on demand: `docker exec <container> node /directus/seed/load.mjs`
    // (as the image's USER, with the container's environment: its PORT and first admin).
    let seed_argv: Vec<String> = ["node", "/directus/seed/load.mjs", "--quiet"].map(String::from).to_vec();
    let seeded = probe(pid1, &seed_argv, &env, image.uid, image.gid, Duration::from_secs(180));
    assert_eq!(seeded.code, Some(0), "docker exec ... node /directus/seed/load.mjs: {}", seeded.output);
    assert!(seeded.output.contains("seed: 35 created, 0 unchanged"), "{}", seeded.output);
    assert_eq!(db.query("SELECT count(*) FROM classes"), "18");

    let directus_child = common::children_of(pid1)
        .into_iter()
        // The baked child.command names /directus/cli.js start; child.skip_update_check,
        // child.direct_start and child.preload (defaults) make it the image's preload.mjs loading
        // @directus/api's server.js during the preflight and starting it on the go (no update check, no CLI).
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                c.contains("/directus/directus-step/preload.mjs") && c.contains("@directus/api/dist/server.js")
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "no Directus child (preload.mjs with @directus/api's server.js) under trm-init; {}",
                container.logs()
            )
        });
    let full = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        format!("{}{}", full(&container.stdout), full(&container.stderr))
            .contains("the preloaded main child starts Directus's server (go)"),
        "the image's boot preloads the main child; {}",
        container.logs()
    );
    assert_eq!(uid_of(directus_child), Some(image.uid), "Directus runs as the image's USER");

    // The extensions the image ships are node's and Directus loaded them: the endpoint answers itself
    // (an unknown route would be Directus's 404).
    let bundle = image.upper.join("extensions/trm-extensions/dist/api.js");
    let owner = std::fs::metadata(&bundle).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    assert_eq!(owner.ok(), Some(1000), "{} is owned by node (uid 1000)", bundle.display());
    // Directus's pressure limiter answers 503 while this busy machine catches up: ask again.
    let mut answer = (0, String::new());
    common::eventually(Duration::from_secs(60), || {
        answer = common::http(directus_port, "POST", "/faulty-positions", None, Some("{}"));
        answer.0 != 503 || !answer.1.contains("Under pressure") || {
            std::thread::sleep(Duration::from_secs(1));
            false
        }
    });
    let (status, body) = answer;
    assert_eq!(status, 401, "POST /faulty-positions: {body}; {}", container.logs());
    assert!(body.contains("log in to flag positions"), "the extension's own answer: {body}");

    let stopping = Instant::now();
    let code = container.docker_stop();
    eprintln!("docker stop: exit code {code} after {:?}", stopping.elapsed());
    assert!(code == 0 || code == 143, "docker stop: exit code {code}, expected 0 or 143; {}", container.logs());
}

// ---------------------------------------------------------------------------------------------------
// What the test needs from the machine

fn directus_install() -> PathBuf {
    let dir = std::env::var("TRM_TEST_DIRECTUS_DIR").unwrap_or_default();
    require(
        "a Directus install (TRM_TEST_DIRECTUS_DIR is not set)",
        !dir.is_empty() && Path::new(&dir).join("cli.js").exists(),
        "export TRM_TEST_DIRECTUS_DIR=$(scripts/install-directus.sh); scripts/test.sh does this",
    );
    PathBuf::from(dir)
}

/// Node 22: first on PATH (scripts/test.sh) or the cache scripts/install-directus.sh fills.
fn node22() -> PathBuf {
    let mut candidates: Vec<PathBuf> =
        std::env::var("PATH").unwrap_or_default().split(':').map(|d| Path::new(d).join("node")).collect();
    let cache = std::env::var("TRM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/trm-init"));
    candidates.push(cache.join("node"));
    let found = candidates.into_iter().filter_map(|c| std::fs::canonicalize(c).ok()).find(|c| {
        Command::new(c).arg("--version").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("v22"))
    });
    require("Node 22", found.is_some(), "run scripts/install-directus.sh (it installs Node 22 into ~/.cache/trm-init)");
    found.unwrap_or_default()
}

/// The binary to put in the image: the release build when scripts/test.sh made one, else cargo's.
fn trm_init_binary() -> PathBuf {
    std::env::var("TRM_TEST_RELEASE_BIN").map(PathBuf::from).unwrap_or_else(|_| common::bin())
}

// ---------------------------------------------------------------------------------------------------
// The image: a root folder, an overlay for /directus, and the mounts that complete it

struct Image {
    tmp: tempfile::TempDir,
    root: PathBuf,
    /// The upper layer of /directus: what the Dockerfile COPYs there, plus what Directus writes.
    upper: PathBuf,
    /// Shell lines run inside the container's mount namespace before the entrypoint.
    mounts: Vec<String>,
    entrypoint: Vec<String>,
    workdir: String,
    uid: u32,
    gid: u32,
    env: Vec<(String, String)>,
}

impl Image {
    fn assemble(stage: &Stage, directus: &Path, node: &Path) -> Image {
        let tmp = tempfile::Builder::new().prefix("trm-image-").tempdir().expect("tempdir");
        let root = tmp.path().join("rootfs");
        let upper = tmp.path().join("directus-upper");
        let work = tmp.path().join("directus-work");
        for d in [&root, &upper, &work] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let mut image = Image {
            root: root.clone(),
            upper: upper.clone(),
            mounts: Vec::new(),
            entrypoint: Vec::new(),
            workdir: stage.workdir().unwrap_or_else(|| "/".into()),
            uid: 0,
            gid: 0,
            env: BASE_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            tmp,
        };
        image.base_layer(directus, node, &work);
        for copy in stage.copies() {
            image.apply_copy(&copy);
        }
        let user = stage.last("USER").map(|u| u.rest.clone()).unwrap_or_else(|| "root".into());
        (image.uid, image.gid) = image.lookup_user(&user);
        let home = if image.uid == 0 { "/root".to_string() } else { format!("/home/{user}") };
        image.env.push(("HOME".into(), home));
        image.env.push(("HOSTNAME".into(), "rehearsal".into()));
        image.env.extend(stage.env());
        let mut entrypoint = stage.last("ENTRYPOINT").and_then(|e| e.exec_form()).expect("ENTRYPOINT in exec form");
        if let Some(cmd) = stage.last("CMD") {
            entrypoint.extend(cmd.exec_form().expect("CMD in exec form"));
        }
        image.entrypoint = entrypoint;
        image
    }

    /// directus/directus:11 as the rehearsal knows it: Alpine's users, Node 22, the host's libraries,
    /// and /directus = the Directus install (read-only lower layer) + our upper layer.
    fn base_layer(&mut self, directus: &Path, node: &Path, work: &Path) {
        for dir in ["proc", "dev", "tmp", "etc", "usr/local/bin", "home/node", "root"] {
            std::fs::create_dir_all(self.root.join(dir)).expect("mkdir");
        }
        std::fs::set_permissions(self.root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).expect("chmod /tmp");
        chown(self.root.join("home/node"), Some(1000), Some(1000)).expect("chown /home/node");
        std::fs::write(self.root.join("etc/passwd"), PASSWD).expect("passwd");
        std::fs::write(self.root.join("etc/group"), GROUP).expect("group");
        for host in HOST_SYSTEM {
            self.host_path(Path::new(host), host);
        }
        self.bind("/dev", "/dev", false);
        self.host_path(node, "/usr/local/bin/node");

        // The official image's /directus is node's, with database/, extensions/ and uploads/ in it.
        std::fs::create_dir_all(self.root.join(DIRECTUS_ROOT.trim_start_matches('/'))).expect("mkdir /directus");
        for dir in ["", "database", "extensions", "uploads", "node_modules"] {
            let d = self.upper.join(dir);
            std::fs::create_dir_all(&d).expect("mkdir");
            chown(&d, Some(1000), Some(1000)).expect("chown");
        }
        let target = self.in_root(DIRECTUS_ROOT);
        self.mounts.push(format!(
            "mount -t overlay overlay -o {} {}",
            quote(&format!(
                "lowerdir={},upperdir={},workdir={}",
                directus.display(),
                self.upper.display(),
                work.display()
            )),
            quote(&target.to_string_lossy())
        ));
    }

    /// A host path at the same (or another) place in the image: symlinks recreated, the rest bound read-only.
    fn host_path(&mut self, host: &Path, image_path: &str) {
        let Ok(meta) = std::fs::symlink_metadata(host) else { return };
        let at = self.in_root(image_path);
        std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
        if meta.file_type().is_symlink() && host.to_string_lossy() == image_path {
            let link = std::fs::read_link(host).expect("readlink");
            symlink(link, &at).expect("symlink");
        } else {
            self.bind(&host.to_string_lossy(), image_path, true);
        }
    }

    fn bind(&mut self, host: &str, image_path: &str, read_only: bool) {
        let at = self.in_root(image_path);
        if Path::new(host).is_dir() {
            std::fs::create_dir_all(&at).expect("mkdir mount point");
        } else {
            std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
            File::create(&at).expect("mount point file");
        }
        let opts = if read_only { "bind,ro" } else { "bind" };
        self.mounts.push(format!("mount -o {opts} {} {}", quote(host), quote(&at.to_string_lossy())));
    }

    fn in_root(&self, image_path: &str) -> PathBuf {
        self.root.join(image_path.trim_start_matches('/'))
    }

    /// Where an image path is written while assembling: /directus/... goes to the overlay's upper layer.
    fn staging_path(&self, image_path: &str) -> PathBuf {
        match Path::new(image_path).strip_prefix(DIRECTUS_ROOT) {
            Ok(rel) => self.upper.join(rel),
            Err(_) => self.in_root(image_path),
        }
    }

    /// One COPY of the final stage: repository sources as they are; the build stage's output is the
    /// binary cargo built for this test run (the same target and flags, from .cargo/config.toml).
    fn apply_copy(&mut self, copy: &Copy) {
        let (owner, group) = match &copy.chown {
            Some(spec) => {
                let (u, g) = spec.split_once(':').unwrap_or((spec, spec));
                (self.lookup_user(u).0, self.lookup_group(g))
            }
            None => (0, 0),
        };
        for source in &copy.sources {
            let host = match copy.from.as_deref() {
                Some(_) if source.ends_with(BUILD_OUTPUT) => trm_init_binary(),
                // The extensions stage's /out/: the bundle the harness builds from extensions/ with the
                // stage's own commands (npm ci from the lockfile, npm run build), laid out the same way
                // (trm-extensions/package.json + dist/). Its RUN writes to /out, so it is not replayed here.
                Some("extensions") => {
                    assert_eq!(source, "/out/", "line {}: COPY --from=extensions copies {source}", copy.line);
                    common::extensions_path()
                }
                // The compile-cache stage runs on the Directus base (not a Node stage the host can
                // replay): its RUN, compile-cache/warm.mjs, is run on the host with the host's Directus
                // install into a folder standing for its output. Node keys those entries by the host's
                // paths and uid, so the rehearsal's Directus reads none of them (a stale cache, which must
                // not matter) and fills its own folder; the real image's cache is checked by
                // tests/container_boot.rs.
                Some("compile-cache") => self.compile_cache_stage(source),
                Some(stage) => self.node_stage(stage).join(source.trim_start_matches('/')),
                None => repo().join(source),
            };
            assert!(host.exists(), "line {}: COPY source {} does not exist", copy.line, host.display());
            let dest = self.staging_path(&copy.target_of(source, host.is_dir()));
            copy_tree(&host, &dest, owner, group);
        }
    }

    /// The compile-cache stage's output (`source`, the cache folder): compile-cache/warm.mjs run on the
    /// host with Node 22 against the rehearsal's Directus install.
    fn compile_cache_stage(&mut self, source: &str) -> PathBuf {
        let out = self.tmp.path().join("stages/compile-cache").join(source.trim_start_matches('/'));
        if out.exists() {
            return out;
        }
        std::fs::create_dir_all(&out).expect("mkdir compile-cache output");
        let warm = Command::new(node22())
            .arg(repo().join("compile-cache/warm.mjs"))
            .arg(directus_install())
            .envs([("DB_CLIENT", "pg"), ("DB_HOST", "127.0.0.1"), ("DB_PORT", "9"), ("DB_DATABASE", "warm")])
            .envs([("DB_USER", "warm"), ("SECRET", "warm")])
            .env("NODE_COMPILE_CACHE", &out)
            .output()
            .expect("run compile-cache/warm.mjs");
        assert!(warm.status.success(), "compile-cache/warm.mjs failed: {}", String::from_utf8_lossy(&warm.stderr));
        out
    }

    /// A Node build stage (`FROM node:22...`) run on the host: its COPYs of repository files into a
    /// folder standing for the stage's root, then its RUN lines with `sh -c` in its WORKDIR, with Node 22
    /// and npm on PATH. Returns that root; built once per stage.
    fn node_stage(&mut self, name: &str) -> PathBuf {
        let root = self.tmp.path().join("stages").join(name);
        if root.exists() {
            return root;
        }
        let dockerfile = common::dockerfile_model::load();
        let stage = dockerfile.stage(name).unwrap_or_else(|| panic!("COPY --from={name}: no such stage")).clone();
        assert!(
            stage.base.starts_with("node:22"),
            "stage {name}: the rehearsal runs Node 22 stages only, not {}",
            stage.base
        );
        let workdir = root.join(stage.workdir().unwrap_or_else(|| "/".into()).trim_start_matches('/'));
        std::fs::create_dir_all(&workdir).expect("mkdir stage workdir");
        let node_bin = node22().parent().map(Path::to_path_buf).unwrap_or_default();
        let path = format!("{}:{}", node_bin.display(), std::env::var("PATH").unwrap_or_default());
        for i in &stage.instructions {
            match i.keyword.as_str() {
                "COPY" => {
                    let copy = stage.copies().into_iter().find(|c| c.line == i.line).expect("the COPY of this line");
                    assert!(copy.from.is_none(), "stage {name} line {}: nested COPY --from", copy.line);
                    for source in &copy.sources {
                        let host = repo().join(source);
                        let dest = if copy.dest.starts_with('/') {
                            root.join(copy.target_of(source, host.is_dir()).trim_start_matches('/'))
                        } else {
                            workdir.join(copy.target_of(source, host.is_dir()))
                        };
                        copy_tree(&host, &dest, 0, 0);
                    }
                }
                "RUN" => {
                    let out = Command::new("sh")
                        .args(["-c", &i.rest])
                        .current_dir(&workdir)
                        .env("PATH", &path)
                        .output()
                        .expect("sh");
                    assert!(
                        out.status.success(),
                        "stage {name} line {}: {} failed: {}{}",
                        i.line,
                        i.rest,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                "FROM" | "WORKDIR" | "ENV" => {}
                other => panic!("stage {name} line {}: the rehearsal does not know {other}", i.line),
            }
        }
        root
    }

    fn lookup_user(&self, name: &str) -> (u32, u32) {
        if let Ok(uid) = name.parse::<u32>() {
            return (uid, uid);
        }
        let passwd = std::fs::read_to_string(self.root.join("etc/passwd")).expect("passwd");
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f[0] == name)
            .map(|f| (f[2].parse().expect("uid"), f[3].parse().expect("gid")))
            .unwrap_or_else(|| panic!("USER {name} is not in the image's /etc/passwd"))
    }

    fn lookup_group(&self, name: &str) -> u32 {
        if let Ok(gid) = name.parse::<u32>() {
            return gid;
        }
        let group = std::fs::read_to_string(self.root.join("etc/group")).expect("group");
        group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f[0] == name)
            .map(|f| f[2].parse().expect("gid"))
            .unwrap_or_else(|| panic!("group {name} is not in the image's /etc/group"))
    }

    /// `docker run`: a private mount namespace gets the mounts, then trm-init becomes PID 1 of a new PID
    /// namespace, chrooted in the image, in WORKDIR, as USER, with only the container's environment.
    fn run(&self, env: &[(String, String)]) -> Container {
        let mut script = String::from("set -e\n");
        for m in &self.mounts {
            script.push_str(m);
            script.push('\n');
        }
        script.push_str(&format!(
            "exec unshare --pid --fork --mount-proc --root={} --wd={} --setuid={} --setgid={} --",
            quote(&self.root.to_string_lossy()),
            quote(&self.workdir),
            self.uid,
            self.gid
        ));
        for arg in &self.entrypoint {
            script.push(' ');
            script.push_str(&quote(arg));
        }
        script.push('\n');
        let script_path = self.tmp.path().join("docker-run.sh");
        std::fs::write(&script_path, script).expect("write script");
        let stdout = self.tmp.path().join("stdout.log");
        let stderr = self.tmp.path().join("stderr.log");
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "/bin/sh"]).arg(&script_path);
        cmd.env_clear();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("stdout log"))
            .stderr(File::create(&stderr).expect("stderr log"));
        let mut process = cmd.spawn().expect("unshare must be installed (util-linux)");
        let pid1 = wait_for_pid1(&mut process, &stderr);
        Container { process, pid1, stdout, stderr }
    }
}

/// Quotes for /bin/sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Copies a file or a folder's contents like COPY: modes kept, owner set.
fn copy_tree(from: &Path, to: &Path, uid: u32, gid: u32) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("dir entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()), uid, gid);
        }
    } else {
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
    }
    chown(to, Some(uid), Some(gid)).expect("chown");
}

/// trm-init's pid (outer view): the child the inner unshare forks, once it has exec'd trm-init.
fn wait_for_pid1(process: &mut Child, stderr: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let outer = process.id() as i32;
        if let Some(pid) = common::children_of(outer)
            .into_iter()
            .find(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "trm-init"))
        {
            return pid;
        }
        if let Ok(Some(status)) = process.try_wait() {
            panic!("the container did not start ({status}): {}", std::fs::read_to_string(stderr).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("trm-init did not start as PID 1: {}", std::fs::read_to_string(stderr).unwrap_or_default());
}

struct Container {
    /// The outer unshare (its exit status is trm-init's: unshare passes codes and signals on).
    process: Child,
    pid1: i32,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Container {
    /// SIGTERM (the Dockerfile's STOPSIGNAL), SIGKILL after docker stop's 10 s; the exit code.
    fn docker_stop(&mut self) -> i32 {
        // SAFETY: kill with a pid this test started.
        unsafe { libc::kill(self.pid1, libc::SIGTERM) };
        let deadline = Instant::now() + DOCKER_STOP_TIMEOUT;
        loop {
            if let Some(status) = self.process.try_wait().expect("try_wait") {
                use std::os::unix::process::ExitStatusExt;
                return status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            }
            if Instant::now() >= deadline {
                // SAFETY: as above.
                unsafe { libc::kill(self.pid1, libc::SIGKILL) };
                let _ = self.process.wait();
                panic!("the container did not stop within {DOCKER_STOP_TIMEOUT:?} of SIGTERM; {}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The tail of the container's output, for failure messages.
    fn logs(&self) -> String {
        let tail = |p: &Path| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!("container stdout:\n{}\ncontainer stderr:\n{}", tail(&self.stdout), tail(&self.stderr))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.process.try_wait().ok().flatten().is_none() {
            // SAFETY: SIGKILL to PID 1 of the namespace this test created ends the whole namespace.
            unsafe { libc::kill(self.pid1, libc::SIGKILL) };
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

struct Probe {
    code: Option<i32>,
    output: String,
}

/// The HEALTHCHECK command as Docker runs it: a new process entering the container's namespaces and
/// root, in WORKDIR, as USER, with the container's environment; killed when it exceeds the timeout.
fn probe(pid1: i32, argv: &[String], env: &[(String, String)], uid: u32, gid: u32, timeout: Duration) -> Probe {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--target={pid1}"))
        .args(["--pid", "--mount", "--root", "--wd"])
        .arg(format!("--setuid={uid}"))
        .arg(format!("--setgid={gid}"))
        .arg("--")
        .args(argv)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("nsenter must be installed (util-linux)");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("probe output");
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            return Probe { code: status.code(), output };
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Probe { code: None, output: format!("timed out after {timeout:?}") };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)).map(|v| v.trim().to_string())
}

/// The pid as seen inside its own (innermost) namespace.
fn ns_pid(pid: i32) -> Option<i32> {
    status_field(pid, "NSpid:")?.split_whitespace().last()?.parse().ok()
}

/// The effective uid.
fn uid_of(pid: i32) -> Option<u32> {
    status_field(pid, "Uid:")?.split_whitespace().nth(1)?.parse().ok()
}

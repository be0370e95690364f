//! The image under the constraints a hardened deployment adds, in the real engine:
//! - `--read-only` root with only the writable paths the README and deploy/kubernetes name (tmpfs on
//!   /tmp, node_modules/.cache and node_modules/.directus, a volume on /directus/uploads) and
//!   `PM2_HOME` on /tmp: boots and serves, and nothing in the log hit the read-only root. (Found here:
//!   Directus loads pm2, which creates `$HOME/.pm2` in every Node process, the schema step's too; without
//!   `PM2_HOME` each logs `EROFS ... mkdir '/home/node/.pm2'`, harmless but noise in every boot.)
//! - a variant with no shell at all (/bin/sh, dash, bash removed, no busybox: as in a distroless image):
//!   the exec-form HEALTHCHECK still turns healthy and `docker stop` still ends with 143.

mod container;

use container::*;
use std::time::Duration;
use trm_test_support::*;

#[test]
fn read_only_root_with_the_named_writable_paths_boots_and_serves() {
    engine();
    let db = TestDb::fresh("container_ro");
    let ports = Ports::free();
    let mut env = container_env(&db, ports);
    env.push(("PM2_HOME".into(), "/tmp/.pm2".into()));
    let volume = Volume(format!("trm-ro-uploads-{}", std::process::id()));
    let uploads = format!("{}:/directus/uploads", volume.0);
    let c = Container::run(
        IMAGE,
        &env,
        ports,
        &[
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/directus/node_modules/.cache:uid=1000,gid=1000",
            "--tmpfs",
            "/directus/node_modules/.directus:uid=1000,gid=1000",
            "-v",
            &uploads,
        ],
        &[],
    );
    c.wait_health("healthy", Duration::from_secs(120));
    let out = c.exec(&[], &["/usr/local/bin/trm-init", "health"]);
    assert!(out.status.success(), "{}", text(&out));
    let (status, _) = http(ports.directus, "GET", "/admin/", None, None);
    assert_eq!(status, 200, "the admin UI is served from a read-only root");
    let write = c.exec(&[], &["node", "-e", "require('fs').writeFileSync('/directus/probe', 'x')"]);
    assert!(!write.status.success() && text(&write).contains("EROFS"), "the root is read-only: {}", text(&write));
    assert!(!c.logs().contains("EROFS"), "nothing in the boot needed a write outside the named paths:\n{}", c.logs());
    drop(c);
    drop(volume);
}

/// A named volume, removed when dropped (after the container that uses it).
struct Volume(String);

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = docker(&["volume", "rm", "-f", &self.0]);
    }
}

#[test]
fn a_shell_less_variant_is_probed_and_stopped_the_same_way() {
    engine();
    let variant = "trm-directus:test-no-shell";
    let dockerfile = format!(
        "FROM {IMAGE}\nUSER root\n\
         RUN rm -f /usr/bin/sh /usr/bin/dash /usr/bin/bash /usr/bin/rbash /bin/sh /bin/dash /bin/bash /usr/bin/busybox /bin/busybox\n\
         USER node\n"
    );
    let dir = tempfile::tempdir().expect("a build folder");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
    docker_ok(&["build", "--pull=false", "--force-rm", "-q", "-t", variant, &dir.path().to_string_lossy()]);
    // There is no shell to run: the condition the test is about.
    let sh = run_to_exit(&["--entrypoint", "/bin/sh", variant, "-c", "true"]);
    assert!(!sh.status.success(), "the variant still has /bin/sh: {}", text(&sh));

    let db = TestDb::fresh("container_no_shell");
    let ports = Ports::free();
    let c = Container::run(variant, &container_env(&db, ports), ports, &["--health-interval", "2s"], &[]);
    let seen = c.wait_health("healthy", Duration::from_secs(120));
    assert_eq!(seen.first().map(String::as_str), Some("starting"), "{seen:?}");
    docker_ok(&["stop", &c.id]);
    assert_eq!(c.exit_code(), 143, "{}", c.logs());
    assert!(c.logs().contains("main child exited"), "{}", c.logs());
}

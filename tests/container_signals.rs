//! Signals and the HEALTHCHECK in the real engine, on one booted container: the HEALTHCHECK turns
//! `unhealthy` while Directus is frozen (SIGSTOP) and `healthy` again when it resumes; `docker kill
//! --signal USR1` reaches Directus (Node opens its inspector), `--signal HUP` makes it shut down and the
//! container exit 129 (128 + SIGHUP, the child's own status as trm-init reports it).
//! The probe interval and retries are shortened at `docker run` (the probe command stays the image's),
//! so "unhealthy" takes seconds, not the image's 3 x 10 s.

mod container;

use container::*;
use std::time::Duration;
use trm_test_support::*;

#[test]
fn healthcheck_follows_a_frozen_directus_and_signals_reach_it() {
    engine();
    let db = TestDb::fresh("container_signals");
    let ports = Ports::free();
    let env = container_env(&db, ports);
    let c = Container::run(IMAGE, &env, ports, &["--health-interval", "1s", "--health-retries", "2"], &[]);
    c.wait_health("healthy", Duration::from_secs(120));

    // ---- SIGSTOP on Directus: the probe's ping times out, Docker marks the container unhealthy ----------
    let node = c.processes().into_iter().find(|p| p.3 == "node").expect("Directus's node process");
    // SAFETY: kill(2) on a pid we just read from /proc; a stale pid only makes the signal fail.
    assert_eq!(unsafe { libc::kill(node.0, libc::SIGSTOP) }, 0, "SIGSTOP {}", node.0);
    let seen = c.wait_health("unhealthy", Duration::from_secs(60));
    eprintln!("[container] Directus stopped: {seen:?}");
    let last = c.inspect("{{with .State.Health}}{{range .Log}}{{.ExitCode}} {{.Output}}{{end}}{{end}}");
    assert!(last.contains('1'), "failing probes exit 1: {last}");
    assert_eq!(c.status(), "running", "unhealthy is a status, trm-init keeps running");
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(node.0, libc::SIGCONT) }, 0, "SIGCONT {}", node.0);
    c.wait_health("healthy", Duration::from_secs(60));

    // ---- USR1 is forwarded: Node answers it by opening its inspector on 127.0.0.1:9229 ------------------
    docker_ok(&["kill", "--signal", "USR1", &c.id]);
    let inspector =
        eventually(Duration::from_secs(15), || c.logs().contains("Debugger listening on ws://127.0.0.1:9229"));
    assert!(inspector, "SIGUSR1 reached node:\n{}", c.logs());
    assert!(c.logs().contains("forwarding signal signal=SIGUSR1"), "{}", c.logs());
    assert_eq!(c.status(), "running");

    // ---- HUP: Directus shuts down on it and re-raises it; trm-init exits with 128 + 1 -------------------
    docker_ok(&["kill", "--signal", "HUP", &c.id]);
    let code = c.wait_exit(Duration::from_secs(20));
    let logs = c.logs();
    assert!(logs.contains("forwarding signal signal=SIGHUP"), "{logs}");
    assert!(logs.contains("Shutting down"), "Directus's own shutdown on SIGHUP:\n{logs}");
    assert_eq!(code, 129, "128 + SIGHUP:\n{logs}");
}

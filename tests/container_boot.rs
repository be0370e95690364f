//! The image built by the real engine (docker build of the unchanged Dockerfile on the stand-in bases),
//! booted on an empty database of the suite's PostgreSQL: trm-init is PID 1, Directus runs as uid 1000,
//! the HEALTHCHECK goes starting -> healthy, 200 `docker exec` probes leave no zombie, a warm
//! `docker restart` skips schema and access, and `docker stop` ends with 143 and trm-init's last lines.
//! One container for the whole sequence: a cold boot costs the most, and each step needs the previous.

mod container;

use container::*;
use std::time::{Duration, Instant};
use trm_test_support::*;

#[test]
fn cold_boot_probes_warm_restart_and_stop_in_the_real_engine() {
    engine();
    let db = TestDb::fresh("container_boot");
    let ports = Ports::free();
    let env = container_env(&db, ports);

    // ---- cold boot: health starting -> healthy, within the image's start period (120 s) ----------------
    let started = Instant::now();
    let c = Container::run(IMAGE, &env, ports, &[], &[]);
    let seen = c.wait_health("healthy", Duration::from_secs(120));
    let cold = started.elapsed();
    eprintln!("[container] cold boot to healthy: {:.1}s (statuses {seen:?})", cold.as_secs_f64());
    assert_eq!(seen.first().map(String::as_str), Some("starting"), "statuses {seen:?}");

    // PID 1 is trm-init; Directus (node) runs as uid 1000 under it; nothing runs as root.
    let procs = c.processes();
    let pid1 = procs.iter().find(|p| pid_in_container(p.0) == Some(1)).unwrap_or_else(|| panic!("no PID 1: {procs:?}"));
    assert_eq!(pid1.3, "trm-init", "PID 1 of the container: {procs:?}");
    assert_eq!(pid1.1, 1000, "trm-init runs as the image's USER node: {procs:?}");
    let node: Vec<_> = procs.iter().filter(|p| p.3 == "node").collect();
    assert!(!node.is_empty(), "Directus (node) runs: {procs:?}");
    assert!(node.iter().all(|p| p.1 == 1000), "Directus runs as uid 1000: {procs:?}");
    // Issue 27: Directus runs with Node's compile cache, the one the image build filled for uid 1000.
    let main_node = node.iter().find(|p| p.0 != pid1.0).unwrap_or_else(|| panic!("Directus's node: {procs:?}"));
    let environ = std::fs::read(format!("/proc/{}/environ", main_node.0)).unwrap_or_default();
    let environ = String::from_utf8_lossy(&environ).replace('\0', "\n");
    assert!(
        environ.lines().any(|l| l == "NODE_COMPILE_CACHE=/directus/compile-cache"),
        "Directus runs with NODE_COMPILE_CACHE=/directus/compile-cache; its environment:\n{environ}"
    );
    let count = c.exec(
        &[],
        &["node", "-e", "const fs=require('fs'),d='/directus/compile-cache';let n=0;for(const f of fs.readdirSync(d))if(f.endsWith('-1000'))n+=fs.readdirSync(d+'/'+f).length;console.log(n)"],
    );
    let entries: usize = text(&count).trim().parse().unwrap_or(0);
    assert!(
        entries > 1000,
        "the image's compile cache holds Directus's modules for uid 1000: {entries} entries ({})",
        text(&count)
    );

    // What the boot applied, as after a rehearsal boot: every migration once, the schema, the access file.
    let files = repo_migrations("db-init").len() + repo_migrations("db-init-post").len();
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), files.to_string());
    assert_eq!(db.query("SELECT count(*) FROM directus_collections WHERE collection = 'entries'"), "1");
    assert_eq!(db.query("SELECT count(*) FROM trm_init_schema_state"), "1");
    assert_ne!(db.query("SELECT count(*) FROM directus_policies"), "0", "the access file's policies");
    assert_eq!(db.query("SELECT count(*) FROM entries"), "0", "an empty database gets no rows");
    // The extensions the image ships answer themselves (an unknown route would be Directus's 404).
    let mut answer = (0, String::new());
    eventually(Duration::from_secs(60), || {
        answer = http(ports.directus, "POST", "/faulty-positions", None, Some("{}"));
        answer.0 != 503 || {
            std::thread::sleep(Duration::from_secs(1));
            false
        }
    });
    assert_eq!(answer.0, 401, "POST /faulty-positions: {}", answer.1);

    // ---- 200 probes the way Docker runs the HEALTHCHECK (docker exec, parent outside the container) ------
    let probe_cmd: Vec<String> = serde_json::from_str(&c.inspect("{{json .Config.Healthcheck.Test}}")).expect("Test");
    assert_eq!(probe_cmd[0], "CMD", "exec form: {probe_cmd:?}");
    let argv: Vec<&str> = probe_cmd[1..].iter().map(String::as_str).collect();
    let probes = Instant::now();
    for i in 0..200 {
        let out = c.exec(&[], &argv);
        assert!(out.status.success(), "probe {i}: {}", text(&out));
    }
    eprintln!("[container] 200 docker exec probes: {:.1}s", probes.elapsed().as_secs_f64());
    let settled = eventually(Duration::from_secs(5), || c.processes().iter().all(|p| p.2 != 'Z'));
    assert!(settled, "zombies left after 200 probes: {:?}", c.processes());
    let count = c.processes().len();
    assert!(count < 20, "processes pile up after the probes: {:?}", c.processes());

    // ---- warm docker restart: schema and access skipped by fingerprint, nothing applied again ------------
    let restarting = Instant::now();
    docker_ok(&["restart", &c.id]);
    c.wait_health("healthy", Duration::from_secs(120));
    let warm = restarting.elapsed();
    eprintln!("[container] warm docker restart to healthy: {:.1}s", warm.as_secs_f64());
    let logs = c.logs();
    let second = &logs[logs.rfind("main child exited").unwrap_or(0)..];
    assert!(second.contains("bootstrap and schema apply skipped"), "warm boot skips the schema step:\n{second}");
    assert!(second.contains("access unchanged since the apply"), "warm boot skips access:\n{second}");
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), files.to_string());

    // ---- docker stop: trm-init ends Directus inside child.stop_grace and reports its code ----------------
    let stopping = Instant::now();
    docker_ok(&["stop", &c.id]);
    let stop = stopping.elapsed();
    let code = c.exit_code();
    eprintln!("[container] docker stop: {:.2}s, exit code {code}", stop.as_secs_f64());
    assert!(
        stop < Duration::from_secs(9),
        "stopped by trm-init within stop_grace (8 s), not by Docker's KILL: {stop:?}"
    );
    assert_eq!(code, 143, "exit code of a container stopped by SIGTERM:\n{}", c.logs());
    let logs = c.logs();
    let tail: Vec<&str> = logs.lines().rev().take(6).collect();
    assert!(
        tail.iter().any(|l| l.contains("forwarding signal") && l.contains("SIGTERM"))
            || logs[logs.rfind("SIGTERM").unwrap_or(0)..].contains("main child exited"),
        "the last lines say who stopped what:\n{}",
        tail.join("\n")
    );
    assert!(tail.iter().any(|l| l.contains("main child exited")), "last lines:\n{}", tail.join("\n"));
    assert_eq!(c.inspect("{{.State.OOMKilled}}"), "false");
}

//! End to end, what must not boot or must still boot: a destructive snapshot stops the boot with 70 and
//! the data stays; Directus crashing at start ends trm-init (no hang); two trm-inits on one empty
//! database both reach healthy; a database that comes up 10 s late is waited for.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(240);
const STOP: Duration = Duration::from_secs(30);

#[test]
fn destructive_snapshot_stops_the_boot_with_70_and_the_data_stays() {
    let db = TestDb::fresh("e2e_destructive").with_postgis();
    let ports = Ports::free();
    let env = boot_env(&db, ports);
    let first = trm_init(&["schema"], &env, BOOT);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    db.query("INSERT INTO devices (id, imei, model) VALUES (gen_random_uuid(), '356307042441013', 'FMB920')");

    let dir = tempfile::tempdir().unwrap();
    let smaller = dir.path().join("schema.yaml");
    let mut doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(repo_snapshot()).unwrap()).unwrap();
    for key in ["collections", "fields", "relations"] {
        doc[key].as_sequence_mut().unwrap().retain(|v| {
            v["collection"].as_str() != Some("devices") && v["related_collection"].as_str() != Some("devices")
        });
    }
    std::fs::write(&smaller, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
    let mut env = env;
    env.push(("TRM_INIT_SCHEMA__SNAPSHOT".into(), smaller.to_string_lossy().into_owned()));

    let boot = Boot::start(&env, ports);
    let (code, log) = boot.wait(BOOT);
    assert_eq!(code, 70, "log:\n{log}");
    assert!(log.contains("would delete collections devices"), "what would be deleted is listed:\n{log}");
    assert!(!log.contains("main child started"), "Directus started after a refused schema:\n{log}");
    assert_eq!(db.query("SELECT count(*) FROM devices"), "1", "the data is still there");
}

#[test]
fn directus_crashing_at_start_ends_trm_init_with_a_non_zero_code() {
    // A database without Directus's tables: `start` exits 1 ("Database doesn't have Directus tables").
    let db = TestDb::fresh("e2e_crash");
    let ports = Ports::free();
    let mut env = boot_env(&db, ports);
    env.push(("TRM_INIT_PREFLIGHT__ENABLED".into(), "false".into()));
    let boot = Boot::start(&env, ports);
    let (code, log) = boot.wait(Duration::from_secs(120));
    assert_ne!(code, 0, "log:\n{log}");
    assert!(log.contains("main child exited"), "{log}");
}

#[test]
fn two_trm_inits_on_one_empty_database_both_become_healthy() {
    let db = TestDb::fresh("e2e_two");
    let (a_ports, b_ports) = (Ports::free(), Ports::free());
    let a = Boot::start(&boot_env(&db, a_ports), a_ports);
    let b = Boot::start(&boot_env(&db, b_ports), b_ports);
    a.wait_healthy(BOOT);
    b.wait_healthy(BOOT);
    assert_eq!(
        db.query("SELECT count(*) FROM directus_collections WHERE collection NOT LIKE 'directus_%'"),
        snapshot_collection_count().to_string()
    );
    for boot in [a, b] {
        let (code, log) = boot.stop(STOP);
        assert!(code == 0 || code == 143, "exit {code}:\n{log}");
    }
}

#[test]
fn a_database_that_comes_up_10_s_late_is_waited_for() {
    let cluster = ScratchCluster::initialised(free_port());
    let ports = Ports::free();
    // Only the DB_* of this cluster differ from a normal boot (the shared cluster is never stopped).
    let db = TestDb::fresh("e2e_late_unused");
    let mut env: Vec<(String, String)> =
        boot_env(&db, ports).into_iter().filter(|(k, _)| !k.starts_with("DB_") || k == "DB_CLIENT").collect();
    env.extend([
        ("DB_HOST".to_string(), "127.0.0.1".to_string()),
        ("DB_PORT".to_string(), cluster.port.to_string()),
        ("DB_USER".to_string(), "postgres".to_string()),
        ("DB_DATABASE".to_string(), "postgres".to_string()),
    ]);
    let boot = Boot::start(&env, ports);
    std::thread::sleep(Duration::from_secs(10));
    assert!(boot.running(), "trm-init gave up before the database came up:\n{}", boot.log());
    cluster.start();
    boot.wait_healthy(BOOT);
    let (code, log) = boot.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");
}

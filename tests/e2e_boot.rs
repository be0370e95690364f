//! End to end, the real thing: trm-init as PID 1 booting the real Directus 11.17.4 on real PostgreSQL,
//! each test on its own fresh database and its own ports.
//! Cold boot, TERM, warm boot skipped by fingerprint, drift through the REST API restored.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const BOOT: Duration = Duration::from_secs(240);
const STOP: Duration = Duration::from_secs(30);

#[test]
fn cold_boot_on_an_empty_database_serves_the_api_and_term_stops_cleanly() {
    let db = TestDb::fresh("e2e_cold");
    let ports = Ports::free();
    let env = boot_env(&db, ports);
    let boot = Boot::start(&env, ports);
    boot.wait_healthy(BOOT);

    let log = boot.log();
    assert!(log.contains("db-init pre: ok"), "pre migrations:\n{log}");
    assert!(log.contains("Installing Directus system tables"), "bootstrap on an empty database:\n{log}");
    assert!(log.contains("snapshot applied"), "schema apply:\n{log}");
    assert!(log.contains("db-init post: ok"), "post migrations:\n{log}");
    assert!(
        log.contains("preflight done: the preloaded main child starts Directus's server (go)"),
        "child.preload (default): the main child loaded during the preflight and started on the go:\n{log}"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM directus_collections WHERE collection NOT LIKE 'directus_%'"),
        snapshot_collection_count().to_string()
    );
    assert_eq!(db.query("SELECT to_regclass('positions') IS NOT NULL"), "t", "db-init pre created positions");
    assert_eq!(
        db.query(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'u' AND conname IN (
               'organization_users_organization_id_user_id_unique',
               'organization_vehicles_organization_id_vehicle_id_unique',
               'organization_devices_organization_id_device_id_unique', 'events_organization_id_slug_unique',
               'classes_event_id_code_unique', 'entries_event_id_race_number_unique',
               'entry_crew_entry_id_user_id_unique', 'entry_devices_entry_id_device_id_unique')"
        ),
        "8",
        "db-init post added the 8 composite uniques"
    );

    // The raw tables are never Directus collections: no metadata rows, and absent from Directus's own
    // snapshot of the booted database, which is the repository's snapshot exactly.
    for raw in RAW_TABLES {
        assert_eq!(db.query(&format!("SELECT to_regclass('{raw}') IS NOT NULL")), "t", "{raw} exists");
        let tracked = db.query(&format!(
            "SELECT (SELECT count(*) FROM directus_collections WHERE collection = '{raw}')
                  + (SELECT count(*) FROM directus_fields WHERE collection = '{raw}')
                  + (SELECT count(*) FROM directus_relations WHERE many_collection = '{raw}' OR one_collection = '{raw}')"
        ));
        assert_eq!(tracked, "0", "{raw} is tracked by Directus");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let readback = dir.path().join("readback.yaml");
    directus_cli(&["schema", "snapshot", "--yes", &readback.to_string_lossy()], &env);
    let readback = std::fs::read_to_string(&readback).expect("the booted database's snapshot");
    for raw in RAW_TABLES {
        assert!(!readback.contains(&format!("collection: {raw}\n")), "{raw} in Directus's snapshot:\n{readback}");
    }
    assert!(
        readback == std::fs::read_to_string(repo_snapshot()).expect("snapshots/schema.yaml"),
        "the booted database's snapshot differs from snapshots/schema.yaml"
    );

    let token = directus_login(ports.directus);
    for collection in ["organizations", "vehicles", "entries", "entry_devices"] {
        let (status, body) = http(ports.directus, "GET", &format!("/items/{collection}"), Some(&token), None);
        assert_eq!(status, 200, "GET /items/{collection}: {body}");
    }
    let (status, body) = http(ports.directus, "GET", "/fields/directus_users/nationality", Some(&token), None);
    assert_eq!(status, 200, "directus_users.nationality: {body}");

    let (code, log) = boot.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code} after TERM; log:\n{log}");
    assert!(log.contains("Shutting down..."), "Directus's shutdown lines:\n{log}");
    assert!(log.contains("Directus shut down OK. Bye bye!"), "Directus's shutdown lines:\n{log}");
}

#[test]
fn warm_boot_skips_migrations_and_the_schema_step_by_fingerprint() {
    let db = TestDb::fresh("e2e_warm");
    let ports = Ports::free();
    let env = boot_env(&db, ports);
    let first = Boot::start(&env, ports);
    first.wait_healthy(BOOT);
    let (code, log) = first.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");

    let second = Boot::start(&env, ports);
    second.wait_healthy(BOOT);
    let log = second.log();
    let skipped = format!("0 applied, {} skipped", repo_migrations("db-init").len());
    assert!(log.contains(&skipped), "db-init on a warm database:\n{log}");
    assert!(log.contains("bootstrap and schema apply skipped"), "schema step skipped by fingerprint:\n{log}");
    assert!(!log.contains("[directus step]"), "bootstrap ran on a warm boot:\n{log}");
    // Nothing to overlap: the warm restart's child is started after the preflight, as without preload.
    assert!(
        log.contains(
            "the preflight had no work (every step skipped): the main child is started after it, not preloaded"
        ) && !log.contains("main child preloading"),
        "child.preload on a warm restart:\n{log}"
    );
    let (code, log) = second.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");
}

#[test]
fn a_field_deleted_through_the_rest_api_is_restored_on_restart() {
    let db = TestDb::fresh("e2e_drift");
    let ports = Ports::free();
    let env = boot_env(&db, ports);
    let first = Boot::start(&env, ports);
    first.wait_healthy(BOOT);
    let token = directus_login(ports.directus);
    let (status, body) = http(ports.directus, "DELETE", "/fields/vehicles/plate", Some(&token), None);
    assert!(status == 204 || status == 200, "DELETE /fields/vehicles/plate: {status} {body}");
    let plate =
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'vehicles' AND column_name = 'plate'";
    assert_eq!(db.query(plate), "0");
    let (code, log) = first.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");

    let second = Boot::start(&env, ports);
    second.wait_healthy(BOOT);
    let log = second.log();
    assert!(log.contains("fingerprint differs"), "the drift was not noticed:\n{log}");
    assert!(log.contains("snapshot applied"), "{log}");
    assert_eq!(db.query(plate), "1", "vehicles.plate restored");
    let (code, log) = second.stop(STOP);
    assert!(code == 0 || code == 143, "exit {code}:\n{log}");
}

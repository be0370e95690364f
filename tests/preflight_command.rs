//! `trm-init preflight`: the whole preflight of `run` against a scratch database with the real Directus
//! 11.17.4, then exit 0 without starting the child (the CI gate and the Kubernetes migration Job); a
//! second run skips the schema step by fingerprint; failures exit with `run`'s codes; a history table
//! altered by hand is a clear error, never a panic.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(240);

/// Processes (other than this test) whose environment names `db`: what a run left behind.
fn processes_using(db: &TestDb) -> Vec<(i32, String)> {
    let needle = format!("DB_DATABASE={}\0", db.name);
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| *pid != me)
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/environ"))
                        .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&needle))
                })
                .map(|pid| (pid, comm(pid).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn preflight_applies_everything_then_exits_without_starting_directus() {
    let db = TestDb::fresh("preflight_cmd");
    let ports = Ports::free();
    let env = boot_env(&db, ports);

    let first = trm_init(&["preflight"], &env, LIMIT);
    let log = format!("{}{}", first.stdout, first.stderr);
    assert_eq!(first.code(), 0, "trm-init preflight on an empty database:\n{log}");
    assert!(log.contains("db-init pre: ok") && log.contains("db-init post: ok"), "{log}");
    assert!(log.contains("snapshot applied"), "schema apply:\n{log}");
    assert!(log.contains("without starting the main child"), "{log}");
    assert!(!log.contains("main child started"), "the child was started:\n{log}");
    assert!(!log.contains("health server listening"), "a health server was started:\n{log}");

    assert_eq!(db.query("SELECT to_regclass('positions') IS NOT NULL"), "t", "db-init pre ran");
    assert_eq!(db.query("SELECT to_regclass('trm_init_schema_state') IS NOT NULL"), "t", "fingerprint recorded");
    assert_ne!(
        db.query("SELECT count(*) FROM directus_collections WHERE collection NOT LIKE 'directus_%'"),
        "0",
        "the snapshot's collections"
    );
    assert_ne!(
        db.query("SELECT count(*) FROM migrations_applied WHERE filename LIKE 'post/%'"),
        "0",
        "db-init post ran"
    );

    // Directus was never started: nothing listens on its port or the health port, no process is left.
    assert_eq!(http(ports.directus, "GET", "/server/ping", None, None).0, 0, "something answers on Directus's port");
    assert_eq!(http(ports.health, "GET", "/livez", None, None).0, 0, "something answers on the health port");
    assert_eq!(processes_using(&db), vec![], "processes left behind by trm-init preflight");

    let second = trm_init(&["preflight"], &env, LIMIT);
    let log = format!("{}{}", second.stdout, second.stderr);
    assert_eq!(second.code(), 0, "second trm-init preflight:\n{log}");
    assert!(log.contains("bootstrap and schema apply skipped"), "schema step skipped by fingerprint:\n{log}");
    assert!(!log.contains("starting the Directus step helper"), "bootstrap ran again:\n{log}");
    assert!(log.contains("0 applied"), "migrations skipped:\n{log}");
    assert_eq!(processes_using(&db), vec![], "processes left behind by the second run");
}

#[test]
fn a_failing_migration_exits_65_and_starts_nothing() {
    let db = TestDb::fresh("preflight_bad");
    let ports = Ports::free();
    let pre = migration_dir(&[("001_ok.sql", "CREATE TABLE ok (id int);\n"), ("002_bad.sql", "CREATE TABLE ok (;\n")]);
    let mut env = boot_env(&db, ports);
    env.push(("TRM_INIT_DB_INIT__PRE_DIR".into(), pre.path().to_string_lossy().into_owned()));

    let out = trm_init(&["preflight"], &env, LIMIT);
    let log = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code(), 65, "a bad migration:\n{log}");
    assert!(log.contains("002_bad.sql") && log.contains("42601"), "names the file and SQLSTATE:\n{log}");
    assert!(!log.contains("starting the Directus step helper"), "Directus ran after a failed migration:\n{log}");
    assert_eq!(db.query("SELECT to_regclass('directus_collections') IS NULL"), "t");
    assert_eq!(processes_using(&db), vec![]);
}

/// An older or hand-altered `migrations_applied` whose columns have other types than the shell
/// runner's (filename text, checksum text): a clear error naming table, column and type, exit 65.
#[test]
fn a_history_table_with_unexpected_column_types_is_a_clear_error() {
    let pre = migration_dir(&[("001_a.sql", "CREATE TABLE a (id int);\n")]);
    let post = migration_dir(&[]);
    for (case, ddl, column, found) in [
        (
            "checksum_int",
            "CREATE TABLE migrations_applied (filename text PRIMARY KEY, applied_at timestamptz DEFAULT now(), \
             checksum integer NOT NULL); INSERT INTO migrations_applied (filename, checksum) VALUES ('001_a.sql', 42)",
            "checksum",
            "int4",
        ),
        (
            "filename_bytea",
            "CREATE TABLE migrations_applied (filename bytea PRIMARY KEY, applied_at timestamptz DEFAULT now(), \
             checksum text NOT NULL); INSERT INTO migrations_applied (filename, checksum) VALUES ('001_a.sql', 'x')",
            "filename",
            "bytea",
        ),
    ] {
        let db = TestDb::fresh(&format!("preflight_hist_{case}"));
        db.query(ddl);
        let mut env = db.env();
        env.extend([
            ("TRM_INIT_DB_INIT__PRE_DIR".to_string(), pre.path().to_string_lossy().into_owned()),
            ("TRM_INIT_DB_INIT__POST_DIR".to_string(), post.path().to_string_lossy().into_owned()),
            ("TRM_INIT_SCHEMA__ENABLED".to_string(), "false".to_string()),
        ]);
        for args in [&["preflight"][..], &["db-init"], &["status"]] {
            let out = trm_init(args, &env, LIMIT);
            let log = format!("{}{}", out.stdout, out.stderr);
            assert_eq!(out.code(), 65, "{case}: trm-init {args:?}:\n{log}");
            assert!(!log.contains("panicked"), "{case}: trm-init {args:?} panicked:\n{log}");
            assert!(
                log.contains("migrations_applied")
                    && log.contains(&format!("column \"{column}\""))
                    && log.contains(found),
                "{case}: trm-init {args:?} does not name the table, column and type:\n{log}"
            );
        }
    }
}

/// A hand-altered fingerprint table (a column of another type) is an error naming the table and what was
/// read, never a panic of PID 1.
#[test]
fn a_fingerprint_table_with_unexpected_column_types_is_a_clear_error() {
    let db = TestDb::fresh("preflight_fp_types");
    db.query(
        "CREATE TABLE trm_init_schema_state (id smallint PRIMARY KEY DEFAULT 1, fingerprint integer NOT NULL, \
         directus_version text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now()); \
         INSERT INTO trm_init_schema_state (fingerprint, directus_version) VALUES (42, '11.17.4')",
    );
    let env = directus_env(&db, free_port());
    let out = trm_init(&["schema"], &env, LIMIT);
    let log = format!("{}{}", out.stdout, out.stderr);
    assert!(!log.contains("panicked"), "trm-init schema panicked:\n{log}");
    assert_eq!(out.code(), 70, "trm-init schema:\n{log}");
    assert!(log.contains("fingerprint") && log.contains("int4"), "the error names what was read and its type:\n{log}");
}

//! Every command that can run as a container's PID 1 (`access apply`, `status`, ...) ends with 143 on
//! SIGTERM instead of waiting for Docker's KILL (a PID 1 with default dispositions ignores TERM); the
//! access step's database errors go through the one classifier (a failed query is 70, not 69); and
//! the access step refuses a Directus major other than the one the access file is written for unless
//! the licence is confirmed. None of them needs Directus: a `package.json` next to a `cli.js` is the
//! version the step reads, and the access tables are stand-ins the test creates.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// A folder with `cli.js` and a `package.json` of Directus `version`: what `schema.directus` points at.
fn directus_of_version(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("cli.js"), "// stand-in: only the version next to it is read\n").expect("cli.js");
    let package = format!("{{\"name\": \"directus\", \"version\": \"{version}\"}}\n");
    std::fs::write(dir.path().join("package.json"), package).expect("package.json");
    dir
}

/// `db`'s variables, the repository's access file, and `directus` as the installed Directus.
fn access_env(db: &TestDb, directus: &tempfile::TempDir) -> Vec<(String, String)> {
    let cli = directus.path().join("cli.js").to_string_lossy().into_owned();
    let mut env = db.env();
    env.extend([
        ("TRM_INIT_SCHEMA__SNAPSHOT".to_string(), repo_snapshot().to_string_lossy().into_owned()),
        ("TRM_INIT_SCHEMA__DIRECTUS".to_string(), format!("[\"node\", \"{cli}\"]")),
        ("TRM_INIT_DATABASE__WAIT_TIMEOUT".to_string(), "10s".to_string()),
    ]);
    env
}

/// Stand-ins of Directus's system tables (an id column only): Directus counts as installed; the access
/// step's reads then wait for a lock or fail on the columns they lack.
fn stand_in_tables(db: &TestDb) {
    for table in trm_init::preflight::directus::fingerprint::SYSTEM_TABLES {
        db.query(&format!("CREATE TABLE {table} (id uuid PRIMARY KEY)"));
    }
}

fn as_pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Starts `args` as PID 1 with `env`, waits until its session waits for the lock the test holds on
/// `table`, sends SIGTERM and expects 143.
fn term_while_waiting(db: &TestDb, table: &str, args: &[&str], env: &[(String, String)]) {
    let hold = db.hold_table(table);
    let init = Pid1::start(args, &as_pairs(env));
    let waiting = eventually(LIMIT, || db.trm_init_waits_for_a_lock());
    assert!(waiting, "`trm-init {}` never waited for {table}:\n{}", args.join(" "), init.stderr_so_far());
    init.signal(libc::SIGTERM);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 143, "`trm-init {}` as PID 1, TERM while it works:\n{}", args.join(" "), out.stderr);
    drop(hold);
}

#[test]
fn access_apply_as_pid1_ends_with_143_on_term() {
    let db = TestDb::fresh("stop_access_apply");
    // What the step reads first: stand-ins of Directus's tables; the lock on the roles holds the step.
    stand_in_tables(&db);
    let directus = directus_of_version("11.17.4");
    term_while_waiting(&db, "directus_roles", &["access", "apply"], &access_env(&db, &directus));
}

#[test]
fn status_as_pid1_ends_with_143_on_term() {
    let db = TestDb::fresh("stop_status");
    let (pre, post) = (migration_dir(&[("001_a.sql", "CREATE TABLE a (x int);")]), migration_dir(&[]));
    let out = run_to_end(db_init_command(&db, pre.path(), post.path(), &[]), LIMIT);
    assert_eq!(out.code(), 0, "db-init creates the history table: {}", out.stderr);
    let mut env = db.env();
    env.push(("TRM_INIT_DB_INIT__PRE_DIR".into(), pre.path().to_string_lossy().into_owned()));
    env.push(("TRM_INIT_DB_INIT__POST_DIR".into(), post.path().to_string_lossy().into_owned()));
    env.push(("TRM_INIT_SCHEMA__ENABLED".into(), "false".into()));
    term_while_waiting(&db, "migrations_applied", &["status"], &env);
}

#[test]
fn a_failed_query_of_the_access_step_is_70_not_69() {
    // The access tables exist but lack Directus's columns: the server answers with an error, the
    // connection is fine. Before the one classifier this was 69 ("the database could not be reached").
    let db = TestDb::fresh("access_query_fails");
    stand_in_tables(&db);
    let directus = directus_of_version("11.17.4");
    let out = trm_init(&["access", "apply"], &access_env(&db, &directus), LIMIT);
    assert_eq!(out.code(), 70, "{}", out.stderr);
    assert!(out.stderr.contains("42703") || out.stderr.contains("does not exist"), "{}", out.stderr);
}

#[test]
fn another_directus_major_is_refused_unless_the_licence_is_confirmed() {
    let db = TestDb::fresh("access_directus_12");
    let directus = directus_of_version("12.0.0");
    let env = access_env(&db, &directus);
    let out = trm_init(&["access", "apply"], &env, LIMIT);
    assert_eq!(out.code(), 70, "{}", out.stderr);
    for needed in ["Directus 12.0.0", "Directus 11", "licence", "custom permission rules", "access.licence_confirmed"] {
        assert!(out.stderr.contains(needed), "the refusal names {needed:?}: {}", out.stderr);
    }
    assert_eq!(db.query("SELECT to_regclass('trm_init_access_managed') IS NULL"), "t", "nothing was written");

    let mut confirmed = env.clone();
    confirmed.push(("TRM_INIT_ACCESS__LICENCE_CONFIRMED".into(), "true".into()));
    let out = trm_init(&["access", "apply"], &confirmed, LIMIT);
    // Past the check: this database has no Directus, which is the next thing the step says.
    assert_eq!(out.code(), 70, "{}", out.stderr);
    assert!(out.stderr.contains("access.licence_confirmed = true"), "the override is logged: {}", out.stderr);
    assert!(out.stderr.contains("Directus is not installed"), "{}", out.stderr);

    let same_major = directus_of_version("11.2.0");
    let out = trm_init(&["access", "apply"], &access_env(&db, &same_major), LIMIT);
    assert!(!out.stderr.contains("licence"), "another minor of 11 is no concern of the check: {}", out.stderr);
}

//! Connecting: a server that is not up yet is waited for; a wrong password fails at once (78).
//! The late server is a scratch cluster of tests/support on its own port, so the shared cluster on
//! 5432 is never stopped.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn server_not_up_yet_is_waited_for_then_migrations_apply() {
    let port = free_port();
    let cluster = ScratchCluster::initialised(port);

    let post = migration_dir(&[]);
    let mut cmd = trm_init_command(&["db-init", "--phase", "pre"], &[] as &[(&str, &str)]);
    cmd.env("DB_HOST", "127.0.0.1")
        .env("DB_PORT", port.to_string())
        .env("DB_USER", "postgres")
        .env("DB_PASSWORD", "unused-with-trust")
        .env("DB_DATABASE", "postgres")
        .env("TRM_INIT_DATABASE__WAIT_TIMEOUT", "60s")
        .env("TRM_INIT_DB_INIT__PRE_DIR", repo_dir("db-init"))
        .env("TRM_INIT_DB_INIT__POST_DIR", post.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let runner = std::thread::spawn(move || run_to_end(cmd, LIMIT));

    std::thread::sleep(Duration::from_millis(500)); // trm-init is waiting before the server even runs
    cluster.start();

    let out = runner.join().unwrap();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("pre: {} applied, 0 skipped", repo_migrations("db-init").len()));
    assert!(out.stderr.contains("waiting for PostgreSQL"), "each wait is logged: {}", out.stderr);
    drop(cluster);
}

#[test]
fn wrong_password_fails_at_once_with_78() {
    let db = TestDb::fresh("dbi_bad_password");
    let post = migration_dir(&[]);
    let mut cmd = db_init_command(&db, &repo_dir("db-init"), post.path(), &["--phase", "pre"]);
    cmd.env("DB_PASSWORD", "definitely-wrong").env("TRM_INIT_DATABASE__WAIT_TIMEOUT", "10m");
    // Bounded well below the wait timeout: a retry loop would not finish in this limit.
    let out = run_to_end(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 78, "{}", out.stderr);
    assert!(out.stderr.contains("28P01") && out.stderr.contains("DB_PASSWORD"), "{}", out.stderr);
    assert!(!out.stderr.contains("definitely-wrong"), "the password is never logged: {}", out.stderr);
}

#[test]
fn unknown_database_fails_at_once_with_78() {
    let db = TestDb::fresh("dbi_unknown_db");
    let post = migration_dir(&[]);
    let mut cmd = db_init_command(&db, &repo_dir("db-init"), post.path(), &["--phase", "pre"]);
    cmd.env("DB_DATABASE", "no_such_database_here").env("TRM_INIT_DATABASE__WAIT_TIMEOUT", "10m");
    let out = run_to_end(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 78, "{}", out.stderr);
    assert!(out.stderr.contains("3D000"), "{}", out.stderr);
}

#[test]
fn nothing_listening_until_wait_timeout_exits_69() {
    let db = TestDb::fresh("dbi_nobody");
    let post = migration_dir(&[]);
    let mut cmd = db_init_command(&db, &repo_dir("db-init"), post.path(), &["--phase", "pre"]);
    cmd.env("DB_PORT", free_port().to_string())
        .env("DB_HOST", "localhost")
        .env("TRM_INIT_DATABASE__WAIT_TIMEOUT", "1s");
    let out = run_to_end(cmd, LIMIT);
    assert_eq!(out.code(), 69, "{}", out.stderr);
    assert!(out.stderr.contains("wait_timeout") && out.stderr.contains("refused"), "{}", out.stderr);
}

//! A stop signal during a long statement: the statement is cancelled on the server, rolled back, and
//! trm-init exits 143 — as `db-init` and as PID 1 running preflight. Also the whole preflight wiring.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn slow_dir() -> tempfile::TempDir {
    migration_dir(&[("001_slow.sql", "CREATE TABLE during_sleep (x int);\nSELECT pg_sleep(120);\n")])
}

fn assert_statement_gone_and_nothing_recorded(db: &TestDb) {
    assert!(
        eventually(Duration::from_secs(10), || trm_backends_running(db, "pg_sleep").is_empty()),
        "the statement is still running on the server"
    );
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), "0");
    assert_eq!(db.query("SELECT to_regclass('during_sleep') IS NULL"), "t");
}

#[test]
fn term_during_a_long_statement_cancels_it_and_exits_143() {
    let db = TestDb::fresh("dbi_term");
    let pre = slow_dir();
    let post = migration_dir(&[]);
    let mut cmd = db_init_command(&db, pre.path(), post.path(), &["--phase", "pre"]);
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    assert!(eventually(Duration::from_secs(20), || !trm_backends_running(&db, "pg_sleep").is_empty()), "never started");
    // SAFETY: kill with a pid we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let out = {
        let mut child = child;
        let status = wait_child(&mut child, LIMIT);
        let mut err = String::new();
        use std::io::Read;
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Outcome { status, stdout: String::new(), stderr: err }
    };
    assert_eq!(out.code(), 143, "{}", out.stderr);
    assert!(out.stderr.contains("cancelling the running statement"), "{}", out.stderr);
    assert_statement_gone_and_nothing_recorded(&db);
}

fn pid1_env(db: &TestDb, pre: &std::path::Path, post: &std::path::Path) -> Vec<(String, String)> {
    let mut env = db.env();
    env.push(("TRM_INIT_DB_INIT__PRE_DIR".into(), pre.display().to_string()));
    env.push(("TRM_INIT_DB_INIT__POST_DIR".into(), post.display().to_string()));
    env.push(("TRM_INIT_SCHEMA__ENABLED".into(), "false".into()));
    env.push(("TRM_INIT_HEALTH__LISTEN".into(), "127.0.0.1:0".into()));
    env
}

#[test]
fn term_to_pid1_during_preflight_statement_exits_143_without_starting_the_child() {
    let db = TestDb::fresh("dbi_term_pid1");
    let pre = slow_dir();
    let post = migration_dir(&[]);
    let env = pid1_env(&db, pre.path(), post.path());
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let p = Pid1::start(&["run", "--", "sh", "-c", "echo child-started"], &env_refs);
    assert!(eventually(Duration::from_secs(20), || !trm_backends_running(&db, "pg_sleep").is_empty()), "never started");
    p.signal(libc::SIGTERM);
    let out = p.wait(LIMIT);
    assert_eq!(out.code(), 143, "{}", out.stderr);
    assert!(!out.stdout.contains("child-started"), "{}", out.stdout);
    assert_statement_gone_and_nothing_recorded(&db);
}

#[test]
fn preflight_applies_pre_and_post_under_the_lock_then_starts_the_child() {
    let db = TestDb::fresh("dbi_preflight");
    let post = migration_dir(&[("001_after.sql", "CREATE TABLE after_schema (x int);")]);
    let pre = repo_dir("db-init");
    let env = pid1_env(&db, &pre, post.path());
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let p = Pid1::start(&["run", "--", "sh", "-c", "exit 7"], &env_refs);
    let out = p.wait(LIMIT);
    assert_eq!(out.code(), 7, "{}", out.stderr);
    let shipped = std::fs::read_dir(&pre)
        .expect("read db-init")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql")))
        .count();
    assert!(
        out.stderr.contains(&format!("pre: {shipped} applied, 0 skipped"))
            && out.stderr.contains("post: 1 applied, 0 skipped"),
        "{}",
        out.stderr
    );
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), (shipped + 1).to_string());
    assert_eq!(db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"), "0", "lock released");
}

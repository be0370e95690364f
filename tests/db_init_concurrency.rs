//! Many replicas on one database, a backend killed mid-file, and the lock held by someone else.

use trm_test_support as common;

use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn eight_runners_at_once_all_succeed_and_apply_each_file_once() {
    let db = TestDb::fresh("dbi_eight");
    let post = migration_dir(&[]);
    let pre = repo_dir("db-init");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let cmd = db_init_command(&db, &pre, post.path(), &["--phase", "pre"]);
            std::thread::spawn(move || run_to_end(cmd, LIMIT))
        })
        .collect();
    let outcomes: Vec<Outcome> = handles.into_iter().map(|h| h.join().expect("runner thread")).collect();
    let mut applied = 0;
    for o in &outcomes {
        assert_eq!(o.code(), 0, "{}", o.stderr);
        let line = o.stdout.trim();
        let n: usize = line
            .strip_prefix("pre: ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        applied += n;
    }
    let n = repo_migrations("db-init").len();
    assert_eq!(applied, n, "each file applied exactly once across the runners");
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), n.to_string());
}

#[test]
fn backend_killed_mid_file_records_nothing_and_next_run_completes() {
    let db = TestDb::fresh("dbi_killed");
    db.query("CREATE TABLE sleep_cfg (s float8); INSERT INTO sleep_cfg VALUES (60)");
    let pre = migration_dir(&[(
        "001_slow.sql",
        "CREATE TABLE made_before_sleep (x int);\nSELECT pg_sleep((SELECT s FROM sleep_cfg));\nCREATE TABLE made_after_sleep (x int);\n",
    )]);
    let post = migration_dir(&[]);
    let cmd = db_init_command(&db, pre.path(), post.path(), &["--phase", "pre"]);
    let runner = std::thread::spawn(move || run_to_end(cmd, LIMIT));
    assert!(
        eventually(Duration::from_secs(20), || !trm_backends_running(&db, "pg_sleep").is_empty()),
        "the file never started"
    );
    for pid in trm_backends_running(&db, "pg_sleep") {
        db.query(&format!("SELECT pg_terminate_backend({pid})"));
    }
    let out = runner.join().unwrap();
    assert_ne!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("001_slow.sql"), "{}", out.stderr);
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), "0");
    assert_eq!(db.query("SELECT to_regclass('made_before_sleep') IS NULL"), "t");

    db.query("UPDATE sleep_cfg SET s = 0");
    let again = run_to_end(db_init_command(&db, pre.path(), post.path(), &["--phase", "pre"]), LIMIT);
    assert_eq!(again.code(), 0, "{}", again.stderr);
    assert_eq!(again.stdout.trim(), "pre: 1 applied, 0 skipped");
}

#[test]
fn lock_held_past_lock_timeout_exits_69_naming_the_holder() {
    let db = TestDb::fresh("dbi_lock_held");
    let key = trm_init::db::lock::key_for("migrations_applied");
    let admin = conninfo_map(&pg_admin());
    let mut holder = Command::new("psql")
        .args(["-X", "-q", "-tA"])
        .env("PGHOST", &admin["host"])
        .env("PGPORT", &admin["port"])
        .env("PGUSER", &admin["user"])
        .env("PGPASSWORD", admin.get("password").map(String::as_str).unwrap_or(""))
        .env("PGDATABASE", &db.name)
        .env("PGAPPNAME", "lock-holder-test")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("psql");
    writeln!(holder.stdin.as_mut().unwrap(), "SELECT pg_advisory_lock({key});").unwrap();
    holder.stdin.as_mut().unwrap().flush().unwrap();
    assert!(eventually(Duration::from_secs(10), || {
        db.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND granted") == "1"
    }));

    let post = migration_dir(&[]);
    let mut cmd = db_init_command(&db, &repo_dir("db-init"), post.path(), &["--phase", "pre"]);
    cmd.env("TRM_INIT_DATABASE__LOCK_TIMEOUT", "1500ms");
    let out = run_to_end(cmd, LIMIT);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.code(), 69, "{}", out.stderr);
    assert!(out.stderr.contains("lock-holder-test") && out.stderr.contains("lock_timeout"), "{}", out.stderr);
    assert_eq!(
        db.query("SELECT to_regclass('migrations_applied') IS NULL"),
        "t",
        "nothing read or written without the lock"
    );
}

//! PostgreSQL stopped (immediate shutdown) in the middle of preflight, on a cluster the test owns
//! (initdb in a temporary folder, run as the postgres user): while a db-init file runs, while Directus
//! bootstrap runs, and while the snapshot is applied. Each time trm-init exits non-zero (bounded by the
//! test's wait, no timing asserted) with ONE error line of its own that names the step, the file or
//! command, and that the database went away. Once PostgreSQL is back, the next boot converges and every
//! migration is recorded once.

use trm_test_support as common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster in a temporary folder, owned by the postgres user, on a free port, trust auth.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(Path::new(PG_BIN).join(program))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("runuser {program}: {e}"))
}

impl Cluster {
    fn new() -> Cluster {
        require_root();
        require(
            "PostgreSQL 15 server binaries",
            Path::new(PG_BIN).join("initdb").exists(),
            "apt-get install postgresql-15 (scripts/test.sh does this)",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().expect("chown");
        assert!(chown.success());
        let data = dir.path().join("data");
        let out = as_postgres("initdb", &["-D", &data.to_string_lossy(), "-A", "trust", "-U", "trm", "--no-sync"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let cluster = Cluster { dir, port: free_port() };
        cluster.start();
        cluster.sql("postgres", "CREATE DATABASE trm");
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start(&self) {
        let opts = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.dir.path().display());
        let log = self.dir.path().join("server.log");
        let out = as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "120",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop_immediate(&self) {
        let out = as_postgres("pg_ctl", &["-D", &self.data().to_string_lossy(), "-m", "immediate", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn sql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "trm", "-d", db, "-c", sql])
            .arg("-p")
            .arg(self.port.to_string())
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn env(&self, db: &str) -> Vec<(String, String)> {
        vec![
            ("DB_CLIENT".into(), "pg".into()),
            ("DB_HOST".into(), "127.0.0.1".into()),
            ("DB_PORT".into(), self.port.to_string()),
            ("DB_USER".into(), "trm".into()),
            ("DB_PASSWORD".into(), "unused-trust-auth".into()),
            ("DB_DATABASE".into(), db.into()),
            ("TRM_INIT_DATABASE__WAIT_TIMEOUT".into(), "5s".into()),
            ("TRM_INIT_HEALTH__LISTEN".into(), "127.0.0.1:0".into()),
            ("TRM_INIT_CHILD__COMMAND".into(), "[\"true\"]".into()),
        ]
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl", &["-D", &self.data().to_string_lossy(), "-m", "immediate", "stop"]);
    }
}

/// `trm-init run` (preflight, then the child `true`) with its output captured while it runs.
struct Run {
    child: std::process::Child,
    out: Captured,
    err: Captured,
}

impl Run {
    fn start(env: &[(String, String)]) -> Run {
        let mut cmd = Command::new(bin());
        cmd.env_remove("TRM_INIT_CONFIG").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut child = cmd.spawn().expect("trm-init starts");
        let out = Captured::read_from(child.stdout.take());
        let err = Captured::read_from(child.stderr.take());
        Run { child, out, err }
    }

    fn log(&self) -> String {
        format!("{}{}", self.out.text(), self.err.text())
    }

    fn wait(mut self, limit: Duration) -> (i32, String) {
        let status = wait_child(&mut self.child, limit);
        std::thread::sleep(Duration::from_millis(100));
        let code = Outcome { status, stdout: String::new(), stderr: String::new() }.code();
        (code, self.log())
    }
}

/// trm-init's own ERROR lines (Directus's relayed log lines excluded).
fn own_errors(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("ERROR") && !l.contains("[directus step]")).collect()
}

/// Stops PostgreSQL with an immediate shutdown while `run` works; trm-init must fail with exactly one
/// error line of its own, which is returned.
fn lose_postgres(cluster: &Cluster, run: Run) -> String {
    cluster.stop_immediate();
    let (code, log) = run.wait(FAIL_LIMIT);
    assert_ne!(code, 0, "{log}");
    let errors = own_errors(&log);
    assert_eq!(errors.len(), 1, "one error line:\n{log}");
    eprintln!("the error line: {}", errors[0]);
    errors[0].to_string()
}

fn went_away(line: &str) -> bool {
    ["went away", "was lost", "terminating connection", "connection closed", "shutdown"]
        .iter()
        .any(|w| line.contains(w))
}

/// Bound on a failing run: database.wait_timeout (5 s) plus the step's own work, generously.
const FAIL_LIMIT: Duration = Duration::from_secs(120);

#[test]
fn db_init_file_interrupted_by_an_immediate_shutdown_then_converges() {
    let cluster = Cluster::new();
    let pre = migration_dir(&[
        ("001_a.sql", "CREATE TABLE a (x int);"),
        // Slow until the test says otherwise (the file itself must not change between the two boots).
        (
            "002_slow.sql",
            "CREATE TABLE b (x int);\nSELECT pg_sleep(120) WHERE to_regclass('public.resume_fast') IS NULL;",
        ),
        ("003_c.sql", "CREATE TABLE c (x int);"),
    ]);
    let post = migration_dir(&[]);
    let mut env = cluster.env("trm");
    env.push(("TRM_INIT_SCHEMA__ENABLED".into(), "false".into()));
    env.push(("TRM_INIT_DB_INIT__PRE_DIR".into(), pre.path().to_string_lossy().into_owned()));
    env.push(("TRM_INIT_DB_INIT__POST_DIR".into(), post.path().to_string_lossy().into_owned()));

    let run = Run::start(&env);
    let sleeping = eventually(Duration::from_secs(60), || {
        cluster.sql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()",
        ) == "1"
    });
    assert!(sleeping, "002_slow.sql never ran:\n{}", run.log());
    let error = lose_postgres(&cluster, run);
    assert!(error.contains("db-init pre") && error.contains("002_slow.sql") && went_away(&error), "{error}");

    cluster.start();
    cluster.sql("trm", "CREATE TABLE resume_fast ()");
    let (code, log) = Run::start(&env).wait(FAIL_LIMIT);
    assert_eq!(code, 0, "the next boot converges:\n{log}");
    assert_eq!(
        cluster.sql("trm", "SELECT string_agg(filename || ':' || n, ',' ORDER BY filename) FROM (SELECT filename, count(*) n FROM migrations_applied GROUP BY 1) x"),
        "001_a.sql:1,002_slow.sql:1,003_c.sql:1"
    );
    assert_eq!(cluster.sql("trm", "SELECT to_regclass('b') IS NOT NULL AND to_regclass('c') IS NOT NULL"), "t");
}

/// Stops PostgreSQL as soon as the log shows `marker`, expects the one error line to name `command`,
/// then restarts it and boots again to convergence.
fn directus_interrupted_at(db: &str, marker: &str, command: &str) {
    let cluster = Cluster::new();
    cluster.sql("postgres", &format!("CREATE DATABASE {db}"));
    let mut env = cluster.env(db);
    let directus_dir = directus_dir();
    let cli = directus_dir.join("cli.js").to_string_lossy().into_owned();
    env.extend(
        [
            ("TELEMETRY", "false".to_string()),
            ("SECRET", "lost-secret-lost-secret-lost-secret-lost".into()),
            ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
            ("TRM_INIT_SCHEMA__DIRECTUS", format!("[\"node\", \"{cli}\"]")),
            ("TRM_INIT_SCHEMA__SNAPSHOT", repo_snapshot().to_string_lossy().into_owned()),
            ("TRM_INIT_SCHEMA__STEP_SCRIPT", step_script().to_string_lossy().into_owned()),
            ("TRM_INIT_DB_INIT__PRE_DIR", repo_dir("db-init").to_string_lossy().into_owned()),
            ("TRM_INIT_DB_INIT__POST_DIR", repo_dir("db-init-post").to_string_lossy().into_owned()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let run = Run::start(&env);
    let reached = eventually(Duration::from_secs(300), || run.log().contains(marker));
    assert!(reached, "never reached {marker:?}:\n{}", run.log());
    let error = lose_postgres(&cluster, run);
    assert!(
        error.contains("directus schema") && error.contains(&format!("`{command}`")) && went_away(&error),
        "{error}"
    );

    cluster.start();
    let (code, log) = Run::start(&env).wait(Duration::from_secs(600));
    assert_eq!(code, 0, "the next boot converges:\n{log}");
    assert!(log.contains("snapshot applied"), "{log}");
    assert_eq!(
        cluster
            .sql(db, "SELECT count(*) FROM (SELECT filename FROM migrations_applied GROUP BY 1 HAVING count(*) > 1) d"),
        "0"
    );
    let files = std::fs::read_dir(repo_dir("db-init")).expect("db-init").count()
        + std::fs::read_dir(repo_dir("db-init-post")).expect("db-init-post").count();
    let recorded: usize = cluster.sql(db, "SELECT count(*) FROM migrations_applied").parse().unwrap_or(0);
    assert!(recorded > 0 && recorded <= files, "each migration recorded once: {recorded} rows for {files} files");
    assert_eq!(cluster.sql(db, "SELECT count(*) - count(DISTINCT version) FROM directus_migrations"), "0");
}

#[test]
fn directus_bootstrap_interrupted_by_an_immediate_shutdown_then_converges() {
    directus_interrupted_at("lost_bootstrap", "Running migrations", "bootstrap");
}

#[test]
fn directus_apply_interrupted_by_an_immediate_shutdown_then_converges() {
    directus_interrupted_at("lost_apply", "applying the snapshot", "apply");
}

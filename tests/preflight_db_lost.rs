//! PostgreSQL stopped (immediate shutdown) in the middle of preflight, on a cluster the test owns
//! (initdb in a temporary folder, run as the postgres user): while a db-init file runs, while Directus
//! bootstrap runs, and while the snapshot is applied. Each time trm-init exits non-zero (bounded by the
//! test's wait, no timing asserted) with ONE error line of its own that names the step, the file or
//! command, and that the database went away. Once PostgreSQL is back, the next boot converges and every
//! migration is recorded once.

use trm_test_support as common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A scratch cluster (`tests/support`'s one) with a database `db`, and the variables of a boot against
/// it (preflight, then the child `true`; the database waited for 5 s at most).
fn cluster_with(db: &str) -> (ScratchCluster, Vec<(String, String)>) {
    let cluster = ScratchCluster::started();
    cluster.sql("postgres", &format!("CREATE DATABASE {db}"));
    let mut env = cluster.env(db);
    env.extend(
        [
            ("TRM_INIT_DATABASE__WAIT_TIMEOUT", "5s"),
            ("TRM_INIT_HEALTH__LISTEN", "127.0.0.1:0"),
            ("TRM_INIT_CHILD__COMMAND", "[\"true\"]"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    (cluster, env)
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
fn lose_postgres(cluster: &ScratchCluster, run: Run) -> String {
    cluster.stop_immediate();
    let (code, log) = run.wait(FAIL_LIMIT);
    // Exactly the documented code: never a panic (134 / 139 as PID 1 of the image) nor another code.
    assert_eq!(code, 69, "the database went away: exit 69 (README, exit codes):\n{log}");
    assert!(!log.contains("panicked"), "{log}");
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
    let (cluster, mut env) = cluster_with("trm");
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

/// The variables of a whole boot (Directus step and access step included) against `db` of `cluster`.
fn directus_env(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
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
    env
}

/// Stops PostgreSQL as soon as the log shows `marker`, expects the one error line to name `command`,
/// then restarts it and boots again to convergence.
fn directus_interrupted_at(db: &str, marker: &str, command: &str) {
    let (cluster, env) = cluster_with(db);
    let env = directus_env(env);
    let run = Run::start(&env);
    let reached = eventually(Duration::from_secs(300), || run.log().contains(marker));
    assert!(reached, "never reached {marker:?}:\n{}", run.log());
    let error = lose_postgres(&cluster, run);
    assert!(
        error.contains("directus schema") && error.contains(&format!("`{command}`")) && went_away(&error),
        "{error}"
    );

    cluster.start();
    let log = converges(&cluster, db, &env);
    assert!(log.contains("snapshot applied"), "{log}");
}

/// The next boot succeeds, and every migration (trm-init's and Directus's) is recorded once.
fn converges(cluster: &ScratchCluster, db: &str, env: &[(String, String)]) -> String {
    let (code, log) = Run::start(env).wait(Duration::from_secs(600));
    assert_eq!(code, 0, "the next boot converges:\n{log}");
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
    log
}

#[test]
fn directus_bootstrap_interrupted_by_an_immediate_shutdown_then_converges() {
    directus_interrupted_at("lost_bootstrap", "Running migrations", "bootstrap");
}

#[test]
fn directus_apply_interrupted_by_an_immediate_shutdown_then_converges() {
    directus_interrupted_at("lost_apply", "applying the snapshot", "apply");
}

/// Whether a session of `application` (or any, when None) waits for a lock on `db`.
fn someone_waits(cluster: &ScratchCluster, db: &str, application: Option<&str>) -> bool {
    let filter = application.map(|a| format!(" AND application_name = '{a}'")).unwrap_or_default();
    cluster.sql(
        db,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND wait_event_type = 'Lock'{filter}"),
    ) != "0"
}

#[test]
fn directus_diff_and_the_access_step_interrupted_by_an_immediate_shutdown_then_converge() {
    let db = "lost_diff_access";
    let (cluster, env) = cluster_with(db);
    let env = directus_env(env);
    let (code, log) = Run::start(&env).wait(Duration::from_secs(600));
    assert_eq!(code, 0, "the first boot:\n{log}");

    // The diff: bootstrap of an installed database runs no migration; the diff then reads Directus's
    // relations, which the test holds.
    let mut again = env.clone();
    again.push(("TRM_INIT_SCHEMA__SKIP_UNCHANGED".into(), "false".into()));
    // The lock lets the stop land inside the diff whatever the machine's speed.
    let holder = cluster.hold_table(db, "directus_relations");
    let run = Run::start(&again);
    let waiting = eventually(Duration::from_secs(300), || {
        run.log().contains("directus bootstrap done") && someone_waits(&cluster, db, None)
    });
    assert!(waiting, "the diff never waited for directus_relations:\n{}", run.log());
    let error = lose_postgres(&cluster, run);
    drop(holder);
    assert!(error.contains("directus schema") && error.contains("`diff`") && went_away(&error), "{error}");
    cluster.start();

    // The access step: its first read of the permissions waits for the test's lock.
    let mut again = env.clone();
    again.push(("TRM_INIT_ACCESS__SKIP_UNCHANGED".into(), "false".into()));
    let holder = cluster.hold_table(db, "directus_permissions");
    let run = Run::start(&again);
    let waiting = eventually(Duration::from_secs(300), || someone_waits(&cluster, db, Some("trm-init")));
    assert!(waiting, "the access step never waited for directus_permissions:\n{}", run.log());
    let error = lose_postgres(&cluster, run);
    drop(holder);
    assert!(error.contains("access") && went_away(&error), "{error}");

    cluster.start();
    converges(&cluster, db, &env);
}

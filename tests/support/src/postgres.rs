//! PostgreSQL for the tests: the admin connection from `TRM_TEST_PG`, `psql`, one fresh database per
//! test (dropped afterwards), migration folders and `trm-init db-init` runs against them.

use crate::{require, trm_init_command};
use std::collections::HashMap;
use std::process::Command;

const PG_HOW: &str = "start PostgreSQL and export TRM_TEST_PG (a libpq conninfo of a superuser), e.g. \
                      `eval \"$(scripts/pg-up.sh)\"`; scripts/test.sh does this";

/// The admin conninfo from TRM_TEST_PG, e.g. "host=127.0.0.1 port=5432 user=trm password=... dbname=postgres".
pub fn pg_admin() -> String {
    let conninfo = std::env::var("TRM_TEST_PG").unwrap_or_default();
    require("PostgreSQL (TRM_TEST_PG is not set)", !conninfo.is_empty(), PG_HOW);
    conninfo
}

pub fn conninfo_map(conninfo: &str) -> HashMap<String, String> {
    conninfo
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs SQL through psql as the admin role on `db`; returns stdout (unaligned, tuples only).
pub fn psql(db: &str, sql: &str) -> String {
    psql_result(db, sql).unwrap_or_else(|e| panic!("psql {sql:?} on {db} failed: {e}"))
}

/// Like `psql`, but a failing statement is `Err(stderr)` for tests that expect refusals.
pub fn psql_result(db: &str, sql: &str) -> Result<String, String> {
    psql_as(db, None, sql)
}

/// Like `psql_result`, as the login `role` = (user, password) instead of the admin (None: the admin).
pub fn psql_as(db: &str, role: Option<(&str, &str)>, sql: &str) -> Result<String, String> {
    let admin = conninfo_map(&pg_admin());
    let (user, password) = role.unwrap_or((&admin["user"], admin.get("password").map(String::as_str).unwrap_or("")));
    let out = Command::new("psql")
        .args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGHOST", &admin["host"])
        .env("PGPORT", &admin["port"])
        .env("PGUSER", user)
        .env("PGPASSWORD", password)
        .env("PGDATABASE", db)
        .output()
        .unwrap_or_else(|e| panic!("psql cannot run ({e}); {PG_HOW}"));
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// A database created for one test and dropped afterwards.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// Creates an empty database named after the test (plus the pid, so parallel runs do not collide).
    pub fn fresh(test: &str) -> TestDb {
        let name = format!("t_{}_{}", test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), std::process::id())
            .to_lowercase();
        psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        psql("postgres", &format!("CREATE DATABASE {name}"));
        TestDb { name }
    }

    /// Directus-style DB_* variables for trm-init (and Directus) pointing at this database.
    pub fn env(&self) -> Vec<(String, String)> {
        let admin = conninfo_map(&pg_admin());
        vec![
            ("DB_CLIENT".into(), "pg".into()),
            ("DB_HOST".into(), admin["host"].clone()),
            ("DB_PORT".into(), admin["port"].clone()),
            ("DB_USER".into(), admin["user"].clone()),
            ("DB_PASSWORD".into(), admin.get("password").cloned().unwrap_or_default()),
            ("DB_DATABASE".into(), self.name.clone()),
        ]
    }

    pub fn query(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }

    /// What db-init/004_postgis.sql creates, for tests that run the schema step without db-init:
    /// Directus creates the course's geometry columns only on a database with PostGIS.
    pub fn with_postgis(self) -> TestDb {
        self.query("CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist");
        self
    }
}

impl TestDb {
    /// A session of the test holding `ACCESS EXCLUSIVE` on `table` until it is killed or the database
    /// dropped: whatever reads the table waits there, so a test can act while a step is inside it.
    pub fn hold_table(&self, table: &str) -> TableHold {
        let admin = conninfo_map(&pg_admin());
        let mut psql = Command::new("psql");
        psql.env("PGHOST", &admin["host"])
            .env("PGPORT", &admin["port"])
            .env("PGUSER", &admin["user"])
            .env("PGPASSWORD", admin.get("password").map(String::as_str).unwrap_or(""))
            .env("PGDATABASE", &self.name);
        hold_table(psql, table, |sql| self.query(sql))
    }

    /// Whether a session of trm-init (`application_name`) waits for a lock on this database.
    pub fn trm_init_waits_for_a_lock(&self) -> bool {
        self.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'trm-init' AND wait_event_type = 'Lock'",
        ) != "0"
    }
}

/// The session holding a table lock (`TestDb::hold_table`, `ScratchCluster::hold_table`); killed on drop.
pub struct TableHold(std::process::Child);

impl Drop for TableHold {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `psql` (connection already set) holding `table`, and waits until `query` sees the lock granted.
fn hold_table(mut psql: Command, table: &str, query: impl Fn(&str) -> String) -> TableHold {
    let child = psql
        .args(["-X", "-q", "-c"])
        .arg(format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600);"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("psql cannot run ({e}); {PG_HOW}"));
    let hold = TableHold(child);
    let check = format!(
        "SELECT count(*) FROM pg_locks WHERE relation = '{table}'::regclass AND mode = 'AccessExclusiveLock' AND granted"
    );
    let held = crate::eventually(std::time::Duration::from_secs(30), || query(&check) == "1");
    assert!(held, "the test's session never got the lock on {table}");
    hold
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            psql("postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// The `.sql` files of one of the repository's migration folders, in apply order.
pub fn repo_migrations(name: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(crate::repo_dir(name))
        .expect("the repository's migration folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    files
}

/// A temporary migration folder holding `files` (name, content).
pub fn migration_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write migration");
    }
    dir
}

/// `trm-init db-init ARGS` against `db` with the given folders (config file ignored, env only).
pub fn db_init_command(db: &TestDb, pre: &std::path::Path, post: &std::path::Path, args: &[&str]) -> Command {
    let mut db_init = vec!["db-init"];
    db_init.extend(args);
    let mut cmd = trm_init_command(&db_init, &db.env());
    cmd.env("TRM_INIT_DB_INIT__PRE_DIR", pre).env("TRM_INIT_DB_INIT__POST_DIR", post);
    cmd
}

/// Backends of trm-init on `db` running a statement that contains `needle`.
pub fn trm_backends_running(db: &TestDb, needle: &str) -> Vec<i32> {
    let sql = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'trm-init' \
         AND state = 'active' AND pid <> pg_backend_pid() AND position('{needle}' in query) > 0"
    );
    db.query(&sql).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The one scratch PostgreSQL cluster of the tests: a cluster of a test's own (initdb of the newest
/// server installed, in a temporary folder, run as the postgres user, trust authentication, superuser
/// `postgres`) on its own loopback port, for tests that start it late or stop it (`pg_ctl stop -m
/// immediate`) — the shared cluster on 5432 is never stopped. Stopped and removed on drop.
pub struct ScratchCluster {
    dir: tempfile::TempDir,
    pub port: u16,
}

const SCRATCH_HOW: &str = "PostgreSQL's server binaries in /usr/lib/postgresql/<version>/bin (scripts/pg-up.sh \
                           installs them) and root (to run them as the postgres user)";

/// `tool` of the newest PostgreSQL server installed (what `scripts/pg-up.sh` installs).
fn pg_bin(tool: &str) -> std::path::PathBuf {
    let root = std::path::Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .ok()
        .and_then(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).max());
    require("PostgreSQL server binaries", newest.is_some(), SCRATCH_HOW);
    let bin = root.join(newest.unwrap_or_default().to_string()).join("bin").join(tool);
    require(&format!("{}", bin.display()), bin.exists(), SCRATCH_HOW);
    bin
}

fn as_postgres(tool: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(pg_bin(tool))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("runuser -u postgres {tool}: {e}"))
}

impl ScratchCluster {
    /// initdb and start, on a free port.
    pub fn started() -> ScratchCluster {
        let cluster = Self::initialised(crate::free_port());
        cluster.start();
        cluster
    }

    /// initdb only, for `port`: the test starts it (`start`) when it wants the server up.
    pub fn initialised(port: u16) -> ScratchCluster {
        crate::require_root();
        let dir = tempfile::Builder::new().prefix("trm-scratch-pg-").tempdir().expect("a temporary folder");
        let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status();
        assert!(chown.is_ok_and(|s| s.success()), "chown postgres {}", dir.path().display());
        let data = dir.path().join("data");
        let out = as_postgres(
            "initdb",
            &["-D", &data.to_string_lossy(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
        );
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        ScratchCluster { dir, port }
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let opts = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.dir.path().display());
        let log = self.dir.path().join("server.log");
        let (data, log) = (self.data().to_string_lossy().into_owned(), log.to_string_lossy().into_owned());
        let out = as_postgres("pg_ctl", &["-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "120", "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl stop -m immediate`: every backend ends at once, as when the server crashes.
    pub fn stop_immediate(&self) {
        let out = as_postgres("pg_ctl", &["-D", &self.data().to_string_lossy(), "-m", "immediate", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Runs SQL through psql as `postgres` on `db`; returns stdout (unaligned, tuples only).
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-tA",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .output()
            .unwrap_or_else(|e| panic!("psql cannot run ({e}); {PG_HOW}"));
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A session holding `ACCESS EXCLUSIVE` on `table` of `db` (see `TestDb::hold_table`); it ends at
    /// the latest when the server stops.
    pub fn hold_table(&self, db: &str, table: &str) -> TableHold {
        let mut psql = Command::new("psql");
        psql.args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-p", &self.port.to_string()]);
        hold_table(psql, table, |sql| self.sql(db, sql))
    }

    /// Directus-style DB_* variables for trm-init (and Directus) pointing at `db` on this cluster.
    pub fn env(&self, db: &str) -> Vec<(String, String)> {
        vec![
            ("DB_CLIENT".into(), "pg".into()),
            ("DB_HOST".into(), "127.0.0.1".into()),
            ("DB_PORT".into(), self.port.to_string()),
            ("DB_USER".into(), "postgres".into()),
            ("DB_PASSWORD".into(), "unused-with-trust".into()),
            ("DB_DATABASE".into(), db.into()),
        ]
    }
}

impl Drop for ScratchCluster {
    fn drop(&mut self) {
        let _ = as_postgres("pg_ctl", &["-D", &self.data().to_string_lossy(), "-m", "immediate", "-w", "stop"]);
    }
}

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

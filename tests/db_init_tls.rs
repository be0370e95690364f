//! TLS with rustls against the local server's certificate (Debian's cluster serves the snakeoil
//! certificate, issued to "localhost"): verified by name, by chain only, and refused when unverifiable.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

fn tls_ready(db: &TestDb) {
    require(
        "a PostgreSQL server with ssl = on and Debian's snakeoil certificate",
        db.query("SHOW ssl") == "on" && std::path::Path::new(SNAKEOIL).is_file(),
        "use Debian's default cluster (scripts/pg-up.sh), which enables ssl with /etc/ssl/certs/ssl-cert-snakeoil.pem",
    );
}

fn run_with(db: &TestDb, env: &[(&str, String)], remove: &[&str]) -> Outcome {
    let post = migration_dir(&[]);
    let mut cmd = db_init_command(db, &repo_dir("db-init"), post.path(), &["--phase", "pre", "--log-level", "debug"]);
    for k in remove {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("TRM_INIT_DATABASE__WAIT_TIMEOUT", "10m");
    run_to_end(cmd, Duration::from_secs(60))
}

fn dsn(db: &TestDb, host: &str, params: &str) -> String {
    let admin = conninfo_map(&pg_admin());
    format!("postgres://{}:{}@{host}:{}/{}?{params}", admin["user"], admin["password"], admin["port"], db.name)
}

#[test]
fn verify_full_by_name_connects_over_tls() {
    let db = TestDb::fresh("dbi_tls_full");
    tls_ready(&db);
    let url = dsn(&db, "localhost", &format!("sslmode=verify-full&sslrootcert={SNAKEOIL}"));
    let out = run_with(
        &db,
        &[("DB_CONNECTION_STRING", url)],
        &["DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_DATABASE"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("(TLS)"), "{}", out.stderr);
    assert!(!out.stderr.contains("trm-test-pw"), "no password in logs");
}

#[test]
fn verify_ca_accepts_a_certificate_for_another_name() {
    let db = TestDb::fresh("dbi_tls_ca");
    tls_ready(&db);
    let url = dsn(&db, "127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={SNAKEOIL}"));
    let out = run_with(
        &db,
        &[("DB_CONNECTION_STRING", url)],
        &["DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_DATABASE"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("TLS, chain verified"), "{}", out.stderr);
}

#[test]
fn unverifiable_certificate_fails_at_once_with_78() {
    let db = TestDb::fresh("dbi_tls_bad");
    tls_ready(&db);
    let out = run_with(&db, &[("DB_SSL", "true".into())], &[]);
    assert_eq!(out.code(), 78, "{}", out.stderr);
    assert!(out.stderr.contains("UnknownIssuer"), "{}", out.stderr);
}

#[test]
fn reject_unauthorized_false_encrypts_without_verifying() {
    let db = TestDb::fresh("dbi_tls_noverify");
    tls_ready(&db);
    let out = run_with(&db, &[("DB_SSL", "true".into()), ("DB_SSL__REJECT_UNAUTHORIZED", "false".into())], &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("TLS, not verified"), "{}", out.stderr);
}

/// `run_with`, but in a mount namespace where the system's trusted roots are gone (an empty tmpfs over
/// /etc/ssl and /etc/pki, SSL_CERT_FILE unset): the filesystem of an image without a CA bundle.
fn run_without_roots(db: &TestDb, env: &[(&str, String)]) -> Outcome {
    require_root();
    let post = migration_dir(&[]);
    let inner = db_init_command(db, &repo_dir("db-init"), post.path(), &["--phase", "pre", "--log-level", "debug"]);
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("for d in /etc/ssl /etc/pki; do [ -d $d ] && mount -t tmpfs none $d; done; exec \"$@\"")
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env_remove("SSL_CERT_FILE").env("TRM_INIT_DATABASE__WAIT_TIMEOUT", "10m");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    run_to_end(cmd, Duration::from_secs(60))
}

#[test]
fn a_plain_connection_needs_no_ca_bundle() {
    let db = TestDb::fresh("dbi_tls_no_roots");
    tls_ready(&db);
    // The condition is real: asking for verified TLS in this namespace finds no trusted roots.
    let verified = run_without_roots(&db, &[("DB_SSL", "true".into())]);
    assert_eq!(verified.code(), 78, "{}", verified.stderr);
    assert!(verified.stderr.contains("TLS needs trusted roots"), "{}", verified.stderr);
    // DB_SSL unset: no TLS client is built, so no bundle is read, and db-init runs.
    let plain = run_without_roots(&db, &[]);
    assert_eq!(plain.code(), 0, "{}", plain.stderr);
    assert!(!plain.stderr.contains("TLS"), "{}", plain.stderr);
    assert!(plain.stderr.contains("pre: "), "{}", plain.stderr);
}

#[test]
fn unverified_tls_needs_no_ca_bundle() {
    let db = TestDb::fresh("dbi_tls_no_roots_nv");
    tls_ready(&db);
    let out = run_without_roots(&db, &[("DB_SSL", "true".into()), ("DB_SSL__REJECT_UNAUTHORIZED", "false".into())]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("TLS, not verified"), "{}", out.stderr);
}

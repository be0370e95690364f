//! A stop signal during preflight ends it at once: the main child is never started, exit 128 + n.
use trm_test_support as common;

use common::Pid1;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// Preflight waiting for a database that is not there (nothing listens on port 1).
fn waiting_for_a_missing_database(marker: &std::path::Path) -> Pid1 {
    let child = format!("touch {}", marker.display());
    let init = Pid1::start(
        &["--", "sh", "-c", &child],
        &[
            ("DB_HOST", "127.0.0.1"),
            ("DB_PORT", "1"),
            ("DB_DATABASE", "nowhere"),
            ("DB_USER", "nobody"),
            ("DB_PASSWORD", "not-logged"),
            ("TRM_INIT_DATABASE__WAIT_TIMEOUT", "60s"),
        ],
    );
    assert!(init.wait_for_output("waiting for PostgreSQL", LIMIT), "no wait logged: {}", init.stderr_so_far());
    init
}

#[test]
fn term_while_waiting_for_the_database_exits_143_without_starting_the_child() {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("child-ran");
    let init = waiting_for_a_missing_database(&marker);
    init.signal(libc::SIGTERM);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 143, "{}", out.stderr);
    assert!(!marker.exists(), "the main child must never start");
    assert!(!out.stderr.contains("not-logged"), "the password reached the log");
}

#[test]
fn int_while_waiting_for_the_database_exits_130() {
    let dir = tempfile::tempdir().expect("temp dir");
    let init = waiting_for_a_missing_database(&dir.path().join("child-ran"));
    init.signal(libc::SIGINT);
    assert_eq!(init.wait(LIMIT).code(), 130);
}

#[test]
fn other_signals_during_preflight_do_not_stop_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let init = waiting_for_a_missing_database(&dir.path().join("child-ran"));
    init.signal(libc::SIGHUP);
    assert!(init.wait_for_output("signal ignored", LIMIT), "{}", init.stderr_so_far());
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait(LIMIT).code(), 143);
}

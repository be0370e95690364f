//! Exit codes of trm-init as PID 1: the child's code, 128 + n for a signal, 126/127, 78 for bad config.
use trm_test_support as common;

use common::Pid1;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn every_exit_code_0_to_255_is_passed_through() {
    for code in 0..=255 {
        let out = Pid1::start(&["--no-preflight", "--", "sh", "-c", &format!("exit {code}")], &[]).wait(LIMIT);
        assert_eq!(out.code(), code, "child exit {code}; stderr: {}", out.stderr);
    }
}

#[test]
fn child_killing_itself_gives_128_plus_signal() {
    for (sig, code) in [("TERM", 143), ("HUP", 129), ("QUIT", 131), ("KILL", 137)] {
        let out = Pid1::start(&["--no-preflight", "--", "sh", "-c", &format!("kill -{sig} $$")], &[]).wait(LIMIT);
        assert_eq!(out.code(), code, "child killed by SIG{sig}; stderr: {}", out.stderr);
    }
}

#[test]
fn missing_command_gives_127_and_names_it() {
    let out = Pid1::start(&["--no-preflight", "--", "/no/such/program"], &[]).wait(LIMIT);
    assert_eq!(out.code(), 127, "{}", out.stderr);
    assert!(out.stderr.contains("/no/such/program"), "{}", out.stderr);
}

#[test]
fn command_without_exec_permission_gives_126_and_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write script");
    let path = script.to_str().expect("utf-8 path");
    let out = Pid1::start(&["--no-preflight", "--", path], &[]).wait(LIMIT);
    assert_eq!(out.code(), 126, "{}", out.stderr);
    assert!(out.stderr.contains(path) && out.stderr.contains("denied"), "{}", out.stderr);
}

#[test]
fn bad_config_value_gives_78_and_names_the_key() {
    let out = Pid1::start(&["--no-preflight", "--", "true"], &[("TRM_INIT_CHILD__STOP_GRACE", "soon")]).wait(LIMIT);
    assert_eq!(out.code(), 78, "{}", out.stderr);
    assert!(
        out.stderr.contains("child.stop_grace") && out.stderr.contains("TRM_INIT_CHILD__STOP_GRACE"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_config_file_gives_78_and_names_it() {
    let out = Pid1::start(&["--config", "/no/such.toml", "--no-preflight", "--", "true"], &[]).wait(LIMIT);
    assert_eq!(out.code(), 78, "{}", out.stderr);
    assert!(out.stderr.contains("/no/such.toml"), "{}", out.stderr);
}

#[test]
fn unknown_flag_is_a_usage_error_64() {
    let out = Pid1::start(&["--no-such-flag"], &[]).wait(LIMIT);
    assert_eq!(out.code(), 64, "{}", out.stderr);
}

#[test]
fn run_subcommand_and_default_command_are_the_same() {
    let out = Pid1::start(&["run", "--no-preflight", "--", "sh", "-c", "exit 9"], &[]).wait(LIMIT);
    assert_eq!(out.code(), 9, "{}", out.stderr);
    let cmd = r#"["sh", "-c", "exit 11"]"#;
    let out = Pid1::start(&["--no-preflight"], &[("TRM_INIT_CHILD__COMMAND", cmd)]).wait(LIMIT);
    assert_eq!(out.code(), 11, "child.command is the default command; {}", out.stderr);
}

#[test]
fn preflight_disabled_in_config_runs_the_child_directly() {
    let out = Pid1::start(&["--", "sh", "-c", "exit 5"], &[("TRM_INIT_PREFLIGHT__ENABLED", "false")]).wait(LIMIT);
    assert_eq!(out.code(), 5, "{}", out.stderr);
}

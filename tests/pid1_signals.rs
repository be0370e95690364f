//! Signals sent to trm-init as PID 1 reach the child; stop signals escalate to KILL after the grace.
use trm_test_support as common;

use common::Pid1;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn term_int_hup_usr1_usr2_reach_the_child() {
    for (sig, code) in
        [(libc::SIGTERM, 143), (libc::SIGINT, 130), (libc::SIGHUP, 129), (libc::SIGUSR1, 138), (libc::SIGUSR2, 140)]
    {
        let init = Pid1::start(&["--no-preflight", "--", "sh", "-c", "exec sleep 100"], &[]);
        init.wait_for_process("sleep", LIMIT);
        init.signal(sig);
        let out = init.wait(LIMIT);
        assert_eq!(out.code(), code, "signal {sig}; stderr: {}", out.stderr);
    }
}

/// The shell handles USR1 itself and reports how its background `sleep` ended: killed by USR1 (138)
/// when the signal went to the group, or finished normally (0) when only the shell got it.
const GROUP_PROBE: &str = "trap 'true' USR1; sleep 3 & pid=$!; wait $pid; wait $pid; exit $?";

#[test]
fn signals_go_to_the_whole_group_when_configured() {
    let init =
        Pid1::start(&["--no-preflight", "--", "sh", "-c", GROUP_PROBE], &[("TRM_INIT_CHILD__SIGNAL_TARGET", "group")]);
    init.wait_for_process("sleep", LIMIT);
    init.signal(libc::SIGUSR1);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 138, "the group's sleep got USR1; {}", out.stderr);
}

#[test]
fn signals_go_to_the_child_only_by_default() {
    let init = Pid1::start(&["--no-preflight", "--", "sh", "-c", GROUP_PROBE], &[]);
    init.wait_for_process("sleep", LIMIT);
    init.signal(libc::SIGUSR1);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "only the shell got USR1; {}", out.stderr);
}

#[test]
fn term_after_grace_kills_child() {
    let init = Pid1::start(
        &["--no-preflight", "--", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        &[("TRM_INIT_CHILD__STOP_GRACE", "1s")],
    );
    init.wait_for_process("sleep", LIMIT);
    init.signal(libc::SIGTERM);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 137, "{}", out.stderr);
    assert!(out.stderr.contains("SIGKILL"), "the escalation is logged: {}", out.stderr);
}

#[test]
fn child_exiting_on_term_within_grace_is_not_killed() {
    let init = Pid1::start(
        &["--no-preflight", "--", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"],
        &[("TRM_INIT_CHILD__STOP_GRACE", "10s")],
    );
    init.wait_for_process("sleep", LIMIT);
    init.signal(libc::SIGTERM);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(!out.stderr.contains("SIGKILL"), "{}", out.stderr);
}

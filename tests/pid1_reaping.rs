//! Zombies never pile up: orphans from the child and from `nsenter` (as `docker exec` probes are) are
//! reaped, and what the main child leaves behind is stopped before trm-init exits.
use trm_test_support as common;

use common::{eventually, zombies, Pid1};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn hundred_orphans_are_reaped_with_no_zombie_left() {
    // Each `( sleep 0.2 & )` leaves an orphan that is re-parented to PID 1 and exits 0.2 s later.
    let script = "i=0; while [ $i -lt 100 ]; do ( sleep 0.2 & ); i=$((i+1)); done; exec sleep 100";
    let init = Pid1::start(&["--no-preflight", "--", "sh", "-c", script], &[]);
    let main_sleep = init.wait_for_process("sleep", LIMIT);
    let clean = eventually(Duration::from_secs(10), || {
        let pids = init.namespace_pids();
        pids.len() == 1 && zombies(&pids).is_empty()
    });
    let left = init.namespace_pids();
    assert!(clean, "expected only the main child {main_sleep} left, found {left:?} (zombies {:?})", zombies(&left));
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait(LIMIT).code(), 143);
}

#[test]
fn orphans_of_processes_entered_from_outside_are_reaped() {
    let init = Pid1::start(&["--no-preflight", "--", "sleep", "100"], &[]);
    init.wait_for_process("sleep", LIMIT);
    for _ in 0..20 {
        // Like `docker exec`: the entering process's parent is outside the namespace; the subshell's
        // child is orphaned inside it, so PID 1 (trm-init) inherits it.
        let status = Command::new("nsenter")
            .args(["--target", &init.outer_pid.to_string(), "--pid", "--mount", "sh", "-c", "( sleep 0.1 & )"])
            .status()
            .expect("nsenter (util-linux) must be installed");
        assert!(status.success());
    }
    let clean = eventually(Duration::from_secs(10), || {
        let pids = init.namespace_pids();
        pids.len() == 1 && zombies(&pids).is_empty()
    });
    assert!(clean, "left in the namespace: {:?}", init.namespace_pids());
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait(LIMIT).code(), 143);
}

#[test]
fn leftovers_are_termed_when_the_main_child_exits() {
    // The main child exits with 7, leaving two sleepers behind; trm-init TERMs them and exits 7 at once
    // (a hang here would end in the harness's limit, not in 100 s).
    let init = Pid1::start(&["--no-preflight", "--", "sh", "-c", "sleep 100 & sleep 100 & sleep 0.3; exit 7"], &[]);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 7, "{}", out.stderr);
    assert!(out.stderr.contains("all leftover processes exited"), "{}", out.stderr);
}

#[test]
fn leftovers_ignoring_term_are_killed_after_the_grace() {
    let script = "( trap '' TERM; while :; do sleep 0.1; done ) & sleep 0.3; exit 3";
    let init = Pid1::start(&["--no-preflight", "--", "sh", "-c", script], &[("TRM_INIT_CHILD__STOP_GRACE", "1s")]);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(out.stderr.contains("SIGKILL"), "the escalation is logged: {}", out.stderr);
}

#[test]
fn a_leftover_gets_one_term_then_one_kill() {
    common::require(
        "python3 (a leftover that counts every SIGTERM it receives)",
        Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success()),
        "apt-get install python3 (scripts/test.sh does this)",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let count = dir.path().join("terms");
    // The leftover counts each SIGTERM in its file and keeps running, so the whole grace passes; it is
    // started detached from the main child's group (setsid), as PID 1's `kill(-1)` still reaches it.
    let counter = format!(
        "import signal, time\n\
         n = 0\n\
         def term(sig, frame):\n    \
             global n\n    \
             n += 1\n    \
             open({path:?}, 'w').write(str(n))\n\
         signal.signal(signal.SIGTERM, term)\n\
         open({path:?}, 'w').write('0')\n\
         while True:\n    \
             time.sleep(0.01)\n",
        path = count.to_string_lossy()
    );
    let script = format!(
        "setsid python3 -c \"$COUNTER\" & while [ ! -s {path} ]; do sleep 0.05; done; exit 3",
        path = count.display()
    );
    let init = Pid1::start(
        &["--no-preflight", "--", "sh", "-c", &script],
        &[("TRM_INIT_CHILD__STOP_GRACE", "1500ms"), ("COUNTER", &counter)],
    );
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    let terms = std::fs::read_to_string(&count).expect("the counter's file");
    assert_eq!(terms.trim(), "1", "SIGTERMs the leftover received during the 1.5 s grace:\n{}", out.stderr);
}

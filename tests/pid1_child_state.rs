//! The child starts clean: empty signal mask, default dispositions, no inherited descriptors, trm-init's
//! working directory, its own process group; and trm-init is a subreaper when it is not PID 1.
use trm_test_support as common;

use common::{bin, wait_child, Pid1};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn status_field(text: &str, field: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

#[test]
fn child_starts_with_empty_mask_and_default_dispositions() {
    // trm-init itself is started with SIGUSR1 blocked and SIGUSR2 and SIGINT ignored.
    let init = Pid1::start_with(&["--no-preflight", "--", "cat", "/proc/self/status"], &[], |cmd| {
        // SAFETY: runs between fork and exec; only sigprocmask/signal, which are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                libc::signal(libc::SIGUSR2, libc::SIG_IGN);
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(status_field(&out.stdout, "SigBlk:"), "0000000000000000", "blocked signals leak into the child");
    assert_eq!(status_field(&out.stdout, "SigIgn:"), "0000000000000000", "ignored signals leak into the child");
}

#[test]
fn no_descriptor_of_trm_init_reaches_the_child() {
    // Give trm-init an inheritable descriptor 7 of its own; the child must see only 0, 1, 2.
    let init = Pid1::start_with(&["--no-preflight", "--", "sh", "-c", "ls /proc/$$/fd"], &[], |cmd| {
        // SAFETY: dup2 is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::dup2(2, 7);
                Ok(())
            });
        }
    });
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let fds: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2"], "descriptors open in the child");
}

#[test]
fn child_runs_in_trm_inits_working_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let init = Pid1::start_with(&["--no-preflight", "--", "pwd"], &[], |cmd| {
        cmd.current_dir(dir.path());
    });
    let out = init.wait(LIMIT);
    assert_eq!(out.stdout.trim(), dir.path().to_str().expect("utf-8"), "{}", out.stderr);
}

#[test]
fn child_leads_its_own_process_group() {
    let init = Pid1::start(&["--no-preflight", "--", "sh", "-c", "echo $$ $(ps -o pgid= -p $$)"], &[]);
    let out = init.wait(LIMIT);
    let ids: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(ids.len(), 2, "{} {}", out.stdout, out.stderr);
    assert_eq!(ids[0], ids[1], "pid and pgid of the child");
}

#[test]
fn child_gets_the_terminal_foreground_when_stdin_is_a_tty() {
    // `script` gives trm-init a pseudo-terminal on stdin; the child must own the foreground group.
    let inner =
        format!("TRM_INIT_HEALTH__LISTEN=127.0.0.1:0 {} --no-preflight -- sh -c 'echo fg=$(ps -o tpgid= -p $$) pg=$(ps -o pgid= -p $$)'", bin().display());
    let out = Command::new("script").args(["-qec", &inner, "/dev/null"]).output().expect("script (util-linux)");
    let text = String::from_utf8_lossy(&out.stdout);
    let fg = text.split("fg=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("?");
    let pg = text.split("pg=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("??");
    assert_eq!(fg, pg, "the child's group is the terminal's foreground group: {text}");
    assert!(out.status.success(), "{text}");
}

#[test]
fn not_pid1_becomes_subreaper_of_orphans() {
    // The orphaned `sleep` must be re-parented to trm-init (its pid is the shell's $PPID).
    let script = "( sleep 5 & echo $! > \"$D/orphan\" ); sleep 0.2; \
                  echo \"$PPID $(awk '{print $4}' /proc/$(cat \"$D/orphan\")/stat)\"; kill $(cat \"$D/orphan\")";
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = common::trm_init_command(&["--no-preflight", "--", "sh", "-c", script], &[("D", dir.path())])
        .spawn()
        .expect("spawn trm-init");
    let status = wait_child(&mut child, LIMIT);
    let mut text = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().expect("stdout"), &mut text).expect("read");
    assert!(status.success(), "{text}");
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(ids.len(), 2, "{text}");
    assert_eq!(ids[0], ids[1], "the orphan's parent is trm-init");
}

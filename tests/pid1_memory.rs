//! Supervising memory: once the main child runs, trm-init as PID 1 gives back the code start-up faulted
//! in, and keeps it given back while it idles (the trims run on the `trm-memory` thread, so the runtime's
//! thread, asleep in epoll, faults nothing back in). Bounds are relative to what the same process
//! reported resident at its first trim; the waits are limits, never measured.
use trm_test_support as common;

use common::{eventually, Pid1};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// kB resident in the read-only mappings of trm-init's own executable (what the trim drops).
fn resident_code_kb(pid: i32) -> u64 {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("trm-init's /proc/PID/exe");
    let exe = exe.to_str().expect("a UTF-8 binary path").to_string();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).expect("trm-init's smaps");
    let mut ours = false;
    let mut kb = 0;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            let perms = fields.next().unwrap_or("");
            ours = line.ends_with(&exe) && !perms.contains('w');
        } else if ours && first == "Rss:" {
            kb += fields.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    kb
}

fn released_kb(log: &str) -> Option<u64> {
    let line = log.lines().find(|l| l.contains("memory released"))?;
    line.split_whitespace().find_map(|w| w.strip_prefix("released_kb="))?.parse().ok()
}

#[test]
fn idle_supervisor_keeps_its_code_given_back() {
    let init = Pid1::start(&["--log-level", "debug", "--no-preflight", "--", "sleep", "60"], &[]);
    assert!(
        init.wait_for_output("trimming again once settled", LIMIT),
        "no first trim logged within {LIMIT:?}:\n{}",
        init.stderr_so_far()
    );
    let released = released_kb(&init.stderr_so_far()).expect("released_kb in the trim's log line");
    assert!(released > 0, "the first trim released nothing:\n{}", init.stderr_so_far());
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", init.outer_pid))
        .expect("trm-init's tasks")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect();
    assert!(threads.iter().any(|t| t == "trm-memory"), "no trm-memory thread among {threads:?}");
    // After the second trim, while nothing happens, at most a fifth of what start-up had resident stays.
    // Measured: 6 % (debug build) and 16 % (release); trimmed from the runtime's thread as before, its way
    // back to epoll refaulted 36 % (debug) and 24 % (release).
    let bound = released / 5;
    let mut last = 0;
    let settled = eventually(LIMIT, || {
        last = resident_code_kb(init.outer_pid);
        last <= bound
    });
    assert!(settled, "resident code {last} kB, bound {bound} kB (released {released} kB at the first trim)");
    // Still supervising: the child's exit code comes back.
    init.signal(libc::SIGTERM);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 143, "{}", out.stderr);
}

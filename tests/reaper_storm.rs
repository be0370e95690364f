//! Preflight-style processes get their exact exit status from the reaper while orphans exit
//! continuously around them (nothing sees ECHILD). One test in this file: it makes the test process a
//! subreaper and reaps with waitpid(-1), which must not meet another test's children.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use trm_init::reaper::Reaper;
use trm_init::{process, signals, supervisor};

#[test]
fn preflight_statuses_are_exact_during_an_orphan_storm() {
    // SAFETY: prctl with integer arguments.
    assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }, 0, "become subreaper");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut signals = signals::listen().expect("signal handlers");
        let reaper = Reaper::new();
        let shutdown = CancellationToken::new();
        // Each loop turn orphans a `true`, which is re-parented to us and exits at once.
        let storm = ["sh", "-c", "while :; do ( true & ); done"];
        let work = async {
            let mut storm = process::spawn(&reaper, &mut process::command(&storm)).expect("spawn storm");
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut wrong = Vec::new();
            for i in 0..300u32 {
                let code = (i * 7 % 256) as i32;
                let mut child = process::spawn(&reaper, &mut process::command(&["sh", "-c", &format!("exit {code}")]))
                    .expect("spawn step process");
                let status = child.wait().await;
                if status.code() != Some(code) {
                    wrong.push((code, status));
                }
            }
            process::signal_group(storm.pid, libc::SIGKILL);
            storm.wait().await;
            wrong
        };
        let (wrong, stop) = supervisor::drive(&mut signals, &reaper, &shutdown, work).await;
        assert!(stop.is_none());
        assert!(wrong.is_empty(), "statuses lost or wrong: {wrong:?}");
        assert!(reaper.orphans_reaped() > 100, "the storm made orphans: {}", reaper.orphans_reaped());
    });
}

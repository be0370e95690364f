//! `trm-init run`: become the init (subreaper when not PID 1), run preflight, supervise the main child.

use crate::cli::RunArgs;
use crate::config::Config;
use crate::exit::Failure;
use crate::lifecycle::{Lifecycle, Phase};
use crate::reaper::Reaper;
use crate::{health, preflight, signals, supervisor};
use tokio_util::sync::CancellationToken;

pub async fn run(args: RunArgs, config: Config) -> Result<u8, Failure> {
    let mut signals = signals::listen().map_err(|e| Failure::new(1, format!("cannot install signal handlers: {e}")))?;
    become_subreaper_unless_pid1();
    let reaper = Reaper::new();
    let shutdown = CancellationToken::new();
    let lifecycle = Lifecycle::new(Phase::Preflight);
    health::start(&config.health, &lifecycle, &shutdown)?;
    let argv = if args.command.is_empty() { config.child.command.clone() } else { args.command };
    let argv = match config.child.skip_update_check {
        true => preflight::directus::install::without_update_check(&argv),
        false => argv,
    };

    if config.preflight.enabled && !args.no_preflight {
        let work = preflight::run(&config, &reaper, shutdown.clone());
        let (result, stop) = supervisor::drive(&mut signals, &reaper, &shutdown, work).await;
        if let Some(sig) = stop {
            tracing::warn!(signal = %signals::name(sig), "preflight stopped by signal; the main child is not started");
            return Ok(128 + sig as u8);
        }
        result?;
    } else {
        tracing::info!("preflight disabled: starting the main child directly");
    }

    let code = supervisor::supervise(&argv, &config.child, &mut signals, &reaper, &lifecycle).await?;
    shutdown.cancel();
    Ok(code)
}

/// Orphans are re-parented to PID 1; when trm-init is not PID 1 it asks to receive them instead.
fn become_subreaper_unless_pid1() {
    if std::process::id() == 1 {
        return;
    }
    // SAFETY: prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "not PID 1 and cannot become a child subreaper: orphaned grandchildren will be reaped by the real init, not by trm-init"
        );
    } else {
        tracing::debug!("not PID 1: registered as child subreaper");
    }
}

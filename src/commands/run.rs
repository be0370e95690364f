//! `trm-init run`: become the init (subreaper when not PID 1), start the health server, run preflight,
//! supervise the main child.

use crate::cli::RunArgs;
use crate::config::Config;
use crate::exit::{self, Failure};
use crate::init::{Ended, Init, Orphans};
use crate::lifecycle::{Lifecycle, Phase};
use crate::{compile_cache, health, preflight};

pub(super) async fn run(args: RunArgs, config: Config) -> Result<u8, Failure> {
    // The main child's argv is refused here, where it is built, when it names no program.
    let (argv, from) = if args.command.is_empty() {
        (config.child.command.clone(), "child.command")
    } else {
        (args.command, "`-- CMD`")
    };
    if argv.first().is_none_or(|program| program.is_empty()) {
        return Err(Failure::new(exit::CONFIG, format!("{from} = {argv:?} names no program to run")));
    }
    let mut init = Init::start(Orphans::Adopt)?;
    let lifecycle = Lifecycle::new(Phase::Preflight);
    if config.health.metrics {
        crate::metrics::enable();
        crate::metrics::watch_reaper(&init.reaper);
    }
    warn_about_replicas(&config);
    if config.health.enabled {
        health::start(&config.health, &lifecycle, &init.shutdown)?;
    } else {
        tracing::info!("health.enabled = false: no health server");
    }
    let argv = preflight::directus::install::child_command(&argv, &config.child);

    if config.preflight.enabled && !args.no_preflight {
        let reaper = init.reaper.clone();
        let work = preflight::run(&config, &reaper, init.shutdown.clone());
        match init.drive("preflight (the main child is not started)", work).await {
            Ended::Finished(result) => result?,
            Ended::Stopped(code) => return Ok(code),
        }
    } else {
        tracing::info!("preflight disabled: starting the main child directly");
    }
    // Decided after preflight, just before the spawn: the directory is checked as it is then.
    let cache = compile_cache::Decision::make(&config.child, std::env::var_os(compile_cache::VAR));
    cache.log();
    let env: Vec<_> = cache.env().into_iter().collect();
    init.supervise(&argv, &env, &config.child, &lifecycle).await
}

/// With `child.replicas` > 1: one warning per setting of Directus's environment that several replicas
/// would trip over (see `config::replicas`).
fn warn_about_replicas(config: &Config) {
    let replicas = config.child.replicas;
    for problem in crate::config::replicas::problems(replicas, |name| std::env::var(name).ok()) {
        tracing::warn!(replicas, "child.replicas = {replicas}: {problem}");
    }
}

//! `trm-init run`: become the init (subreaper when not PID 1), start the health server, run preflight,
//! supervise the main child.
//!
//! With `child.preload` the main child is spawned during the preflight (`preload`), once a step announces
//! real work (`preflight::WorkAhead`: never on a warm restart that skips every step), and gets its go only
//! when the preflight has succeeded and no stop signal came; on every other path it is stopped and
//! trm-init ends as the preflight or the signal says. A child that died while preloading, or whose go
//! could not be delivered, is spawned again the normal way after the preflight.

use crate::cli::RunArgs;
use crate::config::Config;
use crate::exit::{self, Failure};
use crate::init::{Ended, Init, Orphans};
use crate::lifecycle::{Lifecycle, Phase};
use crate::preload::Preloaded;
use crate::{compile_cache, health, preflight, resolve_hook};

pub(super) async fn run(args: RunArgs, config: Config) -> Result<u8, Failure> {
    // The main child's argv is refused here, where it is built, when it names no program.
    let (argv, from) = if args.command.is_empty() {
        (config.child.command.clone(), "child.command")
    } else {
        (args.command, "`-- CMD`")
    };
    let from_cli = from != "child.command";
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
    let preflight_runs = config.preflight.enabled && !args.no_preflight;
    let hook = resolve_hook::Decision::make(&config.child, &config.schema.step_script);
    // Said only where a Directus Node process will start (the main child, or the Directus step).
    if preflight::directus::install::names_directus(&argv) || (preflight_runs && config.schema.enabled) {
        hook.log();
    }
    let preload_argv = if preflight_runs { preload_candidate(&argv, from_cli, &config, &hook) } else { None };
    let argv = preflight::directus::install::child_command(&argv, &config.child, &hook);
    // Decided once, before the first spawn of the main child (a preloaded one starts before the
    // preflight): the directory is checked as it is then (the preflight does not touch it).
    let cache = compile_cache::Decision::make(&config.child, std::env::var_os(compile_cache::VAR));
    cache.log();
    let env: Vec<_> = cache.env().into_iter().collect();

    if !preflight_runs {
        tracing::info!("preflight disabled: starting the main child directly");
        return init.supervise(&argv, &env, &config.child, &lifecycle).await;
    }
    let reaper = init.reaper.clone();
    let shutdown = init.shutdown.clone();
    let grace = config.child.stop_grace.get();
    let work_ahead = preflight::WorkAhead::default();
    let work = async {
        // The preloaded child is spawned once a step announces real work (a migration to apply, the
        // Directus step's helper): a preflight that skips everything (a warm restart) has nothing to
        // overlap, and its child starts after it, as without preload.
        let mut candidate = preload_argv;
        let mut preloaded: Option<Preloaded> = None;
        let result = {
            let preflight = preflight::run(&config, &reaper, shutdown.clone(), &work_ahead);
            tokio::pin!(preflight);
            loop {
                tokio::select! {
                    result = &mut preflight => break result,
                    () = work_ahead.announced(), if candidate.is_some() => {
                        preloaded = candidate.take().and_then(|argv| spawn_preload(&reaper, &argv, &env));
                    }
                    () = preload_exited(&mut preloaded) => {}
                }
            }
        };
        if candidate.is_some() {
            tracing::info!(
                "the preflight had no work (every step skipped): the main child is started after it, not preloaded"
            );
        }
        let Some(child) = preloaded else { return (result, None) };
        // No go after a failed or cancelled preflight. The check and the go run in one poll, with no
        // await between them: once a stop signal has cancelled `shutdown`, no go can follow.
        if result.is_err() || shutdown.is_cancelled() {
            child.stop(grace).await;
            return (result, None);
        }
        let pid = child.pid();
        match child.go() {
            Ok(started) => {
                tracing::info!(pid, "preflight done: the preloaded main child starts Directus's server (go)");
                (result, Some(started))
            }
            Err((child, why)) => {
                tracing::warn!(pid, "the preloaded main child cannot start ({}): starting the main child again", why.0);
                child.stop(grace).await;
                (result, None)
            }
        }
    };
    let started = match init.drive("preflight (the main child is not started)", work).await {
        Ended::Finished((result, started)) => {
            result?;
            started
        }
        Ended::Stopped(code) => return Ok(code),
    };
    match started {
        Some(child) => init.supervise_started(child, &config.child, &lifecycle).await,
        None => init.supervise(&argv, &env, &config.child, &lifecycle).await,
    }
}

/// Spawns the preloaded main child; a failure is one warning (the child is then started after the preflight).
fn spawn_preload(
    reaper: &crate::reaper::Reaper,
    argv: &[String],
    env: &[(&str, &std::path::Path)],
) -> Option<Preloaded> {
    match Preloaded::spawn(reaper, argv, env) {
        Ok(preloaded) => Some(preloaded),
        Err(e) => {
            tracing::warn!("cannot preload the main child ({e}): it is started after the preflight");
            None
        }
    }
}

/// Resolves when the preloaded child (if any) exits during the preflight; never when there is none.
async fn preload_exited(preloaded: &mut Option<Preloaded>) {
    match preloaded {
        Some(child) => child.exited().await,
        None => std::future::pending().await,
    }
}

/// The preload command for the main child, when it is to be preloaded: only `child.command` (never
/// `-- CMD`), only Directus's `cli.js start` with its `server.js` and `preload.mjs` found. Otherwise one
/// line says why and the child is spawned after the preflight.
fn preload_candidate(
    argv: &[String],
    from_cli: bool,
    config: &Config,
    hook: &resolve_hook::Decision,
) -> Option<Vec<String>> {
    if from_cli {
        tracing::info!("the main child comes from `-- CMD`: not preloaded, it starts after the preflight");
        return None;
    }
    let script = preflight::directus::install::preload_script(&config.schema.step_script);
    match preflight::directus::install::preload_command(argv, &config.child, &script, hook) {
        Ok(preload) => Some(preload),
        Err(reason) => {
            tracing::info!("main child not preloaded ({reason}): it starts after the preflight");
            None
        }
    }
}

/// With `child.replicas` > 1: one warning per setting of Directus's environment that several replicas
/// would trip over (see `config::replicas`).
fn warn_about_replicas(config: &Config) {
    let replicas = config.child.replicas;
    for problem in crate::config::replicas::problems(replicas, |name| std::env::var(name).ok()) {
        tracing::warn!(replicas, "child.replicas = {replicas}: {problem}");
    }
}

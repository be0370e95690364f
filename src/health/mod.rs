//! The health server (`/livez`, `/readyz`, `/healthz` on `health.listen`) and the `trm-init health`
//! probe client.
//!
//! Owns everything HTTP in trm-init. It reads the lifecycle (and moves it from starting to running on
//! the first `pong`) and the shutdown token; it never touches processes, signals or the database.
//!
//! * `server`: listening socket, accept loop, per-connection HTTP/1 with abuse bounds;
//! * `connections`: the capped connection table and which idle connection gives way to a newcomer;
//! * `endpoints`: status codes and JSON bodies per path;
//! * `upstream`: the ping to Directus and the coalescing `Pinger`;
//! * `client`: a minimal GET, for the ping and for the one-shot probe behind `trm-init health`;
//! * `quiet`: gives back the memory a burst of traffic faulted in;
//! * `target`: `http://IP:port/path` without DNS.

pub(crate) mod client;
pub(crate) mod connections;
pub(crate) mod endpoints;
pub(crate) mod quiet;
pub(crate) mod server;
pub(crate) mod target;
pub mod upstream;

use crate::config::{Config, HealthConfig, Invalid};
use crate::lifecycle::Lifecycle;
use endpoints::Endpoints;
use std::net::SocketAddr;
use target::Target;
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use upstream::Pinger;

#[derive(Debug, Error)]
pub enum HealthError {
    #[error(
        "health.listen = {addr}: cannot listen there: {source}; move the health server with health.listen \
         (TRM_INIT_HEALTH__LISTEN=127.0.0.1:PORT) or turn it off with health.enabled = false \
         (TRM_INIT_HEALTH__ENABLED=false)"
    )]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("health.upstream: {0}")]
    Upstream(String),
}

impl crate::exit::ExitCode for HealthError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

/// `health.upstream` checked at load time by the parser the server uses (http://, an IP address or
/// localhost: no DNS); a `config::Check`.
pub(crate) fn check_config(config: &Config) -> Result<(), Invalid> {
    let health = &config.health;
    match Target::parse(&health.upstream) {
        Err(reason) if health.enabled => {
            Err(Invalid { key: "health.upstream", value: format!("{:?}", health.upstream), reason })
        }
        _ => Ok(()),
    }
}

/// A running health server.
pub struct HealthServer {
    pub local_addr: SocketAddr,
    pub pinger: Pinger,
}

/// Binds `health.listen` and starts serving on the current (single-threaded) runtime; call it inside
/// the runtime. Fails at once if the address cannot be bound or the upstream URL would need DNS.
/// Nothing pings the upstream unless a probe asks (an idle server touches no code, so its memory stays
/// trimmed): the phase turns running at the first probe that gets `pong`.
pub fn start(
    cfg: &HealthConfig,
    lifecycle: &Lifecycle,
    shutdown: &CancellationToken,
) -> Result<HealthServer, HealthError> {
    let upstream = Target::parse(&cfg.upstream).map_err(HealthError::Upstream)?;
    let listener = server::bind(cfg.listen).map_err(|source| HealthError::Bind { addr: cfg.listen, source })?;
    let local_addr = listener.local_addr().unwrap_or(cfg.listen);
    let quiet = quiet::Quiet::default();
    let pinger =
        Pinger::new(upstream, cfg.upstream_timeout.get(), cfg.cache_ttl.get(), lifecycle.clone(), quiet.clone());
    let endpoints = Endpoints {
        lifecycle: lifecycle.clone(),
        shutdown: shutdown.clone(),
        pinger: pinger.clone(),
        quiet: quiet.clone(),
    };
    tokio::spawn(server::serve(listener, endpoints));
    tokio::spawn(quiet.trim_when_quiet(lifecycle.clone()));
    tracing::info!(listen = %local_addr, upstream = %pinger.target(), "health server listening");
    Ok(HealthServer { local_addr, pinger })
}

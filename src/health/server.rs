//! The listening socket, the accept loop and each connection's HTTP/1 handling (hyper).
//!
//! Owns the bounds that keep a slow or hostile client from costing more than a little memory: the
//! connection table (`connections`), a header read timeout, an 8 KiB request buffer, 32 headers. It runs
//! as tasks on trm-init's single-threaded runtime next to the supervisor: everything here is async and
//! yields after each accepted connection, so signal forwarding and reaping are never held up.

use super::connections::{Connections, MAX_CONNECTIONS};
use super::endpoints::Endpoints;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket};

/// A client must send its whole request head within this.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// hyper's smallest read buffer; a request head must fit in it (else 431).
const MAX_REQUEST_BYTES: usize = 8192;
const MAX_HEADERS: usize = 32;
/// Kernel queue of connections not yet accepted.
const BACKLOG: u32 = 1024;

/// Binds `addr` (close-on-exec, SO_REUSEADDR so a restart does not wait for TIME_WAIT).
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accepts connections until the runtime ends.
pub(crate) async fn serve(listener: TcpListener, endpoints: Endpoints) {
    let connections = Connections::default();
    let mut last_warning: Option<Instant> = None;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS...: back off instead of spinning; ECONNABORTED: next one.
                if e.kind() != io::ErrorKind::ConnectionAborted {
                    warn_rarely(&mut last_warning, || tracing::warn!(error = %e, "health server: accept failed"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let evicted_before = connections.evicted();
        let slot = connections.admit().await;
        if connections.evicted() != evicted_before {
            warn_rarely(&mut last_warning, || {
                tracing::warn!(cap = MAX_CONNECTIONS, "health server at its connection cap: closing idle connections")
            });
        }
        let endpoints = endpoints.clone();
        let table = connections.clone();
        tokio::spawn(async move {
            let mut slot = slot;
            let id = slot.id;
            let service = service_fn(move |req| {
                let endpoints = endpoints.clone();
                let busy = table.busy(id);
                async move {
                    let response = endpoints.answer(&req).await;
                    drop(busy);
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = stream.set_nodelay(true);
            let builder = connection_builder();
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                // Errors are the client's (closed; malformed, which hyper already answered with 400;
                // too slow): not logged above trace, or a hostile client could flood the log.
                result = conn => if let Err(e) = result { tracing::trace!(error = %e, "health connection ended") },
                _ = &mut slot.evicted => {}
            }
        });
        // Let the new connection read its request before the next accept can compete for its slot.
        tokio::task::yield_now().await;
    }
}

fn connection_builder() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    builder
}

fn warn_rarely(last: &mut Option<Instant>, warn: impl FnOnce()) {
    if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
        *last = Some(Instant::now());
        warn();
    }
}

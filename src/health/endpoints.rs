//! What each path answers: `/livez`, `/readyz`, `/healthz`, and `/metrics` when metrics are on; 404
//! elsewhere, 405 for methods other than GET and HEAD.
//!
//! Owns the status codes and JSON bodies. It reads the lifecycle and the shutdown token, and asks the
//! `Pinger` (never the upstream directly) for Directus's state.

use super::quiet::Quiet;
use super::upstream::{Answer, Pinger};
use crate::lifecycle::{Lifecycle, Phase, PhaseState};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// What the endpoints read.
#[derive(Clone)]
pub(crate) struct Endpoints {
    pub(crate) lifecycle: Lifecycle,
    pub(crate) shutdown: CancellationToken,
    pub(crate) pinger: Pinger,
    pub(crate) quiet: Quiet,
}

impl Endpoints {
    pub(crate) async fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let response = self.respond(req).await;
        crate::metrics::probe(req.uri().path(), response.status().as_u16());
        response
    }

    async fn respond<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        self.quiet.touch();
        let path = req.uri().path();
        let metrics = path == "/metrics" && crate::metrics::enabled();
        if !matches!(path, "/livez" | "/readyz" | "/healthz") && !metrics {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"status": "not found", "paths": ["/livez", "/readyz", "/healthz"]}).to_string(),
            );
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, json!({"status": "method not allowed"}).to_string());
            r.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        if metrics {
            metrics_reply()
        } else if path == "/livez" {
            self.livez()
        } else {
            self.readyz().await
        }
    }

    /// The phase, `stopping` as soon as the shutdown token is cancelled (a stop signal in preflight).
    fn state(&self) -> PhaseState {
        let mut state = self.lifecycle.current();
        if self.shutdown.is_cancelled() && state.phase != Phase::Stopping {
            state.phase = Phase::Stopping;
        }
        state
    }

    fn livez(&self) -> Response<Full<Bytes>> {
        let state = self.state();
        if state.phase == Phase::Stopping {
            reply(StatusCode::SERVICE_UNAVAILABLE, body("unavailable", state, None, Some("trm-init is shutting down")))
        } else {
            reply(StatusCode::OK, body("ok", state, None, None))
        }
    }

    async fn readyz(&self) -> Response<Full<Bytes>> {
        let state = self.state();
        let unavailable = |state, answer: Option<&Answer>, reason: &str| {
            reply(StatusCode::SERVICE_UNAVAILABLE, body("unavailable", state, answer, Some(reason)))
        };
        match state.phase {
            Phase::Stopping => return unavailable(state, None, "trm-init is shutting down"),
            Phase::Draining => return unavailable(state, None, DRAINING),
            Phase::Preflight => return unavailable(state, None, "preflight has not finished"),
            Phase::Starting | Phase::Running => {}
        }
        let answer = self.pinger.answer().await;
        // The answer may have moved starting -> running, or a stop may have come meanwhile.
        let state = self.state();
        match state.phase {
            Phase::Stopping => return unavailable(state, Some(&answer), "trm-init is shutting down"),
            Phase::Draining => return unavailable(state, Some(&answer), DRAINING),
            _ => {}
        }
        if answer.is_pong() {
            reply(StatusCode::OK, body("ok", state, Some(&answer), None))
        } else {
            unavailable(state, Some(&answer), &answer.reason(self.pinger.target()))
        }
    }
}

const DRAINING: &str = "draining: a stop signal arrived; Directus still serves until child.drain has passed";

/// `/metrics`: the registry in the OpenMetrics text format.
fn metrics_reply() -> Response<Full<Bytes>> {
    let Some(text) = crate::metrics::scrape() else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"status": "metrics unavailable"}).to_string());
    };
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The JSON of /livez, /readyz and /healthz, fields in this order.
#[derive(Serialize)]
struct Body<'a> {
    status: &'a str,
    phase: &'static str,
    /// How long the phase has lasted, to 0.1 s.
    phase_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

fn body(status: &str, state: PhaseState, upstream: Option<&Answer>, reason: Option<&str>) -> String {
    let body = Body {
        status,
        phase: state.phase.as_str(),
        phase_seconds: (state.since.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        upstream: upstream.map(Answer::key),
        reason,
    };
    serde_json::to_string(&body).unwrap_or_default()
}

fn reply(code: StatusCode, mut text: String) -> Response<Full<Bytes>> {
    text.push('\n');
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

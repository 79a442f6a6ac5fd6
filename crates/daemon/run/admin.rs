//! The admin HTTP server, on a port of its own: `GET /metrics` (Prometheus text format),
//! `/healthz` (200 while the process runs) and `/readyz` (200 while [`Health::ready`]: the
//! consumer has its assignment, no sink is failing, consumption is not stalled, and shutdown has
//! not begun; 503 otherwise). HTTP/1.1 only; anything else is 404, other methods 405.
//!
//! The port may face a network the daemon does not trust, so every connection is bounded: at most
//! [`MAX_CONNECTIONS`] at once (more are closed at once), its request headers within
//! [`HEADER_READ_TIMEOUT`] and [`MAX_HEADER_BYTES`], request bodies never read, and the whole
//! connection closed after [`CONNECTION_LIFETIME`], so a slow client (slowloris, or one that never
//! reads its answer) holds a slot for seconds, not forever.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{Encoder as _, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::metrics::{Health, Metrics};

/// Connections served at once; more are closed on accept. A scraper or a probe uses one or two:
/// 64 leaves room for several Prometheus replicas and kubelet probes, while a flood of idle
/// connections costs at most 64 small tasks and file descriptors.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request's headers (and the time an idle kept-alive connection stays
/// open): a scraper sends them in one packet; 10 s is generous on a congested network yet cuts a
/// slowloris client off quickly.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest request head (request line and headers) read; longer ones are answered 431. A scrape's
/// is a few hundred bytes; 8 KiB is hyper's smallest read buffer and the usual limit of proxies.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Longest a connection lives, whatever it does: a scrape of a large registry takes well under a
/// second; a client that never reads its answer is cut off after this.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Binds `addr`; returns the listener (for its actual address) to hand to [`serve`].
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let addr: SocketAddr = addr.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    TcpListener::bind(addr).await
}

/// Serves the admin endpoints for as long as the runtime runs (through the shutdown drain too:
/// `/healthz` stays 200, `/readyz` turns 503).
pub async fn serve(listener: TcpListener, registry: Registry, metrics: Arc<Metrics>) {
    let registry = Arc::new(registry);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    // A client may close its sending side once its request is out (`nc -N`, some probes): answer it.
    http.timer(TokioTimer::new())
        .half_close(true)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_header_size(MAX_HEADER_BYTES);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, max = MAX_CONNECTIONS, "admin connection refused: too many open");
            drop(stream);
            continue;
        };
        let (registry, metrics, http) = (registry.clone(), metrics.clone(), http.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let response = respond(&req, &registry, &metrics.health);
                async move { Ok::<_, Infallible>(response) }
            });
            let conn = http.serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "admin connection failed"),
                Err(_) => tracing::debug!(%peer, "admin connection closed: open too long"),
            }
            drop(slot);
        });
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn respond(req: &Request<Incoming>, registry: &Registry, health: &Health) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n", PLAIN);
    }
    match req.uri().path() {
        "/metrics" => {
            let encoder = TextEncoder::new();
            let mut body = Vec::new();
            match encoder.encode(&registry.gather(), &mut body) {
                Ok(()) => text(StatusCode::OK, body, prometheus::TEXT_FORMAT),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"), PLAIN),
            }
        }
        "/healthz" => text(StatusCode::OK, "ok\n", PLAIN),
        "/readyz" if health.ready() => text(StatusCode::OK, "ready\n", PLAIN),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n", PLAIN),
        _ => text(StatusCode::NOT_FOUND, "not found\n", PLAIN),
    }
}

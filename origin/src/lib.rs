//! Reference origin server for edgegate.
//!
//! A small, real HTTP/1.1 server meant to sit behind the edgegate Worker in
//! the demo and in integration tests. It echoes every request back as JSON,
//! records what it received (so tests can assert that the origin *never* saw
//! a request or a header), and exposes a handful of diagnostic routes:
//!
//! | Route                   | Behaviour                                                      |
//! |-------------------------|----------------------------------------------------------------|
//! | `GET /__cookies`        | three separate `Set-Cookie` headers                            |
//! | `ANY /__status/{code}`  | responds with `code` (200-599), optional `Location` from query |
//! | `GET /__big?bytes=N`    | streamed deterministic body plus `x-body-sha256`               |
//! | `GET /__log`            | JSON array of every request received (except `/__log`)         |
//! | `DELETE /__log`         | clears the log                                                 |
//! | anything else           | the echo handler (see [`EchoResponse`])                        |
//!
//! That is **echo mode**, what the gate's own tests run against. With `--reference` (or
//! `--jwt-secret`) the server is the **reference origin** instead ([`reference`]): login,
//! rotating refresh tokens with reuse detection, logout, a JWKS and the demo app; the routes above
//! are then only kept with `--test-routes`.
//!
//! The binary (`edgegate-origin`) is a thin wrapper over [`cli`], [`mint`], [`reference`] and
//! [`serve_with_shutdown`].

#![warn(missing_docs)]

pub mod cli;
pub mod mint;
pub mod reference;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// Largest request body the echo handler accepts (64 MiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Bodies up to this size (1 MiB) are echoed back base64-encoded in `body_base64`.
pub const ECHO_BASE64_LIMIT: usize = 1024 * 1024;

/// Largest body `/__big` will produce (64 MiB).
pub const BIG_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Chunk size of the streamed `/__big` body (16 KiB).
pub const BIG_CHUNK_BYTES: usize = 16 * 1024;

/// Maximum number of entries kept in the request log; older entries are dropped first.
pub const LOG_CAPACITY: usize = 10_000;

/// Value of the `x-origin` header on echo responses.
pub const ORIGIN_HEADER_VALUE: &str = "edgegate-origin";

/// The `Set-Cookie` values returned by `GET /__cookies`, in order.
pub const FIXED_COOKIES: [&str; 3] = [
    "a=1; Path=/",
    "b=2; Path=/; HttpOnly",
    "c=3; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Secure",
];

/// One request as recorded in the log (and as returned by `GET /__log`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Raw request path, percent-encoding preserved.
    pub path: String,
    /// Raw query string (without `?`), or `None` when the target had no `?`.
    pub query: Option<String>,
    /// All request headers as `[name, value]` pairs (see [`header_pairs`]).
    pub headers: Vec<(String, String)>,
}

/// Shared server state: currently just the request log.
///
/// Cheap to clone; clones share the same log.
#[derive(Debug, Clone, Default)]
pub struct AppState {
    log: Arc<Mutex<VecDeque<LogEntry>>>,
    jwks: Arc<Mutex<Option<TestJwks>>>,
}

/// The JWK Set document `/__jwks` serves (tests rotate it, or remove it to play an IdP outage).
#[derive(Debug, Clone)]
struct TestJwks {
    body: String,
    cache_control: Option<String>,
}

impl AppState {
    /// Creates a state with an empty request log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns a copy of the request log, oldest first.
    pub fn log_snapshot(&self) -> Vec<LogEntry> {
        self.lock_log().iter().cloned().collect()
    }

    /// Empties the request log.
    pub fn clear_log(&self) {
        self.lock_log().clear();
    }

    /// Appends an entry, dropping the oldest ones beyond [`LOG_CAPACITY`].
    pub fn record(&self, entry: LogEntry) {
        let mut log = self.lock_log();
        while log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }

    fn lock_log(&self) -> MutexGuard<'_, VecDeque<LogEntry>> {
        // A poisoned lock only means another thread panicked mid-update of a
        // plain VecDeque; the data is still usable, so never propagate the panic.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The JSON body produced by the echo handler.
#[derive(Debug, Clone, Serialize)]
pub struct EchoResponse {
    /// Request method.
    pub method: String,
    /// Raw request path exactly as received (percent-encoding preserved).
    pub path: String,
    /// Raw query string, or `None` (JSON `null`) when absent.
    pub query: Option<String>,
    /// Request headers as `[name, value]` pairs (see [`header_pairs`]).
    pub headers: Vec<(String, String)>,
    /// Length of the request body in bytes.
    pub body_len: usize,
    /// Lowercase hex SHA-256 of the request body.
    pub body_sha256: String,
    /// Standard base64 of the body when `body_len <= ECHO_BASE64_LIMIT`, else `None`.
    pub body_base64: Option<String>,
}

/// Builds the application router over `state` (plain echo mode).
pub fn router(state: AppState) -> Router {
    with_recording(echo_routes().with_state(state.clone()), state)
}

/// The diagnostic routes and the echo fallback, not yet recorded or limited.
pub(crate) fn echo_routes() -> Router<AppState> {
    Router::new()
        .route("/__cookies", get(cookies).fallback(echo))
        .route("/__status/{code}", any(status))
        .route("/__big", get(big).fallback(echo))
        .route("/__log", get(get_log).delete(delete_log).fallback(echo))
        .route(
            "/__jwks",
            get(get_jwks)
                .put(put_jwks)
                .delete(delete_jwks)
                .fallback(echo),
        )
        .fallback(echo)
}

/// Records every request of `app` in `state`'s log and allows echo-sized bodies.
pub(crate) fn with_recording(app: Router, state: AppState) -> Router {
    app.layer(middleware::from_fn_with_state(state, record_request))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Serves `router(state)` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, state: AppState) -> io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Serves `router(state)` on `listener` until `shutdown` completes, then
/// shuts down gracefully (in-flight requests are allowed to finish).
pub async fn serve_with_shutdown<F>(
    listener: TcpListener,
    state: AppState,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_router_with_shutdown(listener, router(state), shutdown).await
}

/// Serves any `app` (e.g. [`reference::router`]) on `listener` until `shutdown` completes.
/// Handlers can read the peer address (`ConnectInfo<SocketAddr>`; the login throttle does).
pub async fn serve_router_with_shutdown<F>(
    listener: TcpListener,
    app: Router,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
///
/// If a signal handler cannot be installed, that signal is simply never
/// observed (the other one still works).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Request headers as `(lowercase name, lossy UTF-8 value)` pairs.
///
/// Every value is a separate entry, so repeated headers are kept. Order
/// follows the parsed header map: names in order of first appearance, and
/// repeated values of one name in the order they were received (hyper does
/// not expose the interleaving of *different* names).
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Lowercase hex encoding of `bytes`.
pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Byte `i` of the `/__big` body: `(i % 251) as u8`.
pub fn big_byte(i: u64) -> u8 {
    // i % 251 < 251 always fits in a u8.
    (i % 251) as u8
}

/// Generates the `/__big` body bytes in `start..end`.
pub fn big_chunk(start: u64, end: u64) -> Vec<u8> {
    (start..end).map(big_byte).collect()
}

/// Lowercase hex SHA-256 of the first `len` bytes of the `/__big` body.
pub fn big_sha256(len: u64) -> String {
    let mut hasher = Sha256::new();
    let mut start = 0u64;
    while start < len {
        let end = len.min(start + BIG_CHUNK_BYTES as u64);
        hasher.update(big_chunk(start, end));
        start = end;
    }
    hex_lower(&hasher.finalize())
}

/// Decoded values of every `key` parameter in a raw query string, in order.
fn query_values(query: Option<&str>, key: &str) -> Vec<String> {
    query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(CONTENT_TYPE, "text/plain")],
            "failed to serialize response",
        )
            .into_response(),
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &serde_json::json!({ "error": message }))
}

fn log_entry(method: &str, uri: &Uri, headers: &HeaderMap) -> LogEntry {
    LogEntry {
        method: method.to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: header_pairs(headers),
    }
}

/// Middleware: records every request except those to `/__log`.
async fn record_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() != "/__log" {
        state.record(log_entry(req.method().as_str(), req.uri(), req.headers()));
    }
    next.run(req).await
}

/// `GET /__cookies`: three separate `Set-Cookie` headers.
async fn cookies() -> Response {
    let mut response = (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/plain")],
        "cookies set",
    )
        .into_response();
    let headers = response.headers_mut();
    for cookie in FIXED_COOKIES {
        headers.append(SET_COOKIE, HeaderValue::from_static(cookie));
    }
    response
}

/// `ANY /__status/{code}`: respond with `code`, optional `Location` from the query.
///
/// The body is `{"status":code}`, except for 204, 205 and 304, which have none.
async fn status(code: Result<Path<String>, PathRejection>, uri: Uri) -> Response {
    let code = match code {
        Ok(Path(code)) => code,
        Err(_) => return json_error(StatusCode::BAD_REQUEST, "invalid status code"),
    };
    let status = match code.parse::<u16>() {
        Ok(n @ 200..=599) => match StatusCode::from_u16(n) {
            Ok(status) => status,
            Err(_) => return json_error(StatusCode::BAD_REQUEST, "invalid status code"),
        },
        _ => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid status code (expected 200-599)",
            )
        }
    };
    let location = match query_values(uri.query(), "location").into_iter().next() {
        Some(raw) => match HeaderValue::from_str(&raw) {
            Ok(value) => Some(value),
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "location is not a valid header value",
                )
            }
        },
        None => None,
    };
    let mut response = if matches!(status.as_u16(), 204 | 205 | 304) {
        // These statuses must not carry content (RFC 9110 §15.3.5, §15.3.6, §15.4.5).
        status.into_response()
    } else {
        json_response(status, &serde_json::json!({ "status": status.as_u16() }))
    };
    if let Some(location) = location {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// `GET /__big?bytes=N`: streamed deterministic body with its SHA-256 up front.
async fn big(uri: Uri) -> Response {
    let Some(raw) = query_values(uri.query(), "bytes").into_iter().next() else {
        return json_error(StatusCode::BAD_REQUEST, "missing query parameter bytes");
    };
    let len = match raw.parse::<u64>() {
        Ok(n) if n <= BIG_MAX_BYTES => n,
        _ => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "bytes must be an integer between 0 and 67108864",
            )
        }
    };
    let sha = big_sha256(len);
    let chunk = BIG_CHUNK_BYTES as u64;
    let chunks = (0..len.div_ceil(chunk)).map(move |k| {
        let start = k * chunk;
        let end = len.min(start + chunk);
        Ok::<Bytes, Infallible>(Bytes::from(big_chunk(start, end)))
    });
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let mut response = (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/octet-stream")],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&sha) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-body-sha256"), value);
    }
    response
}

/// `GET /__log`: every recorded request, oldest first.
async fn get_log(State(state): State<AppState>) -> Response {
    json_response(StatusCode::OK, &state.log_snapshot())
}

/// `DELETE /__log`: clear the log.
async fn delete_log(State(state): State<AppState>) -> StatusCode {
    state.clear_log();
    StatusCode::NO_CONTENT
}

/// Fallback: reflect the request as JSON (see [`EchoResponse`]).
async fn echo(req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let too_large = err
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return if too_large {
                json_error(StatusCode::PAYLOAD_TOO_LARGE, "request body exceeds 64 MiB")
            } else {
                json_error(StatusCode::BAD_REQUEST, "failed to read request body")
            };
        }
    };

    let query = parts.uri.query();
    let mut cookies = Vec::new();
    for raw in query_values(query, "set_cookie") {
        match HeaderValue::from_str(&raw) {
            Ok(value) => cookies.push(value),
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "set_cookie is not a valid header value",
                )
            }
        }
    }

    let echo = EchoResponse {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: query.map(str::to_owned),
        headers: header_pairs(&parts.headers),
        body_len: body.len(),
        body_sha256: hex_lower(&Sha256::digest(&body)),
        body_base64: (body.len() <= ECHO_BASE64_LIMIT)
            .then(|| base64::engine::general_purpose::STANDARD.encode(&body)),
    };
    let mut response = json_response(StatusCode::OK, &echo);
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-origin"),
        HeaderValue::from_static(ORIGIN_HEADER_VALUE),
    );
    for cookie in cookies {
        headers.append(SET_COOKIE, cookie);
    }
    if let Some(cc) = query_values(query, "cache_control").into_iter().next() {
        match HeaderValue::from_str(&cc) {
            Ok(v) => {
                headers.insert(axum::http::header::CACHE_CONTROL, v);
            }
            Err(_) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "cache_control is not a valid header value",
                )
            }
        }
    }
    response
}

/// `GET /__jwks`: the test JWK Set, or 503 when none is set (an IdP outage).
async fn get_jwks(State(state): State<AppState>) -> Response {
    let current = state
        .jwks
        .lock()
        .map(|g| g.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    match current {
        None => json_error(StatusCode::SERVICE_UNAVAILABLE, "no JWK Set (IdP down)"),
        Some(doc) => {
            let mut response = (StatusCode::OK, doc.body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(cc) = doc
                .cache_control
                .and_then(|c| HeaderValue::from_str(&c).ok())
            {
                headers.insert(axum::http::header::CACHE_CONTROL, cc);
            }
            response
        }
    }
}

/// `PUT /__jwks[?cache_control=…]`: replaces the served JWK Set with the request body.
async fn put_jwks(State(state): State<AppState>, req: Request) -> Response {
    let cache_control = query_values(req.uri().query(), "cache_control")
        .into_iter()
        .next();
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), 1024 * 1024).await else {
        return json_error(StatusCode::BAD_REQUEST, "failed to read the JWK Set");
    };
    let Ok(body) = String::from_utf8(bytes.to_vec()) else {
        return json_error(StatusCode::BAD_REQUEST, "the JWK Set is not UTF-8");
    };
    let doc = TestJwks {
        body,
        cache_control,
    };
    match state.jwks.lock() {
        Ok(mut g) => *g = Some(doc),
        Err(p) => *p.into_inner() = Some(doc),
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /__jwks`: stop serving the JWK Set (503 from now on).
async fn delete_jwks(State(state): State<AppState>) -> Response {
    match state.jwks.lock() {
        Ok(mut g) => *g = None,
        Err(p) => *p.into_inner() = None,
    }
    StatusCode::NO_CONTENT.into_response()
}

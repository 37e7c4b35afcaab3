//! The reference origin: login, rotating refresh with reuse detection, logout (this device and
//! everywhere), a JWKS, and the demo app routes. See `docs/origin.md` for the contract.
//!
//! | Route                        | Behaviour                                                       |
//! |------------------------------|-----------------------------------------------------------------|
//! | `GET  LOGIN_PATH`            | HTML login form (`return_to` carried in a hidden field)         |
//! | `POST LOGIN_PATH`            | argon2id check → access + refresh cookies, `303` to `return_to` |
//! |                              | (throttled per account and client: `429` + `Retry-After`)       |
//! | `GET\|POST REFRESH_PATH`     | rotate the refresh token → new cookies; `302`/`303`/`204`       |
//! | `POST /auth/logout`          | revoke this device's family (`sid`), clear cookies              |
//! | `POST /auth/logout-all`      | revoke every family of the user, clear cookies                  |
//! | `POST /auth/password`        | change the password, revoke every family of the user            |
//! | `GET  /.well-known/jwks.json`| the ES256 and Ed25519 public keys                               |
//! | `GET  /.well-known/edgegate-revocations` | the signed revocation list ([`revocations`])        |
//! | `GET  /`                     | demo page                                                       |
//! | `GET  /api/me`               | `{sub, claims, expires_in}` from the gate's headers             |
//! | `GET  /health`               | `{"status":"ok"}`                                               |

pub mod config;
pub mod keys;
pub mod pages;
pub mod revocations;
pub mod store;
pub mod throttle;
pub mod users;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN,
    REFERRER_POLICY, RETRY_AFTER, SET_COOKIE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use self::config::Config;
use self::keys::Keys;
use self::pages::LoginNotice;
use self::store::{Issued, RawToken, Rotation, Store};
use self::throttle::Throttle;
use self::users::Users;

/// Largest request body accepted by the auth routes (16 KiB).
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Longest `return_to` honoured; anything longer becomes `/`.
pub const MAX_RETURN_TO: usize = 2048;
/// File name of the SQLite database inside the data directory.
pub const DB_FILE: &str = "origin.sqlite3";
/// Path of the logout endpoint (this device).
pub const LOGOUT_PATH: &str = "/auth/logout";
/// Path of the logout-everywhere endpoint.
pub const LOGOUT_ALL_PATH: &str = "/auth/logout-all";
/// Path of the password-change endpoint.
pub const PASSWORD_PATH: &str = "/auth/password";
/// Shortest new password accepted (bytes); the longest is [`users::MAX_PASSWORD_BYTES`].
pub const MIN_PASSWORD_BYTES: usize = 8;
/// The client's address as Cloudflare puts it on the request to the gate, which forwards it.
pub const CLIENT_IP_HEADER: &str = "cf-connecting-ip";
/// What Cloudflare puts in [`CLIENT_IP_HEADER`], for every client, when a Worker calls an origin
/// in another Cloudflare zone.
pub const SHARED_WORKER_IP: Ipv6Addr = Ipv6Addr::new(0x2a06, 0x98c0, 0x3600, 0, 0, 0, 0, 0x103);

/// A source of Unix time in milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes one structured log line to stderr. Never pass a token, password or secret.
pub fn log_event(event: &str, mut fields: Value) {
    if let Value::Object(map) = &mut fields {
        map.insert("edgegate_origin".into(), Value::from("auth"));
        map.insert("event".into(), Value::from(event));
    }
    eprintln!("{fields}");
}

/// `return_to` as the origin will use it: a same-origin relative path, otherwise `/`.
///
/// Accepted: starts with one `/` not followed by `/` or `\`, no control characters (which
/// browsers strip, turning `/\t/evil` into `//evil`), at most [`MAX_RETURN_TO`] bytes. Non-ASCII
/// characters and spaces are percent-encoded so the result is a valid `Location`.
pub fn safe_return_to(raw: Option<&str>) -> String {
    let Some(s) = raw else {
        return "/".into();
    };
    let bytes = s.as_bytes();
    let ok = s.len() <= MAX_RETURN_TO
        && bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !s.chars().any(char::is_control);
    if !ok {
        return "/".into();
    }
    let mut out = String::with_capacity(s.len());
    for &b in bytes {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Everything the auth routes share.
pub struct Reference {
    cfg: Config,
    store: Mutex<Store>,
    users: Users,
    keys: Keys,
    allowed_origins: Vec<String>,
    /// `aud` expected in `x-auth-assertion` (when assertions are on).
    assertion_audience: Option<String>,
    /// `jti` of accepted assertions until they expire (replay refusal).
    seen_assertions: Mutex<HashMap<String, i64>>,
    /// Failed logins per account and per client.
    throttle: Mutex<Throttle>,
    /// The time the throttle reads.
    throttle_clock: Clock,
}

impl std::fmt::Debug for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reference")
            .field("cfg", &self.cfg)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

/// A start-up failure (message for stderr).
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl Reference {
    /// Opens the data directory (created 0700 if absent), the database and the keys, and hashes
    /// the demo users' passwords.
    pub fn open(cfg: Config) -> Result<Self, StartError> {
        let dir = &cfg.data_dir;
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|e| StartError(format!("cannot create {}: {e}", dir.display())))?;
        let mut store = Store::open(&dir.join(DB_FILE)).map_err(|e| StartError(e.0))?;
        store.prune(now_ms()).map_err(|e| StartError(e.0))?;
        let keys = Keys::load(dir, cfg.alg.clone(), cfg.jwt_secret.clone())
            .map_err(|e| StartError(e.0))?;
        let users = Users::new(&cfg.users).map_err(StartError)?;
        let allowed_origins = cfg.public_origins.clone();
        let assertion_audience = cfg.assertion_audience.clone();
        Ok(Self {
            cfg,
            store: Mutex::new(store),
            users,
            keys,
            allowed_origins,
            assertion_audience,
            seen_assertions: Mutex::new(HashMap::new()),
            throttle: Mutex::new(Throttle::default()),
            throttle_clock: Arc::new(now_ms),
        })
    }

    /// Replaces the clock the login throttle reads (Unix ms), e.g. with a frozen one in tests.
    pub fn set_throttle_clock(&mut self, clock: Clock) {
        self.throttle_clock = clock;
    }

    /// Also accepts `origin` in the `Origin` header (the server's own URL, once bound).
    pub fn allow_origin(&mut self, origin: &str) {
        if let Some(o) = config::normalize_origin(origin) {
            if !self.allowed_origins.contains(&o) {
                self.allowed_origins.push(o);
            }
        }
    }

    /// Accepts the server's own URL once bound: `http://ADDR`, and `http://localhost:PORT` for a
    /// loopback address.
    /// Also the default `aud` of `x-auth-assertion` when `--assertion-audience` is not given.
    pub fn allow_own_address(&mut self, addr: std::net::SocketAddr) {
        self.allow_origin(&format!("http://{addr}"));
        if self.assertion_audience.is_none() {
            self.assertion_audience = config::normalize_origin(&format!("http://{addr}"));
        }
        if addr.ip().is_loopback() {
            self.allow_origin(&format!("http://localhost:{}", addr.port()));
        }
    }

    /// The accepted `Origin` values.
    pub fn allowed_origins(&self) -> &[String] {
        &self.allowed_origins
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The signing keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The configured user names.
    pub fn user_names(&self) -> Vec<String> {
        self.users.names()
    }

    /// The `aud` assertions must carry, when assertions are on.
    pub fn assertion_audience(&self) -> Option<&str> {
        self.assertion_secret()
            .and(self.assertion_audience.as_deref())
    }

    fn assertion_secret(&self) -> Option<&[u8]> {
        self.cfg.assertion_secret.as_deref()
    }

    /// The identity the gate forwarded for this request. With `ASSERTION_SECRET`, the headers
    /// count only with a valid `x-auth-assertion` for the same `sub`, method and path, whose
    /// `jti` has not been seen before; otherwise (a request that did not pass the gate) `None`.
    fn identity(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<(String, Map<String, Value>)> {
        let forwarded = forwarded_identity(headers);
        let Some(secret) = self.assertion_secret() else {
            return forwarded;
        };
        let (sub, claims) = forwarded?;
        match self.gate_assertion(secret, method, path, headers, Some(&sub)) {
            Ok(()) => Some((sub, claims)),
            Err(reason) => {
                log_event(
                    "assertion_rejected",
                    json!({"reason": reason, "method": method.as_str(), "path": path}),
                );
                None
            }
        }
    }

    /// Checks the gate's `x-auth-assertion` for this method and path (and `sub`, when given),
    /// and that its `jti` is new; `Err` is the reason for the log.
    fn gate_assertion(
        &self,
        secret: &[u8],
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        sub: Option<&str>,
    ) -> Result<(), &'static str> {
        let token = header_str(headers, edgegate::low_level::assertion::ASSERTION_HEADER)
            .ok_or("assertion_missing")?;
        let audience = self.assertion_audience.as_deref().unwrap_or_default();
        let now = now_ms() / 1000;
        let a = edgegate::low_level::assertion::verify(
            token,
            secret,
            audience,
            method.as_str(),
            path,
            now,
        )
        .map_err(|e| e.code())?;
        if sub.is_some_and(|sub| a.sub.as_deref() != Some(sub)) {
            return Err("assertion_wrong_sub");
        }
        let mut seen = self
            .seen_assertions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Forget what has expired (with the verifier's 5 s skew) before checking for a replay.
        seen.retain(|_, exp| *exp + 5 > now);
        if seen.insert(a.jti, a.exp).is_some() {
            return Err("assertion_replayed");
        }
        Ok(())
    }

    /// The address a login attempt is throttled as (`None`: throttle the account only).
    /// `CF-Connecting-IP` when present and trusted, else the TCP peer. The header is trusted
    /// only if no one but the gate can reach the origin; with `ASSERTION_SECRET` that is
    /// checked (the request must carry the gate's assertion), without it the deployment must
    /// ensure it.
    fn login_client(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let peer = peer.map(|p| p.ip());
        let forwarded =
            header_str(headers, CLIENT_IP_HEADER).and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(secret) = self.assertion_secret() {
            let path = &self.cfg.login_path;
            if let Err(reason) = self.gate_assertion(secret, &Method::POST, path, headers, None) {
                if forwarded.is_some() {
                    log_event(
                        "assertion_rejected",
                        json!({"reason": reason, "method": "POST", "path": path,
                               "ignored": CLIENT_IP_HEADER}),
                    );
                }
                return peer;
            }
            // Through the gate the peer is the gate's egress, shared by every visitor: without
            // the header (a client can have it dropped by listing it in `Connection`) only the
            // account is throttled.
            return forwarded.filter(|f| *f != IpAddr::V6(SHARED_WORKER_IP));
        }
        match forwarded {
            // Every client would share this key: one attacker's failures would lock everyone out.
            Some(f) if f == IpAddr::V6(SHARED_WORKER_IP) => None,
            Some(f) => Some(f),
            None => peer,
        }
    }

    fn throttle(&self) -> MutexGuard<'_, Throttle> {
        // A poisoned lock means a panic mid-update of plain counters; they are still usable.
        self.throttle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A poisoned lock means a panic mid-call; SQLite rolled the transaction back.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn access_token(&self, sub: &str, sid: &str, now_ms: i64) -> Result<String, StartError> {
        let iat = now_ms / 1000;
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(sub));
        claims.insert("sid".into(), Value::from(sid));
        claims.insert("iat".into(), Value::from(iat));
        claims.insert("exp".into(), Value::from(iat + self.cfg.access_ttl));
        if let Some(iss) = &self.cfg.issuer {
            claims.insert("iss".into(), Value::from(iss.as_str()));
        }
        if let Some(aud) = &self.cfg.audience {
            claims.insert("aud".into(), Value::from(aud.as_str()));
        }
        self.keys.sign(&claims).map_err(|e| StartError(e.0))
    }

    fn cookie(&self, name: &str, value: &str, path: &str, same_site: &str, max_age: i64) -> String {
        let secure = if self.cfg.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly{secure}; SameSite={same_site}")
    }

    /// `Set-Cookie` values for a session: the access JWT (`Path=/`, `SameSite=Lax`) and the
    /// refresh token (`Path=REFRESH_PATH`, `SameSite=Strict`), both `HttpOnly` (and `Secure`).
    /// Both live as long as the refresh token, so an expired access token is still presented and
    /// the gate can tell "expired" (→ refresh) from "missing" (→ login).
    fn session_cookies(&self, issued: &Issued, now: i64) -> Result<[String; 2], StartError> {
        let jwt = self.access_token(&issued.sub, &issued.family, now)?;
        let max_age = ((issued.expires_at - now) / 1000).max(1);
        Ok([
            self.cookie(&self.cfg.access_cookie, &jwt, "/", "Lax", max_age),
            self.cookie(
                &self.cfg.refresh_cookie,
                &issued.token.encode(),
                &self.cfg.refresh_path,
                "Strict",
                max_age,
            ),
        ])
    }

    fn clear_cookies(&self) -> [String; 2] {
        [
            self.cookie(&self.cfg.access_cookie, "", "/", "Lax", 0),
            self.cookie(
                &self.cfg.refresh_cookie,
                "",
                &self.cfg.refresh_path,
                "Strict",
                0,
            ),
        ]
    }

    /// CSRF defence for state-changing requests; `Some` is the rejection to send.
    /// `Sec-Fetch-Site: cross-site` is refused, and so is an `Origin` header that is present but
    /// not one of [`Reference::allowed_origins`]. (Requests without either header come from
    /// non-browser clients.)
    fn csrf_rejection(&self, headers: &HeaderMap, path: &str) -> Option<Response> {
        let cross_site = header_str(headers, "sec-fetch-site")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("cross-site"));
        // Every Origin header must be allowed (a second one must not slip past the first).
        let origin_ok = headers.get_all(ORIGIN).iter().all(|v| {
            v.to_str()
                .ok()
                .and_then(config::normalize_origin)
                .is_some_and(|o| self.allowed_origins.contains(&o))
        });
        if cross_site || !origin_ok {
            // The Origin value is not a secret and says what to add to PUBLIC_ORIGINS.
            let origins: Vec<String> = headers
                .get_all(ORIGIN)
                .iter()
                .map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .chars()
                        .take(128)
                        .collect()
                })
                .collect();
            log_event(
                "csrf_rejected",
                json!({"path": path, "cross_site": cross_site, "origin_ok": origin_ok, "origin": origins}),
            );
            return Some(json_error(StatusCode::FORBIDDEN, "cross_site_request"));
        }
        None
    }

    /// Whether the request demonstrably comes from this site's own pages: `Sec-Fetch-Site:
    /// same-origin`, or, from a browser without Fetch Metadata, `Origin` headers that are all
    /// allowed. Only such a request may clear the session cookies: anything else could have been
    /// started by another site to sign the user out.
    fn same_origin_evidence(&self, headers: &HeaderMap) -> bool {
        if let Some(site) = headers.get("sec-fetch-site") {
            return site
                .to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("same-origin"));
        }
        let mut origins = headers.get_all(ORIGIN).iter().peekable();
        origins.peek().is_some()
            && origins.all(|v| {
                v.to_str()
                    .ok()
                    .and_then(config::normalize_origin)
                    .is_some_and(|o| self.allowed_origins.contains(&o))
            })
    }

    fn login_url(&self, return_to: &str, extra: Option<(&str, &str)>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some((k, v)) = extra {
            q.append_pair(k, v);
        }
        if return_to != "/" {
            q.append_pair("return_to", return_to);
        }
        let q = q.finish();
        if q.is_empty() {
            self.cfg.login_path.clone()
        } else {
            format!("{}?{q}", self.cfg.login_path)
        }
    }

    /// Whether `password` is `name`'s: the one changed at the origin, else the configured one.
    /// CPU-heavy (argon2): call it off the async executor.
    fn check_password(&self, name: &str, password: &str) -> Result<bool, store::StoreError> {
        // The store's lock is released before hashing.
        let changed = self.store().password(name)?;
        Ok(self.users.verify(name, password, changed.as_deref()))
    }

    fn refresh_margin(&self) -> i64 {
        (self.cfg.access_ttl / 4).clamp(2, 15)
    }
}

/// The reference routes over `shared`. With `diagnostics`, the echo server's `/__*` routes and
/// echo fallback are kept (`--test-routes`); otherwise unknown paths are `404`.
pub fn router(shared: Arc<Reference>, diagnostics: Option<crate::AppState>) -> Router {
    let cfg = shared.config();
    let auth = Router::new()
        .route(&cfg.login_path, get(login_page).post(login))
        .route(&cfg.refresh_path, get(refresh).post(refresh))
        .route(LOGOUT_PATH, post(logout))
        .route(LOGOUT_ALL_PATH, post(logout_all))
        .route(PASSWORD_PATH, post(change_password))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES));
    let app = Router::new()
        .merge(auth)
        .route("/.well-known/jwks.json", get(jwks))
        .route(revocations::PATH, get(revocation_list))
        .route("/", get(home))
        .route("/api/me", get(me))
        .route("/health", get(health))
        .with_state(shared);
    match diagnostics {
        Some(state) => crate::with_recording(
            app.merge(crate::echo_routes().with_state(state.clone())),
            state,
        ),
        None => app.fallback(not_found),
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A browser navigation (or a form submission): `Sec-Fetch-Mode: navigate`, or an `Accept` that
/// lists `text/html` (clients without Fetch Metadata).
fn wants_html(headers: &HeaderMap) -> bool {
    let navigate = header_str(headers, "sec-fetch-mode")
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("navigate"));
    let html = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    navigate || html
}

/// Every value of cookie `name` in the request (several = ambiguous).
fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .filter(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .collect()
}

/// Whether the body is `application/x-www-form-urlencoded` (what the auth forms post).
fn is_form(headers: &HeaderMap) -> bool {
    header_str(headers, CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

fn form_value(body: &[u8], key: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_body(status: StatusCode, value: &Value) -> Response {
    no_store(
        (
            status,
            [(CONTENT_TYPE, "application/json")],
            value.to_string(),
        )
            .into_response(),
    )
}

fn json_error(status: StatusCode, code: &str) -> Response {
    json_body(status, &json!({ "error": code }))
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> Response {
    log_event(
        "internal_error",
        json!({"what": what, "detail": e.to_string()}),
    );
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
}

fn html(status: StatusCode, nonce: &str, body: String) -> Response {
    let mut response =
        no_store((status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response());
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&pages::csp(nonce)) {
        h.insert(CONTENT_SECURITY_POLICY, v);
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on form posts, which every
    // Origin-based CSRF check (ours and the gate's) must refuse.
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

fn redirect(status: StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => no_store((status, [(LOCATION, v)]).into_response()),
        // Unreachable with safe_return_to, but never panic.
        Err(_) => no_store((status, [(LOCATION, HeaderValue::from_static("/"))]).into_response()),
    }
}

fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(SET_COOKIE, v);
        }
    }
    response
}

/// The identity the gate forwarded: `x-auth-sub` and the decoded `x-auth-claims`.
fn forwarded_identity(headers: &HeaderMap) -> Option<(String, Map<String, Value>)> {
    let sub = header_str(headers, "x-auth-sub")?.to_owned();
    let claims = header_str(headers, "x-auth-claims")
        .and_then(|c| URL_SAFE_NO_PAD.decode(c.trim()).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    Some((sub, claims))
}

/// Runs blocking work (SQLite, argon2) off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(f).await
}

async fn health() -> Response {
    json_body(StatusCode::OK, &json!({"status": "ok"}))
}

async fn not_found(headers: HeaderMap) -> Response {
    if wants_html(&headers) {
        let nonce = pages::nonce();
        return html(StatusCode::NOT_FOUND, &nonce, pages::not_found(&nonce));
    }
    json_error(StatusCode::NOT_FOUND, "not_found")
}

async fn jwks(State(s): State<Arc<Reference>>) -> Response {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, "application/jwk-set+json"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        s.keys.jwks().to_string(),
    )
        .into_response()
}

/// `GET /api/me`: the identity the gate forwarded.
async fn me(State(s): State<Arc<Reference>>, uri: Uri, headers: HeaderMap) -> Response {
    let Some((sub, claims)) = s.identity(&Method::GET, uri.path(), &headers) else {
        return json_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let expires_in = claims
        .get("exp")
        .and_then(Value::as_i64)
        .map(|exp| exp - now_ms() / 1000);
    json_body(
        StatusCode::OK,
        &json!({"sub": sub, "claims": claims, "expires_in": expires_in}),
    )
}

/// `GET /`: the demo page.
async fn home(State(s): State<Arc<Reference>>, uri: Uri, headers: HeaderMap) -> Response {
    let identity = s.identity(&Method::GET, uri.path(), &headers);
    let refused = query_value(&uri, "password");
    let nonce = pages::nonce();
    let body = pages::app(
        &nonce,
        &pages::AppPage {
            sub: identity.as_ref().map(|(sub, _)| sub.as_str()),
            refresh_path: &s.cfg.refresh_path,
            login_path: &s.cfg.login_path,
            refresh_margin: s.refresh_margin(),
            password_refused: refused.as_deref(),
        },
    );
    html(StatusCode::OK, &nonce, body)
}

fn query_value(uri: &Uri, key: &str) -> Option<String> {
    uri.query().and_then(|q| form_value(q.as_bytes(), key))
}

/// `GET LOGIN_PATH`: the form.
async fn login_page(State(s): State<Arc<Reference>>, uri: Uri) -> Response {
    let return_to = safe_return_to(query_value(&uri, "return_to").as_deref());
    let notice = match query_value(&uri, "logged_out").as_deref() {
        Some("all") => LoginNotice::LoggedOutEverywhere,
        Some("password") => LoginNotice::PasswordChanged,
        Some(_) => LoginNotice::LoggedOut,
        None => LoginNotice::None,
    };
    let nonce = pages::nonce();
    let body = pages::login(&nonce, &s.cfg.login_path, &return_to, notice);
    html(StatusCode::OK, &nonce, body)
}

/// `POST LOGIN_PATH`: `application/x-www-form-urlencoded` `username`, `password`, `return_to`.
/// Throttled per account and per client (see [`throttle`]): a locked attempt is answered `429`
/// with `Retry-After` before the password is checked.
async fn login(
    State(s): State<Arc<Reference>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = s.csrf_rejection(&headers, &s.cfg.login_path) {
        return r;
    }
    if !is_form(&headers) {
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected_form");
    }
    let username = form_value(&body, "username").unwrap_or_default();
    let password = form_value(&body, "password").unwrap_or_default();
    let return_to = safe_return_to(form_value(&body, "return_to").as_deref());
    let html_wanted = wants_html(&headers);
    // The name is logged only when it is a configured user (a password typed into the
    // user-name field must not end up in a log).
    let logged_name = s.users.contains(&username).then_some(username.as_str());

    let client = s.login_client(&headers, peer.map(|Extension(ConnectInfo(addr))| addr));
    let verdict = s.throttle().begin(&username, client, (s.throttle_clock)());
    if let Err(locked) = verdict {
        let retry_after = locked.retry_after_secs();
        log_event(
            "login_throttled",
            json!({"user": logged_name, "scope": locked.scope.as_str(), "retry_after": retry_after}),
        );
        let mut response = if html_wanted {
            let nonce = pages::nonce();
            let notice = LoginNotice::TooManyAttempts { retry_after };
            let page = pages::login(&nonce, &s.cfg.login_path, &return_to, notice);
            html(StatusCode::TOO_MANY_REQUESTS, &nonce, page)
        } else {
            json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        };
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after));
        return response;
    }

    let ok = if username.is_empty() || username.len() > 64 || password.is_empty() {
        false
    } else {
        let shared = Arc::clone(&s);
        let (u, p) = (username.clone(), password);
        match blocking(move || shared.check_password(&u, &p)).await {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => return internal("verify", &e),
            Err(e) => return internal("verify", &e),
        }
    };
    if !ok {
        log_event("login_failed", json!({"user": logged_name}));
        return if html_wanted {
            let nonce = pages::nonce();
            let page = pages::login(
                &nonce,
                &s.cfg.login_path,
                &return_to,
                LoginNotice::BadCredentials,
            );
            html(StatusCode::UNAUTHORIZED, &nonce, page)
        } else {
            json_error(StatusCode::UNAUTHORIZED, "invalid_credentials")
        };
    }
    s.throttle().succeeded(&username, client);

    let shared = Arc::clone(&s);
    let sub = username.clone();
    let now = now_ms();
    let issued = match blocking(move || {
        let cfg = &shared.cfg;
        shared.store().create_family(
            &sub,
            now,
            cfg.session_max_age * 1000,
            cfg.refresh_ttl * 1000,
        )
    })
    .await
    {
        Ok(Ok(issued)) => issued,
        Ok(Err(e)) => return internal("create_family", &e),
        Err(e) => return internal("create_family", &e),
    };
    let cookies = match s.session_cookies(&issued, now) {
        Ok(c) => c,
        Err(e) => return internal("sign", &e),
    };
    log_event("login", json!({"sub": issued.sub, "sid": issued.family}));
    with_cookies(redirect(StatusCode::SEE_OTHER, &return_to), &cookies)
}

/// `GET|POST REFRESH_PATH`: rotate the refresh token.
///
/// Success: new cookies, then `302` to `return_to` (GET), `303` (a POST navigation, e.g. a form)
/// or `204` (a POST from script/API). Failure: `302`/`303` to `LOGIN_PATH?return_to=…` or
/// `401 {"error":"invalid_refresh"}`, clearing both cookies only when a refresh cookie was
/// presented by a same-origin request. A GET without the cookie from another site gets the
/// bounce page instead.
async fn refresh(
    State(s): State<Arc<Reference>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_get = method == Method::GET || method == Method::HEAD;
    if !is_get {
        if let Some(r) = s.csrf_rejection(&headers, &s.cfg.refresh_path) {
            return r;
        }
    }
    let raw_return_to = form_value(&body, "return_to").or_else(|| query_value(&uri, "return_to"));
    let return_to = safe_return_to(raw_return_to.as_deref());
    let navigation = is_get || wants_html(&headers);
    let ok_status = if is_get {
        StatusCode::FOUND
    } else {
        StatusCode::SEE_OTHER
    };

    let values = cookie_values(&headers, &s.cfg.refresh_cookie);
    // Without a refresh cookie there is nothing of ours to clear (the access cookie is replaced
    // at the next login), and a request from another site must not end the session.
    let clear = !values.is_empty() && s.same_origin_evidence(&headers);
    let fail = |reason: &str, fields: Value| -> Response {
        let mut f = fields;
        if let Value::Object(m) = &mut f {
            m.insert("reason".into(), Value::from(reason));
            m.insert("cookies_cleared".into(), Value::from(clear));
        }
        log_event("refresh_failed", f);
        let response = if navigation {
            redirect(ok_status, &s.login_url(&return_to, None))
        } else {
            let mut r = json_body(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_refresh", "login": s.cfg.login_path}),
            );
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            r
        };
        if clear {
            with_cookies(response, &s.clear_cookies())
        } else {
            response
        }
    };

    let presented = match values.as_slice() {
        [] => {
            // A navigation that started on another site does not carry the SameSite=Strict
            // refresh cookie. Re-request from our own page: that navigation is same-origin and
            // does carry it, so it never comes back here. The page sets no cookie, so serving it
            // to anything not same-origin (or typed by the user: `none`) is harmless, and
            // `bounced=1` is no reason to skip it: any site can put that in a link.
            let other_site = header_str(&headers, "sec-fetch-site").is_some_and(|v| {
                let v = v.trim();
                !v.eq_ignore_ascii_case("same-origin") && !v.eq_ignore_ascii_case("none")
            });
            if is_get && other_site {
                let mut q = form_urlencoded::Serializer::new(String::new());
                q.append_pair("return_to", &return_to);
                q.append_pair("bounced", "1");
                let target = format!("{}?{}", s.cfg.refresh_path, q.finish());
                let nonce = pages::nonce();
                return html(StatusCode::OK, &nonce, pages::bounce(&nonce, &target));
            }
            let bounced = query_value(&uri, "bounced").is_some();
            return fail("missing", json!({"bounced": bounced}));
        }
        [one] => match RawToken::parse(one) {
            Some(t) => t,
            None => return fail("malformed", json!({})),
        },
        _ => return fail("ambiguous", json!({"count": values.len()})),
    };

    let shared = Arc::clone(&s);
    let now = now_ms();
    let outcome = match blocking(move || {
        let cfg = &shared.cfg;
        shared.store().rotate(
            &presented,
            now,
            cfg.refresh_grace * 1000,
            cfg.refresh_ttl * 1000,
        )
    })
    .await
    {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => return internal("rotate", &e),
        Err(e) => return internal("rotate", &e),
    };

    let (issued, grace) = match outcome {
        Rotation::Rotated(i) => (i, false),
        Rotation::Grace(i) => (i, true),
        Rotation::Reused {
            sub,
            family,
            used_ms_ago,
        } => {
            // The theft signal: a used refresh token came back after the grace window.
            log_event(
                "refresh_token_reuse",
                json!({"level": "warn", "sub": sub, "sid": family, "used_ms_ago": used_ms_ago,
                       "action": "family_revoked"}),
            );
            return fail("reused", json!({"sub": sub, "sid": family}));
        }
        Rotation::Revoked { sub, family } => {
            return fail("revoked", json!({"sub": sub, "sid": family}))
        }
        Rotation::Expired => return fail("expired", json!({})),
        Rotation::Unknown => return fail("unknown", json!({})),
    };
    let cookies = match s.session_cookies(&issued, now) {
        Ok(c) => c,
        Err(e) => return internal("sign", &e),
    };
    log_event(
        "refresh",
        json!({"sub": issued.sub, "sid": issued.family, "grace": grace}),
    );
    let response = if navigation {
        redirect(ok_status, &return_to)
    } else {
        no_store(StatusCode::NO_CONTENT.into_response())
    };
    with_cookies(response, &cookies)
}

fn logout_response(
    s: &Reference,
    headers: &HeaderMap,
    everywhere: bool,
    revoked: usize,
) -> Response {
    let response = if wants_html(headers) {
        let which = if everywhere { "all" } else { "1" };
        redirect(
            StatusCode::SEE_OTHER,
            &s.login_url("/", Some(("logged_out", which))),
        )
    } else if everywhere {
        json_body(StatusCode::OK, &json!({"revoked": revoked}))
    } else {
        no_store(StatusCode::NO_CONTENT.into_response())
    };
    with_cookies(response, &s.clear_cookies())
}

/// `POST /auth/logout`: revoke this device's family (`sid` of the forwarded access token).
async fn logout(State(s): State<Arc<Reference>>, headers: HeaderMap) -> Response {
    if let Some(r) = s.csrf_rejection(&headers, LOGOUT_PATH) {
        return r;
    }
    let mut revoked = 0;
    if let Some((sub, claims)) = s.identity(&Method::POST, LOGOUT_PATH, &headers) {
        if let Some(sid) = claims.get("sid").and_then(Value::as_str).map(str::to_owned) {
            let shared = Arc::clone(&s);
            let (sub2, sid2) = (sub.clone(), sid.clone());
            match blocking(move || {
                shared
                    .store()
                    .revoke_family(&sid2, &sub2, now_ms(), "logout")
            })
            .await
            {
                Ok(Ok(true)) => revoked = 1,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => return internal("logout", &e),
                Err(e) => return internal("logout", &e),
            }
            log_event(
                "logout",
                json!({"sub": sub, "sid": sid, "revoked": revoked}),
            );
        }
    }
    logout_response(&s, &headers, false, revoked)
}

/// `POST /auth/logout-all`: revoke every family of the forwarded user.
async fn logout_all(State(s): State<Arc<Reference>>, headers: HeaderMap) -> Response {
    if let Some(r) = s.csrf_rejection(&headers, LOGOUT_ALL_PATH) {
        return r;
    }
    let Some((sub, _)) = s.identity(&Method::POST, LOGOUT_ALL_PATH, &headers) else {
        return json_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    let shared = Arc::clone(&s);
    let who = sub.clone();
    let revoked =
        match blocking(move || shared.store().revoke_user(&who, now_ms(), "logout-all")).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return internal("logout_all", &e),
            Err(e) => return internal("logout_all", &e),
        };
    log_event("logout_all", json!({"sub": sub, "revoked": revoked}));
    logout_response(&s, &headers, true, revoked)
}

/// `POST /auth/password`: form fields `current_password` and `new_password`. The current
/// password is checked (throttled per account, as logins are), the new one stored, and every
/// session of the user ended — published in the revocation list, so access tokens already issued
/// stop working within the gates' refresh interval. Cookies are cleared: sign in again.
async fn change_password(
    State(s): State<Arc<Reference>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = s.csrf_rejection(&headers, PASSWORD_PATH) {
        return r;
    }
    let Some((sub, _)) = s.identity(&Method::POST, PASSWORD_PATH, &headers) else {
        return json_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    };
    if !is_form(&headers) {
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected_form");
    }
    let current = form_value(&body, "current_password").unwrap_or_default();
    let new = form_value(&body, "new_password").unwrap_or_default();
    let html_wanted = wants_html(&headers);
    let refused = |status: StatusCode, code: &str| -> Response {
        log_event(
            "password_change_refused",
            json!({"sub": sub, "reason": code}),
        );
        if html_wanted {
            redirect(StatusCode::SEE_OTHER, &format!("/?password={code}"))
        } else {
            json_error(status, code)
        }
    };
    if new.len() < MIN_PASSWORD_BYTES || new.len() > users::MAX_PASSWORD_BYTES || new == current {
        return refused(StatusCode::BAD_REQUEST, "weak_password");
    }
    // A stolen session must not be a way to guess the password: the account's login throttle.
    if let Err(locked) = s.throttle().begin(&sub, None, (s.throttle_clock)()) {
        let mut r = refused(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(locked.retry_after_secs()));
        return r;
    }
    let shared = Arc::clone(&s);
    let who = sub.clone();
    let changed = blocking(move || -> Result<Option<usize>, String> {
        if !shared
            .check_password(&who, &current)
            .map_err(|e| e.to_string())?
        {
            return Ok(None);
        }
        let phc = users::hash_password(&new)?;
        shared
            .store()
            .change_password(&who, &phc, now_ms())
            .map(Some)
            .map_err(|e| e.to_string())
    })
    .await;
    let revoked = match changed {
        Ok(Ok(Some(n))) => n,
        Ok(Ok(None)) => return refused(StatusCode::FORBIDDEN, "invalid_credentials"),
        Ok(Err(e)) => return internal("change_password", &e),
        Err(e) => return internal("change_password", &e),
    };
    s.throttle().succeeded(&sub, None);
    log_event("password_changed", json!({"sub": sub, "revoked": revoked}));
    let response = if html_wanted {
        redirect(
            StatusCode::SEE_OTHER,
            &s.login_url("/", Some(("logged_out", "password"))),
        )
    } else {
        json_body(StatusCode::OK, &json!({"revoked": revoked}))
    };
    with_cookies(response, &s.clear_cookies())
}

/// `GET /.well-known/edgegate-revocations`: the signed revocation document, entries newer than
/// the access-token lifetime + [`revocations::DEFAULT_MARGIN_SECONDS`] (docs/origin.md).
async fn revocation_list(State(s): State<Arc<Reference>>) -> Response {
    let shared = Arc::clone(&s);
    let now = now_ms();
    let window_ms = (s.cfg.access_ttl + revocations::DEFAULT_MARGIN_SECONDS).saturating_mul(1000);
    let rows = match blocking(move || shared.store().revocations(now, window_ms)).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => return internal("revocations", &e),
        Err(e) => return internal("revocations", &e),
    };
    let doc = match revocations::document(
        &s.keys,
        s.cfg.issuer.as_deref(),
        now.div_euclid(1000),
        rows.seq,
        rows.entries,
    ) {
        Ok(d) => d,
        Err(e) => return internal("revocations", &e),
    };
    if doc.dropped > 0 {
        // The oldest entries are left out: their sessions fall back to the exp bound.
        log_event(
            "revocations_dropped",
            json!({"level": "warn", "published": doc.published, "dropped": doc.dropped}),
        );
    }
    no_store((StatusCode::OK, [(CONTENT_TYPE, "application/jwt")], doc.jws).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_is_same_origin_relative_or_root() {
        for (input, want) in [
            (None, "/"),
            (Some(""), "/"),
            (Some("/"), "/"),
            (Some("/app?x=1&y=%20"), "/app?x=1&y=%20"),
            (Some("/a\\b"), "/a\\b"),
            (Some("//evil.example"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("\\\\evil.example"), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("javascript:alert(1)"), "/"),
            (Some("evil.example"), "/"),
            (Some("/\t/evil.example"), "/"),
            (Some("/x\n"), "/"),
            (Some("/x\u{7f}"), "/"),
            (Some("/caf\u{e9} x"), "/caf%C3%A9%20x"),
        ] {
            assert_eq!(safe_return_to(input), want, "{input:?}");
        }
        assert_eq!(
            safe_return_to(Some(&format!("/{}", "a".repeat(MAX_RETURN_TO)))),
            "/"
        );
    }

    #[test]
    fn navigation_and_cookies() {
        let mut h = HeaderMap::new();
        assert!(!wants_html(&h));
        h.insert("sec-fetch-mode", HeaderValue::from_static("navigate"));
        assert!(wants_html(&h));
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static("text/html,*/*"));
        assert!(wants_html(&h));

        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; refresh=x; refreshx=2"),
        );
        assert_eq!(cookie_values(&h, "refresh"), ["x"]);
        h.append(COOKIE, HeaderValue::from_static("refresh=y"));
        assert_eq!(cookie_values(&h, "refresh"), ["x", "y"]);
    }

    #[test]
    fn forwarded_identity_decodes_claims() {
        let mut h = HeaderMap::new();
        assert!(forwarded_identity(&h).is_none());
        h.insert("x-auth-sub", HeaderValue::from_static("alice"));
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","sid":"f1","exp":5}"#);
        h.insert("x-auth-claims", HeaderValue::from_str(&claims).unwrap());
        let (sub, c) = forwarded_identity(&h).unwrap();
        assert_eq!(sub, "alice");
        assert_eq!(c["sid"], "f1");
        h.insert("x-auth-claims", HeaderValue::from_static("%%%"));
        assert!(forwarded_identity(&h).unwrap().1.is_empty());
    }
}

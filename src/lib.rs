//! # edgegate
//!
//! An auth gate for edge runtimes: it reads the short-lived access JWT from a cookie, verifies it
//! locally (pinned algorithms, signature, `exp`/`nbf` with leeway, `iss`/`aud`) with no
//! session-store round trip, and forwards the request to the origin with the verified identity
//! in `x-auth-*` headers — or answers itself: a redirect to the origin's refresh (or login)
//! endpoint for page navigations, a typed `401` for API calls.
//!
//! ## The request path (Cloudflare Workers)
//!
//! [`fetch`] below is the whole request path: load the isolate's gate (config parsed once),
//! decide, then forward or answer. Everything it calls before "forward or answer" is pure Rust
//! with no `worker` types:
//!
//! | module | stage |
//! |---|---|
//! | [`config`] | `[vars]` + secrets → validated [`config::Config`] (once per isolate) |
//! | [`path`] | canonical path (rules and origin see the same one), safe `return_to` |
//! | [`cookie`] | the access cookie (duplicates are ambiguous) or bearer token |
//! | [`token`] | 1. strict parse: size, segments, base64url, JSON, header rules |
//! | [`keys`] | 2. key selection by family and `kid` |
//! | [`verify`] | 3. signature and 4. [`claims`]; natively `jsonwebtoken` (`rust_crypto`) |
//! | `webcrypto` | 3. in the worker: RSA/ECDSA/Ed25519 via `crypto.subtle`, keys imported once per isolate; HMAC in Rust |
//! | [`gate`] | the decision: forward / refresh / login / reject |
//! | [`headers`] | which inbound headers reach the origin; `Cache-Control` of authenticated responses |
//! | [`log`] | one JSON log line per request, never a token or secret |
//! | [`weburl`] | the strict URL subset of `ORIGIN_URL`, `JWKS_URL`, `ALLOWED_ORIGINS` |
//! | [`jwks`] | JWK Sets and `JWT_SECRETS` → keys; remote-set refresh rules |
//! | `proxy`, `runtime`, `remote`, `jsapi` | the thin workerd adapter (wasm32 only); `jsapi` exports the verifier to JS |

#![warn(missing_docs)]

pub mod alg;
pub mod claims;
pub mod json;
pub mod path;
pub mod token;

#[cfg(feature = "browser")]
pub mod browser;

#[cfg(feature = "gate")]
pub mod assertion;
#[cfg(feature = "gate")]
pub mod config;
#[cfg(feature = "gate")]
pub mod cookie;
#[cfg(feature = "gate")]
pub mod csrf;
#[cfg(feature = "gate")]
pub mod gate;
#[cfg(feature = "gate")]
pub mod headers;
#[cfg(feature = "gate")]
pub mod jwks;
#[cfg(feature = "gate")]
pub mod keys;
#[cfg(feature = "gate")]
pub mod log;
#[cfg(feature = "gate")]
pub mod policy;
#[cfg(feature = "gate")]
pub mod verify;
#[cfg(feature = "gate")]
pub mod weburl;

#[cfg(all(feature = "gate", target_arch = "wasm32"))]
mod jsapi;
#[cfg(all(feature = "gate", target_arch = "wasm32"))]
mod proxy;
#[cfg(all(feature = "gate", target_arch = "wasm32"))]
mod remote;
#[cfg(all(feature = "gate", target_arch = "wasm32"))]
mod runtime;
#[cfg(all(feature = "gate", target_arch = "wasm32"))]
mod webcrypto;

/// The Worker's fetch handler: the request path, top to bottom.
#[cfg(all(feature = "gate", target_arch = "wasm32"))]
#[worker::event(fetch)]
pub async fn fetch(
    req: web_sys::Request,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<web_sys::Response> {
    let started = runtime::now_ms();
    let url = runtime::RequestUrl::parse(&req.url());

    // 1. The isolate's gate: configuration parsed and keys built once, then reused.
    let gate = match runtime::gate(&env) {
        Ok(gate) => gate,
        Err(e) => {
            runtime::log(&log::config_error_line(&e));
            return proxy::reply(&gate::Reply::misconfigured(), None);
        }
    };

    // 2. The decision (pure): path, policy rule, token, verification, claims, CSRF.
    let method = req.method();
    let headers = runtime::RequestHeaders::read(&req, &method, gate.config());
    let parts = gate::RequestParts {
        method: &method,
        path: url.path(),
        query: url.query(),
        cookie: headers.cookie.as_deref(),
        authorization: headers.authorization.as_deref(),
        accept: headers.accept.as_deref(),
        sec_fetch_mode: headers.sec_fetch_mode.as_deref(),
        sec_fetch_site: headers.sec_fetch_site.as_deref(),
        origin: headers.origin.as_deref(),
        upgrade: headers.upgrade.as_deref(),
        self_origin: url.origin(),
    };
    // Keys from JWKS_URL, when configured: fetched on first use or expiry; a token naming an
    // unknown kid may trigger one refetch (rate-limited by JWKS_MIN_REFRESH_SECONDS).
    let remote_cfg = gate.config().remote_jwks.as_ref();
    let mut remote_keys = match remote_cfg {
        Some(rc) => remote::keys(rc, false).await,
        None => None,
    };
    let mut outcome = decide(&gate, &parts, remote_keys.as_deref()).await;
    if let Some(rc) = remote_cfg {
        if matches!(outcome.reason, "unknown_kid" | "no_key") {
            remote_keys = remote::keys(rc, true).await;
            outcome = decide(&gate, &parts, remote_keys.as_deref()).await;
        }
    }
    let verify_us = runtime::elapsed_us(started);
    if gate.config().log_requests.wants(outcome.status()) {
        runtime::log(&log::decision_line(
            &outcome,
            &method,
            url.path(),
            verify_us,
        ));
    }
    let timing = gate
        .config()
        .server_timing
        .then(|| format!("edgegate;dur={}.{:03}", verify_us / 1000, verify_us % 1000));

    // 3. Act: forward (identity headers stripped, then set) or answer at the edge.
    match outcome.action {
        gate::Action::Forward {
            url: target,
            path,
            identity,
        } => {
            let id = identity.as_ref();
            let assertion =
                gate.assertion(&method, &path, id, runtime::now_secs(), runtime::nonce());
            let forwarded = proxy::forward(&req, &target, id, assertion.as_deref()).await;
            match forwarded.and_then(|resp| proxy::finish(resp, id.is_some(), timing.as_deref())) {
                Ok(resp) => Ok(resp),
                Err(_) => {
                    runtime::log(&log::origin_error_line(&method, url.path()));
                    proxy::reply(
                        &gate::Reply::error(502, "origin_unreachable"),
                        timing.as_deref(),
                    )
                }
            }
        }
        gate::Action::Respond(reply) => proxy::reply(&reply, timing.as_deref()),
    }
}

/// The decision with stage 3 on the runtime: everything up to the signature check is pure
/// ([`gate::Gate::begin_with_keys`]), the signature goes through `webcrypto` (WebCrypto for
/// RSA/ECDSA/Ed25519, Rust for HMAC), the rest is pure again ([`gate::Gate::complete`]).
#[cfg(all(feature = "gate", target_arch = "wasm32"))]
async fn decide(
    gate: &gate::Gate,
    parts: &gate::RequestParts<'_>,
    remote: Option<&keys::KeySet>,
) -> gate::Outcome {
    match gate.begin_with_keys(parts, remote) {
        gate::Step::Done(outcome) => outcome,
        gate::Step::Verify(pending) => {
            let signature = webcrypto::check_signature(&pending.token).await;
            gate.complete(pending, signature, runtime::now_secs())
        }
    }
}

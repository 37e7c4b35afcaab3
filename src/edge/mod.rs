//! The Worker: everything that touches the runtime (workerd / web-sys types), around the pure
//! decision. [`fetch`] is the whole request path, top to bottom.

mod jsapi;
mod proxy;
mod remote;
mod runtime;
mod webcrypto;

use crate::{gate, keys, log};

/// The Worker's fetch handler: the request path, top to bottom.
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

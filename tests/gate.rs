//! Integration tests of the pure decision function, `Gate::decide`, against its public contract:
//! public paths, token lookup (cookie / bearer, ambiguity), valid / expired / missing / invalid
//! tokens, redirects and their `return_to`, and configuration errors.
//!
//! Every token that is expected to be refused is otherwise valid (correctly signed, unexpired,
//! with `sub`), so each rejection case fails if the one check it targets were removed.

mod common;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::{b64, base_vars, hmac, hs256, load, mint, NOW, ORIGIN, SECRET};
use edgegate::gate::{Action, Gate, Identity, Outcome, Reply, RequestParts};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A real RSA public key: the classic HS/RS confusion attack signs with its PEM text as the HMAC
/// secret.
const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv9JZTB79o2bN4Svk+61t
DOWZ39k6L8RdbS1LwT+1RkFmjiUVeSyposapD7RAJu8IzBghN2W+zfAuTFI+btzB
1+Sm/iKzHhqL+hRjtRspRkruOe3SXFErlEifvt/uuIQQicYmzz3hSwWA8fx/c6Ah
5e7nwnKuuKeHXWcQXu//HvSj56Y8S2g8SSNuD0nb1fB6OHVhx2yWol9H0zwYu9mG
HNzhsmdwBYoV9+y3tlXp6thdG0IwnNbd+Tlcx2AapOKv4+MURZs84T1QR/vZaL9x
S9HY3ExZ6IqAycYBItbSnb2vVkWOMSTqfg4DWnCrVstYZkwziOdXPbT5Sox53K4U
bQIDAQAB
-----END PUBLIC KEY-----
";

const INVALID_BODY: &str = r#"{"error":"invalid_token"}"#;
const INVALID_WWW: &str = r#"Bearer error="invalid_token""#;
const EXPIRED_WWW: &str = r#"Bearer error="invalid_token", error_description="token expired""#;
const EXPIRED_BODY: &str = r#"{"error":"token_expired","refresh":"/auth/refresh"}"#;
const MISSING_BODY: &str = r#"{"error":"missing_token"}"#;
const AMBIGUOUS_BODY: &str = r#"{"error":"ambiguous_token"}"#;

// ---------------------------------------------------------------------------------------------
// Configuration and gates
// ---------------------------------------------------------------------------------------------

/// The shared base configuration plus `PUBLIC_PATHS=/health,/static/`, with `extra` on top (an
/// empty value removes the key).
fn gate_with(extra: &[(&'static str, &str)]) -> Gate {
    let mut vars = vec![("PUBLIC_PATHS", "/health,/static/")];
    vars.extend_from_slice(extra);
    common::gate(&vars)
}

fn gate() -> Gate {
    gate_with(&[])
}

fn bearer_gate() -> Gate {
    gate_with(&[("ACCEPT_BEARER", "true")])
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn good_claims() -> Value {
    json!({"sub": "alice", "exp": NOW + 600, "iat": NOW - 60})
}

/// `signing_input` plus its correct HS256 signature with the configured secret.
fn sign_input(signing_input: &str) -> String {
    format!(
        "{signing_input}.{}",
        hmac(signing_input, SECRET.as_bytes(), Algorithm::HS256)
    )
}

/// A hand-built token from raw header and payload JSON, correctly HS256-signed with the secret.
fn raw(header: &str, payload: &str) -> String {
    sign_input(&format!("{}.{}", b64(header), b64(payload)))
}

const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn good_payload() -> String {
    format!(r#"{{"sub":"alice","exp":{}}}"#, NOW + 600)
}

fn segment(token: &str, i: usize) -> &str {
    token.split('.').nth(i).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// An API call (XHR/fetch): never redirected.
fn api(cookie: Option<&str>) -> RequestParts<'_> {
    RequestParts {
        method: "GET",
        path: "/api/me",
        query: Some("v=1"),
        cookie,
        authorization: None,
        accept: Some("application/json"),
        sec_fetch_mode: Some("cors"),
        ..Default::default()
    }
}

/// A top-level page navigation.
fn nav(cookie: Option<&str>) -> RequestParts<'_> {
    RequestParts {
        method: "GET",
        path: "/app/./page",
        query: Some("tab=2&x=y"),
        cookie,
        authorization: None,
        accept: Some("text/html,application/xhtml+xml,*/*;q=0.8"),
        sec_fetch_mode: Some("navigate"),
        ..Default::default()
    }
}

/// `encodeURIComponent("/app/page?tab=2&x=y")`.
const NAV_RETURN_TO: &str = "%2Fapp%2Fpage%3Ftab%3D2%26x%3Dy";

fn cookie(token: &str) -> String {
    format!("theme=dark; access={token}; lang=en")
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

fn reply<'o>(o: &'o Outcome, ctx: &str) -> &'o Reply {
    match &o.action {
        Action::Respond(r) => r,
        Action::Forward { .. } => panic!("{ctx}: expected a reply, got {o:?}"),
    }
}

fn assert_forward(o: &Outcome, url: &str, identity: Option<Identity>, ctx: &str) {
    match &o.action {
        Action::Forward {
            url: u,
            identity: i,
            ..
        } => {
            assert_eq!((u.as_str(), i), (url, &identity), "{ctx}: {o:?}");
        }
        Action::Respond(_) => panic!("{ctx}: expected a forward, got {o:?}"),
    }
    assert_eq!(o.status(), None, "{ctx}");
}

fn assert_public(o: &Outcome, url: &str, ctx: &str) {
    assert_forward(o, url, None, ctx);
    assert_eq!(o.decision, "public", "{ctx}");
}

/// Forwarded with the identity of `token` (signed for `sub`).
fn assert_accepted(o: &Outcome, url: &str, token: &str, sub: &str, ctx: &str) {
    let identity = Identity {
        sub: sub.to_string(),
        claims_b64: segment(token, 1).to_string(),
    };
    assert_forward(o, url, Some(identity), ctx);
    assert_eq!(
        (o.decision.code(), o.reason.code()),
        ("forward", "ok"),
        "{ctx}"
    );
}

fn assert_invalid(o: &Outcome, reason: &str, ctx: &str) {
    let r = reply(o, ctx);
    assert_eq!(r.status, 401, "{ctx}: {o:?}");
    assert_eq!(r.body.as_deref(), Some(INVALID_BODY), "{ctx}");
    assert_eq!(r.www_authenticate.as_deref(), Some(INVALID_WWW), "{ctx}");
    assert_eq!(r.location, None, "{ctx}");
    assert_eq!(o.reason, reason, "{ctx}: {o:?}");
    assert_eq!(o.decision, "reject", "{ctx}");
}

fn assert_expired_401(o: &Outcome, body: &str, ctx: &str) {
    let r = reply(o, ctx);
    assert_eq!(r.status, 401, "{ctx}: {o:?}");
    assert_eq!(r.body.as_deref(), Some(body), "{ctx}");
    assert_eq!(r.www_authenticate.as_deref(), Some(EXPIRED_WWW), "{ctx}");
    assert_eq!(r.location, None, "{ctx}");
}

fn assert_redirect(o: &Outcome, location: &str, ctx: &str) {
    let r = reply(o, ctx);
    assert_eq!(r.status, 302, "{ctx}: {o:?}");
    assert_eq!(r.location.as_deref(), Some(location), "{ctx}");
}

fn assert_missing_401(o: &Outcome, ctx: &str) {
    let r = reply(o, ctx);
    assert_eq!(r.status, 401, "{ctx}: {o:?}");
    assert_eq!(r.body.as_deref(), Some(MISSING_BODY), "{ctx}");
    assert_eq!(r.www_authenticate.as_deref(), Some("Bearer"), "{ctx}");
    assert_eq!(r.location, None, "{ctx}");
}

fn assert_ambiguous(o: &Outcome, ctx: &str) {
    let r = reply(o, ctx);
    assert_eq!(r.status, 401, "{ctx}: {o:?}");
    assert_eq!(r.body.as_deref(), Some(AMBIGUOUS_BODY), "{ctx}");
    assert_eq!(r.location, None, "{ctx}");
}

/// The outcome (which is logged) never carries the token: neither whole nor its signature.
fn assert_no_token_text(o: &Outcome, token: &str, ctx: &str) {
    let dbg = format!("{o:?}");
    assert!(!dbg.contains(token), "{ctx}: token leaked into {dbg}");
    if let Some(sig) = token.split('.').nth(2).filter(|s| s.len() >= 16) {
        assert!(!dbg.contains(sig), "{ctx}: signature leaked into {dbg}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Paths
// ---------------------------------------------------------------------------------------------

#[test]
fn public_paths_are_forwarded_without_identity_after_canonicalisation() {
    let g = gate();
    let garbage = "access=not-a-jwt";
    let duplicated = "access=a.b.c; access=d.e.f";
    let valid = cookie(&hs256(&good_claims()));
    let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
        ("/health", None, None, "/health"),
        ("/health", Some("full=1"), Some(garbage), "/health?full=1"),
        ("/health/live", None, Some(duplicated), "/health/live"),
        ("/a/../health", Some("x=1&y=2"), None, "/health?x=1&y=2"),
        ("/%68ealth", None, Some(duplicated), "/health"),
        ("/%68%65alth/./live", None, Some(garbage), "/health/live"),
        ("//health//live/", None, None, "/health/live/"),
        ("/\\health", None, None, "/health"),
        (
            "/static/app.js",
            Some("v=3"),
            Some(&valid),
            "/static/app.js?v=3",
        ),
        // REFRESH_PATH and LOGIN_PATH are always public.
        (
            "/auth/refresh",
            Some("return_to=%2F"),
            Some(duplicated),
            "/auth/refresh?return_to=%2F",
        ),
        ("/auth/login", None, Some(garbage), "/auth/login"),
        ("/auth/x/../login", None, None, "/auth/login"),
        ("/auth/%72efresh", None, None, "/auth/refresh"),
    ];
    for &(path, query, cookie, url_path) in cases {
        for req in [api(cookie), nav(cookie)] {
            let req = RequestParts { path, query, ..req };
            let o = g.decide(&req, NOW);
            assert_public(
                &o,
                &format!("{ORIGIN}{url_path}"),
                &format!("{path} {query:?} {cookie:?}"),
            );
            assert_eq!(o.reason, "public", "{path}");
        }
    }
}

#[test]
fn the_forwarded_url_keeps_the_origin_prefix_and_the_raw_query() {
    let g = gate_with(&[("ORIGIN_URL", "https://origin.internal:8443/app")]);
    let req = RequestParts {
        path: "/x/../health",
        query: Some("a=%20b&c=d?e"),
        ..api(None)
    };
    assert_public(
        &g.decide(&req, NOW),
        "https://origin.internal:8443/app/health?a=%20b&c=d?e",
        "prefix",
    );
}

#[test]
fn public_prefixes_match_on_segment_boundaries_of_the_canonical_path_only() {
    let g = gate();
    for path in [
        "/healthz",
        "/healthy/x",
        "/health/../admin",
        "/health/%2e%2e/admin",
        "/health/.%2E/admin",
        "/health\\..\\admin",
        "/static", // "/static/" matches only below it
        "/staticfoo/x",
        "/auth/refreshx",
        "/auth/login-as-admin",
        "/Health",
    ] {
        let req = RequestParts { path, ..api(None) };
        let o = g.decide(&req, NOW);
        assert_missing_401(&o, path);
        assert_eq!(o.reason, "missing_token", "{path}");
    }
}

#[test]
fn bad_paths_are_400_bad_request() {
    let g = gate();
    let valid = cookie(&hs256(&good_claims()));
    for path in [
        "/health%2F..%2Fadmin",
        "/health/..%2fadmin",
        "/a%2Fb",
        "/a%5Cb",
        "/a%5cb",
        "/health%00",
        "/a%0d%0aSet-Cookie:x",
        "/a%1f",
        "/a%7F",
        "/a\u{1}b",
        "/a\r\nb",
        "/a\tb",
        "/a\u{7f}",
        "/a%",
        "/a%4",
        "/a%zz",
        "/a%g1",
    ] {
        for req in [api(Some(&valid)), nav(None)] {
            let o = g.decide(&RequestParts { path, ..req }, NOW);
            let r = reply(&o, path);
            assert_eq!(r.status, 400, "{path:?}: {o:?}");
            assert_eq!(
                r.body.as_deref(),
                Some(r#"{"error":"bad_request"}"#),
                "{path:?}"
            );
            assert_eq!(r.location, None, "{path:?}");
            assert_eq!(o.reason, "bad_path", "{path:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2./3. Token lookup and valid tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn a_valid_cookie_token_is_forwarded_with_its_identity() {
    let g = gate_with(&[("ALGORITHMS", "HS256,HS384,HS512")]);
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let exp = NOW + 321;
        let t = mint(
            alg,
            &json!({"sub": "user-42", "exp": exp, "role": "reader"}),
            SECRET.as_bytes(),
        );
        let c = cookie(&t);
        for (req, url) in [
            (api(Some(&c)), format!("{ORIGIN}/api/me?v=1")),
            (nav(Some(&c)), format!("{ORIGIN}/app/page?tab=2&x=y")),
        ] {
            let o = g.decide(&req, NOW);
            let ctx = format!("{alg:?} {}", req.path);
            assert_accepted(&o, &url, &t, "user-42", &ctx);
            assert_eq!(o.expires_in, Some(exp - NOW), "{ctx}");
            assert_no_token_text(&o, &t, &ctx);
        }
    }
}

#[test]
fn a_custom_access_cookie_name_is_used() {
    let g = gate_with(&[("ACCESS_COOKIE", "__Host-at")]);
    let t = hs256(&good_claims());
    let o = g.decide(&api(Some(&format!("__Host-at={t}"))), NOW);
    assert_accepted(
        &o,
        &format!("{ORIGIN}/api/me?v=1"),
        &t,
        "alice",
        "custom name",
    );
    let o = g.decide(&api(Some(&format!("access={t}"))), NOW);
    assert_missing_401(&o, "default name is not read");
}

#[test]
fn duplicate_access_cookies_are_ambiguous() {
    let g = gate();
    let good = hs256(&good_claims());
    let other = hs256(&json!({"sub": "mallory", "exp": NOW + 600}));
    let cases = [
        format!("access={good}; access={other}"),
        format!("access={other}; access={good}"),
        format!("access={good}; access={good}"),
        format!("access={good};access={other}"),
        format!("access={good}; theme=dark; access={other}"),
        format!(" access = {good} ;  access={other}"),
        format!("access={good}; \taccess={other}"),
        format!("access={good}; access ={other}"),
        format!("access={good}; ACCESS={other}"),
        format!("ACCESS={other}; access={good}"),
        format!("Access={good}"),
        format!("ACCESS={good}"),
        format!("access={good}; access="),
        "access=; access=".to_string(),
    ];
    for c in &cases {
        for req in [api(Some(c)), nav(Some(c))] {
            let o = g.decide(&req, NOW);
            assert_ambiguous(&o, c);
            assert_no_token_text(&o, &good, c);
        }
    }
}

#[test]
fn cookie_headers_over_16_kib_are_431() {
    let g = gate();
    let t = hs256(&good_claims());
    let tail = format!("; access={t}");
    let at_limit = format!("pad={}{tail}", "p".repeat(16 * 1024 - 4 - tail.len()));
    assert_eq!(at_limit.len(), 16 * 1024);
    let o = g.decide(&api(Some(&at_limit)), NOW);
    assert_accepted(
        &o,
        &format!("{ORIGIN}/api/me?v=1"),
        &t,
        "alice",
        "16 KiB exactly",
    );

    let over = format!("pad=p{}", &at_limit[4..]);
    assert_eq!(over.len(), 16 * 1024 + 1);
    for req in [api(Some(&over)), nav(Some(&over))] {
        let o = g.decide(&req, NOW);
        let r = reply(&o, "over");
        assert_eq!(r.status, 431, "{o:?}");
        assert_eq!(r.body.as_deref(), Some(r#"{"error":"header_too_large"}"#));
        assert_eq!(r.location, None);
        assert_no_token_text(&o, &t, "over");
    }
}

#[test]
fn bearer_tokens_are_accepted_only_when_enabled() {
    let t = hs256(&good_claims());
    let auth = format!("Bearer {t}");
    let url = format!("{ORIGIN}/api/me?v=1");

    let g = bearer_gate();
    let req = RequestParts {
        authorization: Some(&auth),
        ..api(None)
    };
    let o = g.decide(&req, NOW);
    assert_accepted(&o, &url, &t, "alice", "bearer only");
    assert_no_token_text(&o, &t, "bearer only");

    // An empty cookie counts as missing, so the bearer token is used.
    let req = RequestParts {
        authorization: Some(&auth),
        ..api(Some("access="))
    };
    assert_accepted(
        &g.decide(&req, NOW),
        &url,
        &t,
        "alice",
        "empty cookie + bearer",
    );

    // Without ACCEPT_BEARER the Authorization header is ignored entirely.
    let g = gate();
    let o = g.decide(
        &RequestParts {
            authorization: Some(&auth),
            ..api(None)
        },
        NOW,
    );
    assert_missing_401(&o, "bearer ignored (api)");
    let o = g.decide(
        &RequestParts {
            authorization: Some(&auth),
            ..nav(None)
        },
        NOW,
    );
    assert_redirect(
        &o,
        &format!("/auth/login?return_to={NAV_RETURN_TO}"),
        "bearer ignored (nav)",
    );

    let c = cookie(&t);
    let other = hs256(&json!({"sub": "mallory", "exp": NOW + 600}));
    for authz in [
        format!("Bearer {other}"),
        "Bearer garbage".to_string(),
        "Bearer a b".to_string(),
    ] {
        let o = g.decide(
            &RequestParts {
                authorization: Some(&authz),
                ..api(Some(&c))
            },
            NOW,
        );
        assert_accepted(
            &o,
            &url,
            &t,
            "alice",
            &format!("disabled, cookie + {authz}"),
        );
    }
}

#[test]
fn cookie_and_bearer_must_agree() {
    let g = bearer_gate();
    let t = hs256(&good_claims());
    let other = hs256(&json!({"sub": "mallory", "exp": NOW + 600}));
    let c = cookie(&t);

    let same = format!("Bearer {t}");
    let o = g.decide(
        &RequestParts {
            authorization: Some(&same),
            ..api(Some(&c))
        },
        NOW,
    );
    assert_accepted(&o, &format!("{ORIGIN}/api/me?v=1"), &t, "alice", "equal");

    for authz in [format!("Bearer {other}"), "Bearer garbage".to_string()] {
        for req in [api(Some(&c)), nav(Some(&c))] {
            let o = g.decide(
                &RequestParts {
                    authorization: Some(&authz),
                    ..req
                },
                NOW,
            );
            assert_ambiguous(&o, &authz);
            assert_no_token_text(&o, &t, &authz);
            assert_no_token_text(&o, &other, &authz);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Expired tokens
// ---------------------------------------------------------------------------------------------

fn expired() -> String {
    hs256(&json!({"sub": "alice", "exp": NOW - 3600, "iat": NOW - 4500}))
}

#[test]
fn an_expired_cookie_on_a_navigation_redirects_to_refresh() {
    let g = gate();
    let t = expired();
    let c = cookie(&t);
    let base = nav(Some(&c));
    let cases = [
        ("GET navigate", base),
        (
            "GET text/html",
            RequestParts {
                sec_fetch_mode: None,
                accept: Some("text/html"),
                ..base
            },
        ),
        (
            "GET navigate, no accept",
            RequestParts {
                accept: None,
                ..base
            },
        ),
        (
            "GET accept list with text/html",
            RequestParts {
                sec_fetch_mode: Some("no-cors"),
                accept: Some("application/xml, text/html;q=0.9"),
                ..base
            },
        ),
        (
            "HEAD navigate",
            RequestParts {
                method: "HEAD",
                ..base
            },
        ),
    ];
    for (name, req) in cases {
        let o = g.decide(&req, NOW);
        assert_redirect(
            &o,
            &format!("/auth/refresh?return_to={NAV_RETURN_TO}"),
            name,
        );
        assert_eq!(o.decision, "refresh", "{name}");
        assert_no_token_text(&o, &t, name);
    }
}

#[test]
fn an_expired_token_on_any_other_request_is_401_token_expired() {
    let g = gate();
    let t = expired();
    let c = cookie(&t);
    let cases = [
        (
            "POST navigate",
            RequestParts {
                method: "POST",
                ..nav(Some(&c))
            },
        ),
        (
            "POST text/html",
            RequestParts {
                method: "POST",
                sec_fetch_mode: None,
                accept: Some("text/html"),
                ..nav(Some(&c))
            },
        ),
        (
            "DELETE navigate",
            RequestParts {
                method: "DELETE",
                ..nav(Some(&c))
            },
        ),
        ("XHR", api(Some(&c))),
        (
            "GET without hints",
            RequestParts {
                accept: None,
                sec_fetch_mode: None,
                ..api(Some(&c))
            },
        ),
        (
            "GET */*",
            RequestParts {
                accept: Some("*/*"),
                ..api(Some(&c))
            },
        ),
    ];
    for (name, req) in cases {
        let o = g.decide(&req, NOW);
        assert_expired_401(&o, EXPIRED_BODY, name);
        assert_eq!(o.decision, "reject", "{name}");
        assert_no_token_text(&o, &t, name);
    }
}

#[test]
fn an_expired_bearer_token_is_always_401_even_for_a_navigation() {
    let g = bearer_gate();
    let t = expired();
    let auth = format!("Bearer {t}");
    for req in [
        nav(None),
        api(None),
        RequestParts {
            method: "HEAD",
            ..nav(None)
        },
    ] {
        let o = g.decide(
            &RequestParts {
                authorization: Some(&auth),
                ..req
            },
            NOW,
        );
        assert_expired_401(&o, EXPIRED_BODY, req.method);
        assert_no_token_text(&o, &t, "bearer expired");
    }
}

#[test]
fn leeway_boundaries() {
    let g = gate();
    let url = format!("{ORIGIN}/api/me?v=1");
    // Default leeway is 30 seconds.
    let t = hs256(&json!({"sub": "alice", "exp": NOW - 29}));
    let o = g.decide(&api(Some(&cookie(&t))), NOW);
    assert_accepted(&o, &url, &t, "alice", "exp = now - 29");
    assert_eq!(o.expires_in, Some(-29));

    let t = hs256(&json!({"sub": "alice", "exp": NOW - 30}));
    let c = cookie(&t);
    assert_expired_401(
        &g.decide(&api(Some(&c)), NOW),
        EXPIRED_BODY,
        "exp = now - 30",
    );
    assert_redirect(
        &g.decide(&nav(Some(&c)), NOW),
        &format!("/auth/refresh?return_to={NAV_RETURN_TO}"),
        "exp = now - 30 (nav)",
    );

    // nbf may be up to the leeway in the future.
    let t = hs256(&json!({"sub": "alice", "exp": NOW + 600, "nbf": NOW + 30}));
    assert_accepted(
        &g.decide(&api(Some(&cookie(&t))), NOW),
        &url,
        &t,
        "alice",
        "nbf = now + 30",
    );
    let t = hs256(&json!({"sub": "alice", "exp": NOW + 600, "nbf": NOW + 31}));
    assert_invalid(
        &g.decide(&api(Some(&cookie(&t))), NOW),
        "not_yet_valid",
        "nbf = now + 31",
    );

    // A configured leeway replaces the default.
    let g0 = gate_with(&[("LEEWAY_SECONDS", "0")]);
    let t = hs256(&json!({"sub": "alice", "exp": NOW + 1}));
    assert_accepted(
        &g0.decide(&api(Some(&cookie(&t))), NOW),
        &url,
        &t,
        "alice",
        "leeway 0, exp = now + 1",
    );
    let t = hs256(&json!({"sub": "alice", "exp": NOW}));
    assert_expired_401(
        &g0.decide(&api(Some(&cookie(&t))), NOW),
        EXPIRED_BODY,
        "leeway 0, exp = now",
    );
}

#[test]
fn custom_refresh_and_login_paths_are_used_in_redirects_and_bodies() {
    let g = gate_with(&[
        ("REFRESH_PATH", "/session/renew"),
        ("LOGIN_PATH", "/signin"),
    ]);
    let t = expired();
    let c = cookie(&t);
    assert_redirect(
        &g.decide(&nav(Some(&c)), NOW),
        &format!("/session/renew?return_to={NAV_RETURN_TO}"),
        "refresh",
    );
    assert_expired_401(
        &g.decide(&api(Some(&c)), NOW),
        r#"{"error":"token_expired","refresh":"/session/renew"}"#,
        "refresh body",
    );
    assert_redirect(
        &g.decide(&nav(None), NOW),
        &format!("/signin?return_to={NAV_RETURN_TO}"),
        "login",
    );
    // Both are public, the defaults no longer are.
    assert_public(
        &g.decide(
            &RequestParts {
                path: "/session/renew",
                query: None,
                ..api(Some(&c))
            },
            NOW,
        ),
        &format!("{ORIGIN}/session/renew"),
        "renew",
    );
    assert_public(
        &g.decide(
            &RequestParts {
                path: "/signin",
                query: None,
                ..api(None)
            },
            NOW,
        ),
        &format!("{ORIGIN}/signin"),
        "signin",
    );
    assert_missing_401(
        &g.decide(
            &RequestParts {
                path: "/auth/refresh",
                ..api(None)
            },
            NOW,
        ),
        "old default",
    );
}

#[test]
fn return_to_is_encode_uri_component_of_the_canonical_path_and_query() {
    let g = gate();
    let t = expired();
    let c = cookie(&t);
    // Expected values computed with JavaScript's encodeURIComponent.
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("/", None, "%2F"),
        ("/app/page", None, "%2Fapp%2Fpage"),
        (
            "/app/page",
            Some("a=1&b=2"),
            "%2Fapp%2Fpage%3Fa%3D1%26b%3D2",
        ),
        (
            "//app//x/../page/",
            Some("next=/home?x"),
            "%2Fapp%2Fpage%2F%3Fnext%3D%2Fhome%3Fx",
        ),
        ("/%61pp", None, "%2Fapp"),
        (
            "/a-b_c.d!e~f*g'h(i)/caf\u{e9}/a%20b",
            Some("q=a%20b&x=(1)&y=/z?"),
            "%2Fa-b_c.d!e~f*g'h(i)%2Fcaf%C3%A9%2Fa%2520b%3Fq%3Da%2520b%26x%3D(1)%26y%3D%2Fz%3F",
        ),
        (
            "/p",
            Some("u=https://evil.example/@x;y,z+w"),
            "%2Fp%3Fu%3Dhttps%3A%2F%2Fevil.example%2F%40x%3By%2Cz%2Bw",
        ),
        ("/\\evil.example", None, "%2Fevil.example"),
    ];
    for &(path, query, want) in cases {
        let req = RequestParts {
            path,
            query,
            ..nav(Some(&c))
        };
        assert_redirect(
            &g.decide(&req, NOW),
            &format!("/auth/refresh?return_to={want}"),
            path,
        );
        let req = RequestParts {
            path,
            query,
            ..nav(None)
        };
        assert_redirect(
            &g.decide(&req, NOW),
            &format!("/auth/login?return_to={want}"),
            path,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Missing tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn a_missing_token_redirects_navigations_to_login_and_rejects_the_rest() {
    let g = gate();
    for c in [
        None,
        Some(""),
        Some("theme=dark"),
        Some("access="),
        Some("access= ; theme=dark"),
        Some("accessx=1; my_access=2"),
    ] {
        let o = g.decide(&nav(c), NOW);
        assert_redirect(
            &o,
            &format!("/auth/login?return_to={NAV_RETURN_TO}"),
            &format!("{c:?}"),
        );
        assert_eq!(o.reason, "missing_token");

        let o = g.decide(&api(c), NOW);
        assert_missing_401(&o, &format!("{c:?}"));
        assert_eq!(
            (o.decision.code(), o.reason.code()),
            ("reject", "missing_token")
        );

        let o = g.decide(
            &RequestParts {
                method: "POST",
                ..nav(c)
            },
            NOW,
        );
        assert_missing_401(&o, &format!("POST {c:?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Invalid tokens
// ---------------------------------------------------------------------------------------------

/// Every token in the table is refused as `invalid_token` with `reason`, for API calls and
/// navigations alike (never a redirect), and never leaks into the outcome.
fn check_invalid(g: &Gate, cases: &[(&str, String, &str)]) {
    for (name, token, reason) in cases {
        let c = cookie(token);
        for req in [
            api(Some(&c)),
            nav(Some(&c)),
            RequestParts {
                method: "POST",
                ..api(Some(&c))
            },
        ] {
            let o = g.decide(&req, NOW);
            let ctx = format!("{name} ({} {})", req.method, req.path);
            assert_invalid(&o, reason, &ctx);
            assert_no_token_text(&o, token, &ctx);
        }
    }
}

fn tampered_payload() -> String {
    let t = hs256(&good_claims());
    let evil = b64(json!({"sub": "admin", "exp": NOW + 600, "iat": NOW - 60}).to_string());
    format!("{}.{evil}.{}", segment(&t, 0), segment(&t, 2))
}

fn flipped_signature() -> String {
    let t = hs256(&good_claims());
    let (head, sig) = t.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    bytes[0] ^= 0x01;
    format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A token whose payload is encoded with the standard (`+`, `/`) alphabet, correctly signed.
fn standard_alphabet_payload() -> String {
    let payload = format!(
        r#"{{"sub":"alice","exp":{},"note":"?????????>>>>>>>>>"}}"#,
        NOW + 600
    );
    let p = STANDARD_NO_PAD.encode(&payload);
    assert!(p.contains('/') && p.contains('+'), "{p}");
    sign_input(&format!("{}.{p}", b64(HS256_HEADER)))
}

/// A token whose payload segment carries `=` padding, correctly signed.
fn padded_payload() -> String {
    let payload = format!(r#"{{"sub":"alice","exp":{},"n":"x"}}"#, NOW + 600);
    let padded = base64::engine::general_purpose::URL_SAFE.encode(&payload);
    assert!(padded.ends_with('='), "{padded}");
    sign_input(&format!("{}.{padded}", b64(HS256_HEADER)))
}

fn padded_signature() -> String {
    let t = hs256(&good_claims());
    format!("{t}=")
}

#[test]
fn invalid_tokens_are_rejected_with_a_specific_reason() {
    let g = gate();
    let p = good_payload();
    let big = json!({"sub": "alice", "exp": NOW + 600, "pad": "x".repeat(9000)});
    let jwe = format!(
        "{}..{}.{}.{}",
        b64(r#"{"alg":"dir","enc":"A128GCM"}"#),
        b64("0123456789ab"),
        b64("ciphertext"),
        b64("0123456789abcdef")
    );
    let cases: Vec<(&str, String, &str)> = vec![
        // alg none in any spelling, with or without a signature.
        (
            "alg none",
            format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&p)),
            "alg_none",
        ),
        (
            "alg None",
            format!("{}.{}.", b64(r#"{"alg":"None"}"#), b64(&p)),
            "alg_none",
        ),
        (
            "alg NONE",
            format!("{}.{}.", b64(r#"{"alg":"NONE"}"#), b64(&p)),
            "alg_none",
        ),
        ("alg nOnE, signed", raw(r#"{"alg":"nOnE"}"#, &p), "alg_none"),
        // Not in ALGORITHMS (HS256), even with the right key.
        (
            "HS384 right key",
            mint(Algorithm::HS384, &good_claims(), SECRET.as_bytes()),
            "alg_not_allowed",
        ),
        (
            "HS512 right key",
            mint(Algorithm::HS512, &good_claims(), SECRET.as_bytes()),
            "alg_not_allowed",
        ),
        (
            "alg hs256",
            raw(r#"{"alg":"hs256"}"#, &p),
            "alg_not_allowed",
        ),
        (
            "alg unknown",
            raw(r#"{"alg":"HS1024"}"#, &p),
            "alg_not_allowed",
        ),
        // HS/RS confusion.
        (
            "RS256 header, HMAC with secret",
            raw(r#"{"alg":"RS256","typ":"JWT"}"#, &p),
            "alg_not_allowed",
        ),
        (
            "RS256 header, HMAC with RSA PEM",
            {
                let input = format!("{}.{}", b64(r#"{"alg":"RS256","typ":"JWT"}"#), b64(&p));
                format!(
                    "{input}.{}",
                    hmac(&input, RSA_PUBLIC_PEM.as_bytes(), Algorithm::HS256)
                )
            },
            "alg_not_allowed",
        ),
        (
            "HS256 signed with RSA PEM",
            mint(Algorithm::HS256, &good_claims(), RSA_PUBLIC_PEM.as_bytes()),
            "bad_signature",
        ),
        // Signature.
        (
            "wrong secret",
            mint(
                Algorithm::HS256,
                &good_claims(),
                b"another-secret-another-secret-00",
            ),
            "bad_signature",
        ),
        ("tampered payload", tampered_payload(), "bad_signature"),
        (
            "flipped signature bit",
            flipped_signature(),
            "bad_signature",
        ),
        (
            "expired and forged",
            mint(
                Algorithm::HS256,
                &json!({"sub": "alice", "exp": NOW - 3600}),
                b"attacker-secret-attacker-secret!",
            ),
            "bad_signature",
        ),
        // Claims (correctly signed).
        (
            "missing exp",
            hs256(&json!({"sub": "alice", "iat": NOW})),
            "missing_exp",
        ),
        (
            "null exp",
            hs256(&json!({"sub": "alice", "exp": null})),
            "missing_exp",
        ),
        (
            "missing sub",
            hs256(&json!({"exp": NOW + 600})),
            "missing_sub",
        ),
        (
            "nbf in the future",
            hs256(&json!({"sub": "alice", "exp": NOW + 600, "nbf": NOW + 120})),
            "not_yet_valid",
        ),
        (
            "exp as string",
            raw(
                HS256_HEADER,
                &format!(r#"{{"sub":"alice","exp":"{}"}}"#, NOW + 600),
            ),
            "bad_claims",
        ),
        (
            "negative exp",
            raw(HS256_HEADER, r#"{"sub":"alice","exp":-1}"#),
            "bad_claims",
        ),
        // Strict parsing.
        (
            "duplicate sub",
            raw(
                HS256_HEADER,
                &format!(r#"{{"sub":"alice","exp":{},"sub":"admin"}}"#, NOW + 600),
            ),
            "duplicate_json_key",
        ),
        (
            "duplicate nested key",
            raw(
                HS256_HEADER,
                &format!(
                    r#"{{"sub":"alice","exp":{},"roles":{{"a":1,"a":2}}}}"#,
                    NOW + 600
                ),
            ),
            "duplicate_json_key",
        ),
        (
            "duplicate header alg",
            raw(r#"{"alg":"HS256","alg":"HS256"}"#, &p),
            "duplicate_json_key",
        ),
        (
            "crit header",
            raw(r#"{"alg":"HS256","typ":"JWT","crit":["exp"]}"#, &p),
            "crit_unsupported",
        ),
        ("5 segments (JWE)", jwe, "encrypted_token"),
        ("token > 8192 bytes", hs256(&big), "token_too_large"),
        ("padded signature", padded_signature(), "bad_base64"),
        ("padded payload", padded_payload(), "bad_base64"),
        (
            "standard alphabet payload",
            standard_alphabet_payload(),
            "bad_base64",
        ),
        (
            "space in signature",
            {
                let t = hs256(&good_claims());
                format!("{} {}", &t[..t.len() - 10], &t[t.len() - 10..])
            },
            "bad_base64",
        ),
    ];
    let big_token = &cases
        .iter()
        .find(|c| c.0 == "token > 8192 bytes")
        .unwrap()
        .1;
    assert!(big_token.len() > 8192);
    check_invalid(&g, &cases);
}

#[test]
fn the_token_size_limit_is_8192_bytes() {
    let g = gate();
    // Find an otherwise valid token of exactly 8192 bytes.
    let (exact, n) = (5800..6300)
        .map(|n| {
            (
                hs256(&json!({"sub": "alice", "exp": NOW + 600, "pad": "x".repeat(n)})),
                n,
            )
        })
        .find(|(t, _)| t.len() == 8192)
        .expect("an 8192-byte token");
    let o = g.decide(&api(Some(&cookie(&exact))), NOW);
    assert_accepted(
        &o,
        &format!("{ORIGIN}/api/me?v=1"),
        &exact,
        "alice",
        "8192 bytes",
    );

    let over = hs256(&json!({"sub": "alice", "exp": NOW + 600, "pad": "x".repeat(n + 1)}));
    assert!(over.len() > 8192);
    check_invalid(&g, &[("8193+ bytes", over, "token_too_large")]);
}

#[test]
fn issuer_and_audience_are_enforced_when_configured() {
    let g = gate_with(&[("ISSUER", "https://id.example"), ("AUDIENCE", "api")]);
    let url = format!("{ORIGIN}/api/me?v=1");
    let iss = "https://id.example";
    let exp = NOW + 600;

    for aud in [json!("api"), json!(["web", "api"]), json!(["api"])] {
        let t = hs256(&json!({"sub": "alice", "exp": exp, "iss": iss, "aud": aud}));
        assert_accepted(
            &g.decide(&api(Some(&cookie(&t))), NOW),
            &url,
            &t,
            "alice",
            &format!("aud {aud}"),
        );
    }

    let cases = vec![
        (
            "wrong iss",
            hs256(
                &json!({"sub": "alice", "exp": exp, "iss": "https://evil.example", "aud": "api"}),
            ),
            "wrong_issuer",
        ),
        (
            "iss with slash",
            hs256(&json!({"sub": "alice", "exp": exp, "iss": "https://id.example/", "aud": "api"})),
            "wrong_issuer",
        ),
        (
            "missing iss",
            hs256(&json!({"sub": "alice", "exp": exp, "aud": "api"})),
            "wrong_issuer",
        ),
        (
            "wrong aud",
            hs256(&json!({"sub": "alice", "exp": exp, "iss": iss, "aud": "web"})),
            "wrong_audience",
        ),
        (
            "aud case",
            hs256(&json!({"sub": "alice", "exp": exp, "iss": iss, "aud": "API"})),
            "wrong_audience",
        ),
        (
            "aud array without",
            hs256(&json!({"sub": "alice", "exp": exp, "iss": iss, "aud": ["web", "admin"]})),
            "wrong_audience",
        ),
        (
            "empty aud array",
            hs256(&json!({"sub": "alice", "exp": exp, "iss": iss, "aud": []})),
            "wrong_audience",
        ),
        (
            "missing aud",
            hs256(&json!({"sub": "alice", "exp": exp, "iss": iss})),
            "wrong_audience",
        ),
        // Expired and wrong: invalid, never a refresh.
        (
            "expired, wrong iss",
            hs256(
                &json!({"sub": "alice", "exp": NOW - 3600, "iss": "https://evil.example", "aud": "api"}),
            ),
            "wrong_issuer",
        ),
        (
            "expired, wrong aud",
            hs256(&json!({"sub": "alice", "exp": NOW - 3600, "iss": iss, "aud": "web"})),
            "wrong_audience",
        ),
    ];
    check_invalid(&g, &cases);

    // Without ISSUER/AUDIENCE, iss and aud are not checked.
    let t = hs256(&json!({"sub": "alice", "exp": exp, "iss": "anyone", "aud": "anything"}));
    assert_accepted(
        &gate().decide(&api(Some(&cookie(&t))), NOW),
        &url,
        &t,
        "alice",
        "unchecked",
    );
}

#[test]
fn bearer_tokens_get_the_same_verification() {
    let g = bearer_gate();
    let forged = mint(
        Algorithm::HS256,
        &json!({"sub": "alice", "exp": NOW - 3600}),
        b"attacker-secret-attacker-secret!",
    );
    let none = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(good_payload()));
    for (token, reason) in [
        (forged, "bad_signature"),
        (none, "alg_none"),
        (tampered_payload(), "bad_signature"),
    ] {
        let auth = format!("Bearer {token}");
        for req in [api(None), nav(None)] {
            let o = g.decide(
                &RequestParts {
                    authorization: Some(&auth),
                    ..req
                },
                NOW,
            );
            assert_invalid(&o, reason, &auth);
            assert_no_token_text(&o, &token, &auth);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn the_misconfigured_reply() {
    assert_eq!(
        Reply::misconfigured(),
        Reply {
            status: 500,
            body: Some(r#"{"error":"misconfigured"}"#.to_string()),
            content_type: "application/json",
            location: None,
            www_authenticate: None,
        }
    );
}

/// The error for the base configuration changed by `change`.
fn config_error(
    change: impl FnOnce(&mut HashMap<&'static str, String>),
) -> edgegate::config::ConfigError {
    let mut vars = base_vars();
    change(&mut vars);
    load(&vars).expect_err("configuration must be refused")
}

#[test]
fn configuration_errors_name_the_key() {
    let cases: Vec<(&str, edgegate::config::ConfigError)> = vec![
        ("ORIGIN_URL", config_error(|v| drop(v.remove("ORIGIN_URL")))),
        (
            "ORIGIN_URL",
            config_error(|v| drop(v.insert("ORIGIN_URL", "   ".into()))),
        ),
        ("ALGORITHMS", config_error(|v| drop(v.remove("ALGORITHMS")))),
        (
            "ALGORITHMS",
            config_error(|v| drop(v.insert("ALGORITHMS", "none".into()))),
        ),
        (
            "ALGORITHMS",
            config_error(|v| drop(v.insert("ALGORITHMS", "None".into()))),
        ),
        (
            "ALGORITHMS",
            config_error(|v| drop(v.insert("ALGORITHMS", "HS256,none".into()))),
        ),
        (
            "ALGORITHMS",
            config_error(|v| drop(v.insert("ALGORITHMS", "NONE, HS256".into()))),
        ),
        ("JWT_SECRET", config_error(|v| drop(v.remove("JWT_SECRET")))),
        (
            "JWT_SECRET",
            config_error(|v| {
                v.insert("ALGORITHMS", "HS512".into());
                v.remove("JWT_SECRET");
            }),
        ),
        // 15 bytes: one short of the minimum.
        (
            "JWT_SECRET",
            config_error(|v| drop(v.insert("JWT_SECRET", "0123456789abcde".into()))),
        ),
    ];
    for (key, e) in cases {
        assert_eq!(e.key, key, "{e}");
        assert!(e.to_string().contains(key), "{e}");
        assert!(!e.to_string().contains(SECRET), "{e}");
        assert_eq!(e.code(), "misconfigured");
    }

    // 16 bytes is the minimum.
    let mut vars = base_vars();
    vars.insert("JWT_SECRET", "0123456789abcdef".into());
    assert!(load(&vars).is_ok());
}

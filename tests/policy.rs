//! The decision with a route policy, the session endpoint and the CSRF guard, natively (the
//! same `Gate::decide` the worker calls).

mod common;

use common::{hs256, NOW};
use edgegate::gate::{Action, Gate, Outcome, RequestParts};
use serde_json::{json, Value};

const SELF: &str = "https://app.example";

const POLICY: &str = r#"{
  "rules": [
    {"name": "assets", "path": "/assets/**", "action": "public"},
    {"name": "admin", "path": "/admin/**", "require": {"roles": "admin"}},
    {"name": "orders", "path": "/api/orders/**", "methods": ["POST"], "require": {"scope": "orders:write"}},
    {"name": "tenant", "path": "/t/{tenant}/**", "require": {"tenant": "{tenant}"}},
    {"name": "closed", "path": "/internal/**", "action": "deny"}
  ]
}"#;

/// The shared base configuration with [`POLICY`], and `extra` on top.
fn gate(extra: &[(&'static str, &str)]) -> Gate {
    let mut vars = vec![("POLICY", POLICY)];
    vars.extend_from_slice(extra);
    common::gate(&vars)
}

/// A valid HS256 token for `alice` with `extra` claims.
fn token(extra: Value) -> String {
    let mut claims = json!({"sub": "alice", "iat": NOW - 10, "exp": NOW + 600});
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    hs256(&claims)
}

fn request<'a>(method: &'a str, path: &'a str, cookie: Option<&'a str>) -> RequestParts<'a> {
    RequestParts {
        method,
        path,
        cookie,
        accept: Some("application/json"),
        sec_fetch_site: Some("same-origin"),
        self_origin: SELF,
        ..Default::default()
    }
}

fn decide(g: &Gate, method: &str, path: &str, claims: Option<Value>) -> Outcome {
    let cookie = claims.map(|c| format!("access={}", token(c)));
    g.decide(&request(method, path, cookie.as_deref()), NOW)
}

fn status(o: &Outcome) -> u16 {
    o.status().unwrap_or(200)
}

#[test]
fn each_rule_type() {
    let g = gate(&[]);
    let o = decide(&g, "GET", "/assets/app.css", None);
    assert_eq!(
        (o.decision.code(), o.rule.as_deref()),
        ("public", Some("assets"))
    );
    assert_eq!(status(&decide(&g, "GET", "/elsewhere", None)), 401);
    assert_eq!(
        status(&decide(&g, "GET", "/elsewhere", Some(json!({})))),
        200
    );
    assert_eq!(
        status(&decide(
            &g,
            "GET",
            "/admin/x",
            Some(json!({"roles": ["admin"]}))
        )),
        200
    );
    let o = decide(&g, "GET", "/admin/x", Some(json!({"roles": ["user"]})));
    assert_eq!(
        (status(&o), o.reason.code(), o.rule.as_deref()),
        (403, "forbidden", Some("admin"))
    );
    assert_eq!(
        status(&decide(
            &g,
            "POST",
            "/api/orders/1",
            Some(json!({"scope": "orders:read"}))
        )),
        403
    );
    assert_eq!(
        status(&decide(
            &g,
            "POST",
            "/api/orders/1",
            Some(json!({"scope": "a orders:write"}))
        )),
        200
    );
    assert_eq!(
        status(&decide(
            &g,
            "GET",
            "/api/orders/1",
            Some(json!({"scope": "orders:read"}))
        )),
        200
    );
    assert_eq!(
        status(&decide(
            &g,
            "GET",
            "/t/acme/x",
            Some(json!({"tenant": "acme"}))
        )),
        200
    );
    assert_eq!(
        status(&decide(
            &g,
            "GET",
            "/t/acme/x",
            Some(json!({"tenant": "other"}))
        )),
        403
    );
    let o = decide(&g, "GET", "/internal/x", Some(json!({"roles": ["admin"]})));
    assert_eq!((status(&o), o.reason.code()), (403, "denied"));
}

#[test]
fn a_refused_navigation_gets_a_plain_page_not_a_redirect() {
    let g = gate(&[]);
    let t = token(json!({"roles": []}));
    let cookie = format!("access={t}");
    let req = RequestParts {
        sec_fetch_mode: Some("navigate"),
        accept: Some("text/html"),
        ..request("GET", "/admin", Some(&cookie))
    };
    let o = g.decide(&req, NOW);
    match &o.action {
        Action::Respond(r) => {
            assert_eq!(r.status, 403);
            assert!(r.content_type.starts_with("text/html"));
            assert!(r.location.is_none());
        }
        Action::Forward { .. } => panic!("{o:?}"),
    }
}

#[test]
fn precedence_401_then_refresh_then_403() {
    let g = gate(&[]);
    assert_eq!(decide(&g, "GET", "/admin", None).reason, "missing_token");
    let expired = json!({"roles": ["user"], "iat": NOW - 7200, "exp": NOW - 3600});
    assert_eq!(
        decide(&g, "GET", "/admin", Some(expired.clone())).reason,
        "expired"
    );
    let t = token(expired);
    let cookie = format!("access={t}");
    let nav = RequestParts {
        sec_fetch_mode: Some("navigate"),
        ..request("GET", "/admin", Some(&cookie))
    };
    assert_eq!(g.decide(&nav, NOW).decision, "refresh");
}

#[test]
fn path_tricks_are_judged_on_the_canonical_path() {
    let g = gate(&[]);
    for p in [
        "/assets/../admin",
        "/%61dmin",
        "//admin",
        "/assets/%2e%2e/admin",
        "/x/./../admin/",
    ] {
        let o = decide(&g, "GET", p, Some(json!({"roles": ["user"]})));
        assert_eq!(status(&o), 403, "{p}: {o:?}");
    }
}

#[test]
fn session_endpoint() {
    let g = gate(&[]);
    let o = decide(
        &g,
        "GET",
        "/.edgegate/session",
        Some(json!({"roles": ["r"]})),
    );
    let Action::Respond(r) = &o.action else {
        panic!("{o:?}")
    };
    assert_eq!(r.status, 200);
    let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["exp"], NOW + 600);
    assert_eq!(body["iat"], NOW - 10);
    assert_eq!(body["claims"]["roles"], json!(["r"]));
    assert_eq!(
        status(&decide(&g, "POST", "/.edgegate/session", Some(json!({})))),
        405
    );
    let off = gate(&[("SESSION_PATH", "off")]);
    assert!(matches!(
        decide(&off, "GET", "/.edgegate/session", Some(json!({}))).action,
        Action::Forward { .. }
    ));
    let moved = gate(&[("SESSION_PATH", "/me")]);
    assert_eq!(
        decide(&moved, "GET", "/me", Some(json!({}))).decision,
        "session"
    );
}

#[test]
fn csrf_applies_to_valid_cookie_tokens_on_state_changing_methods() {
    let g = gate(&[]);
    let t = token(json!({}));
    let cookie = format!("access={t}");
    let cross = RequestParts {
        sec_fetch_site: Some("cross-site"),
        origin: Some("https://evil.example"),
        ..request("POST", "/api/x", Some(&cookie))
    };
    let o = g.decide(&cross, NOW);
    assert_eq!((status(&o), o.reason.code()), (403, "csrf_cross_site"));
    let none = RequestParts {
        sec_fetch_site: None,
        ..request("DELETE", "/api/x", Some(&cookie))
    };
    assert_eq!(g.decide(&none, NOW).reason, "csrf_no_evidence");
    let get = RequestParts {
        method: "GET",
        ..cross
    };
    assert_eq!(status(&g.decide(&get, NOW)), 200);
    // Bearer requests carry no ambient credential: exempt.
    let bg = gate(&[("ACCEPT_BEARER", "true")]);
    let auth = format!("Bearer {t}");
    let bearer = RequestParts {
        authorization: Some(&auth),
        cookie: None,
        ..cross
    };
    assert_eq!(status(&bg.decide(&bearer, NOW)), 200);
    // Switched off: passes.
    let off = gate(&[("CSRF_GUARD", "false")]);
    assert_eq!(status(&off.decide(&cross, NOW)), 200);
}

#[test]
fn assertion_is_minted_for_the_forwarded_path() {
    let secret = "s".repeat(32);
    let g = gate(&[
        ("ASSERTION_SECRET", &secret),
        ("ORIGIN_URL", "http://127.0.0.1:9000/base"),
    ]);
    let o = decide(&g, "GET", "/api/x", Some(json!({})));
    let Action::Forward { path, identity, .. } = &o.action else {
        panic!("{o:?}")
    };
    assert_eq!(path, "/base/api/x");
    let a = g
        .assertion("GET", path, identity.as_ref(), NOW, [3; 16])
        .unwrap();
    let c = edgegate::low_level::assertion::verify(
        &a,
        secret.as_bytes(),
        "http://127.0.0.1:9000",
        "GET",
        "/base/api/x",
        NOW,
    )
    .unwrap();
    assert_eq!(c.sub.as_deref(), Some("alice"));
    assert!(gate(&[])
        .assertion("GET", path, None, NOW, [0; 16])
        .is_none());
}

#[test]
fn log_facts_carry_rule_and_optional_sub_hash() {
    let g = gate(&[("LOG_SUB", "hash")]);
    let o = decide(&g, "GET", "/admin/x", Some(json!({"roles": ["admin"]})));
    assert_eq!(o.rule.as_deref(), Some("admin"));
    assert_eq!(
        o.sub_hash.as_deref(),
        Some(edgegate::gate::sub_hash("alice").as_str())
    );
    assert_eq!(o.sub_hash.as_ref().map(String::len), Some(16));
    let line = edgegate::low_level::log::decision_line(&o, "GET", "/admin/x", 3);
    assert!(!line.contains("alice"));
    assert!(decide(&gate(&[]), "GET", "/x", Some(json!({})))
        .sub_hash
        .is_none());
}

/// What Tomcat, Jetty and Spring read as `/admin/users`, `/admin` or `/internal/x` (they strip
/// `;…` from each segment): refused before any rule is consulted, so no rule can be bypassed.
#[test]
fn path_parameters_are_400_before_any_rule() {
    let g = gate(&[]);
    for path in [
        "/admin;x=y/users",
        "/admin;/users",
        "/assets/..;/admin",
        "/internal;x=y/x",
        "/admin%3Bx=y/users",
        "/assets/app.js;jsessionid=1",
    ] {
        for claims in [None, Some(json!({})), Some(json!({"roles": "admin"}))] {
            let o = decide(&g, "GET", path, claims);
            assert_eq!(
                (status(&o), o.reason.code()),
                (400, "path_parameter"),
                "{path}"
            );
            assert!(
                matches!(&o.action, Action::Respond(r) if r.body.as_deref() == Some(r#"{"error":"bad_request"}"#)),
                "{path}: {o:?}"
            );
        }
    }
}

#[test]
fn a_rule_listing_get_covers_head() {
    let policy = r#"{"rules": [
        {"name": "reports", "path": "/reports/**", "methods": ["GET"], "require": {"roles": "admin"}},
        {"name": "closed", "path": "/closed/**", "methods": ["get"], "action": "deny"}
    ]}"#;
    let g = gate(&[("POLICY", policy)]);
    for method in ["GET", "HEAD", "head"] {
        let o = decide(&g, method, "/reports/q3", Some(json!({})));
        assert_eq!(
            (status(&o), o.rule.as_deref()),
            (403, Some("reports")),
            "{method}"
        );
        let o = decide(&g, method, "/reports/q3", Some(json!({"roles": "admin"})));
        assert_eq!(
            (status(&o), o.rule.as_deref()),
            (200, Some("reports")),
            "{method}"
        );
        let o = decide(&g, method, "/closed/x", Some(json!({})));
        assert_eq!((status(&o), o.reason.code()), (403, "denied"), "{method}");
    }
    // Other methods are not covered by a GET rule.
    for method in ["POST", "OPTIONS"] {
        let o = decide(&g, method, "/reports/q3", Some(json!({})));
        assert_eq!(
            (status(&o), o.rule.as_deref()),
            (200, Some("default")),
            "{method}"
        );
    }
}

#[test]
fn csrf_covers_every_unsafe_method() {
    let g = gate(&[]);
    let cookie = format!("access={}", token(json!({})));
    for method in [
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "PURGE",
        "X-CUSTOM",
    ] {
        let cross = RequestParts {
            sec_fetch_site: Some("cross-site"),
            origin: Some("https://evil.example"),
            ..request(method, "/api/x", Some(&cookie))
        };
        let o = g.decide(&cross, NOW);
        assert_eq!(
            (status(&o), o.reason.code()),
            (403, "csrf_cross_site"),
            "{method}"
        );
        let same = request(method, "/api/x", Some(&cookie));
        assert_eq!(status(&g.decide(&same, NOW)), 200, "{method}");
    }
    for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
        let cross = RequestParts {
            sec_fetch_site: Some("cross-site"),
            origin: Some("https://evil.example"),
            ..request(method, "/api/x", Some(&cookie))
        };
        assert_eq!(status(&g.decide(&cross, NOW)), 200, "{method}");
    }
}

/// Cross-site WebSocket hijacking: the handshake is a GET that carries the cookie.
#[test]
fn csrf_covers_websocket_handshakes() {
    let g = gate(&[]);
    let t = token(json!({}));
    let cookie = format!("access={t}");
    let handshake = |site, origin| RequestParts {
        upgrade: Some("websocket"),
        sec_fetch_site: site,
        origin,
        ..request("GET", "/ws", Some(&cookie))
    };
    let evil = Some("https://evil.example");
    let o = g.decide(&handshake(Some("cross-site"), evil), NOW);
    assert_eq!((status(&o), o.reason.code()), (403, "csrf_cross_site"));
    assert_eq!(
        g.decide(&handshake(None, evil), NOW).reason,
        "csrf_foreign_origin"
    );
    assert_eq!(
        g.decide(&handshake(None, None), NOW).reason,
        "csrf_no_evidence"
    );
    assert_eq!(
        status(&g.decide(&handshake(Some("same-origin"), Some(SELF)), NOW)),
        200
    );
    assert_eq!(status(&g.decide(&handshake(None, Some(SELF)), NOW)), 200);
    // Bearer-authenticated handshakes carry no ambient credential: exempt.
    let bg = gate(&[("ACCEPT_BEARER", "true")]);
    let auth = format!("Bearer {t}");
    let bearer = RequestParts {
        authorization: Some(&auth),
        cookie: None,
        ..handshake(Some("cross-site"), evil)
    };
    assert_eq!(status(&bg.decide(&bearer, NOW)), 200);
    // Switched off: passes.
    let off = gate(&[("CSRF_GUARD", "false")]);
    assert_eq!(
        status(&off.decide(&handshake(Some("cross-site"), evil), NOW)),
        200
    );
}

/// A `sub` a header write would trim names someone else in `x-auth-sub` than in the claims.
#[test]
fn a_sub_with_outer_spaces_is_refused() {
    let g = gate(&[]);
    for sub in [" alice ", " alice", "alice ", " "] {
        let o = decide(&g, "GET", "/api/x", Some(json!({ "sub": sub })));
        assert_eq!((status(&o), o.reason.code()), (401, "bad_sub"), "{sub:?}");
    }
    let o = decide(&g, "GET", "/api/x", Some(json!({"sub": "alice smith"})));
    assert_eq!(status(&o), 200);
}

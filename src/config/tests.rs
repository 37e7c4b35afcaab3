//! Unit tests of configuration parsing: every key is named in its error.

use super::*;
use std::collections::HashMap;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn base() -> HashMap<&'static str, String> {
    HashMap::from([
        ("ORIGIN_URL", "http://127.0.0.1:9000".to_string()),
        ("ALGORITHMS", "HS256".to_string()),
        ("JWT_SECRET", SECRET.to_string()),
    ])
}

fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
    Config::from_lookup(&|k| vars.get(k).cloned())
}

fn fails_on(key: &'static str, value: &str) -> ConfigError {
    let mut v = base();
    v.insert(key, value.to_string());
    let e = load(&v).unwrap_err();
    assert_eq!(e.key, key, "{value:?} -> {e}");
    e
}

#[test]
fn defaults() {
    let c = load(&base()).unwrap();
    assert_eq!(c.origin.base, "http://127.0.0.1:9000");
    assert_eq!(c.origin.prefix, "");
    assert_eq!(c.access_cookie, "access");
    assert_eq!(c.refresh_path, "/auth/refresh");
    assert_eq!(c.login_path, "/auth/login");
    assert_eq!(c.public_paths, vec!["/auth/refresh", "/auth/login"]);
    assert!(!c.accept_bearer);
    assert!(c.csrf.enabled && !c.csrf.allow_same_site && c.csrf.allowed_origins.is_empty());
    assert!(c.assertion.is_none());
    assert_eq!(c.log_requests, super::LogRequests::All);
    assert!(c.warnings.is_empty());
}

#[test]
fn log_requests_values() {
    for (value, want) in [
        ("all", super::LogRequests::All),
        ("denied", super::LogRequests::Denied),
        ("off", super::LogRequests::Off),
    ] {
        let mut v = base();
        v.insert("LOG_REQUESTS", value.into());
        assert_eq!(load(&v).unwrap().log_requests, want, "{value}");
    }
}

#[test]
fn every_key_is_named_in_its_error() {
    for key in ["ORIGIN_URL", "ALGORITHMS"] {
        let mut v = base();
        v.remove(key);
        assert_eq!(load(&v).unwrap_err().key, key);
    }
    let mut v = base();
    v.remove("JWT_SECRET");
    assert_eq!(load(&v).unwrap_err().key, "JWT_SECRET");
    fails_on("ORIGIN_URL", "not a url");
    fails_on("ORIGIN_URL", "ftp://127.0.0.1");
    fails_on("ORIGIN_URL", "http://user:pw@127.0.0.1");
    fails_on("ORIGIN_URL", "http://127.0.0.1/?x=1");
    fails_on("ALGORITHMS", "HS256,none");
    fails_on("ALGORITHMS", "hs256");
    fails_on("ALGORITHMS", " , ");
    fails_on("ALGORITHMS", "HS256,RS256");
    fails_on("JWT_SECRET", "short");
    fails_on("ACCESS_COOKIE", "bad name");
    fails_on("ACCESS_COOKIE", "a;b");
    fails_on("LEEWAY_SECONDS", "-1");
    fails_on("LEEWAY_SECONDS", "601");
    fails_on("LEEWAY_SECONDS", "ten");
    fails_on("REFRESH_PATH", "auth/refresh");
    fails_on("REFRESH_PATH", "//evil.example/refresh");
    fails_on("LOGIN_PATH", "/login?x=1");
    fails_on("PUBLIC_PATHS", "/ok,relative");
    fails_on("ACCEPT_BEARER", "yes");
    fails_on("MAX_TOKEN_LIFETIME", "forever");
    fails_on("CSRF_GUARD", "off");
    fails_on("CSRF_ALLOW_SAME_SITE", "1");
    fails_on("ALLOWED_ORIGINS", "https://ok.example,not an origin");
    fails_on("ALLOWED_ORIGINS", "https://app.example/path");
    fails_on("ASSERTION_SECRET", "too-short-for-hmac");
    fails_on("ASSERTION_TTL", "61");
    fails_on("ASSERTION_TTL", "0");
    fails_on("POLICY", "[]");
    fails_on(
        "POLICY",
        r#"{"rules":[{"name":"r1","path":"/x","action":"nope"}]}"#,
    );
    fails_on("SESSION_PATH", "session");
    fails_on("SERVER_TIMING", "yes");
    fails_on("SIGNATURE_CACHE", "-1");
    fails_on("SIGNATURE_CACHE", "65537");
    fails_on("SIGNATURE_CACHE", "lots");
    fails_on("LOG_SUB", "plain");
    fails_on("LOG_REQUESTS", "some");
    fails_on("JWKS", "[]");
    fails_on(
        "JWKS",
        r#"{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#,
    );
    fails_on("JWT_SECRETS", "{}");
    fails_on("JWKS_URL", "http://idp.example/jwks");
    fails_on("JWKS_URL", "not a url");
    for (key, value) in [
        ("JWKS_CACHE_SECONDS", "-1"),
        ("JWKS_MIN_REFRESH_SECONDS", "forever"),
    ] {
        let mut v = base();
        v.insert("JWKS_URL", "https://idp.example/jwks".into());
        v.insert(key, value.into());
        assert_eq!(load(&v).unwrap_err().key, key);
    }
    // With a remote JWK Set, asymmetric algorithms need no key at start-up.
    let mut v = base();
    v.insert("ALGORITHMS", "RS256,ES256".into());
    v.insert("JWKS_URL", "http://127.0.0.1:9/jwks".into());
    let c = load(&v).unwrap();
    assert_eq!(
        c.remote_jwks
            .as_ref()
            .map(|r| (r.cache_seconds, r.min_refresh_seconds)),
        Some((600, 30))
    );
    fails_on("JWT_SECRETS", r#"{"k":"short"}"#);
    let mut v = base();
    v.insert("ALGORITHMS", "HS256,EdDSA".into());
    v.insert("JWKS", r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#.into());
    assert_eq!(load(&v).unwrap_err().key, "ALGORITHMS");
}

#[test]
fn errors_never_contain_the_secret() {
    let mut v = base();
    v.insert("JWT_SECRET", "tiny-secret".into());
    let e = load(&v).unwrap_err();
    assert!(!e.to_string().contains("tiny-secret"));
}

#[test]
fn values_are_parsed() {
    let mut v = base();
    v.insert("ORIGIN_URL", "https://origin.example:8443/base/".into());
    v.insert("ALGORITHMS", " HS256 , HS512 ".into());
    v.insert("ACCESS_COOKIE", "__Host-access".into());
    v.insert("LEEWAY_SECONDS", "0".into());
    v.insert("PUBLIC_PATHS", "/static/, /health".into());
    v.insert("ACCEPT_BEARER", "true".into());
    v.insert("ISSUER", "  ".into()); // blank counts as unset
    v.insert(
        "ALLOWED_ORIGINS",
        "https://Partner.example:8443, http://127.0.0.1:3000".into(),
    );
    v.insert("CSRF_ALLOW_SAME_SITE", "true".into());
    v.insert("ASSERTION_SECRET", "a".repeat(32));
    let c = load(&v).unwrap();
    assert_eq!(
        c.csrf.allowed_origins,
        vec!["https://partner.example:8443", "http://127.0.0.1:3000"]
    );
    assert!(c.csrf.allow_same_site);
    assert!(c.assertion.is_some());
    assert_eq!(c.origin.base, "https://origin.example:8443");
    assert_eq!(c.origin.prefix, "/base");
    assert_eq!(c.access_cookie, "__Host-access");
    assert_eq!(
        c.public_paths,
        vec!["/static/", "/health", "/auth/refresh", "/auth/login"]
    );
    assert!(c.accept_bearer);
    assert!(c.verifier.algorithms().contains(Alg::HS512));
}

#[test]
fn warnings_for_weak_but_legal_settings() {
    let mut v = base();
    v.insert("JWT_SECRET", "0123456789abcdef".into());
    v.insert("PUBLIC_PATHS", "/".into());
    v.insert("CSRF_GUARD", "false".into());
    let c = load(&v).unwrap();
    assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
}

//! Structured log lines: one JSON object per request, never the token, a cookie or a secret.
//!
//! Workers Logs (and `wrangler tail`) pick up `console.log`; one line per request keeps them
//! greppable. Every string that came from the request (`kid`, path) is truncated and JSON-escaped.

use crate::config::ConfigError;
use crate::gate::Outcome;
use serde::Serialize;

const MAX_LOGGED_STRING: usize = 128;

fn clip(s: &str) -> &str {
    if s.len() <= MAX_LOGGED_STRING {
        return s;
    }
    let mut end = MAX_LOGGED_STRING;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[derive(Serialize)]
struct DecisionLine<'a> {
    edgegate: &'static str,
    decision: &'static str,
    reason: &'static str,
    status: Option<u16>,
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alg: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_age_s: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in_s: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revocation: Option<&'static str>,
    verify_us: u64,
}

/// The per-request line. `path` should be the path without its query (queries carry secrets);
/// `verify_us` is the time spent deciding (parse, verify, policy).
///
/// ```
/// # let outcome = edgegate::low_level::log::example_outcome();
/// let line = edgegate::low_level::log::decision_line(&outcome, "GET", "/api", 12);
/// assert!(line.starts_with("{\"edgegate\":\"decision\""));
/// ```
pub fn decision_line(outcome: &Outcome, method: &str, path: &str, verify_us: u64) -> String {
    let line = DecisionLine {
        edgegate: "decision",
        decision: outcome.decision.code(),
        reason: outcome.reason.code(),
        status: outcome.status(),
        method: clip(method),
        path: clip(path),
        source: outcome.source.map(|s| s.name()),
        alg: outcome.alg.map(|a| a.name()),
        kid: outcome.kid.as_deref().map(clip),
        token_age_s: outcome.token_age,
        expires_in_s: outcome.expires_in,
        rule: outcome.rule.as_deref().map(clip),
        sub_hash: outcome.sub_hash.as_deref(),
        revocation: outcome.revocation_unchecked.then_some("unchecked"),
        verify_us,
    };
    // Serialising plain strings and integers cannot fail.
    serde_json::to_string(&line).unwrap_or_default()
}

#[derive(Serialize)]
struct ConfigLine<'a> {
    edgegate: &'static str,
    level: &'static str,
    reason: &'static str,
    key: &'a str,
    problem: &'a str,
}

/// The line for a request refused because the configuration is bad (names the key, never a value
/// of a secret).
pub fn config_error_line(e: &ConfigError) -> String {
    serde_json::to_string(&ConfigLine {
        edgegate: "config",
        level: "error",
        reason: "misconfigured",
        key: e.key,
        problem: &e.problem,
    })
    .unwrap_or_default()
}

/// A start-up warning line.
pub fn warning_line(message: &str) -> String {
    serde_json::to_string(&ConfigLine {
        edgegate: "config",
        level: "warn",
        reason: "warning",
        key: "",
        problem: message,
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    edgegate: &'static str,
    level: &'static str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serving_stale: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
}

/// The line for a failed fetch of the remote JWK Set. `serving_stale`: the last good set keeps
/// serving.
pub fn jwks_error_line(problem: &str, serving_stale: bool) -> String {
    serde_json::to_string(&ErrorLine {
        edgegate: "jwks",
        level: "error",
        reason: "jwks_fetch_failed",
        problem: Some(clip(problem)),
        serving_stale: Some(serving_stale),
        method: None,
        path: None,
    })
    .unwrap_or_default()
}

/// The line for a revocation document that could not be fetched or was refused (`problem`: what
/// went wrong, without secrets). `holding`: the isolate still holds an earlier list.
pub fn revocation_error_line(reason: &'static str, problem: &str, holding: bool) -> String {
    serde_json::to_string(&ErrorLine {
        edgegate: "revocation",
        level: "error",
        reason,
        problem: Some(clip(problem)),
        serving_stale: Some(holding),
        method: None,
        path: None,
    })
    .unwrap_or_default()
}

/// The line for a failure talking to the origin.
pub fn origin_error_line(method: &str, path: &str) -> String {
    serde_json::to_string(&ErrorLine {
        edgegate: "origin",
        level: "error",
        reason: "origin_unreachable",
        problem: None,
        serving_stale: None,
        method: Some(clip(method)),
        path: Some(clip(path)),
    })
    .unwrap_or_default()
}

#[doc(hidden)]
pub fn example_outcome() -> Outcome {
    use crate::gate::{Action, Decision, Reason, Reply};
    Outcome {
        action: Action::Respond(Reply::error(401, "missing_token")),
        decision: Decision::Reject,
        reason: Reason::MissingToken,
        source: None,
        alg: None,
        kid: None,
        token_age: None,
        expires_in: None,
        rule: None,
        sub_hash: None,
        revocation_unchecked: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_and_clip_hostile_strings() {
        let mut o = example_outcome();
        o.kid = Some(format!("\"}}{}", "k".repeat(1000)));
        let line = decision_line(&o, "GET", "/x\n\"y", 5);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["reason"], "missing_token");
        assert_eq!(v["status"], 401);
        assert!(v["kid"].as_str().unwrap().len() <= MAX_LOGGED_STRING);
        assert_eq!(v["path"], "/x\n\"y");
        assert!(!line.contains('\n'));
        let e = ConfigError {
            key: "ORIGIN_URL",
            problem: "is required".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&config_error_line(&e)).unwrap();
        assert_eq!(v["key"], "ORIGIN_URL");
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_700_000_000;

    /// The parsed decision line for a `GET /api` through a real gate (HS256, bearer accepted).
    fn line_for(cookie: Option<&str>, authorization: Option<&str>) -> serde_json::Value {
        use crate::config::Config;
        use crate::gate::{Gate, RequestParts};
        let vars = |k: &str| match k {
            "ORIGIN_URL" => Some("http://127.0.0.1:9000".to_owned()),
            "ALGORITHMS" => Some("HS256".to_owned()),
            "JWT_SECRET" => Some(SECRET.to_owned()),
            "ACCEPT_BEARER" => Some("true".to_owned()),
            _ => None,
        };
        let gate = Gate::new(Config::from_lookup(&vars).unwrap());
        let req = RequestParts {
            method: "GET",
            path: "/api",
            cookie,
            authorization,
            ..Default::default()
        };
        let line = decision_line(&gate.decide(&req, NOW), req.method, req.path, 1);
        serde_json::from_str(&line).unwrap()
    }

    fn token() -> String {
        use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
        let claims = serde_json::json!({"sub": "alice", "exp": NOW + 600});
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    #[test]
    fn source_names_where_the_token_came_from() {
        let t = token();
        let from_cookie = line_for(Some(&format!("access={t}")), None);
        assert_eq!(from_cookie["decision"], "forward");
        assert_eq!(from_cookie["source"], "cookie");
        let from_bearer = line_for(None, Some(&format!("Bearer {t}")));
        assert_eq!(from_bearer["decision"], "forward");
        assert_eq!(from_bearer["source"], "bearer");
        // A refused token still says where it came from.
        let bad = format!("{}x", &t[..t.len() - 1]);
        let refused = line_for(None, Some(&format!("Bearer {bad}")));
        assert_eq!(refused["decision"], "reject");
        assert_eq!(refused["source"], "bearer");
        // No token: no `source` member at all.
        let missing = line_for(None, None);
        assert_eq!(missing["reason"], "missing_token");
        assert!(missing.get("source").is_none(), "{missing}");
    }

    #[test]
    fn clip_respects_char_boundaries() {
        let s = "\u{e9}".repeat(100);
        assert!(clip(&s).len() <= MAX_LOGGED_STRING);
        assert!(clip(&s).chars().all(|c| c == '\u{e9}'));
    }
}

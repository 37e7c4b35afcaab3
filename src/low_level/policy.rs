//! Route policy: who may reach what, decided at the edge from the verified claims.
//!
//! `POLICY` is a JSON document of ordered rules; the first rule whose path pattern and method
//! match the request decides, and `default` applies when none does:
//!
//! ```json
//! {
//!   "default": "authenticated",
//!   "rules": [
//!     {"name": "assets",  "path": "/static/**",      "action": "public"},
//!     {"name": "admin",   "path": "/admin/**",       "require": {"roles": "admin"}},
//!     {"name": "orders",  "path": "/api/orders/**",  "methods": ["POST", "PUT", "DELETE"],
//!                         "require": {"scope": "orders:write"}},
//!     {"name": "tenant",  "path": "/t/{tenant}/**",  "require": {"tenant": "{tenant}"}},
//!     {"name": "closed",  "path": "/internal/**",    "action": "deny"}
//!   ]
//! }
//! ```
//!
//! **Paths** are matched segment by segment against the canonical path (see [`crate::low_level::path`]):
//! a literal segment matches itself, `*` any one segment, `{name}` any one segment and captures
//! it, and `**` (last only) any number of segments, including none. `/admin/**` matches `/admin`,
//! `/admin/` and `/admin/users/7`; `/health` matches `/health` and `/health/` only.
//!
//! **Actions**: `public` (no token needed), `authenticated` (any valid token), `require` (a valid
//! token whose claims meet every condition; implied by a `require` member), `deny` (403 always).
//!
//! **Conditions** (`require`): each key names a claim (dots reach into objects, e.g.
//! `realm_access.roles`); each value is a string, or an array of strings that must *all* hold. A
//! string condition holds when the claim is that string, an array containing it, or a
//! space-separated string (OAuth `scope`) containing it as a word. `{name}` stands for the path
//! segment captured under that name. Unmet conditions give `403 {"error":"forbidden"}`, never a
//! refresh.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The most rules a policy may have (rules are scanned in order on every request).
pub const MAX_RULES: usize = 256;

/// What a matched rule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// Any valid token.
    Authenticated,
    /// A valid token whose claims meet the conditions.
    Require(Vec<Condition>),
    /// Always refused (403).
    Deny,
}

/// One claim condition: `claim` must hold every value in `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The claim path, split on dots.
    pub claim: Vec<String>,
    /// Required values; `{name}` refers to a captured path segment.
    pub all: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Any,
    Capture(String),
    Rest,
}

/// One rule of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule's name (or `#<index>`), for logs.
    pub name: String,
    pattern: Vec<Seg>,
    methods: Option<Vec<String>>,
    /// What the rule asks for.
    pub access: Access,
}

/// A policy problem, naming the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// The parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
    default: Access,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rules: Vec::new(),
            default: Access::Authenticated,
        }
    }
}

/// The rule that applies to a request, with its captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'p> {
    /// The rule's name, or `default`.
    pub rule: &'p str,
    /// What it asks for.
    pub access: &'p Access,
    /// `{name}` captures, in pattern order.
    pub captures: Vec<(&'p str, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    name: Option<String>,
    path: String,
    #[serde(default)]
    methods: Option<Vec<String>>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    require: Option<BTreeMap<String, StringOrList>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

fn parse_pattern(name: &str, path: &str) -> Result<Vec<Seg>, PolicyError> {
    let err = |why: &str| PolicyError(format!("rule {name}: path {path:?} {why}"));
    if !path.starts_with('/') {
        return Err(err("must start with /"));
    }
    let raw: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut segs = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let seg = match *s {
            "**" if i + 1 == raw.len() => Seg::Rest,
            "**" => return Err(err("may use ** only as its last segment")),
            "*" => Seg::Any,
            "." | ".." => return Err(err("must not contain . or .. segments")),
            _ if s.starts_with('{') && s.ends_with('}') && s.len() > 2 => {
                let var = &s[1..s.len() - 1];
                if !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(err("has a capture name that is not [A-Za-z0-9_]"));
                }
                Seg::Capture(var.to_owned())
            }
            _ if s.contains(['*', '{', '}']) => {
                return Err(err("mixes wildcards with text inside one segment"));
            }
            _ => {
                let canonical = crate::low_level::path::normalize(&format!("/{s}"))
                    .map_err(|_| err("has a segment that is not a valid path segment"))?;
                Seg::Lit(canonical.trim_start_matches('/').to_owned())
            }
        };
        segs.push(seg);
    }
    Ok(segs)
}

fn parse_access(
    name: &str,
    action: Option<&str>,
    require: Option<BTreeMap<String, StringOrList>>,
    captures: &[&str],
) -> Result<Access, PolicyError> {
    let err = |why: String| PolicyError(format!("rule {name}: {why}"));
    match (action, require) {
        (Some("public"), None) => Ok(Access::Public),
        (Some("authenticated"), None) => Ok(Access::Authenticated),
        (Some("deny"), None) => Ok(Access::Deny),
        (Some("require") | None, Some(req)) => {
            if req.is_empty() {
                return Err(err("require has no condition".into()));
            }
            let mut conds = Vec::new();
            for (claim, v) in req {
                let all = match v {
                    StringOrList::One(s) => vec![s],
                    StringOrList::Many(v) if !v.is_empty() => v,
                    StringOrList::Many(_) => {
                        return Err(err(format!("condition {claim:?} has an empty list")))
                    }
                };
                for value in &all {
                    if let Some(var) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                        if !captures.contains(&var) {
                            return Err(err(format!("condition {claim:?} refers to {{{var}}}, which the path does not capture")));
                        }
                    }
                }
                let path: Vec<String> = claim.split('.').map(str::to_owned).collect();
                if path.iter().any(String::is_empty) {
                    return Err(err(format!("condition names an invalid claim {claim:?}")));
                }
                conds.push(Condition { claim: path, all });
            }
            Ok(Access::Require(conds))
        }
        (Some("require"), None) => Err(err("action require needs a require object".into())),
        (Some(a @ ("public" | "authenticated" | "deny")), Some(_)) => {
            Err(err(format!("action {a} cannot have require conditions")))
        }
        (Some(other), _) => Err(err(format!(
            "unknown action {other:?} (public, authenticated, require, deny)"
        ))),
        (None, None) => Err(err("needs an action or a require object".into())),
    }
}

/// Whether a rule's listed method `listed` covers the request's `method`.
fn method_matches(listed: &str, method: &str) -> bool {
    listed.eq_ignore_ascii_case(method)
        || (listed.eq_ignore_ascii_case("GET") && method.eq_ignore_ascii_case("HEAD"))
}

impl Policy {
    /// Parses `POLICY` (JSON). Errors name the rule (its `name`, or `#<index>` from 0).
    ///
    /// ```
    /// use edgegate::low_level::policy::{Access, Policy};
    /// let p = Policy::parse(r#"{"rules":[{"name":"adm","path":"/admin/**","require":{"roles":"admin"}}]}"#).unwrap();
    /// let m = p.matching("/admin/users", "GET");
    /// assert_eq!(m.rule, "adm");
    /// assert!(matches!(m.access, Access::Require(_)));
    /// assert_eq!(p.matching("/home", "GET").rule, "default");
    /// assert!(Policy::parse(r#"{"rules":[{"path":"admin"}]}"#).unwrap_err().to_string().contains("#0"));
    /// ```
    pub fn parse(json: &str) -> Result<Policy, PolicyError> {
        crate::low_level::json::check_unique_keys(json.as_bytes())
            .map_err(|e| PolicyError(format!("is not a JSON object with unique keys ({e:?})")))?;
        let raw: RawPolicy = serde_json::from_str(json)
            .map_err(|e| PolicyError(format!("does not have the policy shape: {e}")))?;
        if raw.rules.len() > MAX_RULES {
            return Err(PolicyError(format!("has more than {MAX_RULES} rules")));
        }
        let default = match raw.default.as_deref() {
            None | Some("authenticated") => Access::Authenticated,
            Some("public") => Access::Public,
            Some("deny") => Access::Deny,
            Some(other) => {
                return Err(PolicyError(format!(
                    "default {other:?} must be authenticated, public or deny"
                )))
            }
        };
        let mut rules = Vec::with_capacity(raw.rules.len());
        for (i, r) in raw.rules.into_iter().enumerate() {
            let name = r.name.clone().unwrap_or_else(|| format!("#{i}"));
            let pattern = parse_pattern(&name, &r.path)?;
            let captures: Vec<&str> = pattern
                .iter()
                .filter_map(|s| match s {
                    Seg::Capture(c) => Some(c.as_str()),
                    _ => None,
                })
                .collect();
            let access = parse_access(&name, r.action.as_deref(), r.require, &captures)?;
            let methods = match r.methods {
                Some(m) if m.is_empty() => {
                    return Err(PolicyError(format!("rule {name}: methods is empty")))
                }
                Some(m) => Some(m.into_iter().map(|m| m.to_ascii_uppercase()).collect()),
                None => None,
            };
            rules.push(Rule {
                name,
                pattern,
                methods,
                access,
            });
        }
        Ok(Policy { rules, default })
    }

    /// The rule deciding a request for canonical `path` and `method` (a rule listing `GET`
    /// also covers `HEAD`: origins answer `HEAD` with the `GET` handler).
    pub fn matching(&self, path: &str, method: &str) -> Matched<'_> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for rule in &self.rules {
            if let Some(m) = &rule.methods {
                if !m.iter().any(|x| method_matches(x, method)) {
                    continue;
                }
            }
            if let Some(captures) = match_pattern(&rule.pattern, &segs) {
                return Matched {
                    rule: &rule.name,
                    access: &rule.access,
                    captures,
                };
            }
        }
        Matched {
            rule: "default",
            access: &self.default,
            captures: Vec::new(),
        }
    }
}

fn match_pattern<'p>(pattern: &'p [Seg], segs: &[&str]) -> Option<Vec<(&'p str, String)>> {
    let mut captures = Vec::new();
    for (i, p) in pattern.iter().enumerate() {
        match p {
            Seg::Rest => return Some(captures),
            _ if i >= segs.len() => return None,
            Seg::Lit(l) if l != segs[i] => return None,
            Seg::Lit(_) | Seg::Any => {}
            Seg::Capture(name) => captures.push((name.as_str(), segs[i].to_owned())),
        }
    }
    (pattern.len() == segs.len()).then_some(captures)
}

/// Whether verified `claims` (the payload JSON) meet every condition, given path captures.
///
/// ```
/// use edgegate::low_level::policy::{conditions_met, Condition};
/// let c = vec![Condition { claim: vec!["scope".into()], all: vec!["orders:write".into()] }];
/// let claims = serde_json::json!({"scope": "orders:read orders:write"});
/// assert!(conditions_met(&c, &claims, &[]));
/// ```
pub fn conditions_met(
    conditions: &[Condition],
    claims: &Value,
    captures: &[(&str, String)],
) -> bool {
    conditions.iter().all(|c| {
        let mut v = claims;
        for key in &c.claim {
            match v.get(key) {
                Some(next) => v = next,
                None => return false,
            }
        }
        c.all.iter().all(|want| {
            let want = match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(var) => match captures.iter().find(|(n, _)| *n == var) {
                    Some((_, value)) => value.as_str(),
                    None => return false,
                },
                None => want.as_str(),
            };
            holds(v, want)
        })
    })
}

fn holds(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want || s.split(' ').any(|w| w == want),
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some(want)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXAMPLE: &str = r#"{
      "default": "authenticated",
      "rules": [
        {"name": "assets", "path": "/static/**", "action": "public"},
        {"name": "admin", "path": "/admin/**", "require": {"roles": "admin"}},
        {"name": "orders", "path": "/api/orders/**", "methods": ["post", "PUT"], "require": {"scope": "orders:write"}},
        {"name": "tenant", "path": "/t/{tenant}/**", "require": {"tenant": "{tenant}"}},
        {"name": "one", "path": "/files/*/meta", "action": "authenticated"},
        {"name": "closed", "path": "/internal/**", "action": "deny"},
        {"name": "kc", "path": "/kc", "require": {"realm_access.roles": ["a", "b"]}}
      ]
    }"#;

    fn p() -> Policy {
        Policy::parse(EXAMPLE).unwrap()
    }

    #[test]
    fn a_listed_get_covers_head_and_nothing_else() {
        assert!(method_matches("GET", "HEAD") && method_matches("get", "head"));
        assert!(method_matches("GET", "GET") && method_matches("POST", "post"));
        assert!(!method_matches("GET", "POST"));
        assert!(!method_matches("POST", "HEAD"));
        assert!(!method_matches("HEAD", "GET"));
    }

    #[test]
    fn first_match_wins_and_default_applies() {
        let p = p();
        let cases = [
            ("/static", "GET", "assets"),
            ("/static/app.js", "GET", "assets"),
            ("/admin", "GET", "admin"),
            ("/admin/x/y", "DELETE", "admin"),
            ("/administrator", "GET", "default"),
            ("/api/orders/7", "POST", "orders"),
            ("/api/orders/7", "GET", "default"),
            ("/t/acme/x", "GET", "tenant"),
            ("/t", "GET", "default"),
            ("/files/a/meta", "GET", "one"),
            ("/files/a/b/meta", "GET", "default"),
            ("/internal", "GET", "closed"),
            ("/", "GET", "default"),
        ];
        for (path, method, want) in cases {
            assert_eq!(p.matching(path, method).rule, want, "{method} {path}");
        }
        assert_eq!(
            p.matching("/t/acme/x", "GET").captures,
            vec![("tenant", "acme".to_string())]
        );
    }

    #[test]
    fn conditions() {
        let p = p();
        let check = |path: &str, method: &str, claims: Value| {
            let m = p.matching(path, method);
            match m.access {
                Access::Require(c) => conditions_met(c, &claims, &m.captures),
                other => panic!("{other:?}"),
            }
        };
        assert!(check("/admin", "GET", json!({"roles": ["user", "admin"]})));
        assert!(check("/admin", "GET", json!({"roles": "admin"})));
        assert!(!check("/admin", "GET", json!({"roles": ["user"]})));
        assert!(!check("/admin", "GET", json!({"roles": "administrator"})));
        assert!(!check("/admin", "GET", json!({"roles": [["admin"]]})));
        assert!(!check("/admin", "GET", json!({})));
        assert!(check(
            "/api/orders/1",
            "PUT",
            json!({"scope": "orders:read orders:write"})
        ));
        assert!(!check(
            "/api/orders/1",
            "PUT",
            json!({"scope": "orders:read"})
        ));
        assert!(!check(
            "/api/orders/1",
            "PUT",
            json!({"scope": "orders:write2"})
        ));
        assert!(check("/t/acme/x", "GET", json!({"tenant": "acme"})));
        assert!(!check("/t/acme/x", "GET", json!({"tenant": "globex"})));
        assert!(check(
            "/kc",
            "GET",
            json!({"realm_access": {"roles": ["b", "a"]}})
        ));
        assert!(!check(
            "/kc",
            "GET",
            json!({"realm_access": {"roles": ["a"]}})
        ));
    }

    #[test]
    fn errors_name_the_rule() {
        let bad = [
            (
                r#"{"rules":[{"name":"x","path":"nope","action":"public"}]}"#,
                "rule x",
            ),
            (
                r#"{"rules":[{"path":"/a/**/b","action":"public"}]}"#,
                "rule #0",
            ),
            (
                r#"{"rules":[{"path":"/a","action":"public"},{"path":"/b","action":"allow"}]}"#,
                "rule #1",
            ),
            (
                r#"{"rules":[{"name":"t","path":"/t/{x}","require":{"tenant":"{y}"}}]}"#,
                "rule t",
            ),
            (
                r#"{"rules":[{"name":"e","path":"/e","require":{}}]}"#,
                "rule e",
            ),
            (
                r#"{"rules":[{"name":"m","path":"/m","methods":[],"action":"public"}]}"#,
                "rule m",
            ),
            (
                r#"{"rules":[{"name":"p","path":"/p","action":"public","require":{"a":"b"}}]}"#,
                "rule p",
            ),
            (
                r#"{"rules":[{"name":"w","path":"/a*b","action":"public"}]}"#,
                "rule w",
            ),
            (
                r#"{"rules":[{"name":"d","path":"/a/../b","action":"public"}]}"#,
                "rule d",
            ),
            (r#"{"rules":[{"name":"n","path":"/n"}]}"#, "rule n"),
            (
                r#"{"rules":[{"name":"el","path":"/l","require":{"roles":[]}}]}"#,
                "rule el",
            ),
            // Half a capture, an empty capture, a capture name outside [A-Za-z0-9_].
            (
                r#"{"rules":[{"name":"c1","path":"/{ab","action":"public"}]}"#,
                "rule c1",
            ),
            (
                r#"{"rules":[{"name":"c2","path":"/ab}","action":"public"}]}"#,
                "rule c2",
            ),
            (
                r#"{"rules":[{"name":"c3","path":"/{}","action":"public"}]}"#,
                "rule c3",
            ),
            (
                r#"{"rules":[{"name":"c4","path":"/{a-b}","action":"public"}]}"#,
                "rule c4",
            ),
            (r#"{"default":"maybe"}"#, "default"),
            (r#"{"rules":[],"rules":[]}"#, "unique keys"),
            (r#"{"rulez":[]}"#, "shape"),
        ];
        for (json, want) in bad {
            let e = Policy::parse(json).unwrap_err().to_string();
            assert!(e.contains(want), "{json} -> {e}");
        }
    }

    #[test]
    fn capture_names_may_use_underscores() {
        let p = Policy::parse(
            r#"{"rules":[{"name":"u","path":"/u/{user_id}","require":{"sub":"{user_id}"}}]}"#,
        )
        .unwrap();
        let m = p.matching("/u/alice", "GET");
        assert_eq!(m.captures, vec![("user_id", "alice".to_string())]);
    }

    #[test]
    fn rule_count_limit_is_exact() {
        let policy = |n: usize| {
            let rules = vec![r#"{"path":"/x","action":"public"}"#; n].join(",");
            Policy::parse(&format!(r#"{{"rules":[{rules}]}}"#))
        };
        assert!(policy(MAX_RULES).is_ok());
        let e = policy(MAX_RULES + 1).unwrap_err().to_string();
        assert!(e.contains("more than 256 rules"), "{e}");
    }

    #[test]
    fn literal_segments_are_canonicalised() {
        let p = Policy::parse(r#"{"rules":[{"name":"a","path":"/%61dmin/**","action":"deny"}]}"#)
            .unwrap();
        assert_eq!(p.matching("/admin/x", "GET").rule, "a");
    }
}

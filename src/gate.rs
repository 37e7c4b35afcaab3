//! The decision: what to do with one request. Pure: no `worker` types, no clock, no I/O.
//!
//! ```text
//! canonical path ─► public? ─► token (cookie | bearer; duplicates = ambiguous)
//!     ─► verify (parse ─► select key ─► signature ─► claims)
//!     ─► Forward(identity) | Redirect(refresh | login) | Reject(code)
//! ```
//!
//! [`Gate::begin`] does everything up to the signature check and hands back a [`Step`]; the caller
//! runs the signature check (synchronously with [`Verifier::check_signature`], or asynchronously
//! through WebCrypto) and passes the result to [`Gate::complete`]. [`Gate::decide`] does all of it
//! synchronously.

use crate::alg::Alg;
use crate::config::Config;
use crate::cookie::{self, CookieError, Source};
use crate::csrf::CsrfError;
use crate::keys::KeySet;
use crate::path;
use crate::policy::{conditions_met, Access, Matched};
use crate::verify::{Pending, Verified, Verifier, VerifyError};

/// The headers edgegate adds for the origin. Any inbound header starting with
/// [`IDENTITY_HEADER_PREFIX`] (in any spelling, see [`crate::headers::forwardable_header`]) is
/// removed first.
pub const IDENTITY_HEADER_PREFIX: &str = "x-auth-";
/// The verified `sub`.
pub const SUB_HEADER: &str = "x-auth-sub";
/// base64url (no padding) of the verified claims JSON, byte for byte as signed.
pub const CLAIMS_HEADER: &str = "x-auth-claims";

/// The parts of a request the decision needs (header values as text; absent when missing or not
/// valid text).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestParts<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The URL path as received (before canonicalisation).
    pub path: &'a str,
    /// The raw query string without `?`, if any.
    pub query: Option<&'a str>,
    /// `Cookie`.
    pub cookie: Option<&'a str>,
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `Accept`.
    pub accept: Option<&'a str>,
    /// `Sec-Fetch-Mode`.
    pub sec_fetch_mode: Option<&'a str>,
    /// `Sec-Fetch-Site` (for the CSRF guard).
    pub sec_fetch_site: Option<&'a str>,
    /// `Origin` (for the CSRF guard).
    pub origin: Option<&'a str>,
    /// `Upgrade` (for the CSRF guard: a WebSocket handshake carries the cookie like a form post).
    pub upgrade: Option<&'a str>,
    /// The origin of the request URL itself, `scheme://host[:port]` (for the CSRF guard).
    pub self_origin: &'a str,
}

impl RequestParts<'_> {
    /// A page navigation: `GET`/`HEAD` with `Sec-Fetch-Mode: navigate` or an `Accept` that lists
    /// `text/html`. Navigations are redirected; everything else gets a 401.
    pub fn is_navigation(&self) -> bool {
        let safe =
            self.method.eq_ignore_ascii_case("GET") || self.method.eq_ignore_ascii_case("HEAD");
        let navigate = self
            .sec_fetch_mode
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("navigate"));
        let html = self
            .accept
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"));
        safe && (navigate || html)
    }
}

/// The verified identity forwarded to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Value of `x-auth-sub`.
    pub sub: String,
    /// Value of `x-auth-claims`.
    pub claims_b64: String,
}

/// An answer the gate gives itself, without the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body (`None` for redirects): JSON, except the 403 page for navigations.
    pub body: Option<String>,
    /// The body's media type.
    pub content_type: &'static str,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// `WWW-Authenticate`, for 401s.
    pub www_authenticate: Option<String>,
}

impl Reply {
    /// `{"error":"<code>"}` with `status`.
    pub fn error(status: u16, code: &str) -> Reply {
        Reply {
            status,
            body: Some(format!("{{\"error\":\"{code}\"}}")),
            content_type: "application/json",
            location: None,
            www_authenticate: None,
        }
    }

    fn unauthorized(code: &str, www: &str) -> Reply {
        Reply {
            www_authenticate: Some(www.to_owned()),
            ..Reply::error(401, code)
        }
    }

    fn redirect(location: String) -> Reply {
        Reply {
            status: 302,
            body: None,
            content_type: "application/json",
            location: Some(location),
            www_authenticate: None,
        }
    }

    /// `403 {"error":"forbidden"}`, or for a page navigation the same status with a plain page.
    pub fn forbidden(navigation: bool) -> Reply {
        if navigation {
            Reply {
                body: Some(FORBIDDEN_PAGE.to_owned()),
                content_type: "text/html; charset=utf-8",
                ..Reply::error(403, "forbidden")
            }
        } else {
            Reply::error(403, "forbidden")
        }
    }

    /// `500 {"error":"misconfigured"}`: the answer to every request while configuration is bad.
    pub fn misconfigured() -> Reply {
        Reply::error(500, "misconfigured")
    }
}

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send it to `url` at the origin, with `identity` when the request was authenticated.
    Forward {
        /// The origin URL (canonical path, raw query).
        url: String,
        /// The path the origin receives (its `ORIGIN_URL` prefix + the canonical path, no query).
        path: String,
        /// The verified identity, `None` on public paths.
        identity: Option<Identity>,
    },
    /// Answer it at the edge.
    Respond(Reply),
}

/// The decision plus what the log line needs. Never holds the token or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What to do.
    pub action: Action,
    /// `forward`, `public`, `refresh`, `login`, `reject`.
    pub decision: &'static str,
    /// Stable reason code: `ok`, `public`, or the failure code (e.g. `bad_signature`).
    pub reason: &'static str,
    /// Where the token came from, if one was found.
    pub source: Option<Source>,
    /// The token's `alg`, once parsed.
    pub alg: Option<Alg>,
    /// The token's `kid`, once parsed (attacker-controlled: escape before logging).
    pub kid: Option<String>,
    /// Seconds since `iat`, for accepted tokens that carry it.
    pub token_age: Option<i64>,
    /// Seconds until `exp`, for accepted tokens.
    pub expires_in: Option<i64>,
    /// The policy rule that applied (`POLICY` rule name, `public_paths`, `session` or `default`).
    pub rule: Option<String>,
    /// A short hash of `sub` (only with `LOG_SUB=hash`).
    pub sub_hash: Option<String>,
}

impl Outcome {
    fn new(action: Action, decision: &'static str, reason: &'static str) -> Outcome {
        Outcome {
            action,
            decision,
            reason,
            source: None,
            alg: None,
            kid: None,
            token_age: None,
            expires_in: None,
            rule: None,
            sub_hash: None,
        }
    }

    fn with_rule(mut self, rule: &str) -> Outcome {
        self.rule = Some(rule.to_owned());
        self
    }

    fn reject(reply: Reply, reason: &'static str) -> Outcome {
        Outcome::new(Action::Respond(reply), "reject", reason)
    }

    /// The HTTP status this outcome answers with, `None` when forwarding.
    pub fn status(&self) -> Option<u16> {
        match &self.action {
            Action::Respond(r) => Some(r.status),
            Action::Forward { .. } => None,
        }
    }
}

/// The request after everything but the signature check.
#[derive(Debug)]
pub struct PendingRequest<'g, 'r> {
    /// The token, parsed, and its candidate keys.
    pub token: Pending<'g, 'r>,
    source: Source,
    navigation: bool,
    csrf: Result<(), CsrfError>,
    target: Target<'g>,
    url: String,
    canonical: String,
    query: Option<&'r str>,
}

/// What a verified token is for: the session endpoint, or a route with its policy rule.
#[derive(Debug)]
enum Target<'g> {
    Session,
    Route(Matched<'g>),
}

/// Either a finished outcome or a token awaiting its signature check.
#[derive(Debug)]
pub enum Step<'g, 'r> {
    /// Decided without a signature check.
    Done(Outcome),
    /// Run the signature check on `.token`, then call [`Gate::complete`].
    Verify(PendingRequest<'g, 'r>),
}

const FORBIDDEN_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>403 Forbidden</title><h1>403 Forbidden</h1><p>You are signed in, but this account may not open this page.</p></html>";

const WWW_BEARER: &str = "Bearer";
const WWW_INVALID: &str = "Bearer error=\"invalid_token\"";
const WWW_EXPIRED: &str = "Bearer error=\"invalid_token\", error_description=\"token expired\"";
const WWW_AMBIGUOUS: &str = "Bearer error=\"invalid_token\", error_description=\"ambiguous token\"";

/// One configured gate, shared by every request of an isolate.
#[derive(Debug)]
pub struct Gate {
    config: Config,
}

impl Gate {
    /// A gate for a validated configuration.
    pub fn new(config: Config) -> Gate {
        Gate { config }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.config.verifier
    }

    /// Everything up to the signature check.
    pub fn begin<'g, 'r>(&'g self, req: &RequestParts<'r>) -> Step<'g, 'r> {
        self.begin_with_keys(req, None)
    }

    /// [`begin`](Self::begin) with the keys of a remote JWK Set in addition to the configured
    /// ones.
    pub fn begin_with_keys<'g, 'r>(
        &'g self,
        req: &RequestParts<'r>,
        remote: Option<&'g KeySet>,
    ) -> Step<'g, 'r> {
        let cfg = &self.config;
        let canonical = match path::normalize(req.path) {
            Ok(c) => c,
            Err(e) => {
                return Step::Done(Outcome::reject(Reply::error(400, "bad_request"), e.code()))
            }
        };
        let url = cfg.origin.url_for(&canonical, req.query);
        let session = cfg.session_path.as_deref() == Some(canonical.as_str());
        let target = if session {
            if !(req.method.eq_ignore_ascii_case("GET") || req.method.eq_ignore_ascii_case("HEAD"))
            {
                let o = Outcome::reject(
                    Reply::error(405, "method_not_allowed"),
                    "method_not_allowed",
                );
                return Step::Done(o.with_rule("session"));
            }
            Target::Session
        } else if cfg.public_paths.iter().any(|p| path::under(&canonical, p)) {
            return Step::Done(self.public(url, &canonical, "public_paths"));
        } else {
            let matched = cfg.policy.matching(&canonical, req.method);
            match matched.access {
                Access::Public => return Step::Done(self.public(url, &canonical, matched.rule)),
                Access::Deny => {
                    let o = Outcome::reject(Reply::forbidden(req.is_navigation()), "denied");
                    return Step::Done(o.with_rule(matched.rule));
                }
                Access::Authenticated | Access::Require(_) => Target::Route(matched),
            }
        };
        let rule_name = match &target {
            Target::Session => "session",
            Target::Route(m) => m.rule,
        };

        // The session endpoint is an API: it never redirects.
        let navigation = req.is_navigation() && !session;
        let (token, source) = match self.find_token(req) {
            Ok(Some(found)) => found,
            Ok(None) => {
                let o = if navigation {
                    let loc = path::redirect_location(&cfg.login_path, &canonical, req.query);
                    Outcome::new(
                        Action::Respond(Reply::redirect(loc)),
                        "login",
                        "missing_token",
                    )
                } else {
                    Outcome::reject(
                        Reply::unauthorized("missing_token", WWW_BEARER),
                        "missing_token",
                    )
                };
                return Step::Done(o.with_rule(rule_name));
            }
            Err(e) => {
                let reply = match e {
                    CookieError::HeaderTooLarge => Reply::error(431, "header_too_large"),
                    CookieError::Ambiguous => Reply::unauthorized("ambiguous_token", WWW_AMBIGUOUS),
                    CookieError::BadAuthorization => {
                        Reply::unauthorized("invalid_token", WWW_INVALID)
                    }
                };
                return Step::Done(Outcome::reject(reply, e.code()).with_rule(rule_name));
            }
        };

        // The CSRF verdict is applied only if the token turns out valid: invalid and expired
        // tokens get their usual 401 whatever the request's origin.
        let csrf = match source {
            Source::Cookie => cfg.csrf.check(
                req.method,
                req.upgrade.is_some(),
                req.sec_fetch_site,
                req.origin,
                req.self_origin,
            ),
            Source::Bearer => Ok(()),
        };

        match cfg.verifier.prepare_with_keys(token, remote) {
            Ok(pending) => Step::Verify(PendingRequest {
                token: pending,
                source,
                navigation,
                csrf,
                target,
                url,
                canonical,
                query: req.query,
            }),
            Err((e, header)) => {
                let mut o =
                    Outcome::reject(Reply::unauthorized("invalid_token", WWW_INVALID), e.code());
                o.source = Some(source);
                if let Some(h) = header {
                    o.alg = Some(h.alg);
                    o.kid = h.kid;
                }
                Step::Done(o.with_rule(rule_name))
            }
        }
    }

    /// Finishes a request given the result of its signature check, at `now` (Unix seconds).
    pub fn complete(
        &self,
        p: PendingRequest<'_, '_>,
        signature: Result<(), VerifyError>,
        now: i64,
    ) -> Outcome {
        let cfg = &self.config;
        let alg = p.token.parsed.jws.header.alg;
        let kid = p.token.parsed.jws.header.kid.clone();
        let rule = match &p.target {
            Target::Session => "session",
            Target::Route(m) => m.rule,
        };
        let mut outcome = match signature.and_then(|()| cfg.verifier.finish(p.token, now)) {
            Ok(v) => {
                let mut o = self.accepted(
                    &v,
                    &p.target,
                    p.navigation,
                    p.csrf,
                    p.url,
                    &p.canonical,
                    now,
                );
                o.expires_in = v.claims.exp.map(|e| e.floor().saturating_sub(now));
                o.token_age = v.claims.iat.map(|i| now.saturating_sub(i.ceil()));
                o.sub_hash = cfg.log_sub_hash.then(|| sub_hash(&v.sub));
                o
            }
            Err(e) if e.is_expired() => {
                // Bearer clients (apps, CLIs) cannot follow a refresh redirect: always 401.
                if p.navigation && p.source == Source::Cookie {
                    let loc = path::redirect_location(&cfg.refresh_path, &p.canonical, p.query);
                    Outcome::new(Action::Respond(Reply::redirect(loc)), "refresh", e.code())
                } else {
                    let reply = Reply {
                        body: Some(format!(
                            "{{\"error\":\"token_expired\",\"refresh\":{}}}",
                            json_string(&cfg.refresh_path)
                        )),
                        ..Reply::unauthorized("token_expired", WWW_EXPIRED)
                    };
                    Outcome::reject(reply, e.code())
                }
            }
            Err(e) => Outcome::reject(Reply::unauthorized("invalid_token", WWW_INVALID), e.code()),
        };
        outcome.source = Some(p.source);
        outcome.alg = Some(alg);
        outcome.kid = kid;
        outcome.with_rule(rule)
    }

    /// The outcome for a genuine, unexpired token: CSRF, then the rule's conditions.
    #[allow(clippy::too_many_arguments)]
    fn accepted(
        &self,
        v: &Verified<'_>,
        target: &Target<'_>,
        navigation: bool,
        csrf: Result<(), CsrfError>,
        url: String,
        canonical: &str,
        now: i64,
    ) -> Outcome {
        if let Err(e) = csrf {
            return Outcome::reject(Reply::error(403, "csrf"), e.code());
        }
        match target {
            Target::Session => {
                let reply = Reply {
                    body: Some(session_body(v, now)),
                    ..Reply::error(200, "")
                };
                return Outcome::new(Action::Respond(reply), "session", "ok");
            }
            Target::Route(m) => {
                if let Access::Require(conditions) = m.access {
                    // Claims are only read as a JSON tree when a rule has conditions.
                    let met = serde_json::from_slice::<serde_json::Value>(&v.payload)
                        .is_ok_and(|claims| conditions_met(conditions, &claims, &m.captures));
                    if !met {
                        return Outcome::reject(Reply::forbidden(navigation), "forbidden");
                    }
                }
            }
        }
        Outcome::new(
            Action::Forward {
                url,
                path: self.config.origin.path_for(canonical),
                identity: Some(Identity {
                    sub: v.sub.clone(),
                    claims_b64: v.payload_b64.to_owned(),
                }),
            },
            "forward",
            "ok",
        )
    }

    /// The whole decision, synchronously (signature checked with `rust_crypto`).
    ///
    /// ```
    /// use edgegate::config::Config;
    /// use edgegate::gate::{Action, Gate, RequestParts};
    /// let vars = |k: &str| match k {
    ///     "ORIGIN_URL" => Some("http://127.0.0.1:9000".to_string()),
    ///     "ALGORITHMS" => Some("HS256".to_string()),
    ///     "JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".to_string()),
    ///     _ => None,
    /// };
    /// let gate = Gate::new(Config::from_lookup(&vars).unwrap());
    /// let req = RequestParts { method: "GET", path: "/api/me", ..Default::default() };
    /// let out = gate.decide(&req, 1_700_000_000);
    /// assert_eq!(out.reason, "missing_token");
    /// assert_eq!(out.status(), Some(401));
    /// ```
    pub fn decide(&self, req: &RequestParts<'_>, now: i64) -> Outcome {
        self.decide_with_keys(req, now, None)
    }

    /// [`decide`](Self::decide) with the keys of a remote JWK Set in addition to the
    /// configured ones.
    pub fn decide_with_keys(
        &self,
        req: &RequestParts<'_>,
        now: i64,
        remote: Option<&KeySet>,
    ) -> Outcome {
        match self.begin_with_keys(req, remote) {
            Step::Done(o) => o,
            Step::Verify(p) => {
                let sig = self.config.verifier.check_signature(&p.token);
                self.complete(p, sig, now)
            }
        }
    }

    /// Forwarding without a token check (identity headers are still stripped by the adapter).
    fn public(&self, url: String, canonical: &str, rule: &str) -> Outcome {
        let action = Action::Forward {
            url,
            path: self.config.origin.path_for(canonical),
            identity: None,
        };
        Outcome::new(action, "public", "public").with_rule(rule)
    }

    /// The `x-auth-assertion` value for a forwarded request, when `ASSERTION_SECRET` is set.
    /// `origin_path` is [`Action::Forward`]'s `path`; `nonce` must be fresh random bytes.
    pub fn assertion(
        &self,
        method: &str,
        origin_path: &str,
        identity: Option<&Identity>,
        now: i64,
        nonce: [u8; 16],
    ) -> Option<String> {
        let minter = self.config.assertion.as_ref()?;
        Some(minter.mint(
            identity.map(|i| i.sub.as_str()),
            method,
            origin_path,
            now,
            nonce,
        ))
    }

    fn find_token<'r>(
        &self,
        req: &RequestParts<'r>,
    ) -> Result<Option<(&'r str, Source)>, CookieError> {
        let cfg = &self.config;
        let from_cookie = match req.cookie {
            Some(h) => cookie::access_cookie(h, &cfg.access_cookie)?.filter(|t| !t.is_empty()),
            None => None,
        };
        let from_bearer = match (cfg.accept_bearer, req.authorization) {
            (true, Some(h)) => cookie::bearer_token(h)?,
            _ => None,
        };
        match (from_cookie, from_bearer) {
            (Some(c), Some(b)) if c != b => Err(CookieError::Ambiguous),
            (Some(c), _) => Ok(Some((c, Source::Cookie))),
            (None, Some(b)) => Ok(Some((b, Source::Bearer))),
            (None, None) => Ok(None),
        }
    }
}

/// A short, stable, non-reversible-at-a-glance tag for `sub` in logs: the first 16 hex digits of
/// SHA-256(`sub`). (A dictionary of known subjects can still be hashed: it is a log
/// pseudonym, not anonymisation.)
pub fn sub_hash(sub: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(sub.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The session endpoint's body: identity, times and the verified claims.
fn session_body(v: &Verified<'_>, now: i64) -> String {
    // The payload passed strict JSON parsing, so it is valid UTF-8 JSON and can be embedded.
    let claims = std::str::from_utf8(&v.payload).unwrap_or("{}");
    let num = |n: Option<i64>| n.map_or_else(|| "null".to_owned(), |n| n.to_string());
    format!(
        "{{\"sub\":{},\"expires_in\":{},\"exp\":{},\"iat\":{},\"claims\":{}}}",
        json_string(&v.sub),
        num(v.claims.exp.map(|e| e.floor().saturating_sub(now))),
        num(v.claims.exp.map(|e| e.floor())),
        num(v.claims.iat.map(|i| i.ceil())),
        claims
    )
}

/// A JSON string literal for `s` (used for configuration values placed in bodies).
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

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
use crate::path;
use crate::verify::{Pending, Verifier, VerifyError};

/// The headers edgegate adds for the origin. Any inbound header starting with
/// [`IDENTITY_HEADER_PREFIX`] is removed first.
pub const IDENTITY_HEADER_PREFIX: &str = "x-auth-";
/// The verified `sub`.
pub const SUB_HEADER: &str = "x-auth-sub";
/// base64url (no padding) of the verified claims JSON, byte for byte as signed.
pub const CLAIMS_HEADER: &str = "x-auth-claims";

/// Whether an inbound request header may be passed to the origin.
///
/// Refused: every `x-auth-*` header in any case (only the gate sets those), `Connection`, and
/// every header that `Connection` lists (`connection` is its value): a client listing `x-auth-sub`
/// there would otherwise ask the next proxy to drop the identity header the gate adds.
///
/// ```
/// use edgegate::gate::forwardable_header;
/// assert!(forwardable_header("accept", None));
/// assert!(!forwardable_header("X-Auth-Sub", None));
/// assert!(!forwardable_header("x-trace", Some("keep-alive, X-Trace")));
/// ```
pub fn forwardable_header(name: &str, connection: Option<&str>) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with(IDENTITY_HEADER_PREFIX) || lower == "connection" {
        return false;
    }
    !connection.is_some_and(|c| c.split(',').any(|t| t.trim().eq_ignore_ascii_case(&lower)))
}

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
    /// The JSON body (`None` for redirects).
    pub body: Option<String>,
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
            location: Some(location),
            www_authenticate: None,
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
        }
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
    url: String,
    canonical: String,
    query: Option<&'r str>,
}

/// Either a finished outcome or a token awaiting its signature check.
#[derive(Debug)]
pub enum Step<'g, 'r> {
    /// Decided without a signature check.
    Done(Outcome),
    /// Run the signature check on `.token`, then call [`Gate::complete`].
    Verify(PendingRequest<'g, 'r>),
}

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
        let cfg = &self.config;
        let Ok(canonical) = path::normalize(req.path) else {
            return Step::Done(Outcome::reject(
                Reply::error(400, "bad_request"),
                "bad_path",
            ));
        };
        let url = cfg.origin.url_for(&canonical, req.query);
        if cfg.public_paths.iter().any(|p| path::under(&canonical, p)) {
            return Step::Done(Outcome::new(
                Action::Forward {
                    url,
                    path: cfg.origin.path_for(&canonical),
                    identity: None,
                },
                "public",
                "public",
            ));
        }

        let navigation = req.is_navigation();
        let (token, source) = match self.find_token(req) {
            Ok(Some(found)) => found,
            Ok(None) => {
                let reply = if navigation {
                    Reply::redirect(path::redirect_location(
                        &cfg.login_path,
                        &canonical,
                        req.query,
                    ))
                } else {
                    Reply::unauthorized("missing_token", WWW_BEARER)
                };
                let decision = if navigation { "login" } else { "reject" };
                return Step::Done(Outcome::new(
                    Action::Respond(reply),
                    decision,
                    "missing_token",
                ));
            }
            Err(e @ CookieError::HeaderTooLarge) => {
                return Step::Done(Outcome::reject(
                    Reply::error(431, "header_too_large"),
                    e.code(),
                ));
            }
            Err(e @ CookieError::Ambiguous) => {
                return Step::Done(Outcome::reject(
                    Reply::unauthorized("ambiguous_token", WWW_AMBIGUOUS),
                    e.code(),
                ));
            }
            Err(e @ CookieError::BadAuthorization) => {
                return Step::Done(Outcome::reject(
                    Reply::unauthorized("invalid_token", WWW_INVALID),
                    e.code(),
                ));
            }
        };

        // The CSRF verdict is applied only if the token turns out valid: invalid and expired
        // tokens get their usual 401 whatever the request's origin.
        let csrf = match source {
            Source::Cookie => {
                cfg.csrf
                    .check(req.method, req.sec_fetch_site, req.origin, req.self_origin)
            }
            Source::Bearer => Ok(()),
        };

        match cfg.verifier.prepare(token) {
            Ok(pending) => Step::Verify(PendingRequest {
                token: pending,
                source,
                navigation,
                csrf,
                url,
                canonical,
                query: req.query,
            }),
            Err(e) => {
                let mut o =
                    Outcome::reject(Reply::unauthorized("invalid_token", WWW_INVALID), e.code());
                o.source = Some(source);
                Step::Done(o)
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
        let alg = p.token.parsed.header.alg;
        let kid = p.token.parsed.header.kid.clone();
        let mut outcome = match signature.and_then(|()| cfg.verifier.finish(p.token, now)) {
            Ok(_) if p.csrf.is_err() => {
                let reason = p.csrf.err().map_or("csrf", CsrfError::code);
                Outcome::reject(Reply::error(403, "csrf"), reason)
            }
            Ok(v) => {
                let mut o = Outcome::new(
                    Action::Forward {
                        url: p.url,
                        path: cfg.origin.path_for(&p.canonical),
                        identity: Some(Identity {
                            sub: v.sub,
                            claims_b64: v.payload_b64.to_owned(),
                        }),
                    },
                    "forward",
                    "ok",
                );
                o.expires_in = v.claims.exp.map(|e| e.floor().saturating_sub(now));
                o.token_age = v.claims.iat.map(|i| now.saturating_sub(i.ceil()));
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
        outcome
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
        match self.begin(req) {
            Step::Done(o) => o,
            Step::Verify(p) => {
                let sig = self.config.verifier.check_signature(&p.token);
                self.complete(p, sig, now)
            }
        }
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

/// A JSON string literal for `s` (used for configuration values placed in bodies).
fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

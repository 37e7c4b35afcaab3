//! What the decision produces and reads: the request facts, the typed decision and reason, the
//! answer given at the edge, and the outcome the log line is made from.

use crate::low_level::alg::Alg;
use crate::low_level::cookie::{CookieError, Source};
use crate::low_level::csrf::CsrfError;
use crate::low_level::path::PathError;
use crate::verify::VerifyError;
use std::fmt;

/// The headers edgegate adds for the origin. Any inbound header starting with
/// [`IDENTITY_HEADER_PREFIX`] (in any spelling, see [`crate::low_level::headers::forwardable_header`]) is
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

    pub(super) fn unauthorized(code: &str, www: &str) -> Reply {
        Reply {
            www_authenticate: Some(www.to_owned()),
            ..Reply::error(401, code)
        }
    }

    pub(super) fn redirect(location: String) -> Reply {
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

    /// `503 {"error":"revocation_unavailable"}`: a genuine token, no current revocation list to
    /// check it against, and `REVOCATION_FAIL=closed`.
    pub fn revocation_unavailable() -> Reply {
        Reply::error(503, "revocation_unavailable")
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

/// What the gate did with a request: the `decision` of the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Forwarded with a verified identity.
    Forward,
    /// Forwarded without a token check (a public path or rule).
    Public,
    /// Answered by the session endpoint.
    Session,
    /// Redirected to the refresh endpoint (an expired token on a page navigation).
    Refresh,
    /// Redirected to the login page (no token on a page navigation).
    Login,
    /// Refused.
    Reject,
}

impl Decision {
    /// The stable code (`forward`, `public`, `session`, `refresh`, `login`, `reject`).
    pub const fn code(self) -> &'static str {
        match self {
            Decision::Forward => "forward",
            Decision::Public => "public",
            Decision::Session => "session",
            Decision::Refresh => "refresh",
            Decision::Login => "login",
            Decision::Reject => "reject",
        }
    }
}

/// Why: the `reason` of the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A valid token.
    Ok,
    /// A public path or rule.
    Public,
    /// No token.
    MissingToken,
    /// A `deny` rule.
    Denied,
    /// A rule's conditions are not met by the verified claims.
    Forbidden,
    /// The session endpoint answers `GET`/`HEAD` only.
    MethodNotAllowed,
    /// The path was refused before any rule.
    Path(PathError),
    /// The token could not be taken from the request.
    Cookie(CookieError),
    /// The token was refused.
    Token(VerifyError),
    /// The CSRF guard refused a request with a valid token.
    Csrf(CsrfError),
    /// A genuine, unexpired token the revocation list revokes.
    Revoked,
    /// A genuine token, and no current revocation list to check it against.
    RevocationUnavailable,
}

impl Reason {
    /// The stable code (e.g. `ok`, `missing_token`, `bad_signature`, `expired`).
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::Public => "public",
            Reason::MissingToken => "missing_token",
            Reason::Denied => "denied",
            Reason::Forbidden => "forbidden",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::Path(e) => e.code(),
            Reason::Cookie(e) => e.code(),
            Reason::Token(e) => e.code(),
            Reason::Csrf(e) => e.code(),
            Reason::Revoked => "revoked",
            Reason::RevocationUnavailable => "revocation_unavailable",
        }
    }
}

macro_rules! coded {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
        /// Compares the stable code (`outcome.reason == "expired"`).
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.code() == *other
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.code() == other
            }
        }
    };
}
coded!(Decision);
coded!(Reason);

/// The decision plus what the log line needs. Never holds the token or a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What to do.
    pub action: Action,
    /// What was decided.
    pub decision: Decision,
    /// Why.
    pub reason: Reason,
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
    /// Forwarded without a current revocation list (`REVOCATION_FAIL=open`).
    pub revocation_unchecked: bool,
}

impl Outcome {
    pub(super) fn new(action: Action, decision: Decision, reason: Reason) -> Outcome {
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
            revocation_unchecked: false,
        }
    }

    pub(super) fn with_rule(mut self, rule: &str) -> Outcome {
        self.rule = Some(rule.to_owned());
        self
    }

    pub(super) fn reject(reply: Reply, reason: Reason) -> Outcome {
        Outcome::new(Action::Respond(reply), Decision::Reject, reason)
    }

    /// The HTTP status this outcome answers with, `None` when forwarding.
    pub fn status(&self) -> Option<u16> {
        match &self.action {
            Action::Respond(r) => Some(r.status),
            Action::Forward { .. } => None,
        }
    }
}

const FORBIDDEN_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>403 Forbidden</title><h1>403 Forbidden</h1><p>You are signed in, but this account may not open this page.</p></html>";

//! The decision: what to do with one request. Pure: no `worker` types, no clock, no I/O.
//!
//! ```text
//! canonical path ─► public? ─► token (cookie | bearer; duplicates = ambiguous)
//!     ─► verify (parse ─► select key ─► signature ─► claims)
//!     ─► Forward(identity) | Redirect(refresh | login) | Reject(code)
//! ```
//!
//! **A state machine.** [`Gate::step`] takes the request and what the caller knows ([`Facts`]:
//! the time, the isolate's remote keys) and returns a [`Step`]: [`Step::Decided`], or a question
//! only I/O can answer — [`Step::NeedKeys`] (fetch the remote JWK Set, then step again) or
//! [`Step::NeedSignature`] (the injected [`SignatureCheck`] could not tell: verify with WebCrypto,
//! then step again with the answers). Stepping again re-reads the request from the start: the
//! gate holds no per-request state between steps, so nothing can be resumed out of order.
//! [`Gate::decide`] runs it to the end with the reference check, synchronously.

use crate::config::Config;
use crate::low_level::alg::Alg;
use crate::low_level::cookie::{self, CookieError, Source};
use crate::low_level::csrf::CsrfError;
use crate::low_level::jwks::RemoteKeys;
use crate::low_level::keys::Key;
use crate::low_level::path;
use crate::low_level::policy::{conditions_met, Access, Matched};
use crate::low_level::revocation::Revocations;
use crate::verify::{Checked, RustCrypto, SignatureCheck, Verified, VerifyError};

mod outcome;
mod revocation;

pub use outcome::{
    Action, Decision, Identity, Outcome, Reason, Reply, RequestParts, CLAIMS_HEADER,
    IDENTITY_HEADER_PREFIX, SUB_HEADER,
};
pub use revocation::DocumentStep;
use revocation::Revocation;

/// What the caller knows besides the request.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'k> {
    /// Now, in milliseconds since the Unix epoch (claims are checked in whole seconds).
    pub now_ms: f64,
    /// The isolate's remote JWK Set, when `JWKS_URL` is configured.
    pub remote: Option<&'k RemoteKeys>,
    /// This request already had its chance to fetch remote keys: never [`Step::NeedKeys`] again.
    pub keys_fetched: bool,
    /// The isolate's revocation state, when `REVOCATION_URL` or `REVOCATION_KV` is configured.
    pub revocations: Option<&'k Revocations>,
    /// This request already waited for a revocation list: never [`Step::NeedRevocations`]
    /// again.
    pub revocations_fetched: bool,
}

impl Facts<'_> {
    /// At `now` (Unix seconds), with no remote keys.
    pub fn at(now: i64) -> Facts<'static> {
        Facts {
            now_ms: now as f64 * 1000.0,
            remote: None,
            keys_fetched: false,
            revocations: None,
            revocations_fetched: false,
        }
    }

    fn now_secs(&self) -> i64 {
        (self.now_ms / 1000.0).floor() as i64
    }
}

/// The signature question of [`Step::NeedSignature`].
#[derive(Debug)]
pub struct SignatureQuestion<'g, 'r> {
    /// The token's algorithm.
    pub alg: Alg,
    /// The keys to try (each of the algorithm's family, none of them HMAC).
    pub keys: Vec<&'g Key>,
    /// The JWS signing input.
    pub message: &'r str,
    /// The decoded signature (already of the exact length the algorithm and key require).
    pub signature: Vec<u8>,
}

/// Where a request stands.
#[derive(Debug)]
pub enum Step<'g, 'r> {
    /// Decided.
    Decided(Outcome),
    /// Fetch the remote JWK Set ([`RemoteKeys::begin_fetch`] with `unknown_kid`), then step
    /// again with [`Facts::keys_fetched`] set, whether or not a fetch ran or succeeded.
    NeedKeys {
        /// The token names a key the remote set lacks.
        unknown_kid: bool,
    },
    /// The signature check could not tell: verify, then step again with a check that knows the
    /// answers for these keys.
    NeedSignature(SignatureQuestion<'g, 'r>),
    /// A genuine token must be checked against the revocation list, and the isolate holds none,
    /// or has not refreshed it for two intervals ([`Revocations::lagging`]): get it
    /// ([`Revocations::begin_fetch`], or wait for the fetch running), then step again with
    /// [`Facts::revocations_fetched`] set, whether or not it succeeded.
    NeedRevocations,
}

/// The request after routing, before the token is read.
struct Routed<'g, 'r> {
    token: &'r str,
    source: Source,
    navigation: bool,
    csrf: Result<(), CsrfError>,
    target: Target<'g>,
    url: String,
    canonical: String,
    query: Option<&'r str>,
}

impl Routed<'_, '_> {
    fn rule(&self) -> &str {
        match &self.target {
            Target::Session => "session",
            Target::Route(m) => m.rule,
        }
    }

    /// The outcome for a refused token, labelled with what is known about it.
    fn refused(
        &self,
        reply: Reply,
        reason: Reason,
        alg: Option<Alg>,
        kid: Option<String>,
    ) -> Outcome {
        let mut o = Outcome::reject(reply, reason).with_rule(self.rule());
        o.source = Some(self.source);
        o.alg = alg;
        o.kid = kid;
        o
    }
}

/// What a verified token is for: the session endpoint, or a route with its policy rule.
#[derive(Debug)]
enum Target<'g> {
    Session,
    Route(Matched<'g>),
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
    pub fn verifier(&self) -> &crate::verify::Verifier {
        &self.config.verifier
    }

    /// One step of the decision for `req`, given `facts`, with `check` as the signature check.
    pub fn step<'g, 'r>(
        &'g self,
        req: &RequestParts<'r>,
        facts: &Facts<'g>,
        check: &dyn SignatureCheck,
    ) -> Step<'g, 'r> {
        let r = match self.route(req) {
            Ok(r) => r,
            Err(done) => return Step::Decided(done),
        };
        let cfg = &self.config;
        let v = &cfg.verifier;
        let invalid = || Reply::unauthorized("invalid_token", WWW_INVALID);

        // 1. Parse.
        let parsed = match v.parse(r.token) {
            Ok(p) => p,
            Err(e) => return Step::Decided(r.refused(invalid(), Reason::Token(e), None, None)),
        };
        let alg = parsed.jws.header.alg;
        let kid = parsed.jws.header.kid.clone();

        // 2. Keys: configured first, then the remote set — fetched first when the isolate has
        // none, when it is stale, or when it lacks the token's `kid` (rate-limited by
        // `RemoteKeys`), at most once per request.
        if let (Some(rc), Some(rk), false) = (&cfg.remote_jwks, facts.remote, facts.keys_fetched) {
            if v.keys().select(alg, kid.as_deref()).is_err() {
                // A cold isolate has no set at all: that is not an unknown `kid` (it may look
                // in the location's cache first).
                let unknown_kid = rk
                    .keys()
                    .is_some_and(|set| set.select(alg, kid.as_deref()).is_err());
                if rk.should_fetch(facts.now_ms, rc.cooldown_ms(), unknown_kid) {
                    return Step::NeedKeys { unknown_kid };
                }
            }
        }
        let pending = match v.select(parsed, facts.remote.and_then(RemoteKeys::keys)) {
            Ok(p) => p,
            Err((e, _)) => {
                return Step::Decided(r.refused(invalid(), Reason::Token(e), Some(alg), kid))
            }
        };

        // 3. Signature: the proof claims validation requires.
        let signed = match v.check_signature(pending, check) {
            Checked::Signed(signed) => signed,
            Checked::Forged => {
                let reason = Reason::Token(VerifyError::Signature);
                return Step::Decided(r.refused(invalid(), reason, Some(alg), kid));
            }
            Checked::Undecided { pending, unknown } => {
                let jws = pending.parsed.jws;
                return Step::NeedSignature(SignatureQuestion {
                    alg,
                    keys: unknown,
                    message: jws.signing_input,
                    signature: jws.signature,
                });
            }
        };

        // 4. Claims, then CSRF and the rule's conditions.
        let now = facts.now_secs();
        let mut outcome = match v.finish(signed, now) {
            Ok(verified) => match self.revocation_check(&verified, facts, now) {
                verdict @ (Revocation::Clear | Revocation::Unchecked) => {
                    let mut o = self.accepted(&verified, &r, now);
                    o.revocation_unchecked = matches!(verdict, Revocation::Unchecked);
                    o
                }
                Revocation::Revoked => self.expired(&r, Reason::Revoked),
                Revocation::Unavailable => Outcome::reject(
                    Reply::revocation_unavailable(),
                    Reason::RevocationUnavailable,
                ),
                Revocation::Fetch => return Step::NeedRevocations,
            },
            Err(e) if e.is_expired() => self.expired(&r, Reason::Token(e)),
            Err(e) => Outcome::reject(invalid(), Reason::Token(e)),
        };
        outcome.source = Some(r.source);
        outcome.alg = Some(alg);
        outcome.kid = kid;
        Step::Decided(outcome.with_rule(r.rule()))
    }

    /// Everything before the token is read: path, session endpoint, public paths and rules,
    /// finding the token, the CSRF verdict (applied only if the token turns out valid). `Err`
    /// is a decision reached on the way.
    #[allow(clippy::result_large_err)]
    fn route<'g, 'r>(&'g self, req: &RequestParts<'r>) -> Result<Routed<'g, 'r>, Outcome> {
        let cfg = &self.config;
        let canonical = path::normalize(req.path)
            .map_err(|e| Outcome::reject(Reply::error(400, "bad_request"), Reason::Path(e)))?;
        let url = cfg.origin.url_for(&canonical, req.query);
        let session = cfg.session_path.as_deref() == Some(canonical.as_str());
        let target = if session {
            if !(req.method.eq_ignore_ascii_case("GET") || req.method.eq_ignore_ascii_case("HEAD"))
            {
                let reply = Reply::error(405, "method_not_allowed");
                let o = Outcome::reject(reply, Reason::MethodNotAllowed);
                return Err(o.with_rule("session"));
            }
            Target::Session
        } else if cfg.public_paths.iter().any(|p| path::under(&canonical, p)) {
            return Err(self.public(url, &canonical, "public_paths"));
        } else {
            let matched = cfg.policy.matching(&canonical, req.method);
            match matched.access {
                Access::Public => return Err(self.public(url, &canonical, matched.rule)),
                Access::Deny => {
                    let o = Outcome::reject(Reply::forbidden(req.is_navigation()), Reason::Denied);
                    return Err(o.with_rule(matched.rule));
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
                        Decision::Login,
                        Reason::MissingToken,
                    )
                } else {
                    Outcome::reject(
                        Reply::unauthorized("missing_token", WWW_BEARER),
                        Reason::MissingToken,
                    )
                };
                return Err(o.with_rule(rule_name));
            }
            Err(e) => {
                let reply = match e {
                    CookieError::HeaderTooLarge => Reply::error(431, "header_too_large"),
                    CookieError::Ambiguous => Reply::unauthorized("ambiguous_token", WWW_AMBIGUOUS),
                    CookieError::BadAuthorization => {
                        Reply::unauthorized("invalid_token", WWW_INVALID)
                    }
                };
                return Err(Outcome::reject(reply, Reason::Cookie(e)).with_rule(rule_name));
            }
        };

        // Invalid and expired tokens get their usual 401 whatever the request's origin: the
        // verdict is applied in `accepted`.
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
        Ok(Routed {
            token,
            source,
            navigation,
            csrf,
            target,
            url,
            canonical,
            query: req.query,
        })
    }

    /// The outcome for a genuine but expired (or revoked: the client's next step is the same, a
    /// refresh) token.
    fn expired(&self, r: &Routed<'_, '_>, reason: Reason) -> Outcome {
        let cfg = &self.config;
        // Bearer clients (apps, CLIs) cannot follow a refresh redirect: always 401.
        if r.navigation && r.source == Source::Cookie {
            let loc = path::redirect_location(&cfg.refresh_path, &r.canonical, r.query);
            Outcome::new(
                Action::Respond(Reply::redirect(loc)),
                Decision::Refresh,
                reason,
            )
        } else {
            let reply = Reply {
                body: Some(format!(
                    "{{\"error\":\"token_expired\",\"refresh\":{}}}",
                    json_string(&cfg.refresh_path)
                )),
                ..Reply::unauthorized("token_expired", WWW_EXPIRED)
            };
            Outcome::reject(reply, reason)
        }
    }

    /// The outcome for a genuine, unexpired token: CSRF, then the rule's conditions.
    fn accepted(&self, v: &Verified<'_>, r: &Routed<'_, '_>, now: i64) -> Outcome {
        let mut o = self.accepted_action(v, r, now);
        o.expires_in = v.claims.exp.map(|e| e.floor().saturating_sub(now));
        o.token_age = v.claims.iat.map(|i| now.saturating_sub(i.ceil()));
        o.sub_hash = self.config.log_sub_hash.then(|| sub_hash(&v.sub));
        o
    }

    fn accepted_action(&self, v: &Verified<'_>, r: &Routed<'_, '_>, now: i64) -> Outcome {
        if let Err(e) = r.csrf {
            return Outcome::reject(Reply::error(403, "csrf"), Reason::Csrf(e));
        }
        match &r.target {
            Target::Session => {
                let reply = Reply {
                    body: Some(session_body(v, now)),
                    ..Reply::error(200, "")
                };
                return Outcome::new(Action::Respond(reply), Decision::Session, Reason::Ok);
            }
            Target::Route(m) => {
                if let Access::Require(conditions) = m.access {
                    // Claims are only read as a JSON tree when a rule has conditions.
                    let met = serde_json::from_slice::<serde_json::Value>(&v.payload)
                        .is_ok_and(|claims| conditions_met(conditions, &claims, &m.captures));
                    if !met {
                        return Outcome::reject(Reply::forbidden(r.navigation), Reason::Forbidden);
                    }
                }
            }
        }
        Outcome::new(
            Action::Forward {
                url: r.url.clone(),
                path: self.config.origin.path_for(&r.canonical),
                identity: Some(Identity {
                    sub: v.sub.clone(),
                    claims_b64: v.payload_b64.to_owned(),
                }),
            },
            Decision::Forward,
            Reason::Ok,
        )
    }

    /// The whole decision at `now` (Unix seconds), synchronously, with the reference signature
    /// check ([`RustCrypto`]) and no remote keys.
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
        let facts = Facts {
            keys_fetched: true,
            ..Facts::at(now)
        };
        self.decide_with(req, &facts, &RustCrypto)
    }

    /// Steps once with `facts` and `check`, and refuses what is still undecided (a signature
    /// the check could not tell: `bad_signature`, never a pass).
    pub fn decide_with(
        &self,
        req: &RequestParts<'_>,
        facts: &Facts<'_>,
        check: &dyn SignatureCheck,
    ) -> Outcome {
        let facts = Facts {
            keys_fetched: true,
            revocations_fetched: true,
            ..*facts
        };
        match self.step(req, &facts, check) {
            Step::Decided(o) => o,
            Step::NeedKeys { .. } | Step::NeedSignature(_) | Step::NeedRevocations => {
                match self.route(req) {
                    Ok(r) => r.refused(
                        Reply::unauthorized("invalid_token", WWW_INVALID),
                        Reason::Token(VerifyError::Signature),
                        None,
                        None,
                    ),
                    Err(o) => o,
                }
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
        Outcome::new(action, Decision::Public, Reason::Public).with_rule(rule)
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

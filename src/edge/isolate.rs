//! The gate's state in one isolate and one step of a request, shared by both edge forms: the
//! JS entry's `Engine` (wasm exports) and the workers-rs module (`crate::workers`). Pure: the
//! caller reads the request, does the I/O a step asks for (WebCrypto, the remote JWK Set), and
//! turns a decided outcome into a response; nothing here touches the runtime.

use super::wire::{self, Keys, VerifiedSignatures};
use crate::config::{ConfigError, RevocationConfig};
use crate::gate::{DocumentStep, Facts, Gate, Outcome, RequestParts, SignatureQuestion, Step};
use crate::low_level::jwks::{self, FetchFrom, RemoteKeys};
use crate::low_level::keys::{Key, KeySet};
use crate::low_level::log;
use crate::low_level::revocation::{self, RevocationError, Revocations};
use crate::verify::{Answered, SignatureCheck, SignatureInput};
use std::cell::RefCell;

/// One isolate's gate: configuration (validated once), the remote keys, and the public-key
/// signatures WebCrypto verified.
#[derive(Debug)]
pub struct Isolate {
    /// The gate, or why the configuration is refused.
    pub gate: Result<Gate, ConfigError>,
    /// The remote JWK Set (`JWKS_URL`).
    pub remote: RemoteKeys,
    /// Signatures already verified (`SIGNATURE_CACHE`).
    pub verified: RefCell<VerifiedSignatures>,
    /// The revocation list (`REVOCATION_URL`, `REVOCATION_KV`).
    pub revocations: Revocations,
}

/// A request as the edge reads it: method, URL and the header values the decision needs, and
/// every inbound header name (one per line, for the strip list).
#[derive(Debug, Clone, Copy, Default)]
pub struct Inbound<'r> {
    /// The method.
    pub method: &'r str,
    /// The absolute request URL as the runtime serialised it.
    pub url: &'r str,
    /// `Cookie`.
    pub cookie: Option<&'r str>,
    /// `Authorization`.
    pub authorization: Option<&'r str>,
    /// `Accept`.
    pub accept: Option<&'r str>,
    /// `Sec-Fetch-Mode`.
    pub sec_fetch_mode: Option<&'r str>,
    /// `Sec-Fetch-Site`.
    pub sec_fetch_site: Option<&'r str>,
    /// `Origin`.
    pub origin: Option<&'r str>,
    /// `Upgrade`.
    pub upgrade: Option<&'r str>,
    /// The inbound header names, one per line.
    pub header_names: &'r str,
    /// `Connection`.
    pub connection: Option<&'r str>,
}

/// Where a request stands after one [`Isolate::step`].
// Returned once per step and matched at once, never stored: boxing the outcome buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Stepped<'i, 'r> {
    /// The configuration is invalid: answer [`crate::gate::Reply::misconfigured`] and log
    /// `line` (it names the key).
    Misconfigured {
        /// The configuration error line.
        line: String,
    },
    /// Decided by `gate`; `request` is what the outcome needs from the request
    /// ([`wire::decided`]).
    Decided {
        /// The gate.
        gate: &'i Gate,
        /// The outcome.
        outcome: Outcome,
        /// The request's method, path as received, header names, time spent deciding.
        request: wire::Request<'r>,
    },
    /// Fetch the remote JWK Set ([`Isolate::begin_key_fetch`]), then step again with
    /// `keys_fetched`.
    Keys {
        /// The token names a `kid` the remote set lacks.
        unknown_kid: bool,
    },
    /// Get the revocation list ([`Isolate::begin_revocation_fetch`], or wait for the fetch
    /// running), then step again with `revocations_fetched`.
    Revocations,
    /// Verify this signature with WebCrypto, then step again with the answers; `Keys` names
    /// the keys it asks about.
    Signature(SignatureQuestion<'i, 'r>, Keys<'i>),
}

/// Where reading a revocation document stands ([`Isolate::revocation_document`]).
#[derive(Debug)]
pub enum Offering {
    /// A public-key signature: this question (wire JSON) must be answered first.
    Signature(String),
    /// Taken (`line: None`), or refused with this log line; the fetch has ended.
    Done {
        /// The refusal's log line.
        line: Option<String>,
    },
}

/// The check the edge injects: HMAC in Rust; other families answered from `answers` (recorded
/// in `verified` when they say yes), else from `verified`.
pub fn edge_check<'a>(
    keys: &'a Keys<'a>,
    answers: &'a str,
    verified: &'a RefCell<VerifiedSignatures>,
) -> impl SignatureCheck + 'a {
    Answered(move |key: &Key, input: &SignatureInput<'_>| {
        let r = keys.reference(key)?;
        match wire::answer_for(answers, &r) {
            Some(true) => {
                verified.borrow_mut().insert(&r, input);
                Some(true)
            }
            Some(false) => Some(false),
            None => verified.borrow().contains(&r, input).then_some(true),
        }
    })
}

/// A JWK Set body as usable keys, with a warning line per skipped key.
pub fn usable_set(body: &str) -> Result<(KeySet, Vec<String>), String> {
    let loaded = jwks::parse_jwks(body, false).map_err(|e| format!("the JWK Set {e}"))?;
    if loaded.keys.is_empty() {
        return Err("the JWK Set holds no usable signature key".into());
    }
    let lines = loaded
        .skipped
        .iter()
        .map(|s| log::warning_line(&format!("JWKS_URL: {s}")))
        .collect();
    Ok((KeySet::new(loaded.keys), lines))
}

impl Isolate {
    /// The isolate's state for a configuration (or its error).
    pub fn new(gate: Result<Gate, ConfigError>) -> Isolate {
        let cap = gate.as_ref().map_or(0, |g| g.config().signature_cache);
        Isolate {
            gate,
            remote: RemoteKeys::default(),
            verified: RefCell::new(VerifiedSignatures::new(cap)),
            revocations: Revocations::default(),
        }
    }

    /// The log lines of start-up: configuration warnings, or the configuration error.
    pub fn startup_lines(&self) -> Vec<String> {
        match &self.gate {
            Ok(g) => g
                .config()
                .warnings
                .iter()
                .map(|w| log::warning_line(w))
                .collect(),
            Err(e) => vec![log::config_error_line(e)],
        }
    }

    /// The isolate's keys, for naming them across the boundary (`None` when misconfigured).
    pub fn keys(&self) -> Option<Keys<'_>> {
        Some(Keys {
            gate: self.gate.as_ref().ok()?,
            remote: &self.remote,
        })
    }

    /// `JWKS_URL`, when configured.
    pub fn jwks_url(&self) -> Option<&str> {
        let rc = self.gate.as_ref().ok()?.config().remote_jwks.as_ref()?;
        Some(&rc.url)
    }

    /// One step of the decision for `inbound`, begun at `started_ms`, at `now_ms`.
    /// `(keys_fetched, revocations_fetched)`: this request already had its chance to fetch remote
    /// keys / to wait for a revocation list. `answers`:
    /// WebCrypto answers so far (`ref=1,ref=0`). `last`: refuse a signature still undecided
    /// instead of asking again.
    #[allow(clippy::too_many_arguments)]
    pub fn step<'i, 'r>(
        &'i self,
        inbound: &Inbound<'r>,
        started_ms: f64,
        now_ms: f64,
        (keys_fetched, revocations_fetched): (bool, bool),
        answers: &str,
        last: bool,
    ) -> Stepped<'i, 'r> {
        let gate = match &self.gate {
            Ok(g) => g,
            // Fail closed, and every answer says why (naming the key, never a secret).
            Err(e) => {
                return Stepped::Misconfigured {
                    line: log::config_error_line(e),
                }
            }
        };
        // An unparsable URL yields an empty path, which the gate refuses.
        let (self_origin, path, query) =
            crate::low_level::path::split_request_url(inbound.url).unwrap_or(("", "", None));
        let parts = RequestParts {
            method: inbound.method,
            path,
            query,
            cookie: inbound.cookie,
            authorization: inbound.authorization,
            accept: inbound.accept,
            sec_fetch_mode: inbound.sec_fetch_mode,
            sec_fetch_site: inbound.sec_fetch_site,
            origin: inbound.origin,
            upgrade: inbound.upgrade,
            self_origin,
        };
        let remote = gate.config().remote_jwks.is_some().then_some(&self.remote);
        let revocations = gate
            .config()
            .revocation
            .is_some()
            .then_some(&self.revocations);
        let facts = Facts {
            now_ms,
            remote,
            keys_fetched,
            revocations,
            revocations_fetched,
        };
        let keys = Keys {
            gate,
            remote: &self.remote,
        };
        let check = edge_check(&keys, answers, &self.verified);
        let outcome = if last {
            gate.decide_with(&parts, &facts, &check)
        } else {
            match gate.step(&parts, &facts, &check) {
                Step::Decided(outcome) => outcome,
                Step::NeedKeys { unknown_kid } => return Stepped::Keys { unknown_kid },
                Step::NeedRevocations => return Stepped::Revocations,
                Step::NeedSignature(q) => return Stepped::Signature(q, keys),
            }
        };
        Stepped::Decided {
            gate,
            outcome,
            request: wire::Request {
                method: inbound.method,
                path,
                header_names: inbound.header_names,
                connection: inbound.connection,
                verify_us: ((now_ms - started_ms).max(0.0) * 1000.0) as u64,
                now: (now_ms / 1000.0).floor() as i64,
            },
        }
    }

    /// Starts a fetch of the remote JWK Set if the refresh rules allow one now (`None`: no
    /// fetch). The caller reports the result with [`keys_from_cache`](Self::keys_from_cache),
    /// [`keys_from_idp`](Self::keys_from_idp) or [`keys_failed`](Self::keys_failed).
    pub fn begin_key_fetch(&mut self, now_ms: f64, unknown_kid: bool) -> Option<FetchFrom> {
        let rc = self.gate.as_ref().ok()?.config().remote_jwks.as_ref()?;
        self.remote
            .begin_fetch(now_ms, rc.cooldown_ms(), unknown_kid)
    }

    /// A JWK Set from the location's cache, `remaining_ms` still fresh. `false`: unusable (the
    /// caller goes to the IdP; the fetch is still running).
    pub fn keys_from_cache(&mut self, body: &str, remaining_ms: f64, now_ms: f64) -> bool {
        match usable_set(body) {
            Ok((set, _)) => {
                self.remote.loaded(now_ms, set, remaining_ms);
                true
            }
            Err(_) => false,
        }
    }

    /// A JWK Set from the IdP with its `Cache-Control`: the seconds to keep it in the location's
    /// cache (0 = do not) and the log lines; an unusable set counts as a failed fetch.
    pub fn keys_from_idp(
        &mut self,
        body: &str,
        cache_control: Option<&str>,
        now_ms: f64,
    ) -> (i64, Vec<String>) {
        let Some(cache_seconds) = self
            .gate
            .as_ref()
            .ok()
            .and_then(|g| g.config().remote_jwks.as_ref())
            .map(|rc| rc.cache_seconds)
        else {
            return (0, Vec::new());
        };
        match usable_set(body) {
            Ok((set, lines)) => {
                let ttl = jwks::cache_ttl(cache_control, cache_seconds);
                self.remote.loaded(now_ms, set, ttl as f64 * 1000.0);
                (ttl, lines)
            }
            Err(problem) => (0, vec![self.keys_failed(&problem)]),
        }
    }

    /// The fetch failed (`problem`, without secrets): the keys held keep serving. Returns the
    /// log line.
    pub fn keys_failed(&mut self, problem: &str) -> String {
        self.remote.failed();
        log::jwks_error_line(problem, self.remote.keys().is_some())
    }

    /// `REVOCATION_*`, when configured.
    pub fn revocation_config(&self) -> Option<&RevocationConfig> {
        self.gate.as_ref().ok()?.config().revocation.as_ref()
    }

    /// Starts a fetch of the revocation list if one is due now (`None`: no fetch). The caller
    /// reports the result with [`revocation_document`](Self::revocation_document) or
    /// [`revocation_failed`](Self::revocation_failed).
    pub fn begin_revocation_fetch(&mut self, now_ms: f64) -> Option<revocation::FetchFrom> {
        let interval = self.revocation_config()?.interval_ms();
        self.revocations.begin_fetch(now_ms, interval)
    }

    /// A revocation document (`body`) arrived: read it with the gate's keys (`answers`: the
    /// WebCrypto answers so far; `last`: refuse a signature still undecided) and offer it to the
    /// isolate's list, which keeps it only if it is no older than the one held.
    pub fn revocation_document(
        &mut self,
        body: &str,
        now_ms: f64,
        answers: &str,
        last: bool,
    ) -> Offering {
        let Ok(gate) = &self.gate else {
            return Offering::Done { line: None };
        };
        let Some(interval) = gate.config().revocation.as_ref().map(|r| r.interval_ms()) else {
            return Offering::Done { line: None };
        };
        let keys = Keys {
            gate,
            remote: &self.remote,
        };
        // Documents are not remembered in the signature cache: each is signed once.
        let check = Answered(|key: &Key, _: &SignatureInput<'_>| {
            wire::answer_for(answers, &keys.reference(key)?)
        });
        let list = match gate.revocation_document(body, now_ms, Some(&self.remote), &check) {
            DocumentStep::NeedSignature(q) if !last => {
                return Offering::Signature(wire::question_json(&q, &keys))
            }
            DocumentStep::NeedSignature(_) => Err(RevocationError::Signature),
            DocumentStep::Refused(e) => Err(e),
            DocumentStep::Verified(list) => Ok(list),
        };
        match list.and_then(|l| self.revocations.offer(now_ms, interval, l)) {
            Ok(_) => Offering::Done { line: None },
            Err(e) => {
                self.revocations.failed();
                let holding = self.revocations.held().is_some();
                let line = log::revocation_error_line("revocation_refused", e.code(), holding);
                Offering::Done { line: Some(line) }
            }
        }
    }

    /// The revocation fetch failed (`problem`, without secrets): the list held keeps serving.
    /// Returns the log line.
    pub fn revocation_failed(&mut self, problem: &str) -> String {
        self.revocations.failed();
        log::revocation_error_line(
            "revocation_fetch_failed",
            problem,
            self.revocations.held().is_some(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::Action;

    fn isolate(vars: &[(&str, &str)]) -> Isolate {
        let lookup = |k: &str| -> Option<String> {
            vars.iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        };
        Isolate::new(crate::Config::from_lookup(&lookup).map(Gate::new))
    }

    const BASE: [(&str, &str); 3] = [
        ("ORIGIN_URL", "http://127.0.0.1:9000"),
        ("ALGORITHMS", "HS256"),
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn a_misconfigured_isolate_answers_every_step_with_the_line_naming_the_key() {
        let iso = isolate(&[("ORIGIN_URL", "http://127.0.0.1:9000")]);
        let lines = iso.startup_lines();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains(r#""key":"ALGORITHMS""#), "{}", lines[0]);
        let inbound = Inbound {
            method: "GET",
            url: "http://gate.test/api",
            ..Default::default()
        };
        match iso.step(&inbound, 0.0, 0.0, (false, false), "", false) {
            Stepped::Misconfigured { line } => assert_eq!(line, lines[0]),
            other => panic!("{other:?}"),
        }
        assert!(iso.keys().is_none() && iso.jwks_url().is_none());
    }

    #[test]
    fn a_step_reads_the_url_and_the_request_times_its_decision() {
        let iso = isolate(&BASE);
        let inbound = Inbound {
            method: "GET",
            url: "http://gate.test/a/../api/me?x=1",
            accept: Some("text/html"),
            header_names: "accept\nhost\n",
            ..Default::default()
        };
        let now = 1_700_000_000_000.0;
        match iso.step(&inbound, now - 2.5, now, (false, false), "", false) {
            Stepped::Decided {
                outcome, request, ..
            } => {
                assert_eq!(
                    (request.path, request.verify_us, request.now),
                    ("/a/../api/me", 2500, 1_700_000_000)
                );
                match outcome.action {
                    Action::Respond(r) => {
                        assert_eq!(r.status, 302);
                        assert_eq!(
                            r.location.as_deref(),
                            Some("/auth/login?return_to=%2Fapi%2Fme%3Fx%3D1")
                        );
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        let garbled = Inbound {
            url: "not a url",
            ..inbound
        };
        match iso.step(&garbled, now, now, (false, false), "", false) {
            Stepped::Decided { outcome, .. } => assert_eq!(outcome.status(), Some(400)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn remote_keys_are_fetched_by_the_rules_and_a_bad_set_is_a_failure() {
        let mut iso = isolate(&[
            BASE[0],
            ("ALGORITHMS", "ES256"),
            ("JWKS_URL", "https://idp.example/jwks"),
        ]);
        assert_eq!(iso.jwks_url(), Some("https://idp.example/jwks"));
        assert_eq!(
            iso.begin_key_fetch(0.0, false),
            Some(FetchFrom::CacheThenIdp)
        );
        assert_eq!(iso.begin_key_fetch(1.0, false), None, "one fetch at a time");
        assert!(!iso.keys_from_cache("{\"keys\":[]}", 1000.0, 1.0));
        let (ttl, lines) = iso.keys_from_idp("not json", None, 2.0);
        assert_eq!(ttl, 0);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("jwks_fetch_failed"), "{}", lines[0]);
        assert!(iso.remote.keys().is_none());
        // Without JWKS_URL nothing is fetched.
        let mut plain = isolate(&BASE);
        assert_eq!(plain.begin_key_fetch(0.0, true), None);
        assert_eq!(plain.keys_from_idp("{}", None, 0.0), (0, Vec::new()));
    }
}

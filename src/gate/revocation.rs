//! The revocation list at the gate: a verified token checked against the list the isolate
//! holds, and a published document read with the gate's own keys (never a key the document
//! names: `jwk`, `jku`, `x5u` and `x5c` are not read, and `kid` only selects among the keys the
//! gate trusts).

use super::{Facts, Gate, SignatureQuestion};
use crate::low_level::claims::Claims;
use crate::low_level::jwks::RemoteKeys;
use crate::low_level::revocation::{
    RevocationError, RevocationList, Revocations, DOCUMENT_TYP, MAX_DOCUMENT_BYTES,
};
use crate::low_level::token::{self, ParseRules, Parsed, TokenError};
use crate::verify::{Checked, SignatureCheck, Verified};

/// What the revocation list says about a genuine, unexpired token.
pub(super) enum Revocation {
    /// Not revoked by a current list (or revocation is not configured).
    Clear,
    /// Revoked.
    Revoked,
    /// No current list, and `REVOCATION_FAIL=open`: not revoked by the last list held, if any.
    Unchecked,
    /// No current list: `503 revocation_unavailable`.
    Unavailable,
    /// The isolate holds no list, or has not refreshed it for two intervals: get one first
    /// ([`super::Step::NeedRevocations`]).
    Fetch,
}

/// Where reading a revocation document stands ([`Gate::revocation_document`]).
#[derive(Debug)]
pub enum DocumentStep<'g, 'r> {
    /// Authentic, well-formed, current: offer it to the isolate's
    /// [`Revocations`](crate::low_level::revocation::Revocations).
    Verified(RevocationList),
    /// Refused; the isolate keeps what it holds.
    Refused(RevocationError),
    /// A public-key signature: verify it, then read the document again with the answers.
    NeedSignature(SignatureQuestion<'g, 'r>),
}

impl Gate {
    pub(super) fn revocation_check(
        &self,
        v: &Verified<'_>,
        facts: &Facts<'_>,
        now: i64,
    ) -> Revocation {
        let Some(rc) = &self.config.revocation else {
            return Revocation::Clear;
        };
        let leeway = self.config.verifier.claim_rules().leeway;
        let held = facts.revocations.and_then(Revocations::held);
        let revokes = |l: &RevocationList| {
            l.revokes(
                &v.sub,
                v.claims.sid.as_deref(),
                v.claims.iat.map(|i| i.floor()),
            )
        };
        // A cold isolate, or one idle for two intervals: get a list first (once per request).
        if let (Some(r), false) = (facts.revocations, facts.revocations_fetched) {
            if r.lagging(facts.now_ms, rc.interval_ms()) {
                return Revocation::Fetch;
            }
        }
        match held {
            Some(l) if l.current(now, rc.max_age_seconds, leeway) => {
                if revokes(l) {
                    Revocation::Revoked
                } else {
                    Revocation::Clear
                }
            }
            _ if !rc.fail_open => Revocation::Unavailable,
            Some(l) if revokes(l) => Revocation::Revoked,
            _ => Revocation::Unchecked,
        }
    }

    /// Reads a published revocation document (`body`, as fetched) at `now_ms`: size, the JWS
    /// layer with the gate's pinned `ALGORITHMS` and header `typ` [`DOCUMENT_TYP`], a key the
    /// gate trusts (configured first, then `remote`), the signature (`check`), then the payload,
    /// `iss` (when `ISSUER` is set) and its times. Whether it is newer than the list held is
    /// [`Revocations::offer`]'s to say.
    pub fn revocation_document<'g, 'r>(
        &'g self,
        body: &'r str,
        now_ms: f64,
        remote: Option<&'g RemoteKeys>,
        check: &dyn SignatureCheck,
    ) -> DocumentStep<'g, 'r> {
        let refused = DocumentStep::Refused;
        if body.len() > MAX_DOCUMENT_BYTES {
            return refused(RevocationError::TooLarge);
        }
        let v = &self.config.verifier;
        let rules = ParseRules {
            algorithms: v.algorithms(),
            typ: Some(DOCUMENT_TYP),
        };
        // A document is text: a trailing newline is not part of the JWS.
        let jws = match token::parse_jws_within(body.trim_ascii(), &rules, MAX_DOCUMENT_BYTES) {
            Ok(jws) => jws,
            Err(TokenError::TypMismatch) => return refused(RevocationError::WrongTyp),
            Err(TokenError::TooLarge) => return refused(RevocationError::TooLarge),
            Err(e) => return refused(RevocationError::Jws(e.code())),
        };
        let parsed = Parsed {
            jws,
            claims: Claims::default(),
        };
        let pending = match v.select(parsed, remote.and_then(RemoteKeys::keys)) {
            Ok(p) => p,
            Err(_) => return refused(RevocationError::NoKey),
        };
        let signed = match v.check_signature(pending, check) {
            Checked::Signed(s) => s,
            Checked::Forged => return refused(RevocationError::Signature),
            Checked::Undecided { pending, unknown } => {
                let jws = pending.parsed.jws;
                return DocumentStep::NeedSignature(SignatureQuestion {
                    alg: jws.header.alg,
                    keys: unknown,
                    message: jws.signing_input,
                    signature: jws.signature,
                });
            }
        };
        let list = match RevocationList::from_payload(&signed.parsed().jws.payload) {
            Ok(l) => l,
            Err(e) => return refused(e),
        };
        let claims = v.claim_rules();
        if let Some(want) = &claims.issuer {
            if list.iss.as_deref() != Some(want.as_str()) {
                return refused(RevocationError::WrongIssuer);
            }
        }
        let now = (now_ms / 1000.0).floor() as i64;
        if list.iat > now.saturating_add(claims.leeway) {
            return refused(RevocationError::IssuedInFuture);
        }
        let max_age = self
            .config
            .revocation
            .as_ref()
            .map_or(i64::MAX, |r| r.max_age_seconds);
        if !list.current(now, max_age, claims.leeway) {
            return refused(RevocationError::Stale);
        }
        DocumentStep::Verified(list)
    }
}

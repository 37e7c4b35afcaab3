//! The verification pipeline: parse → select key → check signature → validate claims.
//!
//! The stages are separate on purpose. [`Verifier::prepare`] (parse and key selection) and
//! [`Verifier::finish`] (claims) are pure and synchronous. The signature check in between is
//! **injected** ([`SignatureCheck`]): [`RustCrypto`] (`jsonwebtoken`'s `rust_crypto` backend, every
//! algorithm, the reference) natively and in tests; at the edge, HMAC in Rust and the other
//! families through the runtime's WebCrypto, whose verdicts the JS entry brings back.
//!
//! **Claims are only read after the signature.** [`Verifier::finish`] takes a [`Signed`] token,
//! and only [`Verifier::check_signature`] can construct one, after a check said
//! [`Verdict::Valid`]: a forged token with a past `exp` is [`VerifyError::Signature`], never
//! [`ClaimsError::Expired`].

use crate::low_level::alg::{Alg, AlgSet, Family};
use crate::low_level::claims::{ClaimRules, Claims, ClaimsError};
use crate::low_level::keys::{Key, KeyError, KeySet};
use crate::low_level::token::{self, Header, Jws, ParseRules, Parsed, TokenError};
use std::fmt;

/// Why a token was not accepted. [`code`](VerifyError::code) is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// The token could not be parsed or breaks a header rule.
    Token(TokenError),
    /// No key applies.
    Key(KeyError),
    /// The signature does not verify with any candidate key.
    Signature,
    /// The (signed) claims fail a check.
    Claims(ClaimsError),
}

impl VerifyError {
    /// A stable, machine-readable reason code (e.g. `bad_signature`, `expired`, `alg_none`).
    pub const fn code(self) -> &'static str {
        match self {
            VerifyError::Token(e) => e.code(),
            VerifyError::Key(e) => e.code(),
            VerifyError::Signature => "bad_signature",
            VerifyError::Claims(e) => e.code(),
        }
    }

    /// Whether the token was genuine but has expired (the only error that invites a refresh).
    pub const fn is_expired(self) -> bool {
        matches!(self, VerifyError::Claims(ClaimsError::Expired))
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for VerifyError {}

/// What one signature check says about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The signature verifies under this key.
    Valid,
    /// It does not (or the key cannot serve the algorithm).
    Invalid,
    /// This checker cannot tell synchronously: the answer must come from elsewhere (WebCrypto).
    Unknown,
}

/// The signature and the bytes it covers, as one check sees them.
#[derive(Debug, Clone, Copy)]
pub struct SignatureInput<'a> {
    /// The token's (pinned, already allowed) algorithm.
    pub alg: Alg,
    /// The JWS signing input, `header.payload`.
    pub message: &'a [u8],
    /// The decoded signature.
    pub signature: &'a [u8],
    /// The signature segment as sent (canonical base64url).
    pub signature_b64: &'a str,
}

/// A signature check, injected into [`Verifier::check_signature`].
pub trait SignatureCheck {
    /// The verdict for `input` under `key` (a key of the algorithm's family).
    fn check(&self, key: &Key, input: &SignatureInput<'_>) -> Verdict;
}

/// The reference check: `jsonwebtoken`'s `rust_crypto` backend for every algorithm
/// ([`signature_matches`]). Never [`Verdict::Unknown`].
///
/// The worker does not use it (WebCrypto is 20–60× faster in workerd for RSA/ECDSA/Ed25519, and
/// HMAC is [`hmac_matches`]), so the pure-Rust public-key code is not linked into the module.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

impl SignatureCheck for RustCrypto {
    fn check(&self, key: &Key, input: &SignatureInput<'_>) -> Verdict {
        if signature_matches(input.alg, key, input.message, input.signature_b64) {
            Verdict::Valid
        } else {
            Verdict::Invalid
        }
    }
}

/// The edge's check: HMAC in Rust ([`hmac_matches`]); for the other families a signature of
/// the wrong length is [`Verdict::Invalid`] ([`signature_shape_ok`]: nothing the runtime might
/// pad or reinterpret reaches it), otherwise the answer the closure holds for the key and input —
/// a WebCrypto verdict the caller brought back — or [`Verdict::Unknown`] when it holds none yet.
pub struct Answered<F: Fn(&Key, &SignatureInput<'_>) -> Option<bool>>(pub F);

impl<F: Fn(&Key, &SignatureInput<'_>) -> Option<bool>> SignatureCheck for Answered<F> {
    fn check(&self, key: &Key, input: &SignatureInput<'_>) -> Verdict {
        let matched = if key.family == Family::Hmac {
            Some(hmac_matches(input.alg, key, input.message, input.signature))
        } else if !signature_shape_ok(input.alg, key, input.signature) {
            Some(false)
        } else {
            (self.0)(key, input)
        };
        match matched {
            Some(true) => Verdict::Valid,
            Some(false) => Verdict::Invalid,
            None => Verdict::Unknown,
        }
    }
}

/// Everything the verifier enforces, fixed at start-up.
#[derive(Debug, Clone)]
pub struct Verifier {
    algorithms: AlgSet,
    typ: Option<String>,
    keys: KeySet,
    claims: ClaimRules,
}

/// A parsed token and the keys to try, waiting for its signature check.
#[derive(Debug)]
pub struct Pending<'v, 't> {
    /// The parsed, not yet verified token.
    pub parsed: Parsed<'t>,
    /// The candidate keys (usually one).
    pub keys: Vec<&'v Key>,
}

impl Pending<'_, '_> {
    /// The signature and signing input, as a [`SignatureCheck`] receives them.
    pub fn input(&self) -> SignatureInput<'_> {
        let jws = &self.parsed.jws;
        SignatureInput {
            alg: jws.header.alg,
            message: jws.signing_input.as_bytes(),
            signature: &jws.signature,
            signature_b64: jws.signature_b64,
        }
    }
}

/// A token whose signature verified under a candidate key: the proof [`Verifier::finish`]
/// requires. Only [`Verifier::check_signature`] constructs it.
#[derive(Debug)]
pub struct Signed<'t> {
    parsed: Parsed<'t>,
}

impl<'t> Signed<'t> {
    /// The parsed token (its signature checked; its claims not yet).
    pub fn parsed(&self) -> &Parsed<'t> {
        &self.parsed
    }
}

/// The result of [`Verifier::check_signature`].
#[derive(Debug)]
pub enum Checked<'v, 't> {
    /// A candidate key verified the signature.
    Signed(Signed<'t>),
    /// No candidate key did: [`VerifyError::Signature`].
    Forged,
    /// No key verified it, and the check could not tell for the keys in `unknown`: ask
    /// elsewhere (WebCrypto), then check again with the answers.
    Undecided {
        /// The token, still pending.
        pending: Pending<'v, 't>,
        /// The candidate keys the check could not decide.
        unknown: Vec<&'v Key>,
    },
}

/// A token whose signature and claims all checked out.
#[derive(Debug, Clone)]
pub struct Verified<'t> {
    /// The header.
    pub header: Header,
    /// The registered claims.
    pub claims: Claims,
    /// The `sub` claim (checked to be present and header-safe).
    pub sub: String,
    /// The payload segment: base64url of the exact claims JSON that was signed.
    pub payload_b64: &'t str,
    /// The decoded payload: the verified claims JSON.
    pub payload: Vec<u8>,
}

impl Verifier {
    /// A verifier for `algorithms` with `keys`, checking claims by `claims` and, when set, `typ`.
    pub fn new(algorithms: AlgSet, keys: KeySet, claims: ClaimRules, typ: Option<String>) -> Self {
        Verifier {
            algorithms,
            typ,
            keys,
            claims,
        }
    }

    /// The pinned algorithms.
    pub fn algorithms(&self) -> AlgSet {
        self.algorithms
    }

    /// The configured keys.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The claim rules (`ISSUER`, `AUDIENCE`, `LEEWAY_SECONDS`, `MAX_TOKEN_LIFETIME`).
    pub fn claim_rules(&self) -> &ClaimRules {
        &self.claims
    }

    /// Stage 1 alone: parse strictly (size, segments, base64url, JSON, header rules).
    pub fn parse<'t>(&self, token: &'t str) -> Result<Parsed<'t>, VerifyError> {
        let rules = ParseRules {
            algorithms: self.algorithms,
            typ: self.typ.as_deref(),
        };
        let parsed = token::parse(token, &rules).map_err(VerifyError::Token)?;
        // A signed revocation list is never an access token, whatever it holds.
        if parsed
            .jws
            .header
            .typ
            .as_deref()
            .is_some_and(|t| token::typ_matches(t, crate::low_level::revocation::DOCUMENT_TYP))
        {
            return Err(VerifyError::Token(TokenError::TypMismatch));
        }
        Ok(parsed)
    }

    /// Stages 1–2: parse strictly and pick the candidate keys.
    pub fn prepare<'v, 't>(&'v self, token: &'t str) -> Result<Pending<'v, 't>, VerifyError> {
        self.prepare_with_header(token).map_err(|(e, _)| e)
    }

    /// Like [`prepare`](Self::prepare), but a refusal after the header parsed (no key for its
    /// `alg`/`kid`) also returns the header, for logging.
    pub fn prepare_with_header<'v, 't>(
        &'v self,
        token: &'t str,
    ) -> Result<Pending<'v, 't>, (VerifyError, Option<Header>)> {
        let parsed = self.parse(token).map_err(|e| (e, None))?;
        self.select(parsed, None)
            .map_err(|(e, p)| (e, Some(p.jws.header)))
    }

    /// Stage 2: the candidate keys for a parsed token, from the configured keys or else from
    /// `extra` (a remote JWK Set). On refusal the parsed token is handed back.
    #[allow(clippy::result_large_err)]
    pub fn select<'v, 't>(
        &'v self,
        parsed: Parsed<'t>,
        extra: Option<&'v KeySet>,
    ) -> Result<Pending<'v, 't>, (VerifyError, Parsed<'t>)> {
        let (alg, kid) = (parsed.jws.header.alg, parsed.jws.header.kid.as_deref());
        let selected = match (self.keys.select(alg, kid), extra) {
            (Ok(keys), _) => Ok(keys),
            (Err(_), Some(more)) => more.select(alg, kid),
            (Err(e), None) => Err(e),
        };
        match selected {
            Ok(keys) => Ok(Pending { parsed, keys }),
            Err(e) => Err((VerifyError::Key(e), parsed)),
        }
    }

    /// Stage 3: `check` for each candidate key; the first [`Verdict::Valid`] signs the token.
    pub fn check_signature<'v, 't>(
        &self,
        pending: Pending<'v, 't>,
        check: &dyn SignatureCheck,
    ) -> Checked<'v, 't> {
        let mut unknown = Vec::new();
        {
            let input = pending.input();
            for key in &pending.keys {
                match check.check(key, &input) {
                    Verdict::Valid => {
                        return Checked::Signed(Signed {
                            parsed: pending.parsed,
                        })
                    }
                    Verdict::Invalid => {}
                    Verdict::Unknown => unknown.push(*key),
                }
            }
        }
        if unknown.is_empty() {
            Checked::Forged
        } else {
            Checked::Undecided { pending, unknown }
        }
    }

    /// Stage 4: claims at `now` (Unix seconds), for a token whose signature checked out.
    pub fn finish<'t>(&self, signed: Signed<'t>, now: i64) -> Result<Verified<'t>, VerifyError> {
        let Parsed {
            jws:
                Jws {
                    header,
                    payload_b64,
                    payload,
                    ..
                },
            claims,
        } = signed.parsed;
        claims
            .validate(&self.claims, now)
            .map_err(VerifyError::Claims)?;
        // `validate` guarantees `sub` is present.
        let sub = claims
            .sub
            .clone()
            .ok_or(VerifyError::Claims(ClaimsError::MissingSub))?;
        Ok(Verified {
            header,
            claims,
            sub,
            payload_b64,
            payload,
        })
    }

    /// All four stages, synchronously, with `check` as stage 3 (an undecided check is a
    /// refusal).
    pub fn verify_with<'t>(
        &self,
        token: &'t str,
        now: i64,
        check: &dyn SignatureCheck,
    ) -> Result<Verified<'t>, VerifyError> {
        match self.check_signature(self.prepare(token)?, check) {
            Checked::Signed(signed) => self.finish(signed, now),
            Checked::Forged | Checked::Undecided { .. } => Err(VerifyError::Signature),
        }
    }

    /// All four stages with the reference check ([`RustCrypto`]).
    ///
    /// ```
    /// use edgegate::low_level::alg::Alg;
    /// use edgegate::low_level::claims::ClaimRules;
    /// use edgegate::low_level::keys::{Key, KeySet};
    /// use edgegate::verify::{Verifier, VerifyError};
    /// let secret = b"0123456789abcdef0123456789abcdef";
    /// let v = Verifier::new(
    ///     [Alg::HS256].into_iter().collect(),
    ///     KeySet::new(vec![Key::hmac(None, secret)]),
    ///     ClaimRules { leeway: 30, ..Default::default() },
    ///     None,
    /// );
    /// let token = jsonwebtoken::encode(
    ///     &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
    ///     &serde_json::json!({"sub": "alice", "exp": 2_000_000_000}),
    ///     &jsonwebtoken::EncodingKey::from_secret(secret),
    /// ).unwrap();
    /// assert_eq!(v.verify(&token, 1_700_000_000).unwrap().sub, "alice");
    /// assert!(v.verify(&token, 2_000_000_030).unwrap_err().is_expired());
    /// ```
    pub fn verify<'t>(&self, token: &'t str, now: i64) -> Result<Verified<'t>, VerifyError> {
        self.verify_with(token, now, &RustCrypto)
    }
}

/// Whether `signature_b64` (unpadded base64url) is a valid `alg` signature of `signing_input`
/// under `key`: `jsonwebtoken::crypto::verify` (`rust_crypto`), the reference every other check
/// is differential-tested against (public so the Wycheproof conformance tests exercise exactly
/// this function). A key of another family, or key material the backend cannot use, is simply
/// not a match.
pub fn signature_matches(alg: Alg, key: &Key, signing_input: &[u8], signature_b64: &str) -> bool {
    // An error here means the key cannot serve this algorithm: not a match.
    jsonwebtoken::crypto::verify(
        signature_b64,
        signing_input,
        &key.decoding,
        alg.to_jsonwebtoken(),
    )
    .unwrap_or(false)
}

/// Whether `signature` is the HMAC-`alg` tag of `message` under the secret of `key`, compared in
/// constant time over the full tag length (a truncated tag never matches).
///
/// The same `hmac`/`sha2` crates and the same `verify_slice` comparison that `jsonwebtoken`'s
/// `rust_crypto` HMAC verifier uses; the worker calls this directly so that the HMAC check does
/// not link the other algorithms (see [`RustCrypto`]). Differential-tested natively
/// against `jsonwebtoken` on every Wycheproof HMAC vector.
///
/// ```
/// use edgegate::low_level::alg::Alg;
/// use edgegate::low_level::keys::Key;
/// use edgegate::verify::hmac_matches;
/// let key = Key::hmac(None, b"0123456789abcdef0123456789abcdef");
/// let tag = [0u8; 32];
/// assert!(!hmac_matches(Alg::HS256, &key, b"message", &tag));
/// assert!(!hmac_matches(Alg::RS256, &key, b"message", &tag)); // not an HMAC algorithm
/// ```
pub fn hmac_matches(alg: Alg, key: &Key, message: &[u8], signature: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    use sha2::{Sha256, Sha384, Sha512};
    fn check<M: Mac + hmac::digest::KeyInit>(secret: &[u8], message: &[u8], tag: &[u8]) -> bool {
        match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
            Ok(mut mac) => {
                mac.update(message);
                mac.verify_slice(tag).is_ok()
            }
            Err(_) => false,
        }
    }
    if key.family != Family::Hmac {
        return false;
    }
    let Ok(secret) = key.decoding.try_get_as_bytes() else {
        return false;
    };
    match alg {
        Alg::HS256 => check::<Hmac<Sha256>>(secret, message, signature),
        Alg::HS384 => check::<Hmac<Sha384>>(secret, message, signature),
        Alg::HS512 => check::<Hmac<Sha512>>(secret, message, signature),
        _ => false,
    }
}

/// Whether `signature` has the exact length an `alg` signature under `key` must have: 64 bytes
/// for ES256 and EdDSA, 96 for ES384, the modulus length for RS*/PS*. HMAC tags are checked by
/// [`hmac_matches`] itself. The WebCrypto fast path refuses anything else before calling the
/// runtime, so a signature the runtime might pad, trim or reinterpret never reaches it.
///
/// ```
/// use edgegate::low_level::alg::Alg;
/// use edgegate::low_level::keys::Key;
/// use edgegate::verify::signature_shape_ok;
/// let key = Key::hmac(None, b"0123456789abcdef0123456789abcdef");
/// assert!(signature_shape_ok(Alg::HS256, &key, &[0; 32]));
/// assert!(!signature_shape_ok(Alg::ES256, &key, &[0; 64])); // key of another family
/// ```
pub fn signature_shape_ok(alg: Alg, key: &Key, signature: &[u8]) -> bool {
    use jsonwebtoken::DecodingKeyKind;
    if key.family != alg.family() {
        return false;
    }
    match alg.family() {
        Family::Hmac => true,
        Family::P256 => signature.len() == 64,
        Family::P384 => signature.len() == 96,
        Family::Ed25519 => signature.len() == 64,
        Family::Rsa => match key.decoding.kind() {
            DecodingKeyKind::RsaModulusExponent { n, .. } => {
                signature.len() == n.iter().skip_while(|b| **b == 0).count()
            }
            DecodingKeyKind::SecretOrDer(_) => false,
        },
    }
}

#[cfg(test)]
mod tests;

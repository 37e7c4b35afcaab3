//! The signed identity assertion (`x-auth-assertion`): lets the origin refuse requests that did
//! not pass the gate.
//!
//! Identity headers are only as trustworthy as the path a request took: if the origin is
//! reachable without the gate, anyone can send `x-auth-sub: admin`. When `ASSERTION_SECRET` is
//! set, the gate adds to every forwarded request a compact JWS (HS256) it minted itself:
//!
//! ```json
//! {"iss":"edgegate","aud":"<ORIGIN_URL origin>","sub":"alice","iat":1700000000,"exp":1700000030,
//!  "htm":"POST","htp":"/api/orders","jti":"<128-bit random, base64url>"}
//! ```
//!
//! `sub` is absent on public paths. `htm`/`htp` bind it to the method and the exact path the origin
//! receives (without the query), so a captured header replayed on another route or method fails;
//! `exp` is at most 60 s after `iat`; `jti` lets an origin that keeps state reject replays.
//! [`verify`] is the reference check an origin runs (the reference origin uses it).
//!
//! Minting costs one HMAC over ~250 bytes with a pre-keyed state (see `benches/`).

use crate::low_level::json::check_unique_keys;
use crate::low_level::token::b64url_decode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

/// The request header carrying the assertion.
pub const ASSERTION_HEADER: &str = "x-auth-assertion";
/// The `iss` of every assertion.
pub const ISSUER: &str = "edgegate";
/// The longest allowed lifetime.
pub const MAX_TTL_SECONDS: i64 = 60;
/// Shortest accepted `ASSERTION_SECRET`.
pub const MIN_SECRET_BYTES: usize = 32;

/// `{"alg":"HS256","typ":"JWT"}`, base64url.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// The claims of an assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// The origin the assertion is for (`scheme://host[:port]`).
    pub aud: String,
    /// The verified subject; absent on public paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// The HTTP method it was issued for.
    pub htm: String,
    /// The path (as the origin receives it, without query) it was issued for.
    pub htp: String,
    /// A random id (128 bits, base64url).
    pub jti: String,
}

/// Mints assertions with a pre-keyed HMAC state (built once per isolate).
#[derive(Clone)]
pub struct Minter {
    mac: Hmac<Sha256>,
    audience: String,
    ttl: i64,
}

impl fmt::Debug for Minter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minter")
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Minter {
    /// A minter for `audience` with `ttl` seconds (clamped to 1..=60). `None` when the secret is
    /// shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &[u8], audience: &str, ttl: i64) -> Option<Minter> {
        if secret.len() < MIN_SECRET_BYTES {
            return None;
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
        Some(Minter {
            mac,
            audience: audience.to_owned(),
            ttl: ttl.clamp(1, MAX_TTL_SECONDS),
        })
    }

    /// Mints an assertion for one forwarded request. `nonce` must be fresh random bytes.
    ///
    /// ```
    /// use edgegate::low_level::assertion::{verify, Minter};
    /// let secret = [7u8; 32];
    /// let m = Minter::new(&secret, "https://origin.example", 30).unwrap();
    /// let a = m.mint(Some("alice"), "GET", "/api/me", 1_700_000_000, [1; 16]);
    /// let c = verify(&a, &secret, "https://origin.example", "GET", "/api/me", 1_700_000_010).unwrap();
    /// assert_eq!(c.sub.as_deref(), Some("alice"));
    /// assert!(verify(&a, &secret, "https://origin.example", "GET", "/api/admin", 1_700_000_010).is_err());
    /// ```
    pub fn mint(
        &self,
        sub: Option<&str>,
        method: &str,
        path: &str,
        now: i64,
        nonce: [u8; 16],
    ) -> String {
        let claims = AssertionClaims {
            iss: ISSUER.to_owned(),
            aud: self.audience.clone(),
            sub: sub.map(str::to_owned),
            iat: now,
            exp: now.saturating_add(self.ttl),
            htm: method.to_ascii_uppercase(),
            htp: path.to_owned(),
            jti: URL_SAFE_NO_PAD.encode(nonce),
        };
        // A struct of strings and integers always serialises.
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let mut token = String::with_capacity(HEADER_B64.len() + payload.len() * 4 / 3 + 48);
        token.push_str(HEADER_B64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        let tag = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        token
    }
}

/// Why an assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionError {
    /// Not a well-formed HS256 compact JWS with the expected header.
    Malformed,
    /// The HMAC does not match.
    BadSignature,
    /// Wrong `iss` or `aud`.
    WrongAudience,
    /// Issued for another method or path.
    WrongRequest,
    /// Expired, not yet valid, or a lifetime over 60 s.
    Expired,
}

impl AssertionError {
    /// A stable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            AssertionError::Malformed => "assertion_malformed",
            AssertionError::BadSignature => "assertion_bad_signature",
            AssertionError::WrongAudience => "assertion_wrong_audience",
            AssertionError::WrongRequest => "assertion_wrong_request",
            AssertionError::Expired => "assertion_expired",
        }
    }
}

impl fmt::Display for AssertionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for AssertionError {}

/// Verifies an assertion as an origin should: exact header, HMAC (constant time), `iss`, `aud`,
/// method, path, and `iat <= now + 5 < exp + 5` with a lifetime of at most 60 s.
pub fn verify(
    token: &str,
    secret: &[u8],
    audience: &str,
    method: &str,
    path: &str,
    now: i64,
) -> Result<AssertionClaims, AssertionError> {
    const SKEW: i64 = 5;
    if token.len() > 4096 {
        return Err(AssertionError::Malformed);
    }
    let (signing_input, sig_b64) = token.rsplit_once('.').ok_or(AssertionError::Malformed)?;
    let (header, payload_b64) = signing_input
        .split_once('.')
        .ok_or(AssertionError::Malformed)?;
    if header != HEADER_B64 {
        return Err(AssertionError::Malformed);
    }
    let sig = b64url_decode(sig_b64).map_err(|_| AssertionError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| AssertionError::Malformed)?;
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&sig)
        .map_err(|_| AssertionError::BadSignature)?;
    let payload = b64url_decode(payload_b64).map_err(|_| AssertionError::Malformed)?;
    check_unique_keys(&payload).map_err(|_| AssertionError::Malformed)?;
    let c: AssertionClaims =
        serde_json::from_slice(&payload).map_err(|_| AssertionError::Malformed)?;
    if c.iss != ISSUER || c.aud != audience {
        return Err(AssertionError::WrongAudience);
    }
    if !c.htm.eq_ignore_ascii_case(method) || c.htp != path {
        return Err(AssertionError::WrongRequest);
    }
    let lifetime = c.exp.saturating_sub(c.iat);
    if !(0..=MAX_TTL_SECONDS).contains(&lifetime)
        || c.iat > now.saturating_add(SKEW)
        || c.exp.saturating_add(SKEW) <= now
    {
        return Err(AssertionError::Expired);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [42; 32];
    const AUD: &str = "http://127.0.0.1:8788";
    const NOW: i64 = 1_700_000_000;

    fn minter() -> Minter {
        Minter::new(&SECRET, AUD, 30).unwrap()
    }

    #[test]
    fn header_constant_is_what_it_says() {
        assert_eq!(
            b64url_decode(HEADER_B64).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
    }

    #[test]
    fn round_trip_and_interop_with_jsonwebtoken() {
        let a = minter().mint(Some("alice"), "post", "/api/x", NOW, [9; 16]);
        let c = verify(&a, &SECRET, AUD, "POST", "/api/x", NOW).unwrap();
        assert_eq!(
            (c.sub.as_deref(), c.htm.as_str(), c.exp - c.iat),
            (Some("alice"), "POST", 30)
        );
        // An independent implementation accepts it too.
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&[AUD]);
        v.validate_exp = false;
        let d = jsonwebtoken::decode::<serde_json::Value>(
            &a,
            &jsonwebtoken::DecodingKey::from_secret(&SECRET),
            &v,
        )
        .unwrap();
        assert_eq!(d.claims["htp"], "/api/x");
        // Public paths: no sub.
        let p = minter().mint(None, "GET", "/health", NOW, [0; 16]);
        assert_eq!(
            verify(&p, &SECRET, AUD, "GET", "/health", NOW).unwrap().sub,
            None
        );
    }

    #[test]
    fn every_binding_is_checked() {
        let a = minter().mint(Some("alice"), "GET", "/api/x", NOW, [1; 16]);
        assert_eq!(
            verify(&a, &[1; 32], AUD, "GET", "/api/x", NOW),
            Err(AssertionError::BadSignature)
        );
        assert_eq!(
            verify(&a, &SECRET, "http://other", "GET", "/api/x", NOW),
            Err(AssertionError::WrongAudience)
        );
        assert_eq!(
            verify(&a, &SECRET, AUD, "POST", "/api/x", NOW),
            Err(AssertionError::WrongRequest)
        );
        assert_eq!(
            verify(&a, &SECRET, AUD, "GET", "/api/y", NOW),
            Err(AssertionError::WrongRequest)
        );
        assert_eq!(
            verify(&a, &SECRET, AUD, "GET", "/api/x", NOW + 35),
            Err(AssertionError::Expired)
        );
        assert_eq!(
            verify(&a, &SECRET, AUD, "GET", "/api/x", NOW - 6),
            Err(AssertionError::Expired)
        );
        assert!(verify(&a, &SECRET, AUD, "GET", "/api/x", NOW + 34).is_ok());
        // Tampered payload under the original signature.
        let parts: Vec<&str> = a.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(r#"{"iss":"edgegate","aud":"http://127.0.0.1:8788","sub":"admin","iat":1700000000,"exp":1700000030,"htm":"GET","htp":"/api/x","jti":"x"}"#);
        let forged = format!("{}.{}.{}", parts[0], evil, parts[2]);
        assert_eq!(
            verify(&forged, &SECRET, AUD, "GET", "/api/x", NOW),
            Err(AssertionError::BadSignature)
        );
        // alg none / other headers are refused before any crypto.
        let none = format!("eyJhbGciOiJub25lIn0.{}.", parts[1]);
        assert_eq!(
            verify(&none, &SECRET, AUD, "GET", "/api/x", NOW),
            Err(AssertionError::Malformed)
        );
        assert_eq!(
            verify("garbage", &SECRET, AUD, "GET", "/api/x", NOW),
            Err(AssertionError::Malformed)
        );
    }

    #[test]
    fn long_lifetimes_are_refused_and_ttl_is_clamped() {
        let m = Minter::new(&SECRET, AUD, 3600).unwrap();
        let a = m.mint(None, "GET", "/", NOW, [0; 16]);
        let c = verify(&a, &SECRET, AUD, "GET", "/", NOW).unwrap();
        assert_eq!(c.exp - c.iat, MAX_TTL_SECONDS);
        assert!(Minter::new(&[0; 31], AUD, 30).is_none());
    }

    #[test]
    fn nonces_make_assertions_unique() {
        let a = minter().mint(Some("a"), "GET", "/", NOW, [1; 16]);
        let b = minter().mint(Some("a"), "GET", "/", NOW, [2; 16]);
        assert_ne!(a, b);
    }
}

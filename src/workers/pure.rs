//! The parts of the workers-rs form that need no runtime (compiled and tested natively): the
//! identity the app gets, where its request goes, the WebCrypto parameters per algorithm, the
//! Cache API copy's freshness, and the internal-error line.

use crate::low_level::alg::{Alg, Family};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The base the gate is configured with in place of `ORIGIN_URL`: the app in the same isolate
/// is the origin, so a forward step's URL is put back on the request's own origin. Never
/// fetched (the same placeholder as the JS entry's in-isolate forms).
pub(crate) const NO_ORIGIN_URL: &str = "http://edgegate.invalid";

/// The verified identity of an admitted request: `sub` and the token's claims, exactly as signed
/// (the app's request also carries them as `x-auth-sub` and `x-auth-claims`).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The `sub` claim.
    pub sub: String,
    /// Every claim of the verified token (a JSON object; duplicate keys were refused, so this
    /// is the one reading of it).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The claims JSON as signed.
    json: Vec<u8>,
}

impl Identity {
    /// The identity the gate verified: `claims_b64` is the token's payload segment
    /// (`x-auth-claims`). `None` if it is not a JSON object (the gate already parsed it
    /// strictly, so only a broken invariant gets here).
    pub(crate) fn from_verified(sub: &str, claims_b64: &str) -> Option<Identity> {
        let json = URL_SAFE_NO_PAD.decode(claims_b64).ok()?;
        let claims = serde_json::from_slice(&json).ok()?;
        Some(Identity {
            sub: sub.to_owned(),
            claims,
            json,
        })
    }

    /// The claims deserialised into your own type, from the signed JSON itself (numbers keep
    /// their full precision).
    ///
    /// ```ignore
    /// #[derive(serde::Deserialize)]
    /// struct Claims { sub: String, roles: Vec<String> }
    /// let claims: Claims = identity.claims_as()?;
    /// ```
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.json)
    }
}

/// `url` (a forward step's, on [`NO_ORIGIN_URL`]) moved onto the origin of `request_url`.
/// `None` for a URL outside the base (the JS entry's `onRequestOrigin` throws there).
pub(crate) fn on_request_origin(url: &str, request_url: &str) -> Option<String> {
    let rest = url.strip_prefix(NO_ORIGIN_URL)?;
    if !rest.starts_with('/') {
        return None;
    }
    let (origin, _, _) = crate::low_level::path::split_request_url(request_url)?;
    Some(format!("{origin}{rest}"))
}

#[derive(Serialize)]
struct InternalErrorLine<'a> {
    edgegate: &'static str,
    level: &'static str,
    reason: &'static str,
    problem: &'a str,
}

/// The log line of a runtime failure of the gate itself: the error's name only (a message
/// could quote the request URL), as the JS entry logs it.
pub(crate) fn internal_error_line(problem: &str) -> String {
    serde_json::to_string(&InternalErrorLine {
        edgegate: "error",
        level: "error",
        reason: "internal_error",
        problem,
    })
    .unwrap_or_default()
}

/// `500 {"error":"internal_error"}`'s body.
pub(crate) const INTERNAL_ERROR_BODY: &str = r#"{"error":"internal_error"}"#;

/// The WebCrypto algorithm parameters for a JWS `alg` (RFC 7518; PSS salt length = hash length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CryptoParams {
    /// `name` of both the import and the verify parameters.
    pub name: &'static str,
    /// The import parameters' `hash` (RSA).
    pub import_hash: Option<&'static str>,
    /// The import parameters' `namedCurve` (ECDSA).
    pub named_curve: Option<&'static str>,
    /// The verify parameters' `hash` (ECDSA).
    pub verify_hash: Option<&'static str>,
    /// The verify parameters' `saltLength` (RSA-PSS).
    pub salt_length: Option<u32>,
}

/// The parameters for `alg`; `None` for HMAC, which is verified in Rust.
pub(crate) fn crypto_params(alg: Alg) -> Option<CryptoParams> {
    let (hash, bytes) = match alg {
        Alg::RS384 | Alg::PS384 | Alg::ES384 => ("SHA-384", 48),
        Alg::RS512 | Alg::PS512 => ("SHA-512", 64),
        _ => ("SHA-256", 32),
    };
    let none = CryptoParams {
        name: "",
        import_hash: None,
        named_curve: None,
        verify_hash: None,
        salt_length: None,
    };
    Some(match alg {
        Alg::RS256 | Alg::RS384 | Alg::RS512 => CryptoParams {
            name: "RSASSA-PKCS1-v1_5",
            import_hash: Some(hash),
            ..none
        },
        Alg::PS256 | Alg::PS384 | Alg::PS512 => CryptoParams {
            name: "RSA-PSS",
            import_hash: Some(hash),
            salt_length: Some(bytes),
            ..none
        },
        Alg::ES256 | Alg::ES384 => CryptoParams {
            name: "ECDSA",
            named_curve: Some(if alg.family() == Family::P256 {
                "P-256"
            } else {
                "P-384"
            }),
            verify_hash: Some(hash),
            ..none
        },
        Alg::EdDSA => CryptoParams {
            name: "Ed25519",
            ..none
        },
        Alg::HS256 | Alg::HS384 | Alg::HS512 => return None,
    })
}

/// The warning line text for a key WebCrypto refused to import.
pub(crate) fn refused_key_warning(alg: Alg, label: &str, problem: &str) -> String {
    format!(
        "WebCrypto refused the {} key {label}: {problem}; tokens signed with it are refused",
        alg.name()
    )
}

/// How much longer (ms) a Cache API copy of the remote JWK Set is fresh: `fetched_at` (ms since
/// the epoch) plus its `max-age`, at `now_ms`; `None` when it is stale or not one of ours.
pub(crate) fn cached_remaining_ms(
    fetched_at: Option<&str>,
    cache_control: Option<&str>,
    now_ms: f64,
) -> Option<f64> {
    let fetched: f64 = fetched_at?
        .trim()
        .parse()
        .ok()
        .filter(|f: &f64| f.is_finite())?;
    let digits = cache_control?.strip_prefix("max-age=")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let max_age: f64 = digits.parse().ok()?;
    let remaining = fetched + max_age * 1000.0 - now_ms;
    (remaining > 0.0).then_some(remaining)
}

/// Whether a declared `Content-Length` already exceeds `cap` (the body is then not read).
pub(crate) fn declared_too_large(content_length: Option<&str>, cap: usize) -> bool {
    content_length
        .and_then(|n| n.trim().parse::<f64>().ok())
        .is_some_and(|n| n > cap as f64)
}

/// A fetched body as text: UTF-8 only, a leading BOM dropped (as `TextDecoder` does); `what`
/// names the document in the error.
pub(crate) fn utf8_text(bytes: Vec<u8>, what: &str) -> Result<String, String> {
    let mut s = String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8 text"))?;
    if s.starts_with('\u{feff}') {
        s.drain(..3);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_the_signed_claims_and_refuses_anything_else() {
        let claims = r#"{"sub":"alice","n":12345678901234567890,"roles":["a"]}"#;
        let id = Identity::from_verified("alice", &URL_SAFE_NO_PAD.encode(claims)).expect("ok");
        assert_eq!(id.sub, "alice");
        assert_eq!(id.claims["roles"], serde_json::json!(["a"]));
        #[derive(serde::Deserialize)]
        struct Mine {
            n: u64,
        }
        let mine: Mine = id.claims_as().expect("typed");
        assert_eq!(mine.n, 12_345_678_901_234_567_890, "full precision");
        for bad in ["W10", "bm90IGpzb24", "e30=", "!!"] {
            assert!(Identity::from_verified("a", bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_forward_goes_to_the_request_origin_only_from_the_base() {
        let to = |u: &str| on_request_origin(u, "https://app.example:8443/x/y?q=1");
        assert_eq!(
            to("http://edgegate.invalid/api/me?q=1").as_deref(),
            Some("https://app.example:8443/api/me?q=1")
        );
        assert_eq!(
            to("http://edgegate.invalid/").as_deref(),
            Some("https://app.example:8443/")
        );
        assert_eq!(to("http://edgegate.invalid.evil/x"), None);
        assert_eq!(to("http://edgegate.invalid"), None);
        assert_eq!(to("https://origin.example/x"), None);
        assert_eq!(
            on_request_origin("http://edgegate.invalid/x", "no url"),
            None
        );
    }

    #[test]
    fn the_internal_error_line_is_the_js_entrys() {
        // js/gate.mjs internalError: JSON.stringify({edgegate, level, reason, problem}).
        assert_eq!(
            internal_error_line("TypeError"),
            r#"{"edgegate":"error","level":"error","reason":"internal_error","problem":"TypeError"}"#
        );
        assert_eq!(
            internal_error_line("a\"b"),
            r#"{"edgegate":"error","level":"error","reason":"internal_error","problem":"a\"b"}"#
        );
    }

    #[test]
    fn webcrypto_parameters_follow_rfc_7518() {
        let p = |a| crypto_params(a).expect("asymmetric");
        assert_eq!(
            (p(Alg::RS384).name, p(Alg::RS384).import_hash),
            ("RSASSA-PKCS1-v1_5", Some("SHA-384"))
        );
        assert_eq!(p(Alg::PS512).salt_length, Some(64));
        assert_eq!(p(Alg::PS256).salt_length, Some(32));
        assert_eq!(
            (p(Alg::ES384).named_curve, p(Alg::ES384).verify_hash),
            (Some("P-384"), Some("SHA-384"))
        );
        assert_eq!(p(Alg::ES256).named_curve, Some("P-256"));
        assert_eq!(p(Alg::EdDSA).name, "Ed25519");
        assert!(crypto_params(Alg::HS256).is_none());
        assert_eq!(
            refused_key_warning(Alg::ES256, "\"k1\"", "bad point"),
            "WebCrypto refused the ES256 key \"k1\": bad point; tokens signed with it are refused"
        );
    }

    #[test]
    fn a_cached_set_is_fresh_until_fetched_at_plus_max_age() {
        let now = 1_000_000.0;
        let r = |f, cc| cached_remaining_ms(f, cc, now);
        assert_eq!(r(Some("999000"), Some("max-age=60")), Some(59_000.0));
        assert_eq!(r(Some("900000"), Some("max-age=100")), None, "stale");
        assert_eq!(r(Some("999000"), Some("max-age=60, public")), None);
        assert_eq!(r(Some("999000"), Some("max-age=")), None);
        assert_eq!(r(Some("999000"), Some("max-age=-1")), None);
        assert_eq!(r(None, Some("max-age=60")), None);
        assert_eq!(r(Some("x"), Some("max-age=60")), None);
        assert_eq!(r(Some("999000"), None), None);
    }

    #[test]
    fn a_declared_length_over_the_cap_is_refused_before_reading() {
        assert!(declared_too_large(Some("262145"), 262_144));
        assert!(!declared_too_large(Some("262144"), 262_144));
        assert!(!declared_too_large(Some("nope"), 262_144));
        assert!(!declared_too_large(None, 262_144));
        assert_eq!(
            utf8_text(b"\xef\xbb\xbf{}".to_vec(), "the JWK Set"),
            Ok("{}".to_owned())
        );
        assert_eq!(
            utf8_text(vec![0xff], "the revocation list"),
            Err("the revocation list is not UTF-8 text".to_owned())
        );
    }
}

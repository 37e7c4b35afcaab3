//! Stage 1 of verification: strict, bounded parsing of a compact JWS (no crypto here).
//!
//! The parser refuses anything a careful reader could read two ways: more or fewer than three
//! segments, non-canonical base64url (padding, whitespace, stray trailing bits), JSON that is not
//! one UTF-8 object with unique keys, and header parameters edgegate does not implement (`crit`,
//! `b64`, nested `cty: JWT`, JWE's `enc`/`zip`). It also pins `alg` to the configured allow-list
//! before any key is looked at. `jwk`, `jku`, `x5u`, `x5c` are read by nobody: they are ignored.
//!
//! The same parser serves the browser build (decode only), which is why it carries no key.

use crate::low_level::alg::{Alg, AlgSet};
use crate::low_level::claims::{Claims, ClaimsError};
use crate::low_level::json::{check_unique_keys, JsonError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::fmt;

/// Tokens longer than this many bytes are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// `kid` values longer than this are refused (they are only ever used as a map key).
pub const MAX_KID_BYTES: usize = 256;

/// Why a token could not be parsed. Each variant has a stable [`code`](TokenError::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLarge,
    /// Empty, or not exactly three `.`-separated segments.
    Malformed,
    /// Five segments (a JWE) or a JWE header parameter (`enc`, `zip`).
    Encrypted,
    /// A segment is not canonical unpadded base64url.
    BadBase64,
    /// Header or payload is not a UTF-8 JSON object (or nests too deeply).
    BadJson,
    /// An object in the header or payload repeats a key.
    DuplicateKey,
    /// The header lacks `alg` or has a parameter of the wrong type.
    BadHeader,
    /// `alg` is `none` in any spelling.
    AlgNone,
    /// `alg` is not in the configured allow-list (or is unknown).
    AlgNotAllowed,
    /// The header has `crit`; edgegate understands no extension, so it must refuse (RFC 7515 §4.1.11).
    CritUnsupported,
    /// The header has `b64` (RFC 7797 unencoded payload).
    UnencodedPayload,
    /// `cty` is `JWT`: a nested token, which edgegate does not unwrap.
    Nested,
    /// `typ` differs from the configured `TYP`.
    TypMismatch,
    /// `kid` is empty, too long, or not a string.
    BadKid,
    /// The signature segment is empty.
    MissingSignature,
    /// The claims have the wrong shape (see [`ClaimsError`]).
    Claims(ClaimsError),
}

impl TokenError {
    /// A stable, machine-readable reason code for logs and tests.
    pub const fn code(self) -> &'static str {
        match self {
            TokenError::TooLarge => "token_too_large",
            TokenError::Malformed => "malformed",
            TokenError::Encrypted => "encrypted_token",
            TokenError::BadBase64 => "bad_base64",
            TokenError::BadJson => "bad_json",
            TokenError::DuplicateKey => "duplicate_json_key",
            TokenError::BadHeader => "bad_header",
            TokenError::AlgNone => "alg_none",
            TokenError::AlgNotAllowed => "alg_not_allowed",
            TokenError::CritUnsupported => "crit_unsupported",
            TokenError::UnencodedPayload => "b64_unsupported",
            TokenError::Nested => "nested_token",
            TokenError::TypMismatch => "typ_mismatch",
            TokenError::BadKid => "bad_kid",
            TokenError::MissingSignature => "missing_signature",
            TokenError::Claims(c) => c.code(),
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for TokenError {}

impl From<JsonError> for TokenError {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::DuplicateKey => TokenError::DuplicateKey,
            JsonError::Syntax | JsonError::NotAnObject => TokenError::BadJson,
        }
    }
}

/// The protected header, reduced to what edgegate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The algorithm, already checked against the allow-list.
    pub alg: Alg,
    /// The key id, if any (bounded by [`MAX_KID_BYTES`], never used as a path or URL).
    pub kid: Option<String>,
    /// The `typ` parameter, if any.
    pub typ: Option<String>,
}

/// What the parser needs to know besides the token.
#[derive(Debug, Clone, Copy)]
pub struct ParseRules<'a> {
    /// The pinned allow-list.
    pub algorithms: AlgSet,
    /// When set, `typ` must equal this (ASCII case-insensitively, `application/` prefix optional,
    /// RFC 7515 §4.1.9).
    pub typ: Option<&'a str>,
}

/// A parsed but **unverified** token: its JWS layer and the claims edgegate validates. Its
/// fields borrow from the token text.
#[derive(Debug, Clone)]
pub struct Parsed<'t> {
    /// Header, segments, signature and payload bytes.
    pub jws: Jws<'t>,
    /// The claims edgegate validates.
    pub claims: Claims,
}

/// Decodes one segment as canonical, unpadded base64url.
///
/// ```
/// use edgegate::low_level::token::b64url_decode;
/// assert_eq!(b64url_decode("e30").unwrap(), b"{}");
/// assert!(b64url_decode("e30=").is_err()); // padding
/// assert!(b64url_decode("e31").is_err()); // non-zero trailing bits
/// assert!(b64url_decode("e3 0").is_err()); // whitespace
/// ```
pub fn b64url_decode(segment: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::BadBase64)
}

// A member that is present counts as present whatever its value, `null` included: serde's
// `Option` reads `"crit": null` as absent, which let `{"crit":null}` (and `"kid": null`, read as
// "no kid") through. Unsupported parameters are refused on presence; string parameters must be
// strings when present.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default, deserialize_with = "string_if_present")]
    kid: Option<String>,
    #[serde(default, deserialize_with = "string_if_present")]
    typ: Option<String>,
    #[serde(default, deserialize_with = "string_if_present")]
    cty: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    b64: bool,
    #[serde(default, deserialize_with = "present")]
    enc: bool,
    #[serde(default, deserialize_with = "present")]
    zip: bool,
}

/// `true` for any value, `null` included (only called when the member exists).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// A string; `null` is an error rather than "absent" (only called when the member exists).
fn string_if_present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// Splits a compact token into its three segments, refusing anything else.
fn split(token: &str, max_bytes: usize) -> Result<(&str, &str, &str), TokenError> {
    if token.len() > max_bytes {
        return Err(TokenError::TooLarge);
    }
    if token.is_empty() {
        return Err(TokenError::Malformed);
    }
    let dots = token.bytes().filter(|b| *b == b'.').count();
    if dots == 4 {
        return Err(TokenError::Encrypted);
    }
    let mut it = token.splitn(3, '.');
    match (it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s)) if dots == 2 && !h.is_empty() && !p.is_empty() => Ok((h, p, s)),
        _ => Err(TokenError::Malformed),
    }
}

/// Whether a `typ` (or `cty`) value names `expected`: ASCII case-insensitively, with the
/// `application/` prefix optional (RFC 7515 §4.1.9).
pub fn typ_matches(actual: &str, expected: &str) -> bool {
    fn strip(s: &str) -> &str {
        let lower_prefix = "application/";
        match s.get(..lower_prefix.len()) {
            Some(p) if p.eq_ignore_ascii_case(lower_prefix) => &s[lower_prefix.len()..],
            _ => s,
        }
    }
    strip(actual).eq_ignore_ascii_case(strip(expected))
}

/// Parses the header JSON and applies every header rule.
pub fn parse_header(json: &[u8], rules: &ParseRules<'_>) -> Result<Header, TokenError> {
    check_unique_keys(json)?;
    let raw: RawHeader = serde_json::from_slice(json).map_err(|_| TokenError::BadHeader)?;
    if raw.alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgNone);
    }
    let alg = Alg::from_name(&raw.alg)
        .filter(|a| rules.algorithms.contains(*a))
        .ok_or(TokenError::AlgNotAllowed)?;
    if raw.enc || raw.zip {
        return Err(TokenError::Encrypted);
    }
    if raw.crit {
        return Err(TokenError::CritUnsupported);
    }
    if raw.b64 {
        return Err(TokenError::UnencodedPayload);
    }
    if raw.cty.as_deref().is_some_and(|c| typ_matches(c, "JWT")) {
        return Err(TokenError::Nested);
    }
    if let Some(expected) = rules.typ {
        match raw.typ.as_deref() {
            Some(t) if typ_matches(t, expected) => {}
            _ => return Err(TokenError::TypMismatch),
        }
    }
    if let Some(kid) = &raw.kid {
        if kid.is_empty() || kid.len() > MAX_KID_BYTES {
            return Err(TokenError::BadKid);
        }
    }
    Ok(Header {
        alg,
        kid: raw.kid,
        typ: raw.typ,
    })
}

/// A compact JWS that passed every structural and header rule; nothing about its payload is
/// known yet except that it is canonical base64url. Its fields borrow from the token text.
#[derive(Debug, Clone)]
pub struct Jws<'t> {
    /// The protected header.
    pub header: Header,
    /// `header.payload`: the bytes the signature covers.
    pub signing_input: &'t str,
    /// The payload segment.
    pub payload_b64: &'t str,
    /// The signature segment (canonical base64url, never empty).
    pub signature_b64: &'t str,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
    /// The decoded payload bytes (not yet checked to be JSON).
    pub payload: Vec<u8>,
}

/// The JWS layer of [`parse`]: size, segments, base64url and header rules, without reading the
/// payload as JWT claims. (Used on its own by the JWS-level conformance tests, whose payloads
/// are not JSON.)
pub fn parse_jws<'t>(token: &'t str, rules: &ParseRules<'_>) -> Result<Jws<'t>, TokenError> {
    parse_jws_within(token, rules, MAX_TOKEN_BYTES)
}

/// [`parse_jws`] for a JWS of at most `max_bytes` instead of [`MAX_TOKEN_BYTES`] (a signed
/// document, such as the revocation list, rather than a token).
pub fn parse_jws_within<'t>(
    token: &'t str,
    rules: &ParseRules<'_>,
    max_bytes: usize,
) -> Result<Jws<'t>, TokenError> {
    let (h64, p64, s64) = split(token, max_bytes)?;
    let header_json = b64url_decode(h64)?;
    let header = parse_header(&header_json, rules)?;
    if s64.is_empty() {
        return Err(TokenError::MissingSignature);
    }
    let signature = b64url_decode(s64)?;
    let payload = b64url_decode(p64)?;
    Ok(Jws {
        header,
        // The header and payload segments are contiguous in `token`, so this slice always exists.
        signing_input: &token[..h64.len() + 1 + p64.len()],
        payload_b64: p64,
        signature_b64: s64,
        signature,
        payload,
    })
}

/// Parses a compact JWS: size, segments, base64url, JSON, header rules and claim shapes.
///
/// Nothing here checks the signature or the times: see [`crate::verify`].
///
/// ```
/// use edgegate::low_level::alg::{Alg, AlgSet};
/// use edgegate::low_level::token::{parse, ParseRules, TokenError};
/// let rules = ParseRules { algorithms: [Alg::HS256].into_iter().collect(), typ: None };
/// // {"alg":"none"}.{"sub":"a","exp":1}.
/// let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjoxfQ.";
/// assert_eq!(parse(none, &rules).unwrap_err(), TokenError::AlgNone);
/// ```
pub fn parse<'t>(token: &'t str, rules: &ParseRules<'_>) -> Result<Parsed<'t>, TokenError> {
    let jws = parse_jws(token, rules)?;
    check_unique_keys(&jws.payload)?;
    let claims = Claims::from_json(&jws.payload).map_err(TokenError::Claims)?;
    Ok(Parsed { jws, claims })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    pub(crate) fn b64_bytes(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    pub(crate) fn tok(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), sig)
    }

    fn rules() -> ParseRules<'static> {
        ParseRules {
            algorithms: [Alg::HS256, Alg::ES256].into_iter().collect(),
            typ: None,
        }
    }

    const P: &str = r#"{"sub":"alice","exp":2000000000}"#;

    fn err(t: &str) -> TokenError {
        parse(t, &rules()).unwrap_err()
    }

    #[test]
    fn parses_a_plain_token() {
        let t = tok(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#, P, "c2ln");
        let p = parse(&t, &rules()).unwrap();
        assert_eq!(p.jws.header.alg, Alg::HS256);
        assert_eq!(p.jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(p.claims.sub.as_deref(), Some("alice"));
        assert_eq!(p.jws.signature, b"sig");
        assert_eq!(p.jws.signing_input, &t[..t.rfind('.').unwrap()]);
        assert_eq!(p.jws.payload_b64, b64(P));
    }

    #[test]
    fn size_is_checked_before_anything_else() {
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(err(&huge), TokenError::TooLarge);
        let at_limit = "a".repeat(MAX_TOKEN_BYTES);
        assert_eq!(err(&at_limit), TokenError::Malformed);
    }

    // The documented limit is 8 KiB: a real token of exactly that size parses, one byte more is
    // refused (a smaller limit would break large but legitimate tokens).
    #[test]
    fn a_token_of_8_kib_parses() {
        const EIGHT_KIB: usize = 8 * 1024;
        let header = b64(r#"{"alg":"HS256"}"#);
        let exact = (6000..)
            .find_map(|pad| {
                let payload = format!(
                    r#"{{"sub":"a","exp":2000000000,"pad":"{}"}}"#,
                    "x".repeat(pad)
                );
                let signed = format!("{header}.{}", b64(&payload));
                let sig_len = EIGHT_KIB - signed.len() - 1;
                // "A" repeated is canonical base64url unless its length is 1 mod 4.
                (sig_len % 4 != 1).then(|| format!("{signed}.{}", "A".repeat(sig_len)))
            })
            .unwrap();
        assert_eq!(exact.len(), EIGHT_KIB);
        assert!(parse(&exact, &rules()).is_ok());
        assert_eq!(err(&format!("{exact}A")), TokenError::TooLarge);
    }

    #[test]
    fn error_codes_are_stable() {
        let codes = [
            (TokenError::TooLarge, "token_too_large"),
            (TokenError::Malformed, "malformed"),
            (TokenError::Encrypted, "encrypted_token"),
            (TokenError::BadBase64, "bad_base64"),
            (TokenError::BadJson, "bad_json"),
            (TokenError::DuplicateKey, "duplicate_json_key"),
            (TokenError::BadHeader, "bad_header"),
            (TokenError::AlgNone, "alg_none"),
            (TokenError::AlgNotAllowed, "alg_not_allowed"),
            (TokenError::CritUnsupported, "crit_unsupported"),
            (TokenError::UnencodedPayload, "b64_unsupported"),
            (TokenError::Nested, "nested_token"),
            (TokenError::TypMismatch, "typ_mismatch"),
            (TokenError::BadKid, "bad_kid"),
            (TokenError::MissingSignature, "missing_signature"),
            (TokenError::Claims(ClaimsError::Expired), "expired"),
        ];
        for (e, code) in codes {
            assert_eq!((e.code(), e.to_string().as_str()), (code, code), "{e:?}");
        }
    }

    #[test]
    fn segment_structure() {
        let h = b64(r#"{"alg":"HS256"}"#);
        let p = b64(P);
        assert_eq!(err(""), TokenError::Malformed);
        assert_eq!(err("abc"), TokenError::Malformed);
        assert_eq!(err(&format!("{h}.{p}")), TokenError::Malformed);
        assert_eq!(err(&format!("{h}.{p}.c2ln.x")), TokenError::Malformed);
        assert_eq!(err(&format!("{h}.{p}.a.b.c")), TokenError::Encrypted);
        assert_eq!(err(&format!(".{p}.c2ln")), TokenError::Malformed);
        assert_eq!(err(&format!("{h}..c2ln")), TokenError::Malformed);
        assert_eq!(err(&format!("{h}.{p}.")), TokenError::MissingSignature);
    }

    #[test]
    fn base64_must_be_canonical() {
        let h = b64(r#"{"alg":"HS256"}"#);
        let p = b64(P);
        for bad_sig in [
            "c2ln=", "c2l+", "c2l/", "c2 l", "c2ln\n", "e31", "c2lnZ", "%63",
        ] {
            let t = format!("{h}.{p}.{bad_sig}");
            assert_eq!(err(&t), TokenError::BadBase64, "{bad_sig:?}");
        }
        // Padding on the header.
        let padded = format!("{}=.{p}.c2ln", b64(r#"{"alg":"HS256"}"#));
        assert!(matches!(err(&padded), TokenError::BadBase64));
    }

    #[test]
    fn json_must_be_a_unique_keyed_utf8_object() {
        let h = r#"{"alg":"HS256"}"#;
        assert_eq!(
            err(&tok(h, r#"{"exp":1,"exp":2000000000,"sub":"a"}"#, "c2ln")),
            TokenError::DuplicateKey
        );
        assert_eq!(
            err(&tok(r#"{"alg":"HS256","alg":"HS256"}"#, P, "c2ln")),
            TokenError::DuplicateKey
        );
        assert_eq!(err(&tok(h, "[1]", "c2ln")), TokenError::BadJson);
        assert_eq!(err(&tok(h, "\u{feff}{}", "c2ln")), TokenError::BadJson);
        let bad_utf8 = format!(
            "{}.{}.c2ln",
            b64(h),
            URL_SAFE_NO_PAD.encode(b"{\"sub\":\"\xff\"}")
        );
        assert_eq!(err(&bad_utf8), TokenError::BadJson);
        assert_eq!(err(&tok("not json", P, "c2ln")), TokenError::BadJson);
    }

    #[test]
    fn alg_is_pinned() {
        for none in ["none", "None", "NONE", "nOnE"] {
            let t = tok(&format!(r#"{{"alg":"{none}"}}"#), P, "c2ln");
            assert_eq!(err(&t), TokenError::AlgNone, "{none}");
        }
        for other in ["HS384", "RS256", "hs256", "HS256 ", ""] {
            let t = tok(&format!(r#"{{"alg":"{other}"}}"#), P, "c2ln");
            assert_eq!(err(&t), TokenError::AlgNotAllowed, "{other:?}");
        }
        assert_eq!(
            err(&tok(r#"{"typ":"JWT"}"#, P, "c2ln")),
            TokenError::BadHeader
        );
        assert_eq!(
            err(&tok(r#"{"alg":256}"#, P, "c2ln")),
            TokenError::BadHeader
        );
    }

    #[test]
    fn unsupported_header_parameters_are_refused() {
        let cases = [
            (
                r#"{"alg":"HS256","crit":["exp"]}"#,
                TokenError::CritUnsupported,
            ),
            (r#"{"alg":"HS256","crit":[]}"#, TokenError::CritUnsupported),
            (
                r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
                TokenError::CritUnsupported,
            ),
            (
                r#"{"alg":"HS256","b64":false}"#,
                TokenError::UnencodedPayload,
            ),
            (r#"{"alg":"HS256","cty":"JWT"}"#, TokenError::Nested),
            (
                r#"{"alg":"HS256","cty":"application/jwt"}"#,
                TokenError::Nested,
            ),
            (r#"{"alg":"HS256","enc":"A128GCM"}"#, TokenError::Encrypted),
            (r#"{"alg":"HS256","zip":"DEF"}"#, TokenError::Encrypted),
            (r#"{"alg":"HS256","kid":""}"#, TokenError::BadKid),
            (r#"{"alg":"HS256","kid":7}"#, TokenError::BadHeader),
            // Present with a null value is still present.
            (
                r#"{"alg":"HS256","crit":null}"#,
                TokenError::CritUnsupported,
            ),
            (
                r#"{"alg":"HS256","b64":null}"#,
                TokenError::UnencodedPayload,
            ),
            (r#"{"alg":"HS256","enc":null}"#, TokenError::Encrypted),
            (r#"{"alg":"HS256","zip":null}"#, TokenError::Encrypted),
            (r#"{"alg":"HS256","kid":null}"#, TokenError::BadHeader),
            (r#"{"alg":"HS256","typ":null}"#, TokenError::BadHeader),
            (r#"{"alg":"HS256","cty":null}"#, TokenError::BadHeader),
        ];
        for (h, want) in cases {
            assert_eq!(err(&tok(h, P, "c2ln")), want, "{h}");
        }
        let long_kid = format!(
            r#"{{"alg":"HS256","kid":"{}"}}"#,
            "k".repeat(MAX_KID_BYTES + 1)
        );
        assert_eq!(err(&tok(&long_kid, P, "c2ln")), TokenError::BadKid);
        let kid_at_limit = format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "k".repeat(MAX_KID_BYTES));
        assert!(parse(&tok(&kid_at_limit, P, "c2ln"), &rules()).is_ok());
        // Key-carrying parameters are ignored, not trusted and not an error.
        let injected = r#"{"alg":"HS256","jku":"http://127.0.0.1/jwks","x5u":"http://x","jwk":{"kty":"oct","k":"AA"},"x5c":["AA"],"kid":"../../etc/passwd"}"#;
        let t = tok(injected, P, "c2ln");
        let p = parse(&t, &rules()).unwrap();
        assert_eq!(p.jws.header.kid.as_deref(), Some("../../etc/passwd"));
    }

    #[test]
    fn typ_rule() {
        let r = ParseRules {
            typ: Some("at+jwt"),
            ..rules()
        };
        let ok = |h: &str| parse(&tok(h, P, "c2ln"), &r).map(|_| ());
        assert_eq!(ok(r#"{"alg":"HS256","typ":"at+jwt"}"#), Ok(()));
        assert_eq!(ok(r#"{"alg":"HS256","typ":"application/AT+JWT"}"#), Ok(()));
        assert_eq!(
            ok(r#"{"alg":"HS256","typ":"JWT"}"#),
            Err(TokenError::TypMismatch)
        );
        assert_eq!(ok(r#"{"alg":"HS256"}"#), Err(TokenError::TypMismatch));
    }

    // RFC 7515 §4.1.9 lets only `application/` be omitted; any other 12-byte prefix (a URN, a
    // look-alike) names a different type, which RFC 8725 §3.11 says must be refused.
    #[test]
    fn typ_prefix_is_application_slash_only() {
        let r = ParseRules {
            typ: Some("at+jwt"),
            ..rules()
        };
        let parse_typ = |typ: &str| {
            let h = format!(r#"{{"alg":"HS256","typ":{}}}"#, serde_json::json!(typ));
            parse(&tok(&h, P, "c2ln"), &r).map(|_| ())
        };
        for accepted in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
            "APPLICATION/AT+JWT",
        ] {
            assert_eq!(parse_typ(accepted), Ok(()), "{accepted}");
        }
        for refused in [
            "urn:example:at+jwt",
            "xxxxxxxxxxxxat+jwt",
            "applicationXat+jwt",
            "application:at+jwt",
            "application/application/at+jwt",
            "/at+jwt",
            "application/",
            "at+jwt ",
        ] {
            assert_eq!(
                parse_typ(refused),
                Err(TokenError::TypMismatch),
                "{refused}"
            );
        }
        // The configured side follows the same rule.
        assert!(typ_matches("at+jwt", "application/at+jwt"));
        assert!(!typ_matches("at+jwt", "urn:example:at+jwt"));
    }
}

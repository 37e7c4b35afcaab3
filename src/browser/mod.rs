//! The decode-only browser module: reads a JWT's header and claims **without verifying it**.
//!
//! Frontends want to show who is logged in, count down to expiry or debug a token, and they hold
//! no key (nor should they). This module is that reader, built from the same strict token code as
//! the gate ([`crate::low_level::token::b64url_decode`], [`crate::low_level::json::check_unique_keys`], the claim
//! shapes of [`crate::low_level::claims`]) and compiled with `--features browser` into a small ES module
//! (`scripts/build-browser.sh` → `www/pkg/`). It carries no signing or verifying code.
//!
//! **Decoding is not verifying.** Anyone can write any header and claims into a token; only a
//! signature check with the right key (the gate's job) makes them trustworthy. Every result says
//! so: [`Report::verified`] is always `false`.
//!
//! Decoding is for inspection, so it is lenient where the gate is strict about *meaning* (an
//! `alg: none` token decodes, with a warning) and exactly as strict about *syntax*: the same
//! size cap, segment rules, canonical base64url and duplicate-free JSON, each refused with a
//! stable [`DecodeError::code`]. It never panics, whatever the input.
//!
//! The pure logic ([`decode_report`], [`is_expired`]) is plain Rust, tested natively; the
//! `#[wasm_bindgen]` layer (`decode`, `isExpired` in JavaScript) exists only on wasm32.

use crate::low_level::alg::Alg;
use crate::low_level::claims::MAX_NUMERIC_DATE;
use crate::low_level::json::check_unique_keys;
use crate::low_level::token::{b64url_decode, TokenError, MAX_TOKEN_BYTES};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Tokens longer than this (bytes) get an [`WarningCode::OversizeToken`] warning: most browsers
/// cap a cookie (name + value) at 4096 bytes. Tokens over [`MAX_TOKEN_BYTES`] are refused.
pub const LARGE_TOKEN_BYTES: usize = 4096;

/// The default longest lifetime (seconds) an access token should have before
/// [`WarningCode::LongLifetime`] is raised: 15 minutes.
pub const DEFAULT_MAX_ACCESS_LIFETIME: f64 = 900.0;

/// Leeway passed to [`is_expired`] is clamped to ± this many seconds (one day).
pub const MAX_LEEWAY: f64 = 86_400.0;

/// Which segment of the token an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// The first segment (the JOSE header).
    Header,
    /// The second segment (the claims).
    Payload,
    /// The third segment (the signature, decoded but never checked).
    Signature,
}

impl Part {
    /// `"header"`, `"payload"` or `"signature"`.
    pub const fn name(self) -> &'static str {
        match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        }
    }
}

/// Why a token could not be decoded.
///
/// `kind` is one of the syntax errors of the gate's parser, with the same stable codes:
/// `token_too_large`, `malformed`, `encrypted_token`, `bad_base64`, `bad_json`,
/// `duplicate_json_key`. (The gate's *rule* errors, such as `alg_none`, are warnings here.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: TokenError,
    /// The segment at fault, when the error is about one segment.
    pub part: Option<Part>,
}

impl DecodeError {
    const fn token(kind: TokenError) -> Self {
        DecodeError { kind, part: None }
    }

    /// The stable, machine-readable code (the JavaScript error's `.code`).
    pub const fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// A one-line human explanation.
    pub const fn explanation(&self) -> &'static str {
        match self.kind {
            TokenError::TooLarge => "the token is longer than 8192 bytes",
            TokenError::Encrypted => {
                "five segments: this is an encrypted JWE, which cannot be read without its key"
            }
            TokenError::BadBase64 => "a segment is not canonical unpadded base64url",
            TokenError::BadJson => "a segment is not a UTF-8 JSON object",
            TokenError::DuplicateKey => {
                "a JSON object repeats a key, so different parsers would read different values"
            }
            _ => "not a compact JWT: expected three non-empty base64url segments separated by dots",
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.part {
            Some(p) => write!(
                f,
                "{} ({} in the {})",
                self.explanation(),
                self.code(),
                p.name()
            ),
            None => write!(f, "{} ({})", self.explanation(), self.code()),
        }
    }
}

impl std::error::Error for DecodeError {}

/// What a security reviewer wants to see. Serialised as the snake_case code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// `alg` is `none` (any spelling): the token is unsigned and anyone can forge it.
    AlgNone,
    /// The header has no string `alg`.
    MissingAlg,
    /// `alg` is not a JWS algorithm name edgegate knows (names are case-sensitive).
    UnknownAlg,
    /// The header carries a key or a key URL (`jku`, `x5u`, `jwk`, `x5c`).
    UntrustedKeyHeader,
    /// The signature segment is empty although `alg` is not `none`.
    MissingSignature,
    /// No `exp` (or `exp: null`): the token never expires.
    MissingExp,
    /// A registered claim (`exp`, `nbf`, `iat`, `sub`, `iss`, `aud`) has the wrong JSON type or
    /// an out-of-range time; the gate refuses such a token.
    InvalidClaim,
    /// An access token living longer than the configured maximum (15 minutes by default).
    LongLifetime,
    /// A claim that looks sensitive: its name (password, secret, card, …), a Luhn-valid card
    /// number, or (with [`DecodeOptions::flag_emails`]) an email address.
    SensitiveClaim,
    /// Longer than [`LARGE_TOKEN_BYTES`]: too big for a cookie.
    OversizeToken,
}

impl WarningCode {
    /// The stable code, e.g. `"alg_none"`.
    pub const fn code(self) -> &'static str {
        match self {
            WarningCode::AlgNone => "alg_none",
            WarningCode::MissingAlg => "missing_alg",
            WarningCode::UnknownAlg => "unknown_alg",
            WarningCode::UntrustedKeyHeader => "untrusted_key_header",
            WarningCode::MissingSignature => "missing_signature",
            WarningCode::MissingExp => "missing_exp",
            WarningCode::InvalidClaim => "invalid_claim",
            WarningCode::LongLifetime => "long_lifetime",
            WarningCode::SensitiveClaim => "sensitive_claim",
            WarningCode::OversizeToken => "oversize_token",
        }
    }
}

/// One finding about a decoded token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// The stable code.
    pub code: WarningCode,
    /// A human explanation (English; not stable).
    pub message: String,
    /// Where: `header.jku`, `claims.password`, `claims.user.cards[0]`, … (`None` for the token).
    pub path: Option<String>,
}

/// Options for [`decode_report`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    /// Also flag claim values that look like email addresses (off by default: many tokens carry
    /// an `email` claim on purpose).
    pub flag_emails: bool,
    /// The longest acceptable access-token lifetime, seconds (default 900 = 15 minutes).
    pub max_access_lifetime: f64,
    /// Whether the token is an access token: `Some` forces it; `None` guesses (see
    /// [`looks_like_access_token`]).
    pub access_token: Option<bool>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            flag_emails: false,
            max_access_lifetime: DEFAULT_MAX_ACCESS_LIFETIME,
            access_token: None,
        }
    }
}

/// A decoded, **unverified** token, serialised (camelCase) as the JavaScript result of `decode`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Always `false`: nothing here was verified.
    pub verified: bool,
    /// The header JSON, exactly as in the token (key order kept).
    pub header: Box<RawValue>,
    /// The claims JSON, exactly as in the token (key order kept).
    pub claims: Box<RawValue>,
    /// `iat` in seconds, when it is a valid NumericDate.
    pub issued_at: Option<f64>,
    /// `nbf` in seconds, when it is a valid NumericDate.
    pub not_before: Option<f64>,
    /// `exp` in seconds, when it is a valid NumericDate.
    pub expires_at: Option<f64>,
    /// `exp - now` in seconds (negative once expired), when `exp` is valid.
    pub expires_in: Option<f64>,
    /// Whether `exp` (read rounded down, as the gate does) is at or before `now`. No leeway.
    pub expired: bool,
    /// Whether `nbf` (read rounded up) is after `now`. No leeway.
    pub not_yet_valid: bool,
    /// `exp - iat` in seconds, when both are valid.
    pub lifetime: Option<f64>,
    /// The token's length in bytes.
    pub token_bytes: usize,
    /// The decoded signature's length in bytes (0 when the segment is empty). Never checked.
    pub signature_bytes: usize,
    /// Findings, in a stable order: token, header, signature, registered claims, then the
    /// sensitive-claim scan (depth-first, keys in sorted order).
    pub warnings: Vec<Warning>,
}

impl Report {
    /// The report as JSON: the same shape (and key order) as the object `decode` returns in
    /// JavaScript.
    pub fn to_json(&self) -> String {
        // Serialising plain data, maps with string keys and RawValues cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether a warning with `code` is present.
    pub fn has_warning(&self, code: WarningCode) -> bool {
        self.warnings.iter().any(|w| w.code == code)
    }
}

/// Splits a compact token into three segments, exactly like the gate's parser (the signature
/// may be empty here: an unsigned token is still worth reading).
fn split(token: &str) -> Result<(&str, &str, &str), DecodeError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(DecodeError::token(TokenError::TooLarge));
    }
    let dots = token.bytes().filter(|b| *b == b'.').count();
    if dots == 4 {
        return Err(DecodeError::token(TokenError::Encrypted));
    }
    let mut it = token.splitn(3, '.');
    match (it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s)) if dots == 2 && !h.is_empty() && !p.is_empty() => Ok((h, p, s)),
        _ => Err(DecodeError::token(TokenError::Malformed)),
    }
}

/// Decodes one JSON segment: canonical base64url, one duplicate-free UTF-8 JSON object.
fn json_segment(
    segment: &str,
    part: Part,
) -> Result<(Box<RawValue>, Map<String, Value>), DecodeError> {
    let at = |kind| DecodeError {
        kind,
        part: Some(part),
    };
    let bytes = b64url_decode(segment).map_err(at)?;
    check_unique_keys(&bytes).map_err(|e| at(e.into()))?;
    let text = String::from_utf8(bytes).map_err(|_| at(TokenError::BadJson))?;
    // Parsed as any `Value`, then matched: deserialising a `Map` directly would link serde's
    // type-error formatting (float printing included) into the browser module for nothing, as
    // `check_unique_keys` has already proved the text is one object.
    let map = match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        _ => return Err(at(TokenError::BadJson)),
    };
    let raw = RawValue::from_string(text).map_err(|_| at(TokenError::BadJson))?;
    Ok((raw, map))
}

/// Decodes `token` at `now` (Unix seconds) **without verifying it**, and lists warnings.
///
/// ```
/// use edgegate::browser::{decode_report, DecodeOptions, WarningCode};
/// // {"alg":"none"}.{"sub":"alice","exp":1000}.
/// let t = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6MTAwMH0.";
/// let r = decode_report(t, 400.0, &DecodeOptions::default()).unwrap();
/// assert!(!r.verified);
/// assert_eq!(r.expires_in, Some(600.0));
/// assert!(r.has_warning(WarningCode::AlgNone));
/// assert_eq!(decode_report("e30.e30", 0.0, &DecodeOptions::default()).unwrap_err().code(), "malformed");
/// ```
pub fn decode_report(
    token: &str,
    now: f64,
    options: &DecodeOptions,
) -> Result<Report, DecodeError> {
    let (h64, p64, s64) = split(token)?;
    let (header_raw, header) = json_segment(h64, Part::Header)?;
    let (claims_raw, claims) = json_segment(p64, Part::Payload)?;
    let signature = b64url_decode(s64).map_err(|kind| DecodeError {
        kind,
        part: Some(Part::Signature),
    })?;

    let mut w = Vec::new();
    if token.len() > LARGE_TOKEN_BYTES {
        w.push(warning(
            WarningCode::OversizeToken,
            format!(
                "{} bytes: over the {LARGE_TOKEN_BYTES} bytes a browser keeps in one cookie",
                token.len()
            ),
            None,
        ));
    }
    let alg_none = header_warnings(&header, &mut w);
    if signature.is_empty() && !alg_none {
        w.push(warning(
            WarningCode::MissingSignature,
            "the signature segment is empty: nothing could ever verify this token".into(),
            None,
        ));
    }

    // Registered claims, read with the gate's own shape rules.
    let issued_at = time_claim(&claims, "iat", &mut w);
    let not_before = time_claim(&claims, "nbf", &mut w);
    let expires_at = time_claim(&claims, "exp", &mut w);
    for name in ["sub", "iss", "aud"] {
        if claims.get(name).is_some_and(|v| !shape_ok(name, v)) {
            invalid_claim(name, &mut w);
        }
    }
    if matches!(claims.get("exp"), None | Some(Value::Null)) {
        w.push(warning(
            WarningCode::MissingExp,
            "no exp: this token never expires (the gate refuses it)".into(),
            Some("claims.exp".into()),
        ));
    }

    let lifetime = match (expires_at, issued_at) {
        (Some(exp), Some(iat)) => Some(exp - iat),
        _ => None,
    };
    if let Some(exp) = expires_at {
        let max = if options.max_access_lifetime.is_finite() && options.max_access_lifetime > 0.0 {
            options.max_access_lifetime
        } else {
            DEFAULT_MAX_ACCESS_LIFETIME
        };
        let access = options
            .access_token
            .unwrap_or_else(|| looks_like_access_token(&header, &claims));
        if access {
            let (span, what) = match lifetime {
                Some(l) => (l, "lives"),
                None => (exp - now, "has no iat and expires in"),
            };
            if span > max {
                w.push(warning(
                    WarningCode::LongLifetime,
                    format!(
                        "access token {what} {}s, longer than {}s: keep access tokens short-lived",
                        span as i64, max as i64
                    ),
                    Some("claims.exp".into()),
                ));
            }
        }
    }

    let mut path = String::from("claims");
    scan_object(&claims, &mut path, true, options, &mut w);

    Ok(Report {
        verified: false,
        header: header_raw,
        claims: claims_raw,
        issued_at,
        not_before,
        expires_at,
        expires_in: expires_at.map(|exp| exp - now),
        expired: expires_at.is_some_and(|exp| exp.floor() <= now),
        not_yet_valid: not_before.is_some_and(|nbf| nbf.ceil() > now),
        lifetime,
        token_bytes: token.len(),
        signature_bytes: signature.len(),
        warnings: w,
    })
}

/// Whether `token` is expired at `now` with `leeway` seconds of tolerance: `floor(exp) + leeway
/// <= now`, the gate's rule. A negative leeway asks "does it expire within that many seconds?"
/// (for proactive refresh). Leeway is clamped to ±[`MAX_LEEWAY`] (non-finite counts as 0).
/// A token without a valid `exp` is not expired (it gets a warning from [`decode_report`]).
/// Never verifies anything.
///
/// ```
/// use edgegate::browser::is_expired;
/// // {"alg":"HS256"}.{"exp":1000}.c2ln
/// let t = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEwMDB9.c2ln";
/// assert_eq!(is_expired(t, 0.0, 999.0), Ok(false));
/// assert_eq!(is_expired(t, 0.0, 1000.0), Ok(true));
/// assert_eq!(is_expired(t, 30.0, 1029.0), Ok(false));
/// assert_eq!(is_expired(t, -60.0, 950.0), Ok(true));
/// ```
pub fn is_expired(token: &str, leeway: f64, now: f64) -> Result<bool, DecodeError> {
    let report = decode_report(token, now, &DecodeOptions::default())?;
    let leeway = if leeway.is_finite() {
        leeway.clamp(-MAX_LEEWAY, MAX_LEEWAY)
    } else {
        0.0
    };
    Ok(report
        .expires_at
        .is_some_and(|exp| exp.floor() + leeway <= now))
}

/// Whether the token should be held to the access-token lifetime. In order: the header `typ`
/// `at+jwt` (RFC 9068) says yes; a `token_use`/`token_type` claim of `access` says yes, of
/// `id`/`refresh` says no; OpenID ID-token claims (`nonce`, `at_hash`, `c_hash`) say no;
/// otherwise yes (a JWT a browser holds for an API is an access token).
pub fn looks_like_access_token(header: &Map<String, Value>, claims: &Map<String, Value>) -> bool {
    if let Some(typ) = header.get("typ").and_then(Value::as_str) {
        let typ = typ.to_ascii_lowercase();
        if typ.strip_prefix("application/").unwrap_or(&typ) == "at+jwt" {
            return true;
        }
    }
    for key in ["token_use", "token_type"] {
        if let Some(v) = claims.get(key).and_then(Value::as_str) {
            match v.to_ascii_lowercase().as_str() {
                "access" | "access_token" => return true,
                "id" | "id_token" | "refresh" | "refresh_token" => return false,
                _ => {}
            }
        }
    }
    !["nonce", "at_hash", "c_hash"]
        .iter()
        .any(|k| claims.contains_key(*k))
}

fn warning(code: WarningCode, message: String, path: Option<String>) -> Warning {
    Warning {
        code,
        message,
        path,
    }
}

/// Header findings; returns whether `alg` is `none`.
fn header_warnings(header: &Map<String, Value>, w: &mut Vec<Warning>) -> bool {
    let mut alg_none = false;
    match header.get("alg").and_then(Value::as_str) {
        None => w.push(warning(
            WarningCode::MissingAlg,
            "the header has no alg string: no verifier can accept this token".into(),
            Some("header.alg".into()),
        )),
        Some(a) if a.eq_ignore_ascii_case("none") => {
            alg_none = true;
            w.push(warning(
                WarningCode::AlgNone,
                "alg is none: the token is unsigned and anyone can forge it (the gate always refuses it)"
                    .into(),
                Some("header.alg".into()),
            ));
        }
        Some(a) if Alg::from_name(a).is_none() => w.push(warning(
            WarningCode::UnknownAlg,
            "alg is not a JWS algorithm name (names are case-sensitive)".into(),
            Some("header.alg".into()),
        )),
        Some(_) => {}
    }
    for key in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(key) {
            w.push(warning(
                WarningCode::UntrustedKeyHeader,
                format!(
                    "the header carries {key}: a verifier that trusts it lets the token choose its own key (edgegate ignores it)"
                ),
                Some(format!("header.{key}")),
            ));
        }
    }
    alg_none
}

/// The gate's NumericDate rule ([`crate::low_level::claims`]): a JSON number from 0 to
/// [`MAX_NUMERIC_DATE`]. Checked on the parsed value instead of deserialising
/// `claims::NumericDate` again, which keeps serde's `Value` deserializer out of the browser
/// build; a test proves both readings agree.
pub fn numeric_date(v: &Value) -> Option<f64> {
    let n = v.as_f64()?;
    (n.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&n)).then_some(n)
}

/// The gate's shape for `sub`, `iss` (string) and `aud` (string or array of strings); `null`
/// counts as absent, as in [`crate::low_level::claims::Claims`].
fn shape_ok(name: &str, v: &Value) -> bool {
    match v {
        Value::Null | Value::String(_) => true,
        Value::Array(items) => name == "aud" && items.iter().all(Value::is_string),
        _ => false,
    }
}

/// A time claim as seconds, when present and a valid NumericDate (the gate's rule).
fn time_claim(claims: &Map<String, Value>, name: &str, w: &mut Vec<Warning>) -> Option<f64> {
    match claims.get(name) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let date = numeric_date(v);
            if date.is_none() {
                invalid_claim(name, w);
            }
            date
        }
    }
}

fn invalid_claim(name: &str, w: &mut Vec<Warning>) {
    w.push(warning(
        WarningCode::InvalidClaim,
        format!("{name} has the wrong type or range for a registered claim (the gate refuses this token)"),
        Some(format!("claims.{name}")),
    ));
}

mod sensitive;
use sensitive::scan_object;
pub use sensitive::{looks_like_card_number, looks_like_email, sensitive_name};

/// The JavaScript API (wasm32 only): `decode`, `isExpired`, and their TypeScript types.
#[cfg(target_arch = "wasm32")]
mod js;

#[cfg(test)]
mod tests;

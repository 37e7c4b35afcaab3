//! The decode-only browser module: reads a JWT's header and claims **without verifying it**.
//!
//! Frontends want to show who is logged in, count down to expiry or debug a token, and they hold
//! no key (nor should they). This module is that reader, built from the same strict token code as
//! the gate ([`crate::token::b64url_decode`], [`crate::json::check_unique_keys`], the claim
//! shapes of [`crate::claims`]) and compiled with `--features browser` into a small ES module
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

use crate::alg::Alg;
use crate::claims::MAX_NUMERIC_DATE;
use crate::json::check_unique_keys;
use crate::token::{b64url_decode, TokenError, MAX_TOKEN_BYTES};
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

/// The gate's NumericDate rule ([`crate::claims`]): a JSON number from 0 to
/// [`MAX_NUMERIC_DATE`]. Checked on the parsed value instead of deserialising
/// `claims::NumericDate` again, which keeps serde's `Value` deserializer out of the browser
/// build; a test proves both readings agree.
pub fn numeric_date(v: &Value) -> Option<f64> {
    let n = v.as_f64()?;
    (n.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&n)).then_some(n)
}

/// The gate's shape for `sub`, `iss` (string) and `aud` (string or array of strings); `null`
/// counts as absent, as in [`crate::claims::Claims`].
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

/// Key-name fragments that mark a claim as sensitive wherever they occur in the lowercased name
/// with `_`, `-` and `.` removed.
const SENSITIVE_FRAGMENTS: [&str; 8] = [
    "password",
    "passwd",
    "secret",
    "privatekey",
    "apikey",
    "creditcard",
    "cardnumber",
    "cvv",
];

/// Short names that mark a claim as sensitive only as a whole word of the name (`pwd`,
/// `user_ssn`, `cardId`; not `classname`).
const SENSITIVE_WORDS: [&str; 4] = ["pwd", "ssn", "card", "cvc"];

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a claim name looks like it holds something that must never sit in a token; returns
/// the fragment or word that matched. ASCII rules (a JWT's claim names are ASCII in practice).
pub fn sensitive_name(key: &str) -> Option<&'static str> {
    let flat: Vec<u8> = key
        .bytes()
        .filter(|c| !matches!(c, b'_' | b'-' | b'.'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if let Some(f) = SENSITIVE_FRAGMENTS
        .iter()
        .find(|f| contains_bytes(&flat, f.as_bytes()))
    {
        return Some(f);
    }
    // Words: split at non-alphanumerics and at lower→upper camelCase boundaries.
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut prev_lower = false;
    for c in key.bytes() {
        if !c.is_ascii_alphanumeric() {
            words.push(std::mem::take(&mut cur));
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    words.push(cur);
    SENSITIVE_WORDS
        .iter()
        .find(|s| words.iter().any(|w| w == s.as_bytes()))
        .copied()
}

/// Whether `s` looks like a payment card number: 13–19 digits, optionally grouped by single
/// spaces or dashes, Luhn-valid, not all zeros.
pub fn looks_like_card_number(s: &str) -> bool {
    let b = s.as_bytes();
    if !(b.first().is_some_and(u8::is_ascii_digit) && b.last().is_some_and(u8::is_ascii_digit)) {
        return false;
    }
    let mut digits = [0u8; 19];
    let mut n = 0;
    let mut prev_sep = false;
    for &c in b {
        if c.is_ascii_digit() {
            if n == digits.len() {
                return false;
            }
            digits[n] = c - b'0';
            n += 1;
            prev_sep = false;
        } else if (c == b' ' || c == b'-') && !prev_sep {
            prev_sep = true;
        } else {
            return false;
        }
    }
    let digits = &digits[..n];
    if n < 13 || digits.iter().all(|d| *d == 0) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `s` looks like an email address (`local@domain.tld`, no spaces, at most 254 bytes).
pub fn looks_like_email(s: &str) -> bool {
    if s.len() > 254
        || s.bytes()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return false;
    }
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !contains_bytes(domain.as_bytes(), b"..")
        }
        None => false,
    }
}

/// Appends `key` to a path: `.key` for identifier-like keys, `["key"]` (JSON-escaped) otherwise.
fn push_key(path: &mut String, key: &str) {
    let ident = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&serde_json::to_string(key).unwrap_or_default());
        path.push(']');
    }
}

fn scan_object(
    obj: &Map<String, Value>,
    path: &mut String,
    top: bool,
    options: &DecodeOptions,
    w: &mut Vec<Warning>,
) {
    for (key, value) in obj {
        let len = path.len();
        push_key(path, key);
        let named = sensitive_name(key);
        if let Some(fragment) = named {
            w.push(warning(
                WarningCode::SensitiveClaim,
                format!("the claim name suggests sensitive data ({fragment}): tokens are readable by anyone who holds them"),
                Some(path.clone()),
            ));
        }
        // The registered times are numbers that may happen to pass the Luhn check.
        let is_time = top && matches!(key.as_str(), "exp" | "nbf" | "iat");
        if !is_time {
            scan_value(value, path, named.is_some(), options, w);
        }
        path.truncate(len);
    }
}

fn scan_value(
    value: &Value,
    path: &mut String,
    already_flagged: bool,
    options: &DecodeOptions,
    w: &mut Vec<Warning>,
) {
    let finding = match value {
        Value::Object(obj) => {
            scan_object(obj, path, false, options, w);
            None
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                scan_value(item, path, already_flagged, options, w);
                path.truncate(len);
            }
            None
        }
        Value::String(s) if looks_like_card_number(s) => Some("a payment card number"),
        Value::String(s) if options.flag_emails && looks_like_email(s) => Some("an email address"),
        Value::Number(n)
            if n.as_u64()
                .is_some_and(|u| looks_like_card_number(&u.to_string())) =>
        {
            Some("a payment card number")
        }
        _ => None,
    };
    if let (Some(what), false) = (finding, already_flagged) {
        w.push(warning(
            WarningCode::SensitiveClaim,
            format!("the value looks like {what}: tokens are readable by anyone who holds them"),
            Some(path.clone()),
        ));
    }
}

/// The JavaScript API (wasm32 only): `decode`, `isExpired`, and their TypeScript types.
#[cfg(target_arch = "wasm32")]
mod js {
    use super::{decode_report, is_expired, DecodeError, DecodeOptions, Report};
    use js_sys::{Array, Date, Error, Object, Reflect, JSON};
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(typescript_custom_section)]
    const TYPES: &str = r#"
/** Options for {@link decode}. Wrong types are ignored (the default applies). */
export interface DecodeOptions {
  /** "Now" in Unix seconds (default: Date.now() / 1000). For tests and replays. */
  now?: number;
  /** Also warn about claim values that look like email addresses (default false). */
  flagEmails?: boolean;
  /** Longest acceptable access-token lifetime in seconds (default 900 = 15 minutes). */
  maxAccessLifetime?: number;
  /** Force (true) or rule out (false) the access-token lifetime check; default: guessed. */
  accessToken?: boolean;
}

/** Stable warning codes. */
export type DecodeWarningCode =
  | "alg_none" | "missing_alg" | "unknown_alg" | "untrusted_key_header" | "missing_signature"
  | "missing_exp" | "invalid_claim" | "long_lifetime" | "sensitive_claim" | "oversize_token";

/** One finding about the token. `message` is for humans and may change; `code` is stable. */
export interface DecodeWarning {
  code: DecodeWarningCode;
  message: string;
  /** e.g. "header.jku", "claims.password", "claims.cards[0]"; null for the whole token. */
  path: string | null;
}

/**
 * A decoded token. NOT VERIFIED: anyone can forge these contents; only a signature check with
 * the right key (the gate's job) makes them trustworthy. `verified` is always false.
 */
export interface DecodeResult {
  verified: false;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** iat / nbf / exp in Unix seconds, or null when absent or invalid. */
  issuedAt: number | null;
  notBefore: number | null;
  expiresAt: number | null;
  /** expiresAt - now, in seconds (negative once expired), or null without exp. */
  expiresIn: number | null;
  /** floor(exp) <= now (no leeway). */
  expired: boolean;
  /** ceil(nbf) > now (no leeway). */
  notYetValid: boolean;
  /** exp - iat in seconds, or null. */
  lifetime: number | null;
  tokenBytes: number;
  /** Length of the decoded signature; the signature is never checked. */
  signatureBytes: number;
  warnings: DecodeWarning[];
}

/** Stable error codes of {@link DecodeError}. */
export type DecodeErrorCode =
  | "token_too_large" | "malformed" | "encrypted_token" | "bad_base64" | "bad_json"
  | "duplicate_json_key";

/** What `decode` and `isExpired` throw: an `Error` with `name` "DecodeError" and a stable `code`. */
export interface DecodeError extends Error {
  name: "DecodeError";
  code: DecodeErrorCode;
  /** The segment at fault, or null when the error is about the whole token. */
  part: "header" | "payload" | "signature" | null;
}
"#;

    fn set(target: &JsValue, key: &str, value: &JsValue) {
        // Setting a data property on a fresh object cannot fail.
        let _ = Reflect::set(target, &JsValue::from_str(key), value);
    }

    fn throw(e: DecodeError) -> JsValue {
        let err = Error::new(&format!("edgegate decode: {e}"));
        err.set_name("DecodeError");
        let v: JsValue = err.into();
        set(&v, "code", &JsValue::from_str(e.code()));
        let part = e
            .part
            .map_or(JsValue::NULL, |p| JsValue::from_str(p.name()));
        set(&v, "part", &part);
        v
    }

    fn num(v: Option<f64>) -> JsValue {
        v.map_or(JsValue::NULL, JsValue::from_f64)
    }

    /// The report as a plain JS object, built property by property (serde's serializer and
    /// float printing stay out of the module); header and claims go through `JSON.parse` of the
    /// token's own JSON text, so their key order is the token's.
    fn to_js(r: &Report) -> Result<JsValue, JsValue> {
        let o: JsValue = Object::new().into();
        set(&o, "verified", &JsValue::FALSE);
        set(&o, "header", &JSON::parse(r.header.get())?);
        set(&o, "claims", &JSON::parse(r.claims.get())?);
        set(&o, "issuedAt", &num(r.issued_at));
        set(&o, "notBefore", &num(r.not_before));
        set(&o, "expiresAt", &num(r.expires_at));
        set(&o, "expiresIn", &num(r.expires_in));
        set(&o, "expired", &JsValue::from_bool(r.expired));
        set(&o, "notYetValid", &JsValue::from_bool(r.not_yet_valid));
        set(&o, "lifetime", &num(r.lifetime));
        set(&o, "tokenBytes", &JsValue::from_f64(r.token_bytes as f64));
        set(
            &o,
            "signatureBytes",
            &JsValue::from_f64(r.signature_bytes as f64),
        );
        let warnings = Array::new();
        for w in &r.warnings {
            let x: JsValue = Object::new().into();
            set(&x, "code", &JsValue::from_str(w.code.code()));
            set(&x, "message", &JsValue::from_str(&w.message));
            let path = w.path.as_deref().map_or(JsValue::NULL, JsValue::from_str);
            set(&x, "path", &path);
            warnings.push(&x);
        }
        set(&o, "warnings", &warnings);
        Ok(o)
    }

    fn get(obj: &Option<Object>, key: &str) -> JsValue {
        match obj {
            Some(o) if o.is_object() => {
                Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
            }
            _ => JsValue::UNDEFINED,
        }
    }

    fn now_or(v: JsValue) -> f64 {
        v.as_f64()
            .filter(|n| n.is_finite())
            .unwrap_or_else(|| Date::now() / 1000.0)
    }

    fn token_str(token: &JsValue) -> Result<String, JsValue> {
        token.as_string().ok_or_else(|| {
            throw(DecodeError {
                kind: crate::token::TokenError::Malformed,
                part: None,
            })
        })
    }

    /// Decodes a JWT **without verifying it**: returns its header, claims, times and warnings.
    ///
    /// Decoding is not verifying: anyone can forge these contents, and `verified` is always
    /// `false`. Use it to display a token, never to make an access decision.
    ///
    /// Throws a `DecodeError` (`err.code`: `token_too_large`, `malformed`, `encrypted_token`,
    /// `bad_base64`, `bad_json`, `duplicate_json_key`) when the token cannot be read. An
    /// `alg: none` token decodes, with an `alg_none` warning.
    #[wasm_bindgen(js_name = decode, unchecked_return_type = "DecodeResult")]
    pub fn decode(
        #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "DecodeOptions")] options: Option<Object>,
    ) -> Result<JsValue, JsValue> {
        let token = token_str(&token)?;
        let defaults = DecodeOptions::default();
        let opts = DecodeOptions {
            flag_emails: get(&options, "flagEmails").as_bool().unwrap_or(false),
            max_access_lifetime: get(&options, "maxAccessLifetime")
                .as_f64()
                .unwrap_or(defaults.max_access_lifetime),
            access_token: get(&options, "accessToken").as_bool(),
        };
        let now = now_or(get(&options, "now"));
        let report = decode_report(&token, now, &opts).map_err(throw)?;
        to_js(&report)
    }

    /// Whether the token is expired: `floor(exp) + leewaySeconds <= now`. **Never verifies.**
    ///
    /// A negative leeway asks "does it expire within that many seconds?" (proactive refresh).
    /// Leeway is clamped to ±86400. A token without `exp` is not expired. `now` defaults to
    /// `Date.now() / 1000`. Throws the same `DecodeError` as `decode` on unreadable input.
    #[wasm_bindgen(js_name = isExpired)]
    pub fn is_expired_js(
        #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
        #[wasm_bindgen(js_name = leewaySeconds)] leeway_seconds: Option<f64>,
        now: Option<f64>,
    ) -> Result<bool, JsValue> {
        let token = token_str(&token)?;
        let now = now_or(now.map_or(JsValue::UNDEFINED, JsValue::from_f64));
        is_expired(&token, leeway_seconds.unwrap_or(0.0), now).map_err(throw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn tok(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), sig)
    }

    const NOW: f64 = 1_700_000_000.0;
    const HS: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

    fn report(t: &str) -> Report {
        decode_report(t, NOW, &DecodeOptions::default()).unwrap()
    }

    fn err(t: &str) -> DecodeError {
        decode_report(t, NOW, &DecodeOptions::default()).unwrap_err()
    }

    fn codes(r: &Report) -> Vec<&'static str> {
        r.warnings.iter().map(|w| w.code.code()).collect()
    }

    fn json(r: &Report) -> Value {
        serde_json::from_str(&r.to_json()).unwrap()
    }

    #[test]
    fn decodes_a_plain_token_with_times_and_no_warnings() {
        let p =
            r#"{"sub":"alice","iat":1699999800,"nbf":1699999800,"exp":1700000300,"name":"Alice"}"#;
        let r = report(&tok(HS, p, "c2ln"));
        assert!(!r.verified);
        assert_eq!(r.issued_at, Some(1_699_999_800.0));
        assert_eq!(r.not_before, Some(1_699_999_800.0));
        assert_eq!(r.expires_at, Some(1_700_000_300.0));
        assert_eq!(r.expires_in, Some(300.0));
        assert_eq!(r.lifetime, Some(500.0));
        assert!(!r.expired && !r.not_yet_valid);
        assert_eq!(r.signature_bytes, 3);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let j = json(&r);
        assert_eq!(j["verified"], false);
        assert_eq!(j["header"]["alg"], "HS256");
        assert_eq!(j["claims"]["name"], "Alice");
        assert_eq!(j["expiresIn"], 300.0);
        assert_eq!(j["warnings"], serde_json::json!([]));
        // Key order is kept exactly as in the token.
        let text = r.to_json();
        assert!(
            text.contains(r#""claims":{"sub":"alice","iat":1699999800,"#),
            "{text}"
        );
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let r = report(&tok(
            HS,
            r#"{"exp":1699999999.5,"nbf":1700000000.2}"#,
            "c2ln",
        ));
        assert!(r.expired, "floor(exp) <= now");
        assert!(r.not_yet_valid, "ceil(nbf) > now");
        assert_eq!(r.expires_in, Some(-0.5));
        let r = report(&tok(HS, r#"{"exp":1700000001}"#, "c2ln"));
        assert!(!r.expired);
    }

    #[test]
    fn is_expired_uses_the_gates_rule_with_leeway() {
        let t = tok(HS, r#"{"exp":1000.9}"#, "c2ln");
        assert_eq!(is_expired(&t, 0.0, 999.0), Ok(false));
        assert_eq!(is_expired(&t, 0.0, 1000.0), Ok(true));
        assert_eq!(is_expired(&t, 30.0, 1029.5), Ok(false));
        assert_eq!(is_expired(&t, 30.0, 1030.0), Ok(true));
        assert_eq!(is_expired(&t, -60.0, 940.0), Ok(true));
        assert_eq!(is_expired(&t, -60.0, 939.0), Ok(false));
        assert_eq!(is_expired(&t, f64::NAN, 999.0), Ok(false));
        assert_eq!(is_expired(&t, f64::INFINITY, 999.0), Ok(false));
        assert_eq!(
            is_expired(&t, 1e12, 1e6),
            Ok(true),
            "leeway clamped to a day"
        );
        let no_exp = tok(HS, r#"{"sub":"a"}"#, "c2ln");
        assert_eq!(is_expired(&no_exp, 0.0, 1e11), Ok(false));
        assert_eq!(is_expired("x", 0.0, 0.0).unwrap_err().code(), "malformed");
    }

    #[test]
    fn errors_have_stable_codes_and_parts() {
        let h = b64(HS);
        let p = b64(r#"{"sub":"a"}"#);
        let cases: Vec<(String, &str, Option<Part>)> = vec![
            ("a".repeat(MAX_TOKEN_BYTES + 1), "token_too_large", None),
            (String::new(), "malformed", None),
            ("garbage".into(), "malformed", None),
            (format!("{h}.{p}"), "malformed", None),
            (format!("{h}.{p}.c2ln.x"), "malformed", None),
            (format!(".{p}.c2ln"), "malformed", None),
            (format!("{h}..c2ln"), "malformed", None),
            (format!("{h}.{p}.a.b.c"), "encrypted_token", None),
            (format!("{h}=.{p}.c2ln"), "bad_base64", Some(Part::Header)),
            (format!("{h}.{p} .c2ln"), "bad_base64", Some(Part::Payload)),
            (format!("{h}.{p}.c2l+"), "bad_base64", Some(Part::Signature)),
            (format!("{h}.{p}.e31"), "bad_base64", Some(Part::Signature)),
            (tok("not json", r#"{}"#, ""), "bad_json", Some(Part::Header)),
            (tok(HS, "[1]", ""), "bad_json", Some(Part::Payload)),
            (tok(HS, "\u{feff}{}", ""), "bad_json", Some(Part::Payload)),
            (
                format!("{h}.{}.", URL_SAFE_NO_PAD.encode(b"{\"a\":\"\xff\"}")),
                "bad_json",
                Some(Part::Payload),
            ),
            (
                tok(r#"{"alg":"HS256","alg":"none"}"#, "{}", ""),
                "duplicate_json_key",
                Some(Part::Header),
            ),
            (
                tok(HS, r#"{"role":"user","\u0072ole":"admin"}"#, ""),
                "duplicate_json_key",
                Some(Part::Payload),
            ),
        ];
        for (t, code, part) in cases {
            let e = err(&t);
            assert_eq!((e.code(), e.part), (code, part), "{t:?}");
            assert!(e.to_string().contains(code));
        }
        // The codes are the gate's own.
        assert_eq!(err("").kind, TokenError::Malformed);
        assert_eq!(TokenError::DuplicateKey.code(), "duplicate_json_key");
    }

    #[test]
    fn alg_none_decodes_with_a_warning() {
        for none in ["none", "None", "NONE"] {
            let t = tok(
                &format!(r#"{{"alg":"{none}"}}"#),
                r#"{"sub":"a","exp":1700000060}"#,
                "",
            );
            let r = report(&t);
            assert_eq!(codes(&r), ["alg_none"], "{none}");
            assert_eq!(r.warnings[0].path.as_deref(), Some("header.alg"));
            assert_eq!(r.signature_bytes, 0);
        }
    }

    #[test]
    fn header_warnings() {
        let p = r#"{"exp":1700000060}"#;
        assert_eq!(
            codes(&report(&tok(r#"{"typ":"JWT"}"#, p, "c2ln"))),
            ["missing_alg"]
        );
        assert_eq!(
            codes(&report(&tok(r#"{"alg":5}"#, p, "c2ln"))),
            ["missing_alg"]
        );
        assert_eq!(
            codes(&report(&tok(r#"{"alg":"hs256"}"#, p, "c2ln"))),
            ["unknown_alg"]
        );
        assert_eq!(codes(&report(&tok(HS, p, ""))), ["missing_signature"]);
        let r = report(&tok(
            r#"{"alg":"RS256","jku":"https://evil.example/k","x5u":"https://e/x","jwk":{"kty":"oct"},"x5c":["MII"]}"#,
            p,
            "c2ln",
        ));
        assert_eq!(codes(&r), ["untrusted_key_header"; 4]);
        let paths: Vec<_> = r
            .warnings
            .iter()
            .map(|w| w.path.as_deref().unwrap())
            .collect();
        assert_eq!(
            paths,
            ["header.jku", "header.x5u", "header.jwk", "header.x5c"]
        );
    }

    #[test]
    fn claim_shape_warnings_follow_the_gates_rules() {
        let r = report(&tok(
            HS,
            r#"{"sub":5,"exp":"1700000060","iat":-1,"aud":["a",1],"iss":"ok"}"#,
            "c2ln",
        ));
        let paths: Vec<_> = r
            .warnings
            .iter()
            .filter(|w| w.code == WarningCode::InvalidClaim)
            .map(|w| w.path.clone().unwrap())
            .collect();
        assert_eq!(
            paths,
            ["claims.iat", "claims.exp", "claims.sub", "claims.aud"]
        );
        assert_eq!(r.expires_at, None);
        assert_eq!(r.issued_at, None);
        // An invalid exp is invalid, not missing.
        assert!(!r.has_warning(WarningCode::MissingExp));
        assert_eq!(
            report(&tok(HS, r#"{"exp":253402300800}"#, "c2ln")).expires_at,
            None
        );
    }

    #[test]
    fn claim_shapes_agree_with_the_gates_parser() {
        use crate::claims::Claims;
        let values = [
            "null",
            "0",
            "-0",
            "1",
            "1.5",
            "-1",
            "-0.5",
            "1e3",
            "1e300",
            "253402300799",
            "253402300799.5",
            "253402300800",
            "18446744073709551615",
            "-9223372036854775808",
            "\"1000\"",
            "\"a\"",
            "true",
            "[]",
            "[\"a\"]",
            "[\"a\",1]",
            "{}",
            "[[\"a\"]]",
        ];
        for name in ["exp", "nbf", "iat", "sub", "iss", "aud"] {
            for v in values {
                let payload = format!(r#"{{"{name}":{v}}}"#);
                let gate_ok = Claims::from_json(payload.as_bytes()).is_ok();
                let r = report(&tok(HS, &payload, "c2ln"));
                let ours_ok = !r.has_warning(WarningCode::InvalidClaim);
                assert_eq!(ours_ok, gate_ok, "{payload}");
            }
        }
    }

    #[test]
    fn missing_exp() {
        for p in [r#"{"sub":"a"}"#, r#"{"sub":"a","exp":null}"#] {
            let r = report(&tok(HS, p, "c2ln"));
            assert_eq!(codes(&r), ["missing_exp"], "{p}");
            assert_eq!(r.expires_in, None);
            assert!(!r.expired);
        }
    }

    #[test]
    fn long_lived_access_tokens() {
        let long = r#"{"iat":1700000000,"exp":1700000901}"#;
        let ok = r#"{"iat":1700000000,"exp":1700000900}"#;
        assert_eq!(codes(&report(&tok(HS, long, "c2ln"))), ["long_lifetime"]);
        assert!(codes(&report(&tok(HS, ok, "c2ln"))).is_empty());
        // Without iat, the remaining time counts.
        assert_eq!(
            codes(&report(&tok(HS, r#"{"exp":1700003600}"#, "c2ln"))),
            ["long_lifetime"]
        );
        // ID and refresh tokens are not access tokens; at+jwt always is.
        let id = r#"{"iat":1700000000,"exp":1700003600,"nonce":"n"}"#;
        assert!(codes(&report(&tok(HS, id, "c2ln"))).is_empty());
        let refresh = r#"{"iat":1700000000,"exp":1700086400,"token_use":"refresh"}"#;
        assert!(codes(&report(&tok(HS, refresh, "c2ln"))).is_empty());
        let at = r#"{"alg":"HS256","typ":"application/AT+JWT"}"#;
        assert_eq!(codes(&report(&tok(at, id, "c2ln"))), ["long_lifetime"]);
        // Options: a custom maximum, and forcing the kind either way.
        let t = tok(HS, long, "c2ln");
        let o = |max: f64, access: Option<bool>| DecodeOptions {
            max_access_lifetime: max,
            access_token: access,
            ..Default::default()
        };
        assert!(decode_report(&t, NOW, &o(1000.0, None))
            .unwrap()
            .warnings
            .is_empty());
        assert!(decode_report(&t, NOW, &o(f64::NAN, None))
            .unwrap()
            .has_warning(WarningCode::LongLifetime));
        assert!(decode_report(&t, NOW, &o(900.0, Some(false)))
            .unwrap()
            .warnings
            .is_empty());
        let idt = tok(HS, id, "c2ln");
        assert!(decode_report(&idt, NOW, &o(900.0, Some(true)))
            .unwrap()
            .has_warning(WarningCode::LongLifetime));
    }

    #[test]
    fn sensitive_names() {
        for yes in [
            "password",
            "userPassword",
            "db_passwd",
            "client_secret",
            "SECRET",
            "pwd",
            "user_pwd",
            "ssn",
            "userSSN",
            "user-ssn",
            "cvv",
            "card",
            "cardId",
            "card_number",
            "creditCard",
            "private_key",
            "apiKey",
            "cvc",
        ] {
            assert!(sensitive_name(yes).is_some(), "{yes}");
        }
        for no in [
            "sub",
            "classname",
            "businessNumber",
            "discard",
            "scope",
            "session",
            "email",
            "name",
            "pwdx",
        ] {
            assert_eq!(sensitive_name(no), None, "{no}");
        }
    }

    #[test]
    fn card_numbers_and_emails() {
        for yes in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(looks_like_card_number(yes), "{yes}");
        }
        for no in [
            "4111111111111112",
            "411111111111",
            "41111111111111111111",
            "0000000000000",
            "4111  1111 1111 1111",
            " 4111111111111111",
            "4111111111111111-",
            "a4111111111111111",
            "",
        ] {
            assert!(!looks_like_card_number(no), "{no}");
        }
        assert!(looks_like_email("alice@example.com"));
        for no in [
            "alice",
            "@example.com",
            "a@b",
            "a@.b",
            "a@b.",
            "a b@c.d",
            "a@b@c.d",
            "a@b..c",
        ] {
            assert!(!looks_like_email(no), "{no}");
        }
    }

    #[test]
    fn sensitive_claims_are_found_at_any_depth() {
        let p = r#"{"sub":"a","exp":1700000060,"password":"hunter2","profile":{"cards":["4111 1111 1111 1111"],"n":4111111111111111,"we ird":"378282246310005"},"email":"a@example.com","jti":"4111111111111112"}"#;
        let r = report(&tok(HS, p, "c2ln"));
        let got: Vec<_> = r
            .warnings
            .iter()
            .map(|w| (w.code.code(), w.path.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            got,
            [
                ("sensitive_claim", "claims.password".to_string()),
                ("sensitive_claim", "claims.profile.cards[0]".to_string()),
                ("sensitive_claim", "claims.profile.n".to_string()),
                ("sensitive_claim", r#"claims.profile["we ird"]"#.to_string()),
            ],
            "a flagged name is reported once, not again for its value; emails only on request"
        );
        let with_emails = DecodeOptions {
            flag_emails: true,
            ..Default::default()
        };
        let r = decode_report(&tok(HS, p, "c2ln"), NOW, &with_emails).unwrap();
        assert!(r
            .warnings
            .iter()
            .any(|w| w.path.as_deref() == Some("claims.email") && w.message.contains("email")));
        // Time claims are never taken for card numbers.
        let t = tok(HS, r#"{"iat":4111111111111111}"#, "c2ln");
        assert!(!report(&t).has_warning(WarningCode::SensitiveClaim));
    }

    #[test]
    fn array_values_get_indexed_paths() {
        let r = report(&tok(
            HS,
            r#"{"exp":1700000060,"list":["x","4111111111111111"]}"#,
            "c2ln",
        ));
        assert_eq!(r.warnings[0].path.as_deref(), Some("claims.list[1]"));
    }

    #[test]
    fn oversize_tokens_warn_then_fail() {
        let pad = "x".repeat(3500);
        let t = tok(
            HS,
            &format!(r#"{{"exp":1700000060,"pad":"{pad}"}}"#),
            "c2ln",
        );
        assert!(t.len() > LARGE_TOKEN_BYTES && t.len() <= MAX_TOKEN_BYTES);
        assert_eq!(codes(&report(&t)), ["oversize_token"]);
        let pad = "x".repeat(6200);
        let t = tok(HS, &format!(r#"{{"pad":"{pad}"}}"#), "c2ln");
        assert_eq!(err(&t).code(), "token_too_large");
    }

    #[test]
    fn never_panics_on_mangled_input() {
        // A deterministic xorshift fuzz over mutations of real tokens and random bytes.
        let seeds = [
            tok(
                HS,
                r#"{"sub":"a","exp":1700000060,"a":[{"b":null}],"card":"4111111111111111"}"#,
                "c2ln",
            ),
            tok(
                r#"{"alg":"none","jku":"x"}"#,
                r#"{"exp":1.5e3,"nbf":0}"#,
                "",
            ),
            tok(HS, r#"{"n":1e308,"m":-1,"s":"\u00e9\ud83d\ude00"}"#, "c2ln"),
        ];
        let alphabet =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\x00\xff{}\"";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut decoded = 0;
        for round in 0..6000 {
            let mut bytes = seeds[round % seeds.len()].clone().into_bytes();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % (bytes.len() + 1);
                let c = alphabet[(next() as usize) % alphabet.len()];
                match next() % 3 {
                    0 if i < bytes.len() => bytes[i] = c,
                    1 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, c),
                }
            }
            let s = String::from_utf8_lossy(&bytes);
            if let Ok(r) = decode_report(&s, NOW, &DecodeOptions::default()) {
                decoded += 1;
                let _: Value = serde_json::from_str(&r.to_json()).unwrap();
            }
            let _ = is_expired(&s, -1e300, f64::NAN);
        }
        assert!(decoded > 0, "some mutations still decode");
    }
}

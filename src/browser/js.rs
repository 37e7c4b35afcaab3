//! The JavaScript API (wasm32 only): `decode`, `isExpired`, and their TypeScript types.

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
            kind: crate::low_level::token::TokenError::Malformed,
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

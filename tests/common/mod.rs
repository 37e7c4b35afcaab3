//! What the integration tests (`mod common;`), the native benchmark and the fuzz targets
//! (`#[path = "…/tests/common/mod.rs"] mod common;`) share: the test secret and clock, gate
//! configurations from `[vars]` pairs, and HMAC-signed tokens from raw header and payload bytes.
#![allow(dead_code)] // every includer uses its own subset

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edgegate::config::{Config, ConfigError};
use edgegate::gate::Gate;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use std::collections::HashMap;

/// The HMAC secret of the base configuration (`JWT_SECRET`).
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";
/// "Now" for decisions, Unix seconds.
pub const NOW: i64 = 1_700_000_000;
/// `ORIGIN_URL` of the base configuration.
pub const ORIGIN: &str = "http://127.0.0.1:9000";

/// The base configuration's `[vars]`: `ORIGIN_URL`, `ALGORITHMS=HS256`, `JWT_SECRET`.
pub fn base_vars() -> HashMap<&'static str, String> {
    HashMap::from([
        ("ORIGIN_URL", ORIGIN.to_owned()),
        ("ALGORITHMS", "HS256".to_owned()),
        ("JWT_SECRET", SECRET.to_owned()),
    ])
}

/// The configuration `vars` describe.
pub fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
    Config::from_lookup(&|k| vars.get(k).cloned())
}

/// A gate on the base configuration with `extra` applied in order (an empty value removes the
/// key).
pub fn gate(extra: &[(&'static str, &str)]) -> Gate {
    let mut vars = base_vars();
    for (k, v) in extra {
        if v.is_empty() {
            vars.remove(k);
        } else {
            vars.insert(k, (*v).to_owned());
        }
    }
    Gate::new(load(&vars).expect("test configuration is valid"))
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The base64url HMAC signature of `signing_input` (an HS* `alg`).
pub fn hmac(signing_input: &str, secret: &[u8], alg: Algorithm) -> String {
    jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(secret),
        alg,
    )
    .expect("HMAC signing cannot fail for an HS algorithm")
}

/// A compact JWS of raw `header` and `payload` bytes, HMAC-signed with `secret` and `alg`
/// whatever the header says.
pub fn sign_raw(header: &[u8], payload: &[u8], secret: &[u8], alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = hmac(&input, secret, alg);
    format!("{input}.{sig}")
}

/// A token minted by `jsonwebtoken::encode` (header `{"typ":"JWT","alg":…}`).
pub fn mint(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
        .expect("encoding test claims cannot fail")
}

/// An HS256 token with [`SECRET`].
pub fn hs256(claims: &Value) -> String {
    mint(Algorithm::HS256, claims, SECRET.as_bytes())
}

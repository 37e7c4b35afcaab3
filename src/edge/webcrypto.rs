//! Stage 3 in the worker: RSA, ECDSA and Ed25519 signatures through the runtime's WebCrypto
//! (`crypto.subtle.verify`, BoringSSL in workerd), HMAC in Rust.
//!
//! Pure-Rust RSA/ECDSA in wasm costs 1.4–1.8 ms per token in workerd; WebCrypto with a
//! pre-imported key costs 25–90 µs. HMAC stays in Rust ([`verify::hmac_matches`]): it needs no
//! promise round trip.
//!
//! **Keys are imported once per isolate.** A `CryptoKey` is cached per (algorithm, key
//! material); the cache is bounded ([`MAX_CACHED`]) and keyed by the material itself, so a key
//! rotated out of a remote JWK Set stops being looked up and a new key is imported on first use.
//! A key the runtime refuses to import is cached as refused (logged once) and never matches.
//!
//! **Never more permissive than the reference.** What reaches `crypto.subtle.verify` has
//! already passed the same checks as the `rust_crypto` path: pinned algorithm, family-bound key,
//! `kid` rule, canonical base64url, and the exact signature length
//! ([`verify::signature_shape_ok`]). Any runtime error (import, verify) is "not a match". The
//! differential tests (`tests/worker/webcrypto.test.mjs`) run every Wycheproof vector and the
//! fixture tokens through this module in workerd and compare each verdict with `rust_crypto`'s.

use super::runtime;
use crate::alg::{Alg, Family};
use crate::keys::Key;
use crate::verify::{self, Pending, VerifyError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::DecodingKeyKind;
use std::cell::{OnceCell, RefCell};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// At most this many imported keys are kept per isolate (oldest dropped first).
pub const MAX_CACHED: usize = 64;

struct Imported {
    alg: Alg,
    material: Material,
    /// `None`: the runtime refused the key.
    key: Option<CryptoKey>,
}

/// The key material an import was made from: the cache key.
#[derive(PartialEq, Eq)]
enum Material {
    /// RSA `n` (no leading zero octets) and `e`.
    Rsa(Vec<u8>, Vec<u8>),
    /// An uncompressed EC point or a raw Ed25519 key.
    Raw(Vec<u8>),
}

thread_local! {
    static KEYS: RefCell<Vec<Imported>> = const { RefCell::new(Vec::new()) };
    /// `crypto.subtle` and the per-algorithm `verify` parameter objects, built once per isolate.
    static SUBTLE: OnceCell<Option<SubtleCrypto>> = const { OnceCell::new() };
    static VERIFY_PARAMS: RefCell<Vec<(Alg, js_sys::Object)>> = const { RefCell::new(Vec::new()) };
}

/// Stage 3 for a pending token: HMAC keys in Rust, the others through WebCrypto. The first
/// candidate key that verifies wins.
pub async fn check_signature(pending: &Pending<'_, '_>) -> Result<(), VerifyError> {
    let jws = &pending.parsed.jws;
    check(
        jws.header.alg,
        pending.keys.iter().copied(),
        jws.signing_input.as_bytes(),
        &jws.signature,
    )
    .await
}

/// Stage 3 on its own: whether any of `keys` verifies `signature` over `message` for `alg`.
pub async fn check<'k>(
    alg: Alg,
    keys: impl IntoIterator<Item = &'k Key>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    for key in keys {
        if matches(alg, key, message, signature).await {
            return Ok(());
        }
    }
    Err(VerifyError::Signature)
}

/// Whether `signature` is a valid `alg` signature of `message` under `key` (any family).
pub async fn matches(alg: Alg, key: &Key, message: &[u8], signature: &[u8]) -> bool {
    if key.family == Family::Hmac {
        return verify::hmac_matches(alg, key, message, signature);
    }
    if !verify::signature_shape_ok(alg, key, signature) {
        return false;
    }
    let Some(crypto_key) = crypto_key(alg, key).await else {
        return false;
    };
    let Some(subtle) = subtle() else {
        return false;
    };
    let Some(params) = cached_verify_params(alg) else {
        return false;
    };
    let Ok(promise) = subtle.verify_with_object_and_u8_array_and_u8_array(
        &params,
        &crypto_key,
        signature,
        message,
    ) else {
        return false;
    };
    // WebCrypto copies both buffers before `verify` returns, so the borrowed slices may end here.
    match JsFuture::from(promise).await {
        Ok(v) => v.as_bool() == Some(true),
        Err(_) => false,
    }
}

fn subtle() -> Option<SubtleCrypto> {
    SUBTLE.with(|s| {
        s.get_or_init(|| runtime::global().crypto().ok().map(|c| c.subtle()))
            .clone()
    })
}

fn cached_verify_params(alg: Alg) -> Option<js_sys::Object> {
    let found = VERIFY_PARAMS.with(|p| {
        p.borrow()
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, o)| o.clone())
    });
    if found.is_some() {
        return found;
    }
    let params = verify_params(alg).ok()?;
    VERIFY_PARAMS.with(|p| p.borrow_mut().push((alg, params.clone())));
    Some(params)
}

/// RSA `n` without leading zero octets (the JWK form WebCrypto expects).
fn trimmed(n: &[u8]) -> &[u8] {
    let start = n.iter().position(|b| *b != 0).unwrap_or(n.len());
    &n[start..]
}

impl Material {
    fn of(key: &Key) -> Material {
        match key.decoding.kind() {
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                Material::Rsa(trimmed(n).to_vec(), e.clone())
            }
            DecodingKeyKind::SecretOrDer(raw) => Material::Raw(raw.clone()),
        }
    }

    /// Whether this is `key`'s material (compared in place: no copy on the hot path).
    fn is_of(&self, key: &Key) -> bool {
        match (self, key.decoding.kind()) {
            (Material::Rsa(n, e), DecodingKeyKind::RsaModulusExponent { n: kn, e: ke }) => {
                n.as_slice() == trimmed(kn) && e == ke
            }
            (Material::Raw(raw), DecodingKeyKind::SecretOrDer(kraw)) => raw == kraw,
            _ => false,
        }
    }
}

/// The isolate's `CryptoKey` for `key` used with `alg`, imported on first use.
async fn crypto_key(alg: Alg, key: &Key) -> Option<CryptoKey> {
    let cached = KEYS.with(|k| {
        k.borrow()
            .iter()
            .find(|i| i.alg == alg && i.material.is_of(key))
            .map(|i| i.key.clone())
    });
    if let Some(found) = cached {
        return found;
    }
    let material = Material::of(key);
    let imported = import(alg, &material).await;
    if let Err(problem) = &imported {
        runtime::log(&crate::log::warning_line(&format!(
            "WebCrypto refused the {alg} key {}: {problem}; tokens signed with it are refused",
            key.kid
                .as_deref()
                .map_or_else(|| "(no kid)".into(), |k| format!("{k:?}"))
        )));
    }
    let crypto_key = imported.ok();
    KEYS.with(|k| {
        let mut k = k.borrow_mut();
        // Another request may have imported the same key meanwhile: keep one entry.
        if !k.iter().any(|i| i.alg == alg && i.material == material) {
            if k.len() >= MAX_CACHED {
                k.remove(0);
            }
            k.push(Imported {
                alg,
                material,
                key: crypto_key.clone(),
            });
        }
    });
    crypto_key
}

fn object(members: &[(&str, JsValue)]) -> Result<js_sys::Object, JsValue> {
    let o = js_sys::Object::new();
    for (name, value) in members {
        js_sys::Reflect::set(&o, &JsValue::from_str(name), value)?;
    }
    Ok(o)
}

fn hash_name(alg: Alg) -> &'static str {
    match alg {
        Alg::HS384 | Alg::RS384 | Alg::PS384 | Alg::ES384 => "SHA-384",
        Alg::HS512 | Alg::RS512 | Alg::PS512 => "SHA-512",
        _ => "SHA-256",
    }
}

/// The `importKey` algorithm for `alg`.
fn import_params(alg: Alg) -> Result<js_sys::Object, JsValue> {
    let s = |v: &str| JsValue::from_str(v);
    match alg.family() {
        Family::Rsa => {
            let name = if matches!(alg, Alg::PS256 | Alg::PS384 | Alg::PS512) {
                "RSA-PSS"
            } else {
                "RSASSA-PKCS1-v1_5"
            };
            object(&[("name", s(name)), ("hash", s(hash_name(alg)))])
        }
        Family::P256 => object(&[("name", s("ECDSA")), ("namedCurve", s("P-256"))]),
        Family::P384 => object(&[("name", s("ECDSA")), ("namedCurve", s("P-384"))]),
        Family::Ed25519 => object(&[("name", s("Ed25519"))]),
        Family::Hmac => Err(s("HMAC is verified in Rust")),
    }
}

/// The `verify` algorithm for `alg` (RFC 7518: PSS salt length = hash length).
fn verify_params(alg: Alg) -> Result<js_sys::Object, JsValue> {
    let s = |v: &str| JsValue::from_str(v);
    match alg {
        Alg::RS256 | Alg::RS384 | Alg::RS512 => object(&[("name", s("RSASSA-PKCS1-v1_5"))]),
        Alg::PS256 | Alg::PS384 | Alg::PS512 => {
            let salt = match alg {
                Alg::PS384 => 48,
                Alg::PS512 => 64,
                _ => 32,
            };
            object(&[
                ("name", s("RSA-PSS")),
                ("saltLength", JsValue::from_f64(f64::from(salt))),
            ])
        }
        Alg::ES256 | Alg::ES384 => object(&[("name", s("ECDSA")), ("hash", s(hash_name(alg)))]),
        Alg::EdDSA => object(&[("name", s("Ed25519"))]),
        Alg::HS256 | Alg::HS384 | Alg::HS512 => Err(s("HMAC is verified in Rust")),
    }
}

async fn import(alg: Alg, material: &Material) -> Result<CryptoKey, String> {
    let describe = |e: JsValue| {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "import failed".into())
    };
    let subtle = subtle().ok_or("no crypto.subtle in this runtime")?;
    let params = import_params(alg).map_err(describe)?;
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise = match material {
        Material::Rsa(n, e) => {
            let s = |v: &str| JsValue::from_str(v);
            let jwk = object(&[
                ("kty", s("RSA")),
                ("n", s(&URL_SAFE_NO_PAD.encode(n))),
                ("e", s(&URL_SAFE_NO_PAD.encode(e))),
            ])
            .map_err(describe)?;
            subtle.import_key_with_object("jwk", &jwk, &params, false, &usages)
        }
        Material::Raw(raw) => {
            let bytes = js_sys::Uint8Array::from(raw.as_slice());
            subtle.import_key_with_object("raw", &bytes, &params, false, &usages)
        }
    }
    .map_err(describe)?;
    JsFuture::from(promise)
        .await
        .map_err(describe)?
        .dyn_into::<CryptoKey>()
        .map_err(|_| "importKey did not return a CryptoKey".to_owned())
}

//! Public-key signatures through the runtime's WebCrypto (`crypto.subtle`, BoringSSL in
//! workerd), as the JS entry's `js/webcrypto.mjs` answers them. The core has already refused
//! anything of the wrong shape (pinned alg, family-bound key, kid rule, exact signature length)
//! and says which keys to try; this module imports keys (once per gate, by the core's key
//! reference) and runs `verify`. Any runtime error is "not a match".

use super::pure::{crypto_params, refused_key_warning, CryptoParams};
use super::runtime::{log, Shared};
use crate::edge::wire::{self, KeyImport};
use crate::gate::SignatureQuestion;
use crate::low_level::alg::Alg;
use crate::low_level::log::warning_line;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use std::borrow::Cow;
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// At most this many imported keys are kept per gate (oldest out first). A reference names one
/// key for the gate's life, so a key rotated out of a remote set is simply never asked for again.
const MAX_CACHED: usize = 64;

/// Imported keys by `<alg>:<reference>`; `None`: the runtime refused the key.
#[derive(Default)]
pub(super) struct Keys {
    imported: RefCell<Vec<(String, Option<CryptoKey>)>>,
}

/// A signature question, owned apart from the isolate (it is answered across awaits).
pub(super) struct Question<'r> {
    alg: Alg,
    refs: Vec<String>,
    message: Cow<'r, str>,
    signature: Vec<u8>,
}

/// A question as the core writes it for a revocation document ([`wire::question_json`]).
#[derive(Deserialize)]
struct WireQuestion {
    alg: String,
    keys: Vec<String>,
    message: String,
    signature: String,
}

impl<'r> Question<'r> {
    pub(super) fn of(q: SignatureQuestion<'_, 'r>, keys: &wire::Keys<'_>) -> Question<'r> {
        Question {
            alg: q.alg,
            refs: q.keys.iter().filter_map(|k| keys.reference(k)).collect(),
            message: Cow::Borrowed(q.message),
            signature: q.signature,
        }
    }

    /// A question from its wire JSON (`None`: not one the core wrote).
    pub(super) fn from_wire(json: &str) -> Option<Question<'static>> {
        let q: WireQuestion = serde_json::from_str(json).ok()?;
        Some(Question {
            alg: Alg::from_name(&q.alg)?,
            refs: q.keys,
            message: Cow::Owned(q.message),
            signature: URL_SAFE_NO_PAD.decode(q.signature).ok()?,
        })
    }
}

fn object(members: &[(&str, JsValue)]) -> Result<js_sys::Object, JsValue> {
    let o = js_sys::Object::new();
    for (name, value) in members {
        js_sys::Reflect::set(&o, &JsValue::from_str(name), value)?;
    }
    Ok(o)
}

fn import_params(p: &CryptoParams) -> Result<js_sys::Object, JsValue> {
    let mut m = vec![("name", JsValue::from_str(p.name))];
    if let Some(h) = p.import_hash {
        m.push(("hash", JsValue::from_str(h)));
    }
    if let Some(c) = p.named_curve {
        m.push(("namedCurve", JsValue::from_str(c)));
    }
    object(&m)
}

fn verify_params(p: &CryptoParams) -> Result<js_sys::Object, JsValue> {
    let mut m = vec![("name", JsValue::from_str(p.name))];
    if let Some(h) = p.verify_hash {
        m.push(("hash", JsValue::from_str(h)));
    }
    if let Some(s) = p.salt_length {
        m.push(("saltLength", JsValue::from_f64(f64::from(s))));
    }
    object(&m)
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    Ok(scope.crypto()?.subtle())
}

/// `e?.message ?? e` as text (a value that is no string: "import failed").
fn message(e: &JsValue) -> String {
    let m = if e.is_object() {
        js_sys::Reflect::get(e, &JsValue::from_str("message")).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    };
    let v = if m.is_undefined() || m.is_null() {
        e
    } else {
        &m
    };
    v.as_string().unwrap_or_else(|| "import failed".to_owned())
}

/// What `importKey` takes for a key: the format and the key data.
fn key_data(import: KeyImport<'_>) -> Result<(&'static str, JsValue), JsValue> {
    Ok(match import {
        KeyImport::Rsa { n, e } => {
            let s = |b: &[u8]| JsValue::from_str(&URL_SAFE_NO_PAD.encode(b));
            let jwk = object(&[("kty", JsValue::from_str("RSA")), ("n", s(n)), ("e", s(e))])?;
            ("jwk", jwk.into())
        }
        KeyImport::Raw(raw) => ("raw", js_sys::Uint8Array::from(raw).into()),
    })
}

async fn import(p: &CryptoParams, format: &str, data: &JsValue) -> Result<CryptoKey, JsValue> {
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise = subtle()?.import_key_with_object(
        format,
        &data.clone().unchecked_into(),
        &import_params(p)?,
        false,
        &usages,
    )?;
    JsFuture::from(promise).await?.dyn_into::<CryptoKey>()
}

async fn verify_with(p: &CryptoParams, key: &CryptoKey, signature: &[u8], message: &[u8]) -> bool {
    let attempt = async {
        let promise = subtle()?.verify_with_object_and_u8_array_and_u8_array(
            &verify_params(p)?,
            key,
            signature,
            message,
        )?;
        JsFuture::from(promise).await
    };
    matches!(attempt.await, Ok(v) if v.as_bool() == Some(true))
}

/// The isolate's imported key for `reference` used with `alg`, imported on first use.
async fn crypto_key(
    shared: &Shared,
    alg: Alg,
    p: &CryptoParams,
    reference: &str,
) -> Option<CryptoKey> {
    let id = format!("{}:{reference}", alg.name());
    let cached = shared
        .crypto
        .imported
        .borrow()
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, k)| k.clone());
    if let Some(found) = cached {
        return found;
    }
    // The key's material, read while the isolate is borrowed (no await inside).
    let described = {
        let isolate = shared.isolate.borrow();
        isolate.keys().and_then(|keys| {
            let k = keys.get(reference)?;
            Some((key_data(wire::key_import(k)), wire::key_label(k)))
        })
    };
    let key = match described {
        None => None,
        Some((data, label)) => {
            let imported = match data {
                Ok((format, data)) => import(p, format, &data).await,
                Err(e) => Err(e),
            };
            match imported {
                Ok(k) => Some(k),
                Err(e) => {
                    log(&warning_line(&refused_key_warning(
                        alg,
                        &label,
                        &message(&e),
                    )));
                    None
                }
            }
        }
    };
    let mut imported = shared.crypto.imported.borrow_mut();
    if imported.len() >= MAX_CACHED {
        imported.remove(0);
    }
    imported.retain(|(i, _)| *i != id);
    imported.push((id, key.clone()));
    key
}

/// Answers `q` with the gate's keys: the answers so far plus these, as the core reads them
/// (`ref=1,ref=0`).
pub(super) async fn answer(shared: &Shared, q: &Question<'_>, previous: &str) -> String {
    let mut out = previous.to_owned();
    let params = crypto_params(q.alg);
    for reference in &q.refs {
        let ok = match &params {
            Some(p) => match crypto_key(shared, q.alg, p, reference).await {
                Some(key) => verify_with(p, &key, &q.signature, q.message.as_bytes()).await,
                None => false,
            },
            None => false,
        };
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(reference);
        out.push_str(if ok { "=1" } else { "=0" });
    }
    out
}

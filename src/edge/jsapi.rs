//! The gate module's JS exports beside the fetch handler: the gate's own verifier, callable
//! from JavaScript in the same isolate. Nothing here is reachable over HTTP; a Worker that
//! bundles `build/index.js` can import it. The differential tests
//! (`tests/worker/webcrypto.test.mjs`) and the in-runtime benchmark
//! (`benches/runtime/verify/`) use it to run exactly the worker's verification path.
//!
//! ```js
//! import { Verifier } from "./index.js";
//! const v = new Verifier({ ORIGIN_URL: "http://127.0.0.1:9000", ALGORITHMS: "ES256", JWKS: jwks });
//! await v.verify(token);            // resolves to `sub`, rejects with a reason code ("expired", …)
//! await Verifier.checkSignature("ES256", jwkJson, message, signature); // true / false
//! ```

use super::{runtime, webcrypto};
use crate::alg::{Alg, Family};
use crate::config::Config;
use crate::gate::Gate;
use crate::jwks;
use crate::keys::Key;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// A verifier configured from an object of `[vars]`/secrets (the same keys and validation as
/// the worker's environment).
#[wasm_bindgen(js_name = Verifier)]
pub struct JsVerifier {
    gate: Rc<Gate>,
}

#[wasm_bindgen(js_class = Verifier)]
impl JsVerifier {
    /// Builds the verifier; throws the configuration error (it names the bad key).
    #[wasm_bindgen(constructor)]
    pub fn new(vars: JsValue) -> Result<JsVerifier, JsError> {
        let lookup = |key: &str| runtime::member_string(&vars, key);
        let config = Config::from_lookup(&lookup).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(JsVerifier {
            gate: Rc::new(Gate::new(config)),
        })
    }

    /// Verifies `token` now, exactly as the worker does for a cookie (parse, key, signature via
    /// WebCrypto or HMAC in Rust, claims). Resolves to `sub`; rejects with the reason code.
    pub fn verify(&self, token: String) -> js_sys::Promise {
        let verifier = self.gate.verifier();
        let pending = match verifier.prepare(&token) {
            Ok(p) => p,
            Err(e) => return js_sys::Promise::reject(&JsValue::from_str(e.code())),
        };
        // HMAC needs no promise round trip: answer synchronously (as a settled promise).
        if pending.keys.iter().all(|k| k.family == Family::Hmac) {
            let settled = verifier
                .check_signature(&pending)
                .and_then(|()| verifier.finish(pending, runtime::now_secs()));
            return match settled {
                Ok(v) => js_sys::Promise::resolve(&JsValue::from_str(&v.sub)),
                Err(e) => js_sys::Promise::reject(&JsValue::from_str(e.code())),
            };
        }
        // WebCrypto: the future owns what it needs (parsed once, here).
        let gate = Rc::clone(&self.gate);
        let jws = &pending.parsed.jws;
        let alg = jws.header.alg;
        let message = jws.signing_input.as_bytes().to_vec();
        let signature = jws.signature.clone();
        let keys: Vec<Key> = pending.keys.iter().map(|k| (*k).clone()).collect();
        let claims = pending.parsed.claims;
        promise(Box::pin(async move {
            webcrypto::check(alg, &keys, &message, &signature)
                .await
                .map_err(|e| JsValue::from_str(e.code()))?;
            let sub = gate
                .verifier()
                .check_claims(&claims, runtime::now_secs())
                .map_err(|e| JsValue::from_str(e.code()))?;
            Ok(JsValue::from_str(&sub))
        }))
    }

    /// One signature check through the worker's stage 3: `jwk` (one JWK as JSON) is imported
    /// the way a `JWKS` entry is (`oct` keys allowed), then `signature` over `message` is
    /// checked for `alg`. Resolves to a boolean; rejects when `alg` is unknown or the key is
    /// refused at import (with the reason).
    #[wasm_bindgen(js_name = checkSignature)]
    pub fn check_signature(
        alg: String,
        jwk: String,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> js_sys::Promise {
        promise(Box::pin(async move {
            let alg = Alg::from_name(&alg).ok_or_else(|| JsValue::from_str("unknown alg"))?;
            let loaded = jwks::parse_jwks(&format!("{{\"keys\":[{jwk}]}}"), true)
                .map_err(|e| JsValue::from_str(&format!("the JWK {e}")))?;
            let Some(key) = loaded.keys.first() else {
                return Err(JsValue::from_str(&loaded.skipped.join("; ")));
            };
            let ok = key.family == alg.family()
                && webcrypto::matches(alg, key, &message, &signature).await;
            Ok(JsValue::from_bool(ok))
        }))
    }
}

/// One `future_to_promise` instantiation for every export (boxed futures: smaller module).
fn promise(
    f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>>,
) -> js_sys::Promise {
    future_to_promise(f)
}

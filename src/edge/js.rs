//! What both wasm forms read from the runtime the same way (wasm32 only): the environment's
//! values as text, and fresh random bytes.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// A member of a JS object as text: `[vars]` may hold TOML numbers, booleans or tables, which
/// reach the worker as JS numbers, booleans or objects; they are read as their text / JSON form.
pub fn member_string(object: &JsValue, key: &str) -> Option<String> {
    let v = js_sys::Reflect::get(object, &JsValue::from_str(key)).ok()?;
    if v.is_undefined() || v.is_null() {
        return None;
    }
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if let Some(n) = v.as_f64() {
        // Whole numbers as integers; others through JS's own number formatting below.
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            return Some(format!("{}", n as i64));
        }
    }
    if let Some(b) = v.as_bool() {
        return Some(b.to_string());
    }
    js_sys::JSON::stringify(&v).ok().and_then(|s| s.as_string())
}

/// 16 fresh random bytes (`crypto.getRandomValues`).
pub fn nonce() -> [u8; 16] {
    let mut b = [0u8; 16];
    get_random_values(&mut b);
    b
}

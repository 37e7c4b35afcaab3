//! The remote JWK Set (`JWKS_URL`) in the worker: fetched lazily, cached per isolate and in the
//! Workers Cache API, refreshed on TTL expiry or an unknown `kid` under a cooldown, and kept when
//! the IdP fails (stale-if-error). The scheduling rules are the pure [`RefreshState`].
//!
//! Nothing here holds a promise across requests: the one request that starts a fetch awaits it;
//! requests arriving meanwhile use the keys already cached.

use super::runtime;
use crate::config::RemoteJwks;
use crate::jwks::{self, RefreshState};
use crate::keys::KeySet;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStreamDefaultReader, Request, RequestInit, Response};

/// Largest JWK Set accepted (bytes).
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT_MS: u32 = 5_000;
/// The header recording when a Cache API copy was fetched (ms since the epoch).
const FETCHED_AT: &str = "x-edgegate-fetched-at";

#[derive(Default)]
struct Remote {
    keys: Option<Rc<KeySet>>,
    state: RefreshState,
}

thread_local! {
    static REMOTE: RefCell<Remote> = RefCell::new(Remote::default());
}

/// The keys to verify with: fetched first if the isolate has none or they are stale, or — with
/// `unknown_kid` — because a token named a key the set lacks; always within the cooldown.
pub async fn keys(cfg: &RemoteJwks, unknown_kid: bool) -> Option<Rc<KeySet>> {
    let now = runtime::now_ms();
    let cooldown = cfg.min_refresh_seconds as f64 * 1000.0;
    let (start, have_keys) = REMOTE.with(|r| {
        let mut r = r.borrow_mut();
        let have = r.keys.is_some();
        let go = r.state.should_fetch(now, cooldown, have, unknown_kid);
        if go {
            r.state.started(now);
        }
        (go, have)
    });
    if start {
        // A cold isolate first looks in the Cache API (shared by the isolates of a location);
        // a refetch for an unknown kid or an expired set goes to the IdP.
        let result = load(cfg, now, !have_keys && !unknown_kid).await;
        REMOTE.with(|r| {
            let mut r = r.borrow_mut();
            match result {
                Ok((set, ttl_ms)) => {
                    r.keys = Some(Rc::new(set));
                    r.state.succeeded(runtime::now_ms(), ttl_ms);
                }
                Err(problem) => {
                    r.state.failed();
                    runtime::log(&crate::log::jwks_error_line(&problem, r.keys.is_some()));
                }
            }
        });
    }
    REMOTE.with(|r| r.borrow().keys.clone())
}

async fn load(cfg: &RemoteJwks, now: f64, try_cache: bool) -> Result<(KeySet, f64), String> {
    if try_cache {
        if let Some((body, remaining_ms)) = cache_get(&cfg.url, now).await {
            if let Ok(set) = parse(&body) {
                return Ok((set, remaining_ms));
            }
        }
    }
    let (body, cache_control) = fetch(&cfg.url).await?;
    let set = parse(&body)?;
    let ttl = jwks::cache_ttl(cache_control.as_deref(), cfg.cache_seconds);
    if ttl > 0 {
        // Best effort: a failed cache write only costs another fetch elsewhere.
        let _ = cache_put(&cfg.url, &body, ttl, now).await;
    }
    Ok((set, ttl as f64 * 1000.0))
}

fn parse(body: &str) -> Result<KeySet, String> {
    let loaded = jwks::parse_jwks(body, false).map_err(|e| format!("the JWK Set {e}"))?;
    for skipped in &loaded.skipped {
        runtime::log(&crate::log::warning_line(&format!("JWKS_URL: {skipped}")));
    }
    if loaded.keys.is_empty() {
        return Err("the JWK Set holds no usable signature key".into());
    }
    Ok(KeySet::new(loaded.keys))
}

async fn fetch(url: &str) -> Result<(String, Option<String>), String> {
    let js = |e: JsValue| {
        format!(
            "fetch failed: {}",
            e.as_string().unwrap_or_else(|| "network error".into())
        )
    };
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_signal(Some(&AbortSignal::timeout_with_u32(FETCH_TIMEOUT_MS)));
    let req = Request::new_with_str_and_init(url, &init).map_err(js)?;
    req.headers()
        .set("accept", "application/json")
        .map_err(js)?;
    let resp: Response = JsFuture::from(runtime::global().fetch_with_request(&req))
        .await
        .map_err(js)?
        .dyn_into()
        .map_err(js)?;
    if resp.status() != 200 {
        return Err(format!("the IdP answered {}", resp.status()));
    }
    let cache_control = resp.headers().get("cache-control").ok().flatten();
    let body = read_capped(&resp, MAX_JWKS_BYTES).await?;
    let body = String::from_utf8(body).map_err(|_| "the JWK Set is not UTF-8 text")?;
    Ok((body, cache_control))
}

/// The body of `resp`, refused as soon as it is known to exceed `cap` bytes: by its
/// `Content-Length` before reading, or while streaming, cancelling the rest (a hostile or broken
/// IdP must not make every isolate read tens of MiB).
async fn read_capped(resp: &Response, cap: usize) -> Result<Vec<u8>, String> {
    let too_large = || format!("the JWK Set is larger than {cap} bytes");
    let declared = resp.headers().get("content-length").ok().flatten();
    if declared
        .and_then(|n| n.trim().parse::<u64>().ok())
        .is_some_and(|n| n > cap as u64)
    {
        return Err(too_large());
    }
    let Some(stream) = resp.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let js = |_: JsValue| "reading the JWK Set failed".to_owned();
    let mut out = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js)?;
        let done = js_sys::Reflect::get(&chunk, &JsValue::from_str("done")).map_err(js)?;
        if done.is_truthy() {
            return Ok(out);
        }
        let value: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &JsValue::from_str("value"))
            .map_err(js)?
            .dyn_into()
            .map_err(js)?;
        let len = value.length() as usize;
        if out.len() + len > cap {
            // Best effort: the answer is already "too large" whether or not the cancel lands.
            let _ = reader.cancel();
            return Err(too_large());
        }
        let start = out.len();
        out.resize(start + len, 0);
        value.copy_to(&mut out[start..]);
    }
}

/// `caches.default`, the Workers cache of this location (web-sys directly: the `worker` crate's
/// wrappers would add its stream and error machinery to the module).
fn default_cache() -> Option<web_sys::Cache> {
    let caches = runtime::global().caches().ok()?;
    js_sys::Reflect::get(&caches, &JsValue::from_str("default"))
        .ok()?
        .dyn_into()
        .ok()
}

async fn cache_get(url: &str, now: f64) -> Option<(String, f64)> {
    let hit = JsFuture::from(default_cache()?.match_with_str(url))
        .await
        .ok()?;
    let resp: Response = hit.dyn_into().ok()?; // `undefined` on a miss
                                               // Integers only: no float parser or formatter in the module.
    let fetched: i64 = resp.headers().get(FETCHED_AT).ok()??.parse().ok()?;
    let max_age: i64 = resp
        .headers()
        .get("cache-control")
        .ok()??
        .strip_prefix("max-age=")?
        .parse()
        .ok()?;
    let remaining = fetched.saturating_add(max_age.saturating_mul(1000)) as f64 - now;
    if remaining <= 0.0 {
        return None;
    }
    let body = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
    Some((body, remaining))
}

async fn cache_put(url: &str, body: &str, ttl: i64, now: f64) -> Result<(), JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", &format!("max-age={ttl}"))?;
    headers.set(FETCHED_AT, &format!("{}", now as i64))?;
    let init = web_sys::ResponseInit::new();
    init.set_headers(&headers.into());
    let resp = Response::new_with_opt_str_and_init(Some(body), &init)?;
    let cache = default_cache().ok_or_else(|| JsValue::from_str("no caches.default"))?;
    JsFuture::from(cache.put_with_str(url, &resp)).await?;
    Ok(())
}

//! The remote JWK Set (`JWKS_URL`): the I/O half, as the JS entry's `js/remote.mjs` does it.
//! When, and whether, to fetch is the core's ([`crate::low_level::jwks::RemoteKeys`], through
//! [`crate::edge::isolate::Isolate`]): this module fetches when told, with a timeout and a size
//! cap, and shares fetched sets with the other isolates of the location through the Cache API.
//! The capped fetch and the Cache API copy serve the revocation list too (`super::revocation`).
//! The isolate is never borrowed across an await.

use super::pure::{cached_remaining_ms, declared_too_large, utf8_text};
use super::runtime::{log, Shared};
use crate::low_level::jwks::FetchFrom;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

const MAX_JWKS_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT_MS: u32 = 5_000;
/// When a Cache API copy was fetched (ms since the epoch).
const FETCHED_AT: &str = "x-edgegate-fetched-at";

/// What a capped fetch asks for and how its errors name things.
pub(super) struct Capped<'a> {
    /// The `Accept` header.
    pub accept: &'a str,
    /// The most bytes read.
    pub cap: usize,
    /// The document, in errors ("the JWK Set").
    pub what: &'a str,
    /// The server, in errors ("the IdP").
    pub who: &'a str,
    /// `cache: "no-store"`: always the source's current copy, never an HTTP cache's.
    pub no_store: bool,
}

const JWKS: Capped<'static> = Capped {
    accept: "application/json",
    cap: MAX_JWKS_BYTES,
    what: "the JWK Set",
    who: "the IdP",
    no_store: false,
};

fn global() -> web_sys::WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Fetches keys if the core's refresh rules allow it now; never fails.
pub(super) async fn refresh_keys(shared: &Shared, unknown_kid: bool) {
    let (url, from) = {
        let mut isolate = shared.isolate.borrow_mut();
        let url = isolate.jwks_url().map(str::to_owned);
        (
            url,
            isolate.begin_key_fetch(js_sys::Date::now(), unknown_kid),
        )
    };
    let (Some(url), Some(from)) = (url, from) else {
        return;
    };
    if from == FetchFrom::CacheThenIdp {
        if let Some((body, remaining_ms)) = cache_get(&url).await {
            let now = js_sys::Date::now();
            if shared
                .isolate
                .borrow_mut()
                .keys_from_cache(&body, remaining_ms, now)
            {
                return;
            }
        }
    }
    match fetch_capped(&url, &JWKS).await {
        Ok((body, cache_control)) => {
            let now = js_sys::Date::now();
            let (ttl, lines) =
                shared
                    .isolate
                    .borrow_mut()
                    .keys_from_idp(&body, cache_control.as_deref(), now);
            for line in lines {
                log(&line);
            }
            // Best effort: a failed cache write only costs another fetch elsewhere.
            if ttl > 0 {
                let _ = cache_put(&url, &body, ttl).await;
            }
        }
        Err(problem) => log(&shared.isolate.borrow_mut().keys_failed(&problem)),
    }
}

/// `e?.message ?? fallback` of a thrown value.
pub(super) fn js_message(e: &JsValue, fallback: &str) -> String {
    let m = if e.is_object() {
        js_sys::Reflect::get(e, &JsValue::from_str("message")).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    };
    if m.is_undefined() || m.is_null() {
        return fallback.to_owned();
    }
    m.as_string().unwrap_or_else(|| fallback.to_owned())
}

fn cancel(resp: &Response) {
    if let Some(body) = resp.body() {
        // Best effort: the outcome is already decided.
        let _ = body.cancel();
    }
}

/// GET `url` with a timeout; a 200 answer's body as UTF-8 text of at most `c.cap` bytes (see
/// [`read_capped`]), with its `Cache-Control`.
pub(super) async fn fetch_capped(
    url: &str,
    c: &Capped<'_>,
) -> Result<(String, Option<String>), String> {
    let failed = |e: JsValue| format!("fetch failed: {}", js_message(&e, "network error"));
    let send = async {
        let init = web_sys::RequestInit::new();
        let headers = web_sys::Headers::new()?;
        headers.set("accept", c.accept)?;
        init.set_headers(&headers.into());
        init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
            FETCH_TIMEOUT_MS,
        )));
        if c.no_store {
            init.set_cache(web_sys::RequestCache::NoStore);
        }
        let resp = JsFuture::from(global().fetch_with_str_and_init(url, &init)).await?;
        resp.dyn_into::<Response>()
    };
    let resp = send.await.map_err(failed)?;
    if resp.status() != 200 {
        cancel(&resp);
        return Err(format!("{} answered {}", c.who, resp.status()));
    }
    let bytes = read_capped(&resp, c.cap, c.what).await?;
    let body = utf8_text(bytes, c.what)?;
    Ok((body, resp.headers().get("cache-control").ok().flatten()))
}

/// The body, refused as soon as it is known to exceed `cap` bytes: by its `Content-Length`
/// before reading, or while streaming, cancelling the rest (a hostile server must not make every
/// isolate read tens of MiB). `what` names the document in errors.
pub(super) async fn read_capped(
    resp: &Response,
    cap: usize,
    what: &str,
) -> Result<Vec<u8>, String> {
    let too_large = || format!("{what} is larger than {cap} bytes");
    let declared = resp.headers().get("content-length").ok().flatten();
    if declared_too_large(declared.as_deref(), cap) {
        cancel(resp);
        return Err(too_large());
    }
    let Some(stream) = resp.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let read_failed = |_: JsValue| format!("reading {what} failed");
    let mut out = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(read_failed)?;
        let done = js_sys::Reflect::get(&chunk, &JsValue::from_str("done")).map_err(read_failed)?;
        if done.is_truthy() {
            return Ok(out);
        }
        let value: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &JsValue::from_str("value"))
            .map_err(read_failed)?
            .dyn_into()
            .map_err(read_failed)?;
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

/// `caches.default`, the Workers cache of this location.
fn default_cache() -> Option<web_sys::Cache> {
    let caches = global().caches().ok()?;
    js_sys::Reflect::get(&caches, &JsValue::from_str("default"))
        .ok()?
        .dyn_into()
        .ok()
}

pub(super) async fn cache_get(url: &str) -> Option<(String, f64)> {
    let hit = JsFuture::from(default_cache()?.match_with_str(url))
        .await
        .ok()?;
    let resp: Response = hit.dyn_into().ok()?; // `undefined` on a miss
    let headers = resp.headers();
    let remaining = cached_remaining_ms(
        headers.get(FETCHED_AT).ok().flatten().as_deref(),
        headers.get("cache-control").ok().flatten().as_deref(),
        js_sys::Date::now(),
    )?;
    let body = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
    Some((body, remaining))
}

pub(super) async fn cache_put(url: &str, body: &str, ttl: i64) -> Result<(), JsValue> {
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", &format!("max-age={ttl}"))?;
    headers.set(FETCHED_AT, &format!("{}", js_sys::Date::now() as i64))?;
    let init = web_sys::ResponseInit::new();
    init.set_headers(&headers.into());
    let resp = Response::new_with_opt_str_and_init(Some(body), &init)?;
    let cache = default_cache().ok_or_else(|| JsValue::from_str("no caches.default"))?;
    JsFuture::from(cache.put_with_str(url, &resp)).await?;
    Ok(())
}

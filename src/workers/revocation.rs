//! The revocation list (`REVOCATION_URL` or the `REVOCATION_KV` binding): the I/O half, as the
//! JS entry's `js/revocation.mjs` does it. When to fetch, whether a document is authentic and
//! newer than the one held, and what it revokes are the core's ([`Isolate::step`],
//! [`Isolate::begin_revocation_fetch`], [`Isolate::revocation_document`]): this module fetches
//! when told — in the background once the isolate holds a list, so no request waits for it — with
//! a timeout and a size cap, one fetch at a time per isolate, and shares what it fetched from
//! `REVOCATION_URL` with the location's other isolates through the Cache API. KV namespaces are
//! replicated and cached by the platform itself. The isolate is never borrowed across an await.

use super::pure::utf8_text;
use super::remote::{cache_get, cache_put, fetch_capped, js_message, read_capped, Capped};
use super::runtime::{log, Shared};
use super::webcrypto::{self, Question};
use crate::config::RevocationSource;
use crate::edge::isolate::{Isolate, Offering};
use crate::edge::wire::json_string;
use crate::low_level::revocation::{FetchFrom, MAX_DOCUMENT_BYTES};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};

// Signature questions a document may ask before it is refused (as for a request).
const MAX_ROUNDS: u32 = 4;
const WHAT: &str = "the revocation list";

/// The binding name the KV source is read from.
pub(super) const KV_KEY: &str = "REVOCATION_KV";

/// Where the isolate's list comes from.
enum Source {
    Url {
        url: String,
        /// Seconds the location's copy is kept.
        cache_ttl: i64,
    },
    Kv {
        /// The namespace binding (an object with `get`).
        kv: JsValue,
        key: String,
    },
}

/// The isolate's revocation source and the fetch running, if any.
#[derive(Default)]
pub(super) struct List {
    source: Option<Source>,
    /// The running fetch: every request that must wait awaits this one promise.
    inflight: RefCell<Option<(u64, js_sys::Promise)>>,
    started: Cell<u64>,
}

/// Whether `v` is a KV namespace binding (what the JS entry checks: `typeof kv?.get ===
/// 'function'`); a variable of the same name is not.
pub(super) fn is_kv_binding(v: &JsValue) -> bool {
    v.is_object()
        && js_sys::Reflect::get(v, &JsValue::from_str("get")).is_ok_and(|g| g.is_function())
}

impl List {
    /// The source `isolate` is configured with; the KV binding comes from `env`.
    pub(super) fn for_isolate(isolate: &Isolate, env: &JsValue) -> List {
        let source = isolate.revocation_config().and_then(|rc| match &rc.source {
            RevocationSource::Url(url) => Some(Source::Url {
                url: url.clone(),
                cache_ttl: rc.cache_ttl_seconds(),
            }),
            // The configuration only accepts a KV source when the binding was seen
            // (`Gate::for_env`'s lookup).
            RevocationSource::Kv { key } => {
                let kv = js_sys::Reflect::get(env, &JsValue::from_str(KV_KEY)).ok()?;
                is_kv_binding(&kv).then(|| Source::Kv {
                    kv,
                    key: key.clone(),
                })
            }
        });
        List {
            source,
            ..List::default()
        }
    }
}

/// For a request the core will not decide without a list (the isolate holds none, or has not
/// refreshed it for two intervals): waits for the fetch running, or starts one if the core says
/// one is due. Never fails.
pub(super) async fn list_now(shared: &Rc<Shared>) {
    let running = shared
        .list
        .inflight
        .borrow()
        .as_ref()
        .map(|(_, p)| p.clone());
    if let Some(p) = running.or_else(|| start(shared)) {
        // The fetch never rejects (it logs its failures).
        let _ = JsFuture::from(p).await;
    }
}

/// After a decision: the fetch due now, if any and none is running, for the caller to run in
/// the background (`ctx.waitUntil`) or to await.
pub(super) fn refresh_due(shared: &Rc<Shared>) -> Option<js_sys::Promise> {
    if shared.list.inflight.borrow().is_some() {
        return None;
    }
    start(shared)
}

fn start(shared: &Rc<Shared>) -> Option<js_sys::Promise> {
    shared.list.source.as_ref()?;
    let from = shared
        .isolate
        .borrow_mut()
        .begin_revocation_fetch(js_sys::Date::now())?;
    let id = shared.list.started.get().wrapping_add(1);
    shared.list.started.set(id);
    let s = Rc::clone(shared);
    // Polled from the task queue, never within this call: the slot is set before it can end.
    let promise = future_to_promise(async move {
        fetch_list(&s, from).await;
        let mut slot = s.list.inflight.borrow_mut();
        if slot.as_ref().is_some_and(|(i, _)| *i == id) {
            *slot = None;
        }
        Ok(JsValue::UNDEFINED)
    });
    *shared.list.inflight.borrow_mut() = Some((id, promise.clone()));
    Some(promise)
}

async fn fetch_list(shared: &Shared, from: FetchFrom) {
    let Some(source) = &shared.list.source else {
        return;
    };
    if let (FetchFrom::CacheThenSource, Source::Url { url, .. }) = (from, source) {
        if let Some((body, _)) = cache_get(url).await {
            if offer(shared, &body).await {
                return;
            }
        }
    }
    let body = match source {
        Source::Url { url, .. } => from_url(url).await,
        Source::Kv { kv, key } => from_kv(kv, key).await,
    };
    match body {
        Ok(body) => {
            if offer(shared, &body).await {
                if let Source::Url { url, cache_ttl } = source {
                    // Best effort: a failed cache write only costs another fetch elsewhere.
                    let _ = cache_put(url, &body, *cache_ttl).await;
                }
            }
        }
        Err(problem) => {
            let line = shared.isolate.borrow_mut().revocation_failed(&problem);
            log(&line);
        }
    }
}

async fn from_url(url: &str) -> Result<String, String> {
    let capped = Capped {
        accept: "application/jwt",
        cap: MAX_DOCUMENT_BYTES,
        what: WHAT,
        who: "REVOCATION_URL",
        no_store: true,
    };
    Ok(fetch_capped(url, &capped).await?.0)
}

async fn from_kv(kv: &JsValue, key: &str) -> Result<String, String> {
    let failed = |e: JsValue| format!("reading REVOCATION_KV failed: {}", js_message(&e, "error"));
    let read = async {
        let get: js_sys::Function =
            js_sys::Reflect::get(kv, &JsValue::from_str("get"))?.dyn_into()?;
        let options = js_sys::Object::new();
        js_sys::Reflect::set(
            &options,
            &JsValue::from_str("type"),
            &JsValue::from_str("stream"),
        )?;
        let pending = get.call2(kv, &JsValue::from_str(key), &options)?;
        JsFuture::from(js_sys::Promise::resolve(&pending)).await
    };
    let stream = read.await.map_err(failed)?;
    if stream.is_null() {
        return Err(format!("REVOCATION_KV has no key {}", json_string(key)));
    }
    let stream: web_sys::ReadableStream = stream.dyn_into().map_err(failed)?;
    let resp = web_sys::Response::new_with_opt_readable_stream(Some(&stream)).map_err(failed)?;
    utf8_text(read_capped(&resp, MAX_DOCUMENT_BYTES, WHAT).await?, WHAT)
}

/// Hands `body` to the core, answering its signature questions through WebCrypto; whether it
/// took it.
async fn offer(shared: &Shared, body: &str) -> bool {
    let mut answers = String::new();
    let mut round = 0;
    loop {
        // Bound first: the isolate must not stay borrowed across the awaits below.
        let offering = shared.isolate.borrow_mut().revocation_document(
            body,
            js_sys::Date::now(),
            &answers,
            round >= MAX_ROUNDS,
        );
        match offering {
            Offering::Signature(json) => match Question::from_wire(&json) {
                Some(q) => {
                    answers = webcrypto::answer(shared, &q, &answers).await;
                    round += 1;
                }
                // Not a question the core writes: the next round refuses the signature.
                None => round = MAX_ROUNDS,
            },
            Offering::Done { line } => {
                if let Some(line) = &line {
                    log(line);
                }
                return line.is_none();
            }
        }
    }
}

//! Forwarding to the origin and answering at the edge (workerd / web-sys types only here).
//!
//! The forwarded request keeps method, headers and the body *stream* (never buffered); the
//! inbound headers [`forwardable_header`] refuses are removed before the verified identity is
//! added. Redirects are not followed: the origin's 3xx goes back to the client.
//! The origin's response goes back with its status, body stream and every `Set-Cookie` as a
//! separate header.

use super::runtime;
use crate::assertion::ASSERTION_HEADER;
use crate::gate::{Identity, Reply, CLAIMS_HEADER, SUB_HEADER};
use crate::headers::{forwardable_header, private_cache_control};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Headers, Request, RequestCache, RequestInit, RequestRedirect, Response, ResponseInit,
};

type JsResult<T> = Result<T, JsValue>;

/// Headers for the origin: the client's, minus identity and hop-by-hop-listed ones, plus ours.
fn origin_headers(
    inbound: &Headers,
    identity: Option<&Identity>,
    assertion: Option<&str>,
) -> JsResult<Headers> {
    let connection = inbound.get("connection")?;
    // Copy everything in one call, then delete what may not pass: only header *names* cross
    // into wasm (values never do), and usually nothing needs deleting.
    let out = Headers::new_with_headers(inbound)?;
    for name in js_sys::try_iter(&inbound.keys())?.into_iter().flatten() {
        let Some(name) = name?.as_string() else {
            continue;
        };
        if !forwardable_header(&name, connection.as_deref()) {
            out.delete(&name)?;
        }
    }
    if let Some(id) = identity {
        out.set(SUB_HEADER, &id.sub)?;
        out.set(CLAIMS_HEADER, &id.claims_b64)?;
    }
    if let Some(a) = assertion {
        out.set(ASSERTION_HEADER, a)?;
    }
    Ok(out)
}

/// Sends `req` to `url` with the identity headers, returning the origin's response.
pub async fn forward(
    req: &Request,
    url: &str,
    identity: Option<&Identity>,
    assertion: Option<&str>,
) -> JsResult<Response> {
    let init = RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&origin_headers(&req.headers(), identity, assertion)?.into());
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    init.set_redirect(RequestRedirect::Manual);
    if identity.is_some() {
        // Authenticated: never answered from, nor stored in, the edge cache (`cache: "no-store"`,
        // available from compatibility date 2024-11-11).
        init.set_cache(RequestCache::NoStore);
    }
    let outbound = Request::new_with_str_and_init(url, &init)?;
    JsFuture::from(runtime::global().fetch_with_request(&outbound))
        .await?
        .dyn_into()
}

/// Adjusts the origin's response on its way back, rebuilding it only when something changes:
/// responses to authenticated requests become `private` for shared caches (unless the origin
/// said plain `private` or `no-store`, see [`private_cache_control`]), and `Server-Timing` is added when configured. Status, status
/// text, body stream and every header — each `Set-Cookie` separately — are kept.
pub fn finish(
    resp: Response,
    authenticated: bool,
    server_timing: Option<&str>,
) -> JsResult<Response> {
    if resp.status() == 101 {
        return Ok(resp); // a WebSocket upgrade must pass untouched.
    }
    let cache_control = if authenticated {
        private_cache_control(resp.headers().get("cache-control")?.as_deref())
    } else {
        None
    };
    if cache_control.is_none() && server_timing.is_none() {
        return Ok(resp);
    }
    // Copying the Headers object keeps every Set-Cookie entry separate.
    let headers = Headers::new_with_headers(&resp.headers())?;
    if let Some(cc) = cache_control {
        headers.set("cache-control", &cc)?;
    }
    if let Some(t) = server_timing {
        headers.append("server-timing", t)?;
    }
    let init = ResponseInit::new();
    init.set_status(resp.status());
    init.set_status_text(&resp.status_text());
    init.set_headers(&headers.into());
    Response::new_with_opt_readable_stream_and_init(resp.body().as_ref(), &init)
}

/// The response for a [`Reply`] decided at the edge.
pub fn reply(r: &Reply, server_timing: Option<&str>) -> worker::Result<Response> {
    build(r, server_timing).map_err(worker::Error::from)
}

fn build(r: &Reply, server_timing: Option<&str>) -> JsResult<Response> {
    let headers = Headers::new()?;
    headers.set("cache-control", "no-store")?;
    if let Some(loc) = &r.location {
        headers.set("location", loc)?;
    }
    if let Some(www) = &r.www_authenticate {
        headers.set("www-authenticate", www)?;
    }
    if r.body.is_some() {
        headers.set("content-type", r.content_type)?;
    }
    if let Some(t) = server_timing {
        headers.set("server-timing", t)?;
    }
    let init = ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers.into());
    Response::new_with_opt_str_and_init(r.body.as_deref(), &init)
}

//! Forwarding to the origin and answering at the edge (workerd / web-sys types only here).
//!
//! The forwarded request keeps method, headers and the body *stream* (never buffered); inbound
//! `x-auth-*` headers and any header named in `Connection` are removed before the verified
//! identity is added. Redirects are not followed: the origin's 3xx goes back to the client.
//! The origin's response goes back with its status, body stream and every `Set-Cookie` as a
//! separate header.

use crate::assertion::ASSERTION_HEADER;
use crate::gate::{forwardable_header, Identity, Reply, CLAIMS_HEADER, SUB_HEADER};
use crate::runtime;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, RequestRedirect, Response, ResponseInit};

type JsResult<T> = Result<T, JsValue>;

/// Headers for the origin: the client's, minus identity and hop-by-hop-listed ones, plus ours.
fn origin_headers(
    inbound: &Headers,
    identity: Option<&Identity>,
    assertion: Option<&str>,
) -> JsResult<Headers> {
    let connection = inbound.get("connection")?;
    let out = Headers::new()?;
    for entry in js_sys::try_iter(inbound)?.into_iter().flatten() {
        let pair: js_sys::Array = entry?.unchecked_into();
        let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) else {
            continue;
        };
        if forwardable_header(&name, connection.as_deref()) {
            out.append(&name, &value)?;
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
    let outbound = Request::new_with_str_and_init(url, &init)?;
    let resp: Response = JsFuture::from(runtime::global().fetch_with_request(&outbound))
        .await?
        .dyn_into()?;
    if identity.is_some() {
        return private(resp);
    }
    Ok(resp)
}

/// Marks a response to an authenticated request as not storable by shared caches, unless the
/// origin already said `private` or `no-store`.
fn private(resp: Response) -> JsResult<Response> {
    let cc = resp.headers().get("cache-control")?.unwrap_or_default();
    let lower = cc.to_ascii_lowercase();
    let directives: Vec<&str> = lower.split(',').map(str::trim).collect();
    if directives
        .iter()
        .any(|d| *d == "private" || *d == "no-store" || d.starts_with("private="))
    {
        return Ok(resp);
    }
    if resp.status() == 101 {
        return Ok(resp); // a WebSocket upgrade: nothing to cache, and it must pass untouched.
    }
    // Copying the Headers object keeps every Set-Cookie entry separate.
    let headers = Headers::new_with_headers(&resp.headers())?;
    let kept: Vec<&str> = directives
        .into_iter()
        .filter(|d| !d.is_empty() && *d != "public" && !d.starts_with("s-maxage"))
        .collect();
    let value = if kept.is_empty() {
        "private".to_owned()
    } else {
        format!("private, {}", kept.join(", "))
    };
    headers.set("cache-control", &value)?;
    let init = ResponseInit::new();
    init.set_status(resp.status());
    init.set_status_text(&resp.status_text());
    init.set_headers(&headers.into());
    Response::new_with_opt_readable_stream_and_init(resp.body().as_ref(), &init)
}

/// The response for a [`Reply`] decided at the edge.
pub fn reply(r: &Reply) -> worker::Result<Response> {
    build(r).map_err(worker::Error::from)
}

fn build(r: &Reply) -> JsResult<Response> {
    let headers = Headers::new()?;
    headers.set("cache-control", "no-store")?;
    if let Some(loc) = &r.location {
        headers.set("location", loc)?;
    }
    if let Some(www) = &r.www_authenticate {
        headers.set("www-authenticate", www)?;
    }
    if r.body.is_some() {
        headers.set("content-type", "application/json")?;
    }
    let init = ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers.into());
    Response::new_with_opt_str_and_init(r.body.as_deref(), &init)
}

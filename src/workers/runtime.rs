//! The two halves on the runtime (wasm32): reading the request, driving the core's steps
//! ([`Isolate::step`]), building the app's request or the edge's answer, and the response rules.

use super::pure::{self, Identity, INTERNAL_ERROR_BODY, NO_ORIGIN_URL};
use super::{remote, revocation, webcrypto};
use crate::config::Config;
use crate::edge::isolate::{Inbound, Isolate, Stepped};
use crate::edge::js::{member_string, nonce};
use crate::edge::wire::{self, Wire};
use crate::gate::{Reply, CLAIMS_HEADER, SUB_HEADER};
use crate::low_level::headers::private_cache_control;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Env, Request, Response};

// Questions a request may ask before its signature is refused: a remote set replaced between two
// steps changes the candidate keys, so one more round is legitimate; an endless loop is not.
const MAX_ROUNDS: u32 = 4;

thread_local! {
    /// The isolate's gate, built on its first request (the environment is only visible then).
    static CURRENT: RefCell<Option<Gate>> = const { RefCell::new(None) };
}

/// The gate of this isolate: its configuration (validated once), the remote JWK Set, the
/// revocation list and the imported WebCrypto keys. Cheap to clone; get it with
/// [`Gate::for_env`] on every request.
#[derive(Clone)]
pub struct Gate {
    shared: Rc<Shared>,
}

pub(super) struct Shared {
    pub(super) isolate: RefCell<Isolate>,
    pub(super) crypto: webcrypto::Keys,
    pub(super) list: revocation::List,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ok = self.shared.isolate.borrow().gate.is_ok();
        f.debug_struct("Gate").field("configured", &ok).finish()
    }
}

/// What [`Gate::admit_with`] (or [`Gate::admit`]) made of a request.
#[derive(Debug)]
pub enum Admission {
    /// Decided at the edge (a redirect, a refusal, the session endpoint, `misconfigured`):
    /// return this response as it is.
    Answered(Response),
    /// The gate would forward it: run the app, then pass its response through
    /// [`Admitted::release`].
    Admitted(Admitted),
}

/// A request the gate let through, as the app receives it.
#[derive(Debug)]
pub struct Admitted {
    request: Request,
    identity: Option<Identity>,
    release: Release,
}

/// What the gate adds to the app's response (see [`Release::response`]).
#[derive(Debug)]
pub struct Release {
    gate: Gate,
    authenticated: bool,
    timing: Option<String>,
}

/// A runtime failure of the gate itself.
enum Failure {
    /// A runtime call threw.
    Js(JsValue),
    /// The verified claims did not read back as a JSON object.
    Claims,
    /// A broken invariant: a forward step outside the placeholder base, headers that do not
    /// iterate.
    Invariant,
}

impl From<JsValue> for Failure {
    fn from(e: JsValue) -> Failure {
        Failure::Js(e)
    }
}

impl Failure {
    /// The error's name, as the JS entry logs it (`String(e?.name ?? 'Error')`).
    fn name(&self) -> String {
        match self {
            Failure::Js(e) if e.is_object() => js_sys::Reflect::get(e, &JsValue::from_str("name"))
                .ok()
                .and_then(|n| n.as_string())
                .unwrap_or_else(|| "Error".to_owned()),
            Failure::Js(_) | Failure::Invariant => "Error".to_owned(),
            Failure::Claims => "SyntaxError".to_owned(),
        }
    }
}

pub(super) fn log(line: &str) {
    web_sys::console::log_1(&JsValue::from_str(line));
}

/// The request values the decision reads, from one pass over the headers.
#[derive(Default)]
struct Read {
    names: String,
    cookie: Option<String>,
    authorization: Option<String>,
    accept: Option<String>,
    sec_fetch_mode: Option<String>,
    sec_fetch_site: Option<String>,
    origin: Option<String>,
    upgrade: Option<String>,
    connection: Option<String>,
}

impl Read {
    fn from(headers: &web_sys::Headers) -> Result<Read, Failure> {
        let mut r = Read::default();
        let entries = js_sys::try_iter(headers)?.ok_or(Failure::Invariant)?;
        for entry in entries {
            let pair: js_sys::Array = entry?.unchecked_into();
            let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string())
            else {
                continue;
            };
            r.names.push_str(&name);
            r.names.push('\n');
            let slot = match name.as_str() {
                "cookie" => &mut r.cookie,
                "authorization" => &mut r.authorization,
                "accept" => &mut r.accept,
                "sec-fetch-mode" => &mut r.sec_fetch_mode,
                "sec-fetch-site" => &mut r.sec_fetch_site,
                "origin" => &mut r.origin,
                "upgrade" => &mut r.upgrade,
                "connection" => &mut r.connection,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(r)
    }

    fn inbound<'r>(&'r self, method: &'r str, url: &'r str) -> Inbound<'r> {
        Inbound {
            method,
            url,
            cookie: self.cookie.as_deref(),
            authorization: self.authorization.as_deref(),
            accept: self.accept.as_deref(),
            sec_fetch_mode: self.sec_fetch_mode.as_deref(),
            sec_fetch_site: self.sec_fetch_site.as_deref(),
            origin: self.origin.as_deref(),
            upgrade: self.upgrade.as_deref(),
            header_names: &self.names,
            connection: self.connection.as_deref(),
        }
    }
}

/// What one round of the loop in `Gate::try_admit` leads to.
enum Next<'r> {
    Done(Admission),
    Keys { unknown_kid: bool },
    Revocations,
    Ask(webcrypto::Question<'r>),
}

impl Gate {
    /// The isolate's gate for `env` (`[vars]` and secrets): built on the first call — logging
    /// the start-up warnings or the configuration error — and the same gate afterwards. Never
    /// fails: an invalid configuration answers every request `500 misconfigured`.
    pub fn for_env(env: &Env) -> Gate {
        if let Some(gate) = CURRENT.with(|c| c.borrow().clone()) {
            return gate;
        }
        let env: &JsValue = env.as_ref();
        // Your handler is the origin: ORIGIN_URL is not read (see `NO_ORIGIN_URL`).
        let lookup = |key: &str| match key {
            "ORIGIN_URL" => Some(NO_ORIGIN_URL.to_owned()),
            revocation::KV_KEY => kv_lookup(env),
            _ => member_string(env, key),
        };
        let isolate = Isolate::new(Config::from_lookup(&lookup).map(crate::gate::Gate::new));
        for line in isolate.startup_lines() {
            log(&line);
        }
        let list = revocation::List::for_isolate(&isolate, env);
        let gate = Gate {
            shared: Rc::new(Shared {
                isolate: RefCell::new(isolate),
                crypto: webcrypto::Keys::default(),
                list,
            }),
        };
        CURRENT.with(|c| *c.borrow_mut() = Some(gate.clone()));
        gate
    }

    /// Decides `req`. A revocation list refresh that is due afterwards runs in the background
    /// (`ctx.wait_until`): no request of an active isolate waits for it. Never fails: a runtime
    /// failure of the gate is answered `500 internal_error` (and the next request builds a
    /// fresh gate).
    pub async fn admit_with(&self, req: Request, ctx: &Context) -> Admission {
        self.admission(req, Some(ctx)).await
    }

    /// [`admit_with`](Self::admit_with) without the request's `Context`: a revocation list
    /// refresh that is due after the decision runs before this returns, so with
    /// `REVOCATION_URL`/`REVOCATION_KV` one request per `REVOCATION_REFRESH_SECONDS` waits for
    /// a fetch (at most its 5 s timeout). Without a revocation list the two are the same.
    pub async fn admit(&self, req: Request) -> Admission {
        self.admission(req, None).await
    }

    /// [`admit_with`](Self::admit_with), then `handler` with the admitted request and its
    /// identity, then [`Release::response`] on its response. The handler's errors are returned
    /// as they are.
    pub async fn guard_with<F, Fut>(
        &self,
        req: Request,
        ctx: &Context,
        handler: F,
    ) -> worker::Result<Response>
    where
        F: FnOnce(Request, Option<Identity>) -> Fut,
        Fut: Future<Output = worker::Result<Response>>,
    {
        Self::run(self.admission(req, Some(ctx)).await, handler).await
    }

    /// [`guard_with`](Self::guard_with) without the `Context`: a due revocation list refresh
    /// runs inline, as with [`admit`](Self::admit).
    pub async fn guard<F, Fut>(&self, req: Request, handler: F) -> worker::Result<Response>
    where
        F: FnOnce(Request, Option<Identity>) -> Fut,
        Fut: Future<Output = worker::Result<Response>>,
    {
        Self::run(self.admission(req, None).await, handler).await
    }

    async fn run<F, Fut>(admission: Admission, handler: F) -> worker::Result<Response>
    where
        F: FnOnce(Request, Option<Identity>) -> Fut,
        Fut: Future<Output = worker::Result<Response>>,
    {
        match admission {
            Admission::Answered(resp) => Ok(resp),
            Admission::Admitted(admitted) => {
                let (req, identity, release) = admitted.into_parts();
                Ok(release.response(handler(req, identity).await?))
            }
        }
    }

    async fn admission(&self, req: Request, ctx: Option<&Context>) -> Admission {
        let admission = match self.try_admit(req).await {
            Ok(a) => a,
            Err(f) => return Admission::Answered(self.internal_error(&f)),
        };
        if let Some(refresh) = revocation::refresh_due(&self.shared) {
            // The refresh never rejects (it logs its failures).
            let refresh = JsFuture::from(refresh);
            match ctx {
                Some(ctx) => ctx.wait_until(async move {
                    let _ = refresh.await;
                }),
                None => {
                    let _ = refresh.await;
                }
            }
        }
        admission
    }

    async fn try_admit(&self, req: Request) -> Result<Admission, Failure> {
        let started = js_sys::Date::now();
        let raw = req.inner();
        let method = raw.method();
        let url = raw.url();
        let read = Read::from(&raw.headers())?;
        let inbound = read.inbound(&method, &url);
        let mut keys_fetched = false;
        let mut revocations_fetched = false;
        let mut answers = String::new();
        let mut round = 0;
        loop {
            let now = js_sys::Date::now();
            // The isolate is borrowed only within this block (no await): other requests of the
            // isolate step while this one waits for WebCrypto or the IdP.
            let next = {
                let isolate = self.shared.isolate.borrow();
                let last = round >= MAX_ROUNDS;
                let fetched = (keys_fetched, revocations_fetched);
                match isolate.step(&inbound, started, now, fetched, &answers, last) {
                    Stepped::Misconfigured { line } => {
                        log(&line);
                        Next::Done(Admission::Answered(answer(&Reply::misconfigured(), None)?))
                    }
                    Stepped::Decided {
                        gate,
                        outcome,
                        request,
                    } => {
                        let (wire, line) = wire::decided(gate, &outcome, &request, &nonce);
                        if let Some(line) = line {
                            log(&line);
                        }
                        Next::Done(self.act(raw, &url, wire)?)
                    }
                    Stepped::Keys { unknown_kid } => Next::Keys { unknown_kid },
                    Stepped::Revocations => Next::Revocations,
                    Stepped::Signature(q, keys) => Next::Ask(webcrypto::Question::of(q, &keys)),
                }
            };
            match next {
                Next::Done(admission) => return Ok(admission),
                Next::Keys { unknown_kid } => {
                    keys_fetched = true;
                    remote::refresh_keys(&self.shared, unknown_kid).await;
                }
                Next::Revocations => {
                    revocations_fetched = true;
                    revocation::list_now(&self.shared).await;
                }
                Next::Ask(q) => answers = webcrypto::answer(&self.shared, &q, &answers).await,
            }
            round += 1;
        }
    }

    /// The admission for a decided step.
    fn act(&self, raw: &web_sys::Request, url: &str, wire: Wire<'_>) -> Result<Admission, Failure> {
        let (target, sub, claims, strip, timing) = match wire {
            Wire::Forward {
                url: target,
                sub,
                claims,
                strip,
                timing,
                ..
            } => (target, sub, claims, strip, timing),
            Wire::Respond {
                status,
                body,
                content_type,
                location,
                www,
                timing,
            } => {
                return Ok(Admission::Answered(respond(
                    status,
                    body,
                    content_type,
                    location,
                    www,
                    timing.as_deref(),
                )?))
            }
            Wire::Keys { .. } | Wire::Revocations | Wire::Signature { .. } => {
                return Err(Failure::Invariant)
            }
        };
        let target = pure::on_request_origin(target, url).ok_or(Failure::Invariant)?;
        let identity = match (sub, claims) {
            (Some(sub), Some(claims)) => {
                Some(Identity::from_verified(sub, claims).ok_or(Failure::Claims)?)
            }
            _ => None,
        };
        let request = forwarded(raw, &target, sub.zip(claims), &strip)?;
        Ok(Admission::Admitted(Admitted {
            request,
            identity,
            release: Release {
                gate: self.clone(),
                authenticated: sub.is_some(),
                timing,
            },
        }))
    }

    /// Fails closed with a typed answer; the next request builds a fresh gate. The message is
    /// not logged (it could quote the request URL).
    fn internal_error(&self, f: &Failure) -> Response {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref()
                .is_some_and(|g| Rc::ptr_eq(&g.shared, &self.shared))
            {
                *c = None;
            }
        });
        log(&pure::internal_error_line(&f.name()));
        let headers = worker::Headers::new();
        // Setting valid names and values cannot fail; the answer is a 500 either way.
        let _ = headers.set("content-type", "application/json");
        let _ = headers.set("cache-control", "no-store");
        Response::builder()
            .with_status(500)
            .with_headers(headers)
            .fixed(INTERNAL_ERROR_BODY.as_bytes().to_vec())
    }
}

/// The response for an answer decided at the edge.
fn answer(r: &Reply, timing: Option<&str>) -> Result<Response, Failure> {
    respond(
        r.status,
        r.body.as_deref(),
        r.content_type,
        r.location.as_deref(),
        r.www_authenticate.as_deref(),
        timing,
    )
}

fn respond(
    status: u16,
    body: Option<&str>,
    content_type: &str,
    location: Option<&str>,
    www: Option<&str>,
    timing: Option<&str>,
) -> Result<Response, Failure> {
    let headers = web_sys::Headers::new()?;
    headers.set("cache-control", "no-store")?;
    if let Some(l) = location {
        headers.set("location", l)?;
    }
    if let Some(w) = www {
        headers.set("www-authenticate", w)?;
    }
    if body.is_some() {
        headers.set("content-type", content_type)?;
    }
    if let Some(t) = timing {
        headers.set("server-timing", t)?;
    }
    let builder = Response::builder()
        .with_status(status)
        .with_headers(worker::Headers(headers));
    Ok(match body {
        Some(b) => builder.fixed(b.as_bytes().to_vec()),
        None => builder.empty(),
    })
}

/// The request the app receives for a forward step: one new Request, its headers copied once
/// from the client's and then edited in place — the `strip` headers removed, then the identity
/// set. The body is streamed, never buffered; redirects go back to the client.
fn forwarded(
    raw: &web_sys::Request,
    url: &str,
    identity: Option<(&str, &str)>,
    strip: &[&str],
) -> Result<Request, Failure> {
    let init = web_sys::RequestInit::new();
    init.set_method(&raw.method());
    init.set_headers(&raw.headers().into());
    if let Some(body) = raw.body() {
        init.set_body(&body);
    }
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if identity.is_some() {
        // Authenticated: never answered from, nor stored in, the edge cache.
        init.set_cache(web_sys::RequestCache::NoStore);
    }
    let outbound = web_sys::Request::new_with_str_and_init(url, &init)?;
    let headers = outbound.headers();
    for name in strip {
        headers.delete(name)?;
    }
    if let Some((sub, claims)) = identity {
        headers.set(SUB_HEADER, sub)?;
        headers.set(CLAIMS_HEADER, claims)?;
    }
    Ok(Request::from(outbound))
}

impl Admitted {
    /// The request as the origin would receive it (see the module documentation).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The request, mutably (e.g. to read its body).
    pub fn request_mut(&mut self) -> &mut Request {
        &mut self.request
    }

    /// The verified identity; `None` on a public path.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The request, the identity and what to do with the app's response, apart.
    pub fn into_parts(self) -> (Request, Option<Identity>, Release) {
        (self.request, self.identity, self.release)
    }

    /// [`Release::response`] (the request is dropped).
    pub fn release(self, resp: Response) -> Response {
        self.release.response(resp)
    }
}

impl Release {
    /// The response to the client for the app's `resp`: `Cache-Control: private` rules on an
    /// authenticated request, `Server-Timing` when configured; a `101` passes untouched. Never
    /// fails (a runtime failure answers `500 internal_error`).
    pub fn response(self, resp: Response) -> Response {
        if resp.status_code() == 101 {
            return resp;
        }
        match self.finish(resp) {
            Ok(r) => r,
            Err(f) => self.gate.internal_error(&f),
        }
    }

    fn finish(&self, resp: Response) -> Result<Response, Failure> {
        let cache_control = if self.authenticated {
            private_cache_control(resp.headers().0.get("cache-control")?.as_deref())
        } else {
            None
        };
        if cache_control.is_none() && self.timing.is_none() {
            return Ok(resp);
        }
        // A copy: the app's headers may be immutable (a fetched response's); status, body
        // stream and every Set-Cookie are kept.
        let headers = web_sys::Headers::new_with_headers(&resp.headers().0)?;
        if let Some(cc) = cache_control {
            headers.set("cache-control", &cc)?;
        }
        if let Some(t) = &self.timing {
            headers.append("server-timing", t)?;
        }
        Ok(resp.with_headers(worker::Headers(headers)))
    }
}

/// `handler` behind the isolate's gate for `env`: [`Gate::for_env`], then [`Gate::guard_with`]
/// (a due revocation list refresh runs in the background through `ctx`).
///
/// ```ignore
/// edgegate::workers::guard(req, &env, &ctx, |req, identity| async move {
///     Response::ok(format!("hello {}", identity.map_or("guest".into(), |i| i.sub)))
/// })
/// .await
/// ```
pub async fn guard<F, Fut>(
    req: Request,
    env: &Env,
    ctx: &Context,
    handler: F,
) -> worker::Result<Response>
where
    F: FnOnce(Request, Option<Identity>) -> Fut,
    Fut: Future<Output = worker::Result<Response>>,
{
    Gate::for_env(env).guard_with(req, ctx, handler).await
}

/// `REVOCATION_KV` as the configuration reads it: a KV namespace binding is shown as
/// [`KV_BINDING`](crate::config::KV_BINDING) (the core cannot see bindings); anything else is a
/// variable, refused at configuration — even one whose text is that marker.
fn kv_lookup(env: &JsValue) -> Option<String> {
    let v = js_sys::Reflect::get(env, &JsValue::from_str(revocation::KV_KEY)).ok()?;
    if revocation::is_kv_binding(&v) {
        return Some(crate::config::KV_BINDING.to_owned());
    }
    member_string(env, revocation::KV_KEY).map(|s| {
        if s == crate::config::KV_BINDING {
            format!("{s} (a variable)")
        } else {
            s
        }
    })
}

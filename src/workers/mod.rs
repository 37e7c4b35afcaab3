//! The gate for a [workers-rs](https://github.com/cloudflare/workers-rs) app (feature
//! `workers-rs`; the runtime types exist on `wasm32` only): the same decision as the standalone
//! gate, in front of your own `#[event(fetch)]` handler, in the same isolate.
//!
//! ```toml
//! [dependencies]
//! edgegate = { git = "…", default-features = false, features = ["workers-rs"] }
//! worker = "0.8"
//! ```
//!
//! Without the default features none of the JS entry's exports (`Engine`) are linked into your
//! module. The gate is configured from the Worker's `[vars]` and secrets exactly like the
//! standalone gate (`ALGORITHMS`, `JWT_SECRET`, `JWKS`, `JWKS_URL`, `POLICY`, …), except that
//! `ORIGIN_URL` is not read: your handler is the origin.
//!
//! # Use
//!
//! The short form, [`guard`]: the handler runs only for a request the gate would forward.
//!
//! ```ignore
//! use worker::*;
//!
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
//!     edgegate::workers::guard(req, &env, &ctx, |req, identity| async move {
//!         match identity {
//!             Some(id) => Response::ok(format!("hello {}", id.sub)),
//!             None => Response::ok("a public path"),
//!         }
//!     })
//!     .await
//! }
//! ```
//!
//! The two halves, when the handler needs more than a closure (a router, state of its own):
//!
//! ```ignore
//! use edgegate::workers::{Admission, Gate};
//!
//! #[event(fetch)]
//! async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
//!     let gate = Gate::for_env(&env); // built on the isolate's first request, then reused
//!     match gate.admit_with(req, &ctx).await {
//!         Admission::Answered(resp) => Ok(resp), // decided at the edge: 302, 401, 403, 500, …
//!         Admission::Admitted(admitted) => {
//!             let (req, identity, release) = admitted.into_parts();
//!             let resp = my_app(req, identity).await?;
//!             Ok(release.response(resp)) // Cache-Control: private, Server-Timing
//!         }
//!     }
//! }
//! ```
//!
//! # What each half does
//!
//! [`Gate::admit_with`] decides exactly as the standalone gate (README, "Behaviour"): path
//! canonicalisation, session endpoint, public paths, `POLICY`, token from the cookie (or bearer),
//! signature (HMAC in Rust; RSA, ECDSA and Ed25519 through the runtime's WebCrypto with keys
//! imported once per isolate), claims, CSRF guard, `require` conditions, and the remote JWK Set
//! (`JWKS_URL`: fetched with a 5 s timeout and a 256 KiB cap, shared through the Cache API,
//! kept when the IdP fails), and the published revocation list (`REVOCATION_URL` or a KV
//! namespace bound as `REVOCATION_KV`; README, "Revocation"): a cold isolate's requests wait for
//! one fetch (the location's Cache API copy first, then the source: 5 s timeout, 256 KiB cap,
//! `cache: no-store`), a public-key document is verified through WebCrypto, and each later
//! refresh that is due after a decision runs in the background through the `Context`
//! (`ctx.wait_until`). [`Gate::admit`] and [`Gate::guard`] take no `Context`: a refresh due after
//! the decision then runs before they return. A decision at the edge is [`Admission::Answered`]: the same status,
//! body and headers (`Cache-Control: no-store`, `WWW-Authenticate`, `Location`) as the
//! standalone gate. A request it would forward is [`Admission::Admitted`]; the app's
//! [`Request`](worker::Request) is the one the origin would receive: the canonical path, every
//! stripped header (README, "Stripped headers": every inbound `x-auth-*` in any spelling,
//! `Connection` and what it lists, routing and method overrides) removed, and on authenticated paths `x-auth-sub` and `x-auth-claims` set by the gate. Its
//! [`Identity`] (`sub` and the claims) is `None` on public paths. `x-auth-assertion` is not
//! added (there is no hop to an origin).
//!
//! [`Release::response`] (or [`Admitted::release`]) applies what the gate adds to the app's
//! response: on authenticated requests `Cache-Control: private` in front of the app's other
//! directives unless it already said an unqualified `private` or `no-store`
//! ([`private_cache_control`](crate::low_level::headers::private_cache_control)), and
//! `Server-Timing: edgegate;dur=…` with `SERVER_TIMING=true`. Status, body stream and every
//! `Set-Cookie` are kept; a `101` (WebSocket) passes untouched.
//!
//! **Log lines** are the standalone gate's, through `console.log`: the decision line per
//! request (`LOG_REQUESTS`), start-up warnings once per isolate, and while the configuration is
//! invalid every request is answered `500 {"error":"misconfigured"}` with the line naming the
//! key (`{"edgegate":"config","level":"error","reason":"misconfigured","key":"ALGORITHMS",…}`).
//! A runtime failure of the gate itself (not reachable from a request) answers
//! `500 {"error":"internal_error"}` and logs
//! `{"edgegate":"error","level":"error","reason":"internal_error","problem":"<error name>"}`;
//! the next request builds a fresh gate. Your handler's own errors are returned as they are.
//!
//! # Notes
//!
//! - The app's request is a new `Request` (as in the JS wrapper form): `cf` is not carried
//!   over, and its headers are immutable through `worker::Request::headers_mut` (use
//!   [`clone_mut`](worker::Request::clone_mut) to edit them).
//! - `worker::Request::method()` reads methods it does not know (`PROPFIND`, …) as `GET`; the
//!   gate decides on the real method, which `req.inner().method()` gives.
//! - An authenticated request is built with `cache: "no-store"`: `compatibility_date`
//!   2024-11-11 or later (older runtimes refuse it, and every authenticated request gets
//!   `internal_error`).

// Natively only its tests use it: the runtime half is wasm32-only.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod pure;

pub use pure::Identity;

#[cfg(target_arch = "wasm32")]
mod remote;
#[cfg(target_arch = "wasm32")]
mod revocation;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod webcrypto;

#[cfg(target_arch = "wasm32")]
pub use runtime::{guard, Admission, Admitted, Gate, Release};

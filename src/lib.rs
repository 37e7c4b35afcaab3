//! # edgegate
//!
//! An auth gate for edge runtimes: it reads the short-lived access JWT from a cookie, verifies it
//! locally (pinned algorithms, signature, `exp`/`nbf` with leeway, `iss`/`aud`) with no
//! session-store round trip, and forwards the request to the origin with the verified identity
//! in `x-auth-*` headers — or answers itself: a redirect to the origin's refresh (or login)
//! endpoint for page navigations, a typed `401` for API calls.
//!
//! ## The request path (Cloudflare Workers)
//!
//! `src/edge/mod.rs`'s `fetch` is the whole request path: load the isolate's gate (config
//! parsed once), decide, then forward or answer. Everything it calls before "forward or answer"
//! is pure Rust with no `worker` types:
//!
//! | module | stage |
//! |---|---|
//! | [`config`] | `[vars]` + secrets → validated [`config::Config`] (once per isolate) |
//! | [`path`] | canonical path (rules and origin see the same one), safe `return_to` |
//! | [`cookie`] | the access cookie (duplicates are ambiguous) or bearer token |
//! | [`token`] | 1. strict parse: size, segments, base64url, JSON, header rules |
//! | [`keys`] | 2. key selection by family and `kid` |
//! | [`verify`] | 3. signature and 4. [`claims`]; natively `jsonwebtoken` (`rust_crypto`) |
//! | `edge::webcrypto` | 3. in the worker: RSA/ECDSA/Ed25519 via `crypto.subtle`, keys imported once per isolate; HMAC in Rust |
//! | [`gate`] | the decision: forward / refresh / login / reject |
//! | [`headers`] | which inbound headers reach the origin; `Cache-Control` of authenticated responses |
//! | [`log`] | one JSON log line per request, never a token or secret |
//! | [`weburl`] | the strict URL subset of `ORIGIN_URL`, `JWKS_URL`, `ALLOWED_ORIGINS` |
//! | [`jwks`] | JWK Sets and `JWT_SECRETS` → keys; remote-set refresh rules |
//! | `edge` (`runtime`, `proxy`, `remote`, `webcrypto`, `jsapi`) | the workerd wing (wasm32 only): the handler, request facts, forwarding, remote keys; `jsapi` exports the verifier to JS |

#![warn(missing_docs)]

pub mod alg;
pub mod claims;
pub mod json;
pub mod path;
pub mod token;

#[cfg(feature = "browser")]
pub mod browser;

#[cfg(feature = "gate")]
pub mod assertion;
#[cfg(feature = "gate")]
pub mod config;
#[cfg(feature = "gate")]
pub mod cookie;
#[cfg(feature = "gate")]
pub mod csrf;
#[cfg(feature = "gate")]
pub mod gate;
#[cfg(feature = "gate")]
pub mod headers;
#[cfg(feature = "gate")]
pub mod jwks;
#[cfg(feature = "gate")]
pub mod keys;
#[cfg(feature = "gate")]
pub mod log;
#[cfg(feature = "gate")]
pub mod policy;
#[cfg(feature = "gate")]
pub mod verify;
#[cfg(feature = "gate")]
pub mod weburl;

/// The edge wing: the wasm exports the JS entry calls (wasm32) and the format of what crosses.
#[cfg(feature = "gate")]
pub mod edge;

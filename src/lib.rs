//! # edgegate
//!
//! An auth gate for edge runtimes: it reads the short-lived access JWT from a cookie, verifies it
//! locally (pinned algorithms, signature, `exp`/`nbf` with leeway, `iss`/`aud`) with no
//! session-store round trip, and forwards the request to the origin with the verified identity
//! in `x-auth-*` headers — or answers itself: a redirect to the origin's refresh (or login)
//! endpoint for page navigations, a typed `401` for API calls.
//!
//! ## The request path
//!
//! The Worker's entry is hand-written JS (`js/gate.mjs`): it reads the request's headers, calls
//! the wasm core once ([`Gate::step`] through `edge`), and forwards or answers. The core is pure
//! Rust, with no I/O, no clock and no runtime types:
//!
//! ```text
//! Gate::step(request facts, Facts { now, remote keys }, signature check)
//!   route: canonical path, session endpoint, public paths, POLICY rule, token (cookie | bearer), CSRF verdict
//!   1 parse ─ 2 select key ─ 3 signature (injected) ─ 4 claims (needs the Signed proof) ─ rule conditions
//!   → Step::Decided(Outcome) | Step::NeedKeys | Step::NeedSignature
//! ```
//!
//! A step that needs I/O names it; the caller does it and steps again. Natively and in tests the
//! signature check is [`RustCrypto`] (`jsonwebtoken`'s `rust_crypto`); at the edge, HMAC runs in
//! Rust and RSA/ECDSA/Ed25519 go to WebCrypto ([`verify::Answered`]).
//!
//! ## The API
//!
//! - [`Config`]: `[vars]` + secrets → a validated configuration (errors name the key).
//! - [`Gate`]: the decision ([`Gate::step`], [`Gate::decide`]); [`Outcome`] with typed
//!   [`Decision`] and [`Reason`] (stable codes only where they leave the process).
//! - [`Verifier`]: verification alone (parse → key → signature → claims).
//! - `browser` (feature `browser`): decode-only, for JS frontends; never verifies.
//! - [`low_level`]: the building blocks (token parser, keys, claims, policy, paths, logs…).
//! - `edge`: the wasm exports the JS entry calls (feature `js-entry`, default), and the format
//!   of what crosses.
//! - `workers` (feature `workers-rs`): the same gate in front of a workers-rs app's own handler.

#![warn(missing_docs)]

pub mod low_level;

#[cfg(feature = "browser")]
pub mod browser;

#[cfg(feature = "gate")]
pub mod config;
#[cfg(feature = "gate")]
pub mod edge;
#[cfg(feature = "gate")]
pub mod gate;
#[cfg(feature = "gate")]
pub mod verify;
#[cfg(feature = "workers-rs")]
pub mod workers;

pub use low_level::alg::{Alg, AlgSet};

#[cfg(feature = "gate")]
pub use config::{Config, ConfigError};
#[cfg(feature = "gate")]
pub use gate::{
    Action, Decision, Facts, Gate, Identity, Outcome, Reason, Reply, RequestParts,
    SignatureQuestion, Step,
};
#[cfg(feature = "gate")]
pub use low_level::claims::ClaimRules;
#[cfg(feature = "gate")]
pub use low_level::keys::{Key, KeySet};
#[cfg(feature = "gate")]
pub use verify::{RustCrypto, SignatureCheck, Verdict, Verified, Verifier, VerifyError};

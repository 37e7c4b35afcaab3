//! The edge wing: the wasm exports the JS entry (`js/`) calls. Everything here is synchronous:
//! the JS entry does all I/O (the origin, WebCrypto, the remote JWK Set, the Cache API, logging)
//! and calls `Engine::decide` once per request — again only when a step asks for keys or
//! a public-key signature.
//!
//! [`wire`] (pure, tested natively) is the format of what crosses; [`isolate`] (pure) is the
//! state and the step both wasm forms share (this one and `crate::workers`).

pub mod isolate;
pub mod wire;

#[cfg(all(
    target_arch = "wasm32",
    any(feature = "js-entry", feature = "workers-rs")
))]
pub(crate) mod js;

#[cfg(all(target_arch = "wasm32", feature = "js-entry"))]
mod exports;

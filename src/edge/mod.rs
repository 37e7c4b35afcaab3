//! The edge wing: the wasm exports the JS entry (`js/`) calls. Everything here is synchronous:
//! the JS entry does all I/O (the origin, WebCrypto, the remote JWK Set, the Cache API, logging)
//! and calls [`Engine::decide`] once per request — again only when a step asks for keys or
//! a public-key signature.
//!
//! [`wire`] (pure, tested natively) is the format of what crosses.

pub mod wire;

#[cfg(target_arch = "wasm32")]
mod exports;

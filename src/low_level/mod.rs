//! The building blocks of the decision, each usable (and tested) on its own: parsers, rules and
//! formats. Most users need only the crate root ([`crate::Gate`], [`crate::Config`],
//! [`crate::Verifier`]); these are for tests, tools and embedders who assemble their own path.

pub mod alg;
pub mod claims;
pub mod json;
pub mod path;
pub mod token;

#[cfg(feature = "gate")]
pub mod assertion;
#[cfg(feature = "gate")]
pub mod cookie;
#[cfg(feature = "gate")]
pub mod csrf;
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
pub mod revocation;
#[cfg(feature = "gate")]
pub mod weburl;

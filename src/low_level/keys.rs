//! Stage 2 of verification: the configured keys and how a token selects one.
//!
//! Every key is bound to one [`Family`] when it is configured. A token's `alg` only narrows the
//! search to keys of that algorithm's family, so the bytes of an RSA/EC public key can never be
//! used as an HMAC secret, and an HMAC secret never as a public key. Header-supplied keys
//! (`jwk`, `jku`, `x5u`, `x5c`) are never read: the parser does not even keep them.
//!
//! **The `kid` rule.** A token with a `kid` is tried only against the key of the token's family
//! with exactly that `kid` (a plain map lookup; the value is never a path or URL). A token
//! without `kid` is tried against the family's keys that have no `kid`, or, when the family
//! has exactly one key, against that key.

use crate::low_level::alg::{Alg, Family};
use jsonwebtoken::DecodingKey;
use std::fmt;

/// HMAC secrets shorter than this are refused at start-up (they can be brute-forced offline).
pub const MIN_HMAC_SECRET_BYTES: usize = 16;

/// HMAC secrets shorter than this get a start-up warning (RFC 7518 §3.2 wants ≥ hash size).
pub const RECOMMENDED_HMAC_SECRET_BYTES: usize = 32;

/// Why no key could be chosen. Each variant has a stable [`code`](KeyError::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The token names a `kid` that no key of its family has.
    UnknownKid,
    /// No key of the token's family applies (or, without `kid`, the choice is not unique).
    NoKey,
}

impl KeyError {
    /// A stable, machine-readable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            KeyError::UnknownKid => "unknown_kid",
            KeyError::NoKey => "no_key",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for KeyError {}

/// One verification key, parsed once per isolate.
#[derive(Clone)]
pub struct Key {
    /// The key id, if the key has one.
    pub kid: Option<String>,
    /// The family the key belongs to; fixed at configuration time.
    pub family: Family,
    /// When set, the only algorithm this key verifies (a JWK's `alg` member).
    pub alg: Option<Alg>,
    /// The key material, ready for `jsonwebtoken`.
    pub decoding: DecodingKey,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HMAC key from a shared secret.
    pub fn hmac(kid: Option<String>, secret: &[u8]) -> Key {
        Key {
            kid,
            family: Family::Hmac,
            alg: None,
            decoding: DecodingKey::from_secret(secret),
        }
    }

    fn serves(&self, alg: Alg) -> bool {
        self.family == alg.family() && self.alg.is_none_or(|a| a == alg)
    }
}

/// The keys of one gate. Immutable once built.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// A key set holding `keys`.
    pub fn new(keys: Vec<Key>) -> KeySet {
        KeySet { keys }
    }

    /// The place of `key` (this very key, not an equal one) in the set.
    pub fn position(&self, key: &Key) -> Option<usize> {
        self.keys.iter().position(|k| std::ptr::eq(k, key))
    }

    /// The key at `index`.
    pub fn get(&self, index: usize) -> Option<&Key> {
        self.keys.get(index)
    }

    /// Whether some key belongs to `family`.
    pub fn has_family(&self, family: Family) -> bool {
        self.keys.iter().any(|k| k.family == family)
    }

    /// The keys to try for a token with `alg` and `kid`, following the `kid` rule (module docs).
    ///
    /// ```
    /// use edgegate::low_level::alg::Alg;
    /// use edgegate::low_level::keys::{Key, KeyError, KeySet};
    /// let set = KeySet::new(vec![Key::hmac(Some("a".into()), b"0123456789abcdef0123456789abcdef")]);
    /// assert_eq!(set.select(Alg::HS256, Some("a")).unwrap().len(), 1);
    /// assert_eq!(set.select(Alg::HS256, Some("b")).unwrap_err(), KeyError::UnknownKid);
    /// assert_eq!(set.select(Alg::RS256, Some("a")).unwrap_err(), KeyError::UnknownKid);
    /// assert_eq!(set.select(Alg::HS256, None).unwrap().len(), 1); // the family's only key
    /// ```
    pub fn select(&self, alg: Alg, kid: Option<&str>) -> Result<Vec<&Key>, KeyError> {
        let family = self.keys.iter().filter(|k| k.serves(alg));
        match kid {
            Some(kid) => family
                .clone()
                .find(|k| k.kid.as_deref() == Some(kid))
                .map(|k| vec![k])
                .ok_or(KeyError::UnknownKid),
            None => {
                let unnamed: Vec<&Key> = family.clone().filter(|k| k.kid.is_none()).collect();
                if !unnamed.is_empty() {
                    return Ok(unnamed);
                }
                let all: Vec<&Key> = family.collect();
                if all.len() == 1 {
                    Ok(all)
                } else {
                    Err(KeyError::NoKey)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn kid_rule() {
        let set = KeySet::new(vec![
            Key::hmac(Some("k1".into()), S),
            Key::hmac(Some("k2".into()), S),
        ]);
        assert_eq!(
            set.select(Alg::HS256, Some("k2")).unwrap()[0]
                .kid
                .as_deref(),
            Some("k2")
        );
        // Two named keys and no kid: ambiguous, refused.
        assert_eq!(set.select(Alg::HS256, None).unwrap_err(), KeyError::NoKey);
        let mixed = KeySet::new(vec![Key::hmac(None, S), Key::hmac(Some("k1".into()), S)]);
        let picked = mixed.select(Alg::HS512, None).unwrap();
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].kid, None);
        // Path-ish kids are just strings that match nothing.
        assert_eq!(
            mixed.select(Alg::HS256, Some("../k1")).unwrap_err(),
            KeyError::UnknownKid
        );
    }

    #[test]
    fn family_binding_prevents_confusion() {
        let set = KeySet::new(vec![Key::hmac(None, S)]);
        for alg in [Alg::RS256, Alg::PS256, Alg::ES256, Alg::ES384, Alg::EdDSA] {
            assert_eq!(set.select(alg, None).unwrap_err(), KeyError::NoKey, "{alg}");
        }
        assert!(set.has_family(Family::Hmac) && !set.has_family(Family::Rsa));
    }

    #[test]
    fn a_pinned_key_alg_is_honoured() {
        let mut k = Key::hmac(None, S);
        k.alg = Some(Alg::HS384);
        let set = KeySet::new(vec![k]);
        assert!(set.select(Alg::HS384, None).is_ok());
        assert_eq!(set.select(Alg::HS256, None).unwrap_err(), KeyError::NoKey);
    }

    #[test]
    fn debug_never_prints_material() {
        let k = Key::hmac(Some("k1".into()), b"super-secret-value-1234567890");
        let shown = format!("{k:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        // What identifies the key is still there (an empty Debug would hide nothing useful).
        assert!(shown.contains("k1") && shown.contains("Hmac"), "{shown}");
    }

    #[test]
    fn codes_are_stable() {
        for (e, code) in [
            (KeyError::UnknownKid, "unknown_kid"),
            (KeyError::NoKey, "no_key"),
        ] {
            assert_eq!((e.code(), e.to_string().as_str()), (code, code), "{e:?}");
        }
    }
}

//! JWS algorithm names, their key families, and the pinned allow-list.
//!
//! The allow-list comes from configuration (`ALGORITHMS`), never from a token. A token's `alg` is
//! only ever *checked against* it; the key family used to verify is a property of the configured
//! key, so an RSA public key can never be fed to HMAC (algorithm confusion is impossible by
//! construction: see [`crate::low_level::keys`]).

use std::fmt;

/// A JWS signature algorithm edgegate knows (RFC 7518 §3.1, RFC 8037). `none` is deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// The kind of key an algorithm needs. A configured key belongs to exactly one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// A shared secret (HS*).
    Hmac,
    /// An RSA public key (RS* and PS*).
    Rsa,
    /// A P-256 public key (ES256).
    P256,
    /// A P-384 public key (ES384).
    P384,
    /// An Ed25519 public key (EdDSA).
    Ed25519,
}

impl Alg {
    /// Every algorithm, in a stable order.
    pub const ALL: [Alg; 12] = [
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];

    /// Parses a JWS `alg` name. Exact and case-sensitive (RFC 7515 §4.1.1): `hs256` is not `HS256`.
    ///
    /// ```
    /// use edgegate::low_level::alg::Alg;
    /// assert_eq!(Alg::from_name("HS256"), Some(Alg::HS256));
    /// assert_eq!(Alg::from_name("hs256"), None);
    /// assert_eq!(Alg::from_name("none"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// The registered name, e.g. `"ES256"`.
    pub const fn name(self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The key family this algorithm verifies with.
    pub const fn family(self) -> Family {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => Family::Hmac,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                Family::Rsa
            }
            Alg::ES256 => Family::P256,
            Alg::ES384 => Family::P384,
            Alg::EdDSA => Family::Ed25519,
        }
    }

    /// The `jsonwebtoken` algorithm this maps to.
    #[cfg(feature = "gate")]
    pub const fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as J;
        match self {
            Alg::HS256 => J::HS256,
            Alg::HS384 => J::HS384,
            Alg::HS512 => J::HS512,
            Alg::RS256 => J::RS256,
            Alg::RS384 => J::RS384,
            Alg::RS512 => J::RS512,
            Alg::PS256 => J::PS256,
            Alg::PS384 => J::PS384,
            Alg::PS512 => J::PS512,
            Alg::ES256 => J::ES256,
            Alg::ES384 => J::ES384,
            Alg::EdDSA => J::EdDSA,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The pinned, server-side list of accepted algorithms (a small bit set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlgSet(u16);

impl AlgSet {
    /// The empty set.
    pub const EMPTY: AlgSet = AlgSet(0);

    const fn bit(alg: Alg) -> u16 {
        // Variants have the implicit discriminants 0..=11, which fit in 16 bits.
        1 << (alg as u16)
    }

    /// Adds an algorithm.
    pub fn insert(&mut self, alg: Alg) {
        self.0 |= Self::bit(alg);
    }

    /// Whether `alg` is allowed.
    pub fn contains(self, alg: Alg) -> bool {
        self.0 & Self::bit(alg) != 0
    }

    /// Whether no algorithm is allowed.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The allowed algorithms, in [`Alg::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Alg> {
        Alg::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// Whether any allowed algorithm needs a key of `family`.
    pub fn needs(self, family: Family) -> bool {
        self.iter().any(|a| a.family() == family)
    }
}

impl FromIterator<Alg> for AlgSet {
    fn from_iter<I: IntoIterator<Item = Alg>>(iter: I) -> Self {
        let mut s = AlgSet::EMPTY;
        for a in iter {
            s.insert(a);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for a in Alg::ALL {
            assert_eq!(Alg::from_name(a.name()), Some(a));
            assert_eq!(Alg::from_name(&a.name().to_lowercase()), None, "{a}");
        }
        for bad in ["none", "None", "NONE", "", "HS256 ", "RSA-OAEP", "ES512"] {
            assert_eq!(Alg::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn set_membership() {
        let s: AlgSet = [Alg::HS256, Alg::EdDSA].into_iter().collect();
        assert!(s.contains(Alg::HS256) && s.contains(Alg::EdDSA));
        assert!(!s.contains(Alg::HS384) && !s.contains(Alg::RS256));
        assert!(s.needs(Family::Hmac) && s.needs(Family::Ed25519) && !s.needs(Family::Rsa));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![Alg::HS256, Alg::EdDSA]);
        assert!(AlgSet::EMPTY.is_empty());
    }
}

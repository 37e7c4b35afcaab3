//! Demo users with argon2id password hashes.
//!
//! Plaintext passwords from `--user` are hashed once at start-up (argon2id, the crate's default
//! parameters: 19 MiB, 2 passes, 1 lane — the OWASP recommendation) and then dropped. A login for
//! an unknown user still runs one verification against a dummy hash, so response time does not
//! reveal which user names exist.

use std::collections::HashMap;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::Argon2;

use super::config::UserSpec;

/// Longest password accepted at login (bytes); longer input is refused without hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes `password` with argon2id and a random salt; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// The user table: name → PHC string.
pub struct Users {
    hashes: HashMap<String, String>,
    dummy: String,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.hashes.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

impl Users {
    /// Builds the table, hashing plaintext passwords and checking PHC strings parse.
    pub fn new(specs: &[UserSpec]) -> Result<Self, String> {
        let mut hashes = HashMap::new();
        for spec in specs {
            let phc = match spec {
                UserSpec::Plain { password, .. } => hash_password(password)?,
                UserSpec::Hashed { name, phc } => {
                    let parsed = PasswordHash::new(phc)
                        .map_err(|e| format!("user {name}: not a valid PHC string: {e}"))?;
                    if !parsed.algorithm.as_str().starts_with("argon2")
                        || parsed.salt.is_none()
                        || parsed.hash.is_none()
                    {
                        return Err(format!("user {name}: not an argon2 password hash"));
                    }
                    phc.clone()
                }
            };
            hashes.insert(spec.name().to_owned(), phc);
        }
        Ok(Self {
            hashes,
            dummy: hash_password("edgegate-origin dummy password")?,
        })
    }

    /// The configured user names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.hashes.keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether `name` is a configured user (exact match, as in [`Users::verify`]).
    pub fn contains(&self, name: &str) -> bool {
        self.hashes.contains_key(name)
    }

    /// Whether `password` is `name`'s: the one set at the origin (`changed`, its PHC string from
    /// the store) if there is one, else the configured one. CPU-heavy (tens of ms optimised):
    /// call it off the async executor.
    pub fn verify(&self, name: &str, password: &str, changed: Option<&str>) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let (phc, known) = match (self.hashes.get(name), changed) {
            (Some(_), Some(changed)) => (changed, true),
            (Some(phc), None) => (phc.as_str(), true),
            (None, _) => (self.dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        ok && known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_hashed_users_verify() {
        let phc = hash_password("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        let users = Users::new(&[
            UserSpec::Plain {
                name: "alice".into(),
                password: "wonderland".into(),
            },
            UserSpec::Hashed {
                name: "bob".into(),
                phc,
            },
        ])
        .unwrap();
        assert_eq!(users.names(), ["alice", "bob"]);
        assert!(users.contains("alice") && !users.contains("Alice") && !users.contains("carol"));
        assert!(users.verify("alice", "wonderland", None));
        assert!(!users.verify("alice", "Wonderland", None));
        assert!(users.verify("bob", "s3cret", None));
        assert!(!users.verify("bob", "wonderland", None));
        assert!(!users.verify("carol", "edgegate-origin dummy password", None));
        assert!(!users.verify("alice", &"x".repeat(MAX_PASSWORD_BYTES + 1), None));
        assert!(!format!("{users:?}").contains("argon2"));
        // A password changed at the origin replaces the configured one, for configured users only.
        let changed = hash_password("new password").unwrap();
        assert!(users.verify("alice", "new password", Some(&changed)));
        assert!(!users.verify("alice", "wonderland", Some(&changed)));
        assert!(!users.verify("carol", "new password", Some(&changed)));
    }

    #[test]
    fn bad_phc_is_a_config_error() {
        assert!(Users::new(&[UserSpec::Hashed {
            name: "x".into(),
            phc: "$argon2id$garbage".into()
        }])
        .is_err());
    }
}

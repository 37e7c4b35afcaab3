//! Access-token signing: the shared HMAC secret, and asymmetric keys (ES256 and Ed25519)
//! generated at first start next to the database and published as a JWKS.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::config::SigningAlg;

/// File name of the generated P-256 key (PKCS#8 PEM, mode 0600).
pub const ES256_FILE: &str = "es256.pem";
/// File name of the generated Ed25519 key (PKCS#8 PEM, mode 0600).
pub const ED25519_FILE: &str = "ed25519.pem";

/// A key-handling error.
#[derive(Debug)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

struct AsymmetricKey {
    /// PKCS#8 DER of the private key (what `jsonwebtoken` signs with).
    der: Vec<u8>,
    /// The public JWK (with `kid`, `alg`, `use`).
    jwk: Value,
    kid: String,
}

/// The signing keys of one origin.
pub struct Keys {
    alg: SigningAlg,
    secret: Option<Vec<u8>>,
    es256: AsymmetricKey,
    ed25519: AsymmetricKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("alg", &self.alg)
            .field("es256_kid", &self.es256.kid)
            .field("ed25519_kid", &self.ed25519.kid)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 thumbprint (SHA-256, base64url) of the required members, given in lexical order.
fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError(format!("{what} {}: {e}", path.display()))
}

/// Reads `path`, or creates it with `generate()` (exclusively, mode 0600) when absent.
fn load_or_create(
    path: &Path,
    generate: impl FnOnce() -> Result<String, KeyError>,
) -> Result<String, KeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("cannot read", path, e)),
    }
    let pem = generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(pem.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| io_err("cannot write", path, e))?;
            Ok(pem)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path).map_err(|e| io_err("cannot read", path, e))
        }
        Err(e) => Err(io_err("cannot create", path, e)),
    }
}

fn es256_key(path: &Path) -> Result<AsymmetricKey, KeyError> {
    let pem = load_or_create(path, || {
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, p256::pkcs8::LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| KeyError(format!("cannot encode the P-256 key: {e}")))
    })?;
    let key = <p256::SecretKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem)
        .map_err(|e| io_err("not a PKCS#8 P-256 key:", path, e))?;
    let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&key)
        .map_err(|e| KeyError(format!("cannot encode the P-256 key: {e}")))?
        .as_bytes()
        .to_vec();
    let point = key.public_key().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(KeyError("P-256 public key has no coordinates".into()));
    };
    let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
    let kid = thumbprint(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ));
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": "ES256"});
    Ok(AsymmetricKey { der, jwk, kid })
}

fn ed25519_key(path: &Path) -> Result<AsymmetricKey, KeyError> {
    let pem = load_or_create(path, || {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| KeyError(format!("cannot encode the Ed25519 key: {e}")))
    })?;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| io_err("not a PKCS#8 Ed25519 key:", path, e))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError(format!("cannot encode the Ed25519 key: {e}")))?
        .as_bytes()
        .to_vec();
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let kid = thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
    let jwk =
        json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"});
    Ok(AsymmetricKey { der, jwk, kid })
}

impl Keys {
    /// Loads the asymmetric keys from `dir`, generating any that are absent.
    pub fn load(dir: &Path, alg: SigningAlg, secret: Option<Vec<u8>>) -> Result<Self, KeyError> {
        if matches!(alg, SigningAlg::Hmac(_)) && secret.is_none() {
            return Err(KeyError("an HMAC algorithm needs the shared secret".into()));
        }
        Ok(Self {
            es256: es256_key(&dir.join(ES256_FILE))?,
            ed25519: ed25519_key(&dir.join(ED25519_FILE))?,
            alg,
            secret,
        })
    }

    /// Paths of the key files in `dir`.
    pub fn files(dir: &Path) -> [PathBuf; 2] {
        [dir.join(ES256_FILE), dir.join(ED25519_FILE)]
    }

    /// The algorithm access tokens are signed with.
    pub fn alg(&self) -> &SigningAlg {
        &self.alg
    }

    /// The `kid` access tokens carry (`None` for HMAC).
    pub fn kid(&self) -> Option<&str> {
        match self.alg {
            SigningAlg::Hmac(_) => None,
            SigningAlg::Es256 => Some(&self.es256.kid),
            SigningAlg::EdDsa => Some(&self.ed25519.kid),
        }
    }

    /// The public keys as a JWK Set (never the HMAC secret).
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.es256.jwk.clone(), self.ed25519.jwk.clone()] })
    }

    /// Signs `claims` as a compact JWS with header `{"alg":…,"typ":"JWT"[,"kid":…]}`.
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError(e.to_string()))?;
        self.sign_document("JWT", &payload)
    }

    /// Signs `payload` (JSON bytes) as a compact JWS with header `{"alg":…,"typ":<typ>[,"kid":…]}`,
    /// with the access tokens' key: the revocation document is signed as they are.
    pub fn sign_document(&self, typ: &str, payload: &[u8]) -> Result<String, KeyError> {
        let (key, alg) = match &self.alg {
            SigningAlg::Hmac(hs) => match &self.secret {
                Some(secret) => (EncodingKey::from_secret(secret), hs.to_jsonwebtoken()),
                None => return Err(KeyError("no HMAC secret".into())),
            },
            SigningAlg::Es256 => (EncodingKey::from_ec_der(&self.es256.der), Algorithm::ES256),
            SigningAlg::EdDsa => (
                EncodingKey::from_ed_der(&self.ed25519.der),
                Algorithm::EdDSA,
            ),
        };
        let header = match self.kid() {
            Some(kid) => json!({"alg": self.alg.name(), "typ": typ, "kid": kid}),
            None => json!({"alg": self.alg.name(), "typ": typ}),
        };
        let header = serde_json::to_vec(&header).map_err(|e| KeyError(e.to_string()))?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, alg)
            .map_err(|e| KeyError(format!("signing failed: {e}")))?;
        Ok(format!("{input}.{sig}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint::HsAlgorithm;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ego-keys-{tag}-{}",
            crate::reference::store::new_family_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn claims() -> Map<String, Value> {
        let now = crate::mint::now_unix();
        json!({"sub": "alice", "iat": now, "exp": now + 60})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn asymmetric_tokens_verify_against_the_served_jwks() {
        let dir = temp_dir("jwks");
        for (alg, jwt_alg) in [
            (SigningAlg::Es256, Algorithm::ES256),
            (SigningAlg::EdDsa, Algorithm::EdDSA),
        ] {
            let keys = Keys::load(&dir, alg, None).unwrap();
            let token = keys.sign(&claims()).unwrap();
            let header = decode_header(&token).unwrap();
            assert_eq!(header.alg, jwt_alg);
            let kid = header.kid.expect("kid");
            // Round-trip the JWKS through JSON text, as a client would receive it.
            let set: JwkSet = serde_json::from_str(&keys.jwks().to_string()).unwrap();
            let jwk = set.find(&kid).expect("kid in JWKS");
            let data = decode::<Map<String, Value>>(
                &token,
                &DecodingKey::from_jwk(jwk).unwrap(),
                &Validation::new(jwt_alg),
            )
            .unwrap();
            assert_eq!(data.claims["sub"], "alice");
            // The thumbprint is the kid.
            assert_eq!(
                jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                    .unwrap(),
                kid
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_are_generated_once_and_kept() {
        let dir = temp_dir("persist");
        let first = Keys::load(&dir, SigningAlg::Es256, None).unwrap();
        let again = Keys::load(&dir, SigningAlg::Es256, None).unwrap();
        assert_eq!(first.jwks(), again.jwks());
        #[cfg(unix)]
        for path in Keys::files(&dir) {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        let other = Keys::load(&temp_dir("other"), SigningAlg::Es256, None).unwrap();
        assert_ne!(first.kid(), other.kid());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hmac_tokens_and_no_secret_in_jwks() {
        let dir = temp_dir("hs");
        let secret = b"0123456789abcdef0123456789abcdef".to_vec();
        let keys = Keys::load(
            &dir,
            SigningAlg::Hmac(HsAlgorithm::Hs256),
            Some(secret.clone()),
        )
        .unwrap();
        let token = keys.sign(&claims()).unwrap();
        let first = token.split('.').next().unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(first).unwrap(),
            br#"{"alg":"HS256","typ":"JWT"}"#
        );
        decode::<Map<String, Value>>(
            &token,
            &DecodingKey::from_secret(&secret),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        let jwks = keys.jwks().to_string();
        assert!(!jwks.contains("oct"));
        assert!(!jwks.contains(&URL_SAFE_NO_PAD.encode(&secret)));
        assert!(Keys::load(&dir, SigningAlg::Hmac(HsAlgorithm::Hs256), None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

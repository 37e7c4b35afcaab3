//! Minting of HS256/HS384/HS512 access JWTs for tests and the demo.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value};

/// Default token lifetime in seconds.
pub const DEFAULT_TTL_SECS: i64 = 600;

/// The HMAC algorithms `mint` can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HsAlgorithm {
    /// HMAC-SHA256.
    #[default]
    Hs256,
    /// HMAC-SHA384.
    Hs384,
    /// HMAC-SHA512.
    Hs512,
}

impl HsAlgorithm {
    /// The JOSE name (`HS256`, `HS384`, `HS512`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    /// The matching `jsonwebtoken` algorithm.
    pub fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::Hs384 => Algorithm::HS384,
            Self::Hs512 => Algorithm::HS512,
        }
    }
}

impl FromStr for HsAlgorithm {
    type Err = MintError;

    /// Parses `HS256`, `HS384` or `HS512` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "HS256" => Ok(Self::Hs256),
            "HS384" => Ok(Self::Hs384),
            "HS512" => Ok(Self::Hs512),
            _ => Err(MintError(format!(
                "unsupported algorithm {s:?} (expected HS256, HS384 or HS512)"
            ))),
        }
    }
}

/// What to put in a minted token (everything except the secret).
#[derive(Debug, Clone, PartialEq)]
pub struct MintOptions {
    /// `sub` claim.
    pub sub: String,
    /// Signing algorithm.
    pub alg: HsAlgorithm,
    /// Lifetime in seconds: `exp = iat + ttl`. May be negative (already expired).
    pub ttl: i64,
    /// Optional `iss` claim.
    pub iss: Option<String>,
    /// Optional `aud` claim.
    pub aud: Option<String>,
    /// Extra claims merged into the payload last, so they override the
    /// standard ones (`sub`, `iat`, `exp`, `iss`, `aud`) on conflict.
    pub claims: Map<String, Value>,
}

impl MintOptions {
    /// Options for `sub` with the defaults (HS256, 600 s, no iss/aud/extra claims).
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            alg: HsAlgorithm::default(),
            ttl: DEFAULT_TTL_SECS,
            iss: None,
            aud: None,
            claims: Map::new(),
        }
    }
}

/// A minting failure; the message is meant for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintError(pub String);

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MintError {}

/// Current Unix time in whole seconds (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The claims object a token minted at `now` would carry.
pub fn build_claims(opts: &MintOptions, now: i64) -> Result<Map<String, Value>, MintError> {
    let exp = now
        .checked_add(opts.ttl)
        .ok_or_else(|| MintError(format!("ttl {} overflows the expiry time", opts.ttl)))?;
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::String(opts.sub.clone()));
    claims.insert("iat".into(), Value::from(now));
    claims.insert("exp".into(), Value::from(exp));
    if let Some(iss) = &opts.iss {
        claims.insert("iss".into(), Value::String(iss.clone()));
    }
    if let Some(aud) = &opts.aud {
        claims.insert("aud".into(), Value::String(aud.clone()));
    }
    for (key, value) in &opts.claims {
        claims.insert(key.clone(), value.clone());
    }
    Ok(claims)
}

/// Mints a compact JWS with header `{"alg":"HS…","typ":"JWT"}`, signed with
/// the raw bytes of `secret`, as if issued at Unix time `now`.
pub fn mint_at(secret: &[u8], opts: &MintOptions, now: i64) -> Result<String, MintError> {
    if secret.is_empty() {
        return Err(MintError("the secret must not be empty".into()));
    }
    let header = format!(r#"{{"alg":"{}","typ":"JWT"}}"#, opts.alg.name());
    let claims = build_claims(opts, now)?;
    let payload = serde_json::to_vec(&claims)
        .map_err(|e| MintError(format!("cannot serialize claims: {e}")))?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(secret),
        opts.alg.to_jsonwebtoken(),
    )
    .map_err(|e| MintError(format!("signing failed: {e}")))?;
    Ok(format!("{signing_input}.{signature}"))
}

/// Mints a token issued now; see [`mint_at`].
pub fn mint(secret: &[u8], opts: &MintOptions) -> Result<String, MintError> {
    mint_at(secret, opts, now_unix())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
    use serde_json::json;

    const SECRET: &[u8] = b"test-secret-0123456789";

    fn decode_with(token: &str, alg: Algorithm, validate_exp: bool) -> Map<String, Value> {
        let mut validation = Validation::new(alg);
        validation.validate_exp = validate_exp;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        match decode::<Map<String, Value>>(token, &DecodingKey::from_secret(SECRET), &validation) {
            Ok(data) => data.claims,
            Err(e) => panic!("decode failed: {e}"),
        }
    }

    #[test]
    fn header_is_alg_then_typ() {
        let token = mint(SECRET, &MintOptions::new("alice")).unwrap();
        let first = token.split('.').next().unwrap();
        let header = URL_SAFE_NO_PAD.decode(first).unwrap();
        assert_eq!(header, br#"{"alg":"HS256","typ":"JWT"}"#);
        let parsed = decode_header(&token).unwrap();
        assert_eq!(parsed.alg, Algorithm::HS256);
        assert_eq!(parsed.typ.as_deref(), Some("JWT"));
    }

    #[test]
    fn minted_claims_verify() {
        let now = now_unix();
        let mut opts = MintOptions::new("alice");
        opts.iss = Some("https://issuer.example".into());
        opts.aud = Some("edgegate".into());
        let token = mint_at(SECRET, &opts, now).unwrap();

        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&["https://issuer.example"]);
        validation.set_audience(&["edgegate"]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let data =
            decode::<Map<String, Value>>(&token, &DecodingKey::from_secret(SECRET), &validation)
                .unwrap();
        assert_eq!(data.claims["sub"], json!("alice"));
        assert_eq!(data.claims["iat"], json!(now));
        assert_eq!(data.claims["exp"], json!(now + DEFAULT_TTL_SECS));
        assert_eq!(data.claims["iss"], json!("https://issuer.example"));
        assert_eq!(data.claims["aud"], json!("edgegate"));
    }

    #[test]
    fn all_hs_algorithms_round_trip() {
        for alg in [HsAlgorithm::Hs256, HsAlgorithm::Hs384, HsAlgorithm::Hs512] {
            let mut opts = MintOptions::new("bob");
            opts.alg = alg;
            let token = mint(SECRET, &opts).unwrap();
            assert_eq!(decode_header(&token).unwrap().alg, alg.to_jsonwebtoken());
            let claims = decode_with(&token, alg.to_jsonwebtoken(), true);
            assert_eq!(claims["sub"], json!("bob"));
        }
    }

    #[test]
    fn negative_ttl_is_expired() {
        let now = now_unix();
        let mut opts = MintOptions::new("carol");
        opts.ttl = -3600;
        let token = mint_at(SECRET, &opts, now).unwrap();

        let claims = decode_with(&token, Algorithm::HS256, false);
        let exp = claims["exp"].as_i64().unwrap();
        assert_eq!(exp, now - 3600);
        assert!(exp < now_unix());

        let err = decode::<Map<String, Value>>(
            &token,
            &DecodingKey::from_secret(SECRET),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap_err();
        assert_eq!(
            *err.kind(),
            jsonwebtoken::errors::ErrorKind::ExpiredSignature
        );
    }

    #[test]
    fn extra_claims_merge_and_override() {
        let mut opts = MintOptions::new("dave");
        opts.claims = json!({"role": "admin", "sub": "override"})
            .as_object()
            .unwrap()
            .clone();
        let token = mint(SECRET, &opts).unwrap();
        let claims = decode_with(&token, Algorithm::HS256, true);
        assert_eq!(claims["role"], json!("admin"));
        assert_eq!(claims["sub"], json!("override"));
    }

    #[test]
    fn wrong_secret_fails() {
        let token = mint(SECRET, &MintOptions::new("eve")).unwrap();
        let result = decode::<Map<String, Value>>(
            &token,
            &DecodingKey::from_secret(b"other"),
            &Validation::new(Algorithm::HS256),
        );
        assert!(result.is_err());
    }

    #[test]
    fn empty_secret_and_overflow_are_errors() {
        assert!(mint(b"", &MintOptions::new("x")).is_err());
        let mut opts = MintOptions::new("x");
        opts.ttl = i64::MAX;
        assert!(mint_at(SECRET, &opts, 10).is_err());
    }

    #[test]
    fn algorithm_parsing() {
        assert_eq!("HS384".parse::<HsAlgorithm>(), Ok(HsAlgorithm::Hs384));
        assert_eq!("hs512".parse::<HsAlgorithm>(), Ok(HsAlgorithm::Hs512));
        assert!("RS256".parse::<HsAlgorithm>().is_err());
    }
}

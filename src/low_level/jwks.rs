//! Key sources beyond `JWT_SECRET`: a JWK Set (`JWKS`) and rotating HMAC secrets (`JWT_SECRETS`).
//!
//! Each JWK becomes a [`Key`] bound to the family its `kty`/`crv` say — never to what a token's
//! `alg` claims — so algorithm confusion stays impossible by construction:
//!
//! | JWK | family | algorithms |
//! |---|---|---|
//! | `kty: RSA` (`n`, `e`; modulus ≥ 2048 bits) | RSA | RS256/384/512, PS256/384/512 |
//! | `kty: EC`, `crv: P-256` (`x`, `y`) | P-256 | ES256 |
//! | `kty: EC`, `crv: P-384` (`x`, `y`) | P-384 | ES384 |
//! | `kty: OKP`, `crv: Ed25519` (`x`) | Ed25519 | EdDSA |
//! | `kty: oct` (`k`) — inline `JWKS` only | HMAC | HS256/384/512 |
//!
//! Keys are skipped (with a reason, logged at start-up) when `use` is not `sig`, `key_ops` lacks
//! `verify`, `alg` names an algorithm of another family or one edgegate does not know, or the key
//! material is malformed. A key carrying private parameters (`d`, `p`, …) is refused outright: a
//! JWK Set published with private keys is a leak to fix, not to use.

use crate::low_level::alg::{Alg, Family};
use crate::low_level::keys::{Key, KeySet, MIN_HMAC_SECRET_BYTES};
use crate::low_level::token::b64url_decode;
use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The smallest accepted RSA modulus, in bytes (2048 bits).
pub const MIN_RSA_MODULUS_BYTES: usize = 256;

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The keys read from a JWK Set, and the reasons some were skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Usable verification keys.
    pub keys: Vec<Key>,
    /// One line per skipped key (`kid` and why), for the start-up log.
    pub skipped: Vec<String>,
}

fn text<'a>(
    jwk: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| format!("member {name} is not a string")),
    }
}

fn required<'a>(
    jwk: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<&'a str, String> {
    text(jwk, name)?.ok_or_else(|| format!("member {name} is missing"))
}

/// Decodes a base64url member strictly (the same canonical rules as tokens).
fn bytes(jwk: &serde_json::Map<String, serde_json::Value>, name: &str) -> Result<Vec<u8>, String> {
    b64url_decode(required(jwk, name)?)
        .map_err(|_| format!("member {name} is not canonical base64url"))
}

const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

fn one_key(
    jwk: &serde_json::Map<String, serde_json::Value>,
    allow_oct: bool,
) -> Result<Option<Key>, String> {
    if let Some(u) = text(jwk, "use")? {
        if u != "sig" {
            return Ok(None);
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ok = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("verify")));
        if !ok {
            return Ok(None);
        }
    }
    let kid = text(jwk, "kid")?.map(str::to_owned);
    let kty = required(jwk, "kty")?;
    if kty != "oct" && PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err("it contains private key members: publish public keys only".into());
    }
    let (family, decoding) = match kty {
        "RSA" => {
            let n = bytes(jwk, "n")?;
            let e = bytes(jwk, "e")?;
            let n_len = n.iter().skip_while(|b| **b == 0).count();
            if n_len < MIN_RSA_MODULUS_BYTES {
                return Err(format!("RSA modulus of {} bits is below 2048", n_len * 8));
            }
            if e.is_empty() || e.len() > 8 {
                return Err("RSA exponent is malformed".into());
            }
            let key = DecodingKey::from_rsa_raw_components(&n, &e);
            (Family::Rsa, key)
        }
        "EC" => {
            let (family, size) = match required(jwk, "crv")? {
                "P-256" => (Family::P256, 32),
                "P-384" => (Family::P384, 48),
                other => return Err(format!("unsupported EC curve {other:?}")),
            };
            let x = bytes(jwk, "x")?;
            let y = bytes(jwk, "y")?;
            if x.len() != size || y.len() != size {
                return Err("EC coordinates have the wrong length".into());
            }
            let key = DecodingKey::from_ec_components(required(jwk, "x")?, required(jwk, "y")?)
                .map_err(|_| "EC key is malformed".to_owned())?;
            (family, key)
        }
        "OKP" => {
            if required(jwk, "crv")? != "Ed25519" {
                return Err("unsupported OKP curve (only Ed25519)".into());
            }
            if bytes(jwk, "x")?.len() != 32 {
                return Err("Ed25519 key has the wrong length".into());
            }
            let key = DecodingKey::from_ed_components(required(jwk, "x")?)
                .map_err(|_| "Ed25519 key is malformed".to_owned())?;
            (Family::Ed25519, key)
        }
        "oct" if allow_oct => {
            let k = bytes(jwk, "k")?;
            // RFC 7518 §3.2: a key at least as long as the hash output (32 bytes for HS256, and
            // 48/64 when the JWK pins HS384/HS512).
            let min = match text(jwk, "alg")? {
                Some("HS384") => 48,
                Some("HS512") => 64,
                _ => 32,
            };
            if k.len() < min {
                return Err(format!(
                    "oct key is shorter than {min} bytes (RFC 7518 §3.2)"
                ));
            }
            (Family::Hmac, DecodingKey::from_secret(&k))
        }
        "oct" => return Err("symmetric (oct) keys are only accepted inline".into()),
        other => return Err(format!("unsupported kty {other:?}")),
    };
    let alg = match text(jwk, "alg")? {
        None => None,
        Some(name) => {
            let alg = Alg::from_name(name).ok_or_else(|| format!("unknown alg {name:?}"))?;
            if alg.family() != family {
                return Err(format!("alg {name} does not fit a {kty} key"));
            }
            Some(alg)
        }
    };
    Ok(Some(Key {
        kid,
        family,
        alg,
        decoding,
    }))
}

/// Reads a JWK Set. `allow_oct` admits symmetric keys (inline configuration only).
///
/// A document that is not a JWK Set is an error; individual unusable keys are skipped and
/// reported in [`Loaded::skipped`].
///
/// ```
/// use edgegate::low_level::jwks::parse_jwks;
/// let set = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
///                       {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// let loaded = parse_jwks(set, false).unwrap();
/// assert_eq!(loaded.keys.len(), 1);
/// assert!(parse_jwks("[]", false).is_err());
/// ```
pub fn parse_jwks(json: &str, allow_oct: bool) -> Result<Loaded, String> {
    crate::low_level::json::check_unique_keys(json.as_bytes())
        .map_err(|e| format!("is not a JSON object with unique keys ({e:?})"))?;
    let raw: RawSet =
        serde_json::from_str(json).map_err(|_| "is not a JWK Set ({\"keys\":[…]})".to_owned())?;
    let mut loaded = Loaded::default();
    for (i, jwk) in raw.keys.iter().enumerate() {
        let name = jwk
            .get("kid")
            .and_then(|k| k.as_str())
            .map_or_else(|| format!("#{i}"), |k| format!("{k:?}"));
        match one_key(jwk, allow_oct) {
            Ok(Some(k)) => loaded.keys.push(k),
            Ok(None) => loaded.skipped.push(format!(
                "key {name} skipped: not for signatures (use/key_ops)"
            )),
            Err(why) => loaded.skipped.push(format!("key {name} skipped: {why}")),
        }
    }
    // Two entries of one key type under one kid: which one a token means is ambiguous, so no
    // key with that kid is used (a token naming it gets `unknown_kid`). Entries that were
    // skipped count too: the IdP published two keys for the name.
    let kty_kid = |jwk: &serde_json::Map<String, serde_json::Value>| {
        Some((
            jwk.get("kty")?.as_str()?.to_owned(),
            jwk.get("kid")?.as_str()?.to_owned(),
        ))
    };
    let entries: Vec<(String, String)> = raw.keys.iter().filter_map(kty_kid).collect();
    let mut duplicated: Vec<(String, String)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if entries[i + 1..].contains(e) && !duplicated.contains(e) {
            duplicated.push(e.clone());
        }
    }
    if !duplicated.is_empty() {
        let kty_of = |f: Family| match f {
            Family::Hmac => "oct",
            Family::Rsa => "RSA",
            Family::P256 | Family::P384 => "EC",
            Family::Ed25519 => "OKP",
        };
        loaded.keys.retain(|k| {
            !duplicated
                .iter()
                .any(|(kty, kid)| kty == kty_of(k.family) && k.kid.as_ref() == Some(kid))
        });
        for (_, kid) in duplicated {
            loaded.skipped.push(format!(
                "keys {kid:?} skipped: the kid is used by more than one key"
            ));
        }
    }
    Ok(loaded)
}

/// Reads `JWT_SECRETS`: a JSON object `{"kid": "secret", …}` of HMAC keys (raw bytes of each
/// string), each at least 16 bytes.
///
/// ```
/// use edgegate::low_level::jwks::parse_hmac_secrets;
/// let keys = parse_hmac_secrets(r#"{"2026-01":"0123456789abcdef0123456789abcdef"}"#).unwrap();
/// assert_eq!(keys[0].kid.as_deref(), Some("2026-01"));
/// assert!(parse_hmac_secrets(r#"{"k":"short"}"#).is_err());
/// ```
pub fn parse_hmac_secrets(json: &str) -> Result<Vec<Key>, String> {
    crate::low_level::json::check_unique_keys(json.as_bytes())
        .map_err(|e| format!("is not a JSON object with unique keys ({e:?})"))?;
    let map: BTreeMap<String, String> = serde_json::from_str(json)
        .map_err(|_| "must be a JSON object of kid → secret strings".to_owned())?;
    if map.is_empty() {
        return Err("holds no secret".into());
    }
    map.into_iter()
        .map(|(kid, secret)| {
            if kid.is_empty() {
                return Err("has an empty kid".to_owned());
            }
            if secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(format!(
                    "secret for kid {kid:?} is shorter than {MIN_HMAC_SECRET_BYTES} bytes"
                ));
            }
            Ok(Key::hmac(Some(kid), secret.as_bytes()))
        })
        .collect()
}

/// Lifetime of a fetched JWK Set: `configured` seconds, or the response's `Cache-Control:
/// max-age` when shorter (`no-store`/`no-cache` count as 0: refetch after the cooldown).
///
/// ```
/// use edgegate::low_level::jwks::cache_ttl;
/// assert_eq!(cache_ttl(Some("public, max-age=120"), 600), 120);
/// assert_eq!(cache_ttl(Some("max-age=86400"), 600), 600);
/// assert_eq!(cache_ttl(None, 600), 600);
/// ```
pub fn cache_ttl(cache_control: Option<&str>, configured: i64) -> i64 {
    let Some(cc) = cache_control else {
        return configured;
    };
    let mut ttl = configured;
    for d in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if d == "no-store" || d == "no-cache" {
            return 0;
        }
        if let Some(v) = d.strip_prefix("max-age=") {
            if let Ok(n) = v.trim_matches('"').parse::<i64>() {
                ttl = ttl.min(n.max(0));
            }
        }
    }
    ttl
}

/// When to fetch a remote JWK Set (`JWKS_URL`), per isolate. Times are milliseconds.
///
/// - the first request of an isolate fetches (nothing cached yet);
/// - after the TTL a request refetches; until a fetch succeeds, the old keys keep serving
///   (stale-if-error);
/// - a token naming an unknown `kid` may trigger a refetch (keys rotated at the IdP);
/// - every fetch attempt, for whatever reason, opens a cooldown (`JWKS_MIN_REFRESH_SECONDS`)
///   during which no other attempt starts, so forged `kid`s cannot hammer the IdP and a down IdP
///   is not retried on every request;
/// - one attempt at a time (single flight): requests arriving meanwhile use the current keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshState {
    fresh_until: Option<f64>,
    last_attempt: Option<f64>,
    in_flight: bool,
}

impl RefreshState {
    /// Whether a fetch should start now. `have_keys`: a set is cached; `unknown_kid`: the current
    /// request's token names a key the set lacks.
    ///
    /// ```
    /// use edgegate::low_level::jwks::RefreshState;
    /// let mut s = RefreshState::default();
    /// assert!(s.should_fetch(0.0, 30_000.0, false, false));
    /// s.started(0.0);
    /// s.succeeded(10.0, 600_000.0);
    /// assert!(!s.should_fetch(20.0, 30_000.0, true, true)); // cooldown
    /// assert!(s.should_fetch(30_000.0, 30_000.0, true, true)); // unknown kid after cooldown
    /// assert!(!s.should_fetch(30_000.0, 30_000.0, true, false)); // still fresh
    /// ```
    pub fn should_fetch(
        &self,
        now: f64,
        cooldown: f64,
        have_keys: bool,
        unknown_kid: bool,
    ) -> bool {
        if self.in_flight {
            return false;
        }
        if self.last_attempt.is_some_and(|t| now - t < cooldown) {
            return false;
        }
        let stale = self.fresh_until.is_none_or(|f| now >= f);
        !have_keys || stale || unknown_kid
    }

    /// A fetch starts now.
    pub fn started(&mut self, now: f64) {
        self.in_flight = true;
        self.last_attempt = Some(now);
    }

    /// The fetch succeeded; the new set is fresh for `ttl` ms.
    pub fn succeeded(&mut self, now: f64, ttl: f64) {
        self.in_flight = false;
        self.fresh_until = Some(now + ttl);
    }

    /// The fetch failed: keep whatever keys there are (stale-if-error).
    pub fn failed(&mut self) {
        self.in_flight = false;
    }
}

/// An isolate's remote JWK Set (`JWKS_URL`): the keys last fetched and when to fetch again
/// ([`RefreshState`]). Pure: the runtime does the fetching and reports back. Times are
/// milliseconds.
#[derive(Debug, Clone, Default)]
pub struct RemoteKeys {
    keys: Option<KeySet>,
    state: RefreshState,
    generation: u32,
}

/// Where a fetch of the remote set should look first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFrom {
    /// The location's shared cache (Workers Cache API), then the IdP: a cold isolate.
    CacheThenIdp,
    /// The IdP: the set expired, or a token named a `kid` it lacks.
    Idp,
}

impl RemoteKeys {
    /// The keys, once a fetch succeeded.
    pub fn keys(&self) -> Option<&KeySet> {
        self.keys.as_ref()
    }

    /// Increases with every set loaded: a key's place in [`keys`](Self::keys) names it only
    /// within one generation.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Whether a fetch should start now (see [`RefreshState::should_fetch`]).
    pub fn should_fetch(&self, now: f64, cooldown: f64, unknown_kid: bool) -> bool {
        self.state
            .should_fetch(now, cooldown, self.keys.is_some(), unknown_kid)
    }

    /// Starts a fetch if one should start now; the caller then reports [`loaded`](Self::loaded)
    /// or [`failed`](Self::failed). `None`: no fetch (one is running, or the cooldown holds).
    pub fn begin_fetch(&mut self, now: f64, cooldown: f64, unknown_kid: bool) -> Option<FetchFrom> {
        if !self.should_fetch(now, cooldown, unknown_kid) {
            return None;
        }
        self.state.started(now);
        Some(if self.keys.is_none() && !unknown_kid {
            FetchFrom::CacheThenIdp
        } else {
            FetchFrom::Idp
        })
    }

    /// A fetch brought `keys`, fresh for `ttl` ms.
    pub fn loaded(&mut self, now: f64, keys: KeySet, ttl: f64) {
        self.keys = Some(keys);
        self.generation = self.generation.wrapping_add(1);
        self.state.succeeded(now, ttl);
    }

    /// The fetch failed: the keys held keep serving (stale-if-error).
    pub fn failed(&mut self) {
        self.state.failed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const P256_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const P256_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn load(keys: serde_json::Value) -> Loaded {
        parse_jwks(&json!({ "keys": keys }).to_string(), true).unwrap()
    }

    #[test]
    fn families_follow_kty_and_crv() {
        let l = load(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "ed"},
            {"kty": "EC", "crv": "P-256", "x": P256_X, "y": P256_Y, "kid": "p256", "alg": "ES256"},
            {"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", "kid": "h"},
        ]));
        let fams: Vec<_> = l
            .keys
            .iter()
            .map(|k| (k.kid.clone().unwrap(), k.family, k.alg))
            .collect();
        assert_eq!(
            fams,
            vec![
                ("ed".into(), Family::Ed25519, None),
                ("p256".into(), Family::P256, Some(Alg::ES256)),
                ("h".into(), Family::Hmac, None),
            ]
        );
        assert!(l.skipped.is_empty(), "{:?}", l.skipped);
        let dup = load(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "same"},
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "same"},
        ]));
        assert!(dup.keys.is_empty());
        assert_eq!(
            dup.skipped,
            vec![r#"keys "same" skipped: the kid is used by more than one key"#.to_string()]
        );
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let l = load(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "enc", "use": "enc"},
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "ops", "key_ops": ["encrypt"]},
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "wrongalg", "alg": "RS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "private", "d": ED_X},
            {"kty": "OKP", "crv": "X25519", "x": ED_X, "kid": "x25519"},
            {"kty": "EC", "crv": "P-521", "x": P256_X, "y": P256_Y, "kid": "p521"},
            {"kty": "EC", "crv": "P-256", "x": P256_X, "kid": "noy"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny-rsa"},
            {"kty": "oct", "k": "c2hvcnQ", "kid": "short-oct"},
            {"kty": "OKP", "crv": "Ed25519", "x": format!("{ED_X}="), "kid": "padded"},
            {"kid": "nokty"},
        ]));
        assert!(l.keys.is_empty());
        assert_eq!(l.skipped.len(), 11, "{:#?}", l.skipped);
        assert!(l.skipped.iter().any(|s| s.contains("private")));
        assert!(l.skipped.iter().any(|s| s.contains("below 2048")));
    }

    #[test]
    fn oct_keys_only_inline() {
        let set =
            json!({"keys": [{"kty": "oct", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]})
                .to_string();
        let l = parse_jwks(&set, false).unwrap();
        assert!(l.keys.is_empty() && l.skipped[0].contains("inline"));
    }

    #[test]
    fn documents_that_are_not_jwk_sets() {
        for bad in [
            "{}",
            "[]",
            r#"{"keys":{}}"#,
            r#"{"keys":[],"keys":[]}"#,
            "nope",
        ] {
            assert!(parse_jwks(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn refresh_state_machine() {
        let cool = 30_000.0;
        let mut s = RefreshState::default();
        assert!(
            s.should_fetch(0.0, cool, false, false),
            "first request fetches"
        );
        s.started(0.0);
        assert!(!s.should_fetch(1.0, cool, false, false), "single flight");
        s.failed();
        assert!(
            !s.should_fetch(1.0, cool, false, false),
            "cooldown after a failure too"
        );
        assert!(s.should_fetch(cool, cool, false, false));
        s.started(cool);
        s.succeeded(cool + 5.0, 600_000.0);
        // A storm of unknown kids: nothing until the cooldown has passed.
        for t in 1..30 {
            assert!(!s.should_fetch(cool + f64::from(t) * 1000.0, cool, true, true));
        }
        assert!(s.should_fetch(2.0 * cool, cool, true, true));
        // Fresh keys and known kids: no fetch; after the TTL: fetch.
        assert!(!s.should_fetch(2.0 * cool, cool, true, false));
        assert!(s.should_fetch(cool + 5.0 + 600_000.0, cool, true, false));
    }

    #[test]
    fn ttl_from_cache_control() {
        assert_eq!(cache_ttl(Some("max-age=0"), 600), 0);
        assert_eq!(cache_ttl(Some("no-store"), 600), 0);
        assert_eq!(cache_ttl(Some("max-age=abc"), 600), 600);
        assert_eq!(cache_ttl(Some("MAX-AGE=30, public"), 600), 30);
        assert_eq!(cache_ttl(Some("max-age=-5"), 600), 0);
    }

    #[test]
    fn hmac_secrets() {
        let keys =
            parse_hmac_secrets(r#"{"a":"0123456789abcdef","b":"fedcba9876543210fedcba"}"#).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.family == Family::Hmac));
        for bad in [
            "{}",
            "[]",
            r#"{"":"0123456789abcdef"}"#,
            r#"{"a":1}"#,
            r#"{"a":"x","a":"y"}"#,
        ] {
            assert!(parse_hmac_secrets(bad).is_err(), "{bad}");
        }
    }
}

//! Configuration: `wrangler.toml` `[vars]` and secrets, parsed and validated once per isolate.
//!
//! [`Config::from_lookup`] takes a function that returns a variable's value (as text) and either
//! builds a complete, checked configuration or returns the first problem as a [`ConfigError`]
//! naming the offending key. The gate then fails closed: every request is answered `500
//! {"error":"misconfigured"}` until the deployment is fixed. Every key is documented in README.

use crate::low_level::alg::{Alg, AlgSet, Family};
use crate::low_level::assertion::{self, Minter};
use crate::low_level::claims::ClaimRules;
use crate::low_level::csrf::CsrfPolicy;
use crate::low_level::keys::{Key, KeySet, MIN_HMAC_SECRET_BYTES, RECOMMENDED_HMAC_SECRET_BYTES};
use crate::low_level::path;
use crate::low_level::policy::Policy;
use crate::low_level::weburl;
use crate::verify::Verifier;
use std::fmt;

mod revocation;
pub use revocation::{
    RevocationConfig, RevocationSource, DEFAULT_REVOCATION_KV_KEY,
    DEFAULT_REVOCATION_MAX_AGE_SECONDS, DEFAULT_REVOCATION_REFRESH_SECONDS, KV_BINDING,
};

/// Default for `ACCESS_COOKIE`.
pub const DEFAULT_ACCESS_COOKIE: &str = "access";
/// Default for `LEEWAY_SECONDS`.
pub const DEFAULT_LEEWAY_SECONDS: i64 = 30;
/// Largest accepted `LEEWAY_SECONDS`: more would defeat short-lived tokens.
pub const MAX_LEEWAY_SECONDS: i64 = 600;
/// Default for `REFRESH_PATH`.
pub const DEFAULT_REFRESH_PATH: &str = "/auth/refresh";
/// Default for `LOGIN_PATH`.
pub const DEFAULT_LOGIN_PATH: &str = "/auth/login";
/// Default for `SESSION_PATH`.
pub const DEFAULT_SESSION_PATH: &str = "/.edgegate/session";
/// Default for `ASSERTION_TTL`.
pub const DEFAULT_ASSERTION_TTL: i64 = 30;

/// `LOG_REQUESTS`: which requests get their JSON decision line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRequests {
    /// Every request (the default).
    All,
    /// Only requests the gate answers itself with a redirect or an error (status ≥ 300):
    /// refusals, refresh/login redirects, CSRF and policy denials.
    Denied,
    /// No decision lines (configuration, JWKS and origin errors are still logged).
    Off,
}

impl LogRequests {
    /// Whether a decision answered with `status` (`None`: forwarded to the origin) is logged.
    ///
    /// ```
    /// use edgegate::config::LogRequests;
    /// assert!(LogRequests::All.wants(None));
    /// assert!(!LogRequests::Denied.wants(None) && !LogRequests::Denied.wants(Some(200)));
    /// assert!(LogRequests::Denied.wants(Some(302)) && LogRequests::Denied.wants(Some(401)));
    /// assert!(!LogRequests::Off.wants(Some(401)));
    /// ```
    pub fn wants(self, status: Option<u16>) -> bool {
        match self {
            LogRequests::All => true,
            LogRequests::Denied => status.is_some_and(|s| s >= 300),
            LogRequests::Off => false,
        }
    }
}

/// A configuration problem, naming the key. Its response code is always `misconfigured`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable or secret at fault, e.g. `"ORIGIN_URL"`.
    pub key: &'static str,
    /// What is wrong with it (never the value of a secret).
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(key: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            key,
            problem: problem.into(),
        }
    }

    /// The stable response code: `misconfigured`.
    pub const fn code(&self) -> &'static str {
        "misconfigured"
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// The origin requests are forwarded to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `scheme://host[:port]`, no trailing slash.
    pub base: String,
    /// A path prefix from `ORIGIN_URL` without trailing slash (often empty).
    pub prefix: String,
}

impl Origin {
    /// The path the origin receives for a canonical `path` (prefix + path, no query).
    pub fn path_for(&self, path: &str) -> String {
        format!("{}{}", self.prefix, path)
    }

    /// The URL to forward a request with canonical `path` and raw `query` to.
    ///
    /// ```
    /// use edgegate::config::Origin;
    /// let o = Origin { base: "http://127.0.0.1:9000".into(), prefix: "/app".into() };
    /// assert_eq!(o.url_for("/x/y", Some("a=1")), "http://127.0.0.1:9000/app/x/y?a=1");
    /// assert_eq!(o.url_for("/", None), "http://127.0.0.1:9000/app/");
    /// ```
    pub fn url_for(&self, path: &str, query: Option<&str>) -> String {
        let mut u = String::with_capacity(self.base.len() + self.prefix.len() + path.len() + 64);
        u.push_str(&self.base);
        u.push_str(&self.prefix);
        u.push_str(path);
        if let Some(q) = query {
            u.push('?');
            u.push_str(q);
        }
        u
    }
}

/// Where and how often to fetch a remote JWK Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    /// `JWKS_URL` (`https://`, or `http://` for loopback development).
    pub url: String,
    /// `JWKS_CACHE_SECONDS`: how long a fetched set is fresh (a shorter `max-age` wins).
    pub cache_seconds: i64,
    /// `JWKS_MIN_REFRESH_SECONDS`: the cooldown between two fetch attempts.
    pub min_refresh_seconds: i64,
}

impl RemoteJwks {
    /// The cooldown in milliseconds (the unit of [`crate::low_level::jwks::RemoteKeys`]).
    pub fn cooldown_ms(&self) -> f64 {
        self.min_refresh_seconds as f64 * 1000.0
    }
}

/// A URL the gate fetches (`JWKS_URL`, `REVOCATION_URL`): `https://`, or `http://` for loopback
/// development; no fragment. Returned normalised (path `/` when empty).
fn fetch_url(key: &'static str, raw: &str) -> Result<String, ConfigError> {
    let url = weburl::parse(raw).map_err(|e| ConfigError::new(key, e.to_string()))?;
    if !(url.scheme == "https" || url.is_loopback()) {
        return Err(ConfigError::new(
            key,
            "must be https:// (http:// only for 127.0.0.1/localhost)",
        ));
    }
    if url.fragment {
        return Err(ConfigError::new(key, "must not have a fragment"));
    }
    let path = if url.path.is_empty() { "/" } else { url.path };
    let query = url.query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(format!("{}{path}{query}", url.origin()))
}

/// The validated configuration of one gate.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ORIGIN_URL`.
    pub origin: Origin,
    /// `ACCESS_COOKIE`.
    pub access_cookie: String,
    /// `REFRESH_PATH` (always public).
    pub refresh_path: String,
    /// `LOGIN_PATH` (always public).
    pub login_path: String,
    /// `PUBLIC_PATHS`, canonicalised, plus the refresh and login paths.
    pub public_paths: Vec<String>,
    /// `ACCEPT_BEARER`.
    pub accept_bearer: bool,
    /// `CSRF_GUARD`, `CSRF_ALLOW_SAME_SITE`, `ALLOWED_ORIGINS`.
    pub csrf: CsrfPolicy,
    /// The identity-assertion minter, when `ASSERTION_SECRET` is set.
    pub assertion: Option<Minter>,
    /// `POLICY`: ordered route rules (default: every non-public path needs a valid token).
    pub policy: Policy,
    /// `SESSION_PATH`: the gate's own session endpoint (`None` when `off`).
    pub session_path: Option<String>,
    /// `SERVER_TIMING`: add `Server-Timing: edgegate;dur=<ms>` to responses.
    pub server_timing: bool,
    /// `SIGNATURE_CACHE`: how many public-key signatures WebCrypto verified the edge remembers
    /// per isolate (0 = none).
    pub signature_cache: usize,
    /// `LOG_SUB=hash`: log a short hash of `sub`.
    pub log_sub_hash: bool,
    /// `LOG_REQUESTS`: which decisions get their log line.
    pub log_requests: LogRequests,
    /// `JWKS_URL`, `JWKS_CACHE_SECONDS`, `JWKS_MIN_REFRESH_SECONDS`: a remote JWK Set.
    pub remote_jwks: Option<RemoteJwks>,
    /// The verifier built from `ALGORITHMS`, the keys, `ISSUER`, `AUDIENCE`, `LEEWAY_SECONDS`,
    /// `TYP` and `MAX_TOKEN_LIFETIME`.
    pub verifier: Verifier,
    /// `REVOCATION_*`: the published revocation list, when configured.
    pub revocation: Option<RevocationConfig>,
    /// Non-fatal findings to log once at start-up (never containing a secret).
    pub warnings: Vec<String>,
}

/// Reads a variable: `None` when unset; empty and all-whitespace values count as unset.
fn get(lookup: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    lookup(key)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn required(
    lookup: &dyn Fn(&str) -> Option<String>,
    key: &'static str,
) -> Result<String, ConfigError> {
    get(lookup, key).ok_or_else(|| ConfigError::new(key, "is required"))
}

fn parse_origin(raw: &str) -> Result<Origin, ConfigError> {
    const KEY: &str = "ORIGIN_URL";
    let url = weburl::parse(raw).map_err(|e| ConfigError::new(KEY, e.to_string()))?;
    if url.query.is_some() || url.fragment {
        return Err(ConfigError::new(KEY, "must not have a query or fragment"));
    }
    let prefix = url.path.trim_end_matches('/');
    if !prefix.is_empty() && path::normalize(prefix).ok().as_deref() != Some(prefix) {
        return Err(ConfigError::new(
            KEY,
            "must have a canonical path (no dot segments, empty segments or escapes of unreserved characters)",
        ));
    }
    Ok(Origin {
        base: url.origin(),
        prefix: prefix.to_owned(),
    })
}

fn parse_endpoint(key: &'static str, raw: &str) -> Result<String, ConfigError> {
    let canonical = path::normalize(raw)
        .map_err(|_| ConfigError::new(key, "must be an absolute path such as /auth/refresh"))?;
    if raw.contains(['?', '#']) || canonical != raw {
        return Err(ConfigError::new(
            key,
            format!("must be a canonical absolute path without query (did you mean {canonical}?)"),
        ));
    }
    Ok(canonical)
}

fn parse_bool(key: &'static str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw.as_deref() {
        None => Ok(default),
        Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ConfigError::new(key, "must be true or false")),
    }
}

fn parse_origins(raw: Option<String>) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "ALLOWED_ORIGINS";
    let mut out = Vec::new();
    for item in raw
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let url = weburl::parse(item).map_err(|_| {
            ConfigError::new(
                KEY,
                format!("{item:?} is not an origin such as https://app.example"),
            )
        })?;
        let origin = url.origin();
        if !url.path.is_empty() || url.query.is_some() || url.fragment {
            return Err(ConfigError::new(
                KEY,
                format!("{item:?} is not an origin such as https://app.example (no path)"),
            ));
        }
        out.push(origin);
    }
    Ok(out)
}

fn is_cookie_name(s: &str) -> bool {
    // RFC 6265 cookie-name = token (RFC 9110 tchar).
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

fn parse_algorithms(raw: &str) -> Result<AlgSet, ConfigError> {
    const KEY: &str = "ALGORITHMS";
    let mut set = AlgSet::EMPTY;
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("none") {
            return Err(ConfigError::new(KEY, "must not list none"));
        }
        let alg = Alg::from_name(name).ok_or_else(|| {
            ConfigError::new(
                KEY,
                format!("lists unknown algorithm {name:?} (known: HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA; names are case-sensitive)"),
            )
        })?;
        set.insert(alg);
    }
    if set.is_empty() {
        return Err(ConfigError::new(KEY, "lists no algorithm"));
    }
    Ok(set)
}

/// `SIGNATURE_CACHE` default: enough for the sessions an isolate serves at once; at most
/// ~1 KB each.
pub const DEFAULT_SIGNATURE_CACHE: usize = 1024;
/// `SIGNATURE_CACHE` maximum.
pub const MAX_SIGNATURE_CACHE: usize = 65_536;

fn parse_seconds(
    key: &'static str,
    raw: Option<String>,
    default: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    match raw {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| {
                ConfigError::new(
                    key,
                    format!("must be a whole number of seconds from 0 to {max}"),
                )
            }),
    }
}

impl Config {
    /// Builds and validates the configuration from `lookup` (variable name → text value).
    ///
    /// ```
    /// use edgegate::config::Config;
    /// let vars = |k: &str| match k {
    ///     "ORIGIN_URL" => Some("http://127.0.0.1:9000".to_string()),
    ///     "ALGORITHMS" => Some("HS256".to_string()),
    ///     "JWT_SECRET" => Some("0123456789abcdef0123456789abcdef".to_string()),
    ///     _ => None,
    /// };
    /// let cfg = Config::from_lookup(&vars).unwrap();
    /// assert_eq!(cfg.access_cookie, "access");
    ///
    /// let missing = |k: &str| if k == "ALGORITHMS" { Some("HS256".to_string()) } else { None };
    /// assert_eq!(Config::from_lookup(&missing).unwrap_err().key, "ORIGIN_URL");
    /// ```
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let origin = parse_origin(&required(lookup, "ORIGIN_URL")?)?;
        let algorithms = parse_algorithms(&required(lookup, "ALGORITHMS")?)?;

        let access_cookie =
            get(lookup, "ACCESS_COOKIE").unwrap_or_else(|| DEFAULT_ACCESS_COOKIE.into());
        if !is_cookie_name(&access_cookie) {
            return Err(ConfigError::new(
                "ACCESS_COOKIE",
                "is not a valid cookie name",
            ));
        }

        let leeway = parse_seconds(
            "LEEWAY_SECONDS",
            get(lookup, "LEEWAY_SECONDS"),
            DEFAULT_LEEWAY_SECONDS,
            MAX_LEEWAY_SECONDS,
        )?;
        let max_lifetime = match get(lookup, "MAX_TOKEN_LIFETIME") {
            None => None,
            raw => Some(parse_seconds("MAX_TOKEN_LIFETIME", raw, 0, 366 * 86_400)?),
        };
        let issuer = get(lookup, "ISSUER");
        let audience = get(lookup, "AUDIENCE");
        let typ = get(lookup, "TYP");

        let refresh_path = match get(lookup, "REFRESH_PATH") {
            Some(p) => parse_endpoint("REFRESH_PATH", &p)?,
            None => DEFAULT_REFRESH_PATH.into(),
        };
        let login_path = match get(lookup, "LOGIN_PATH") {
            Some(p) => parse_endpoint("LOGIN_PATH", &p)?,
            None => DEFAULT_LOGIN_PATH.into(),
        };
        let mut public_paths = Vec::new();
        if let Some(list) = get(lookup, "PUBLIC_PATHS") {
            for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                public_paths.push(parse_endpoint("PUBLIC_PATHS", p)?);
            }
        }
        if public_paths.iter().any(|p| p == "/") {
            warnings.push(
                "PUBLIC_PATHS contains \"/\": every path is public and no token is ever checked"
                    .into(),
            );
        }
        public_paths.push(refresh_path.clone());
        public_paths.push(login_path.clone());

        let accept_bearer = parse_bool("ACCEPT_BEARER", get(lookup, "ACCEPT_BEARER"), false)?;
        let policy = match get(lookup, "POLICY") {
            Some(json) => {
                Policy::parse(&json).map_err(|e| ConfigError::new("POLICY", e.to_string()))?
            }
            None => Policy::default(),
        };
        let session_path = match get(lookup, "SESSION_PATH").as_deref() {
            Some("off") => None,
            Some(p) => Some(parse_endpoint("SESSION_PATH", p)?),
            None => Some(DEFAULT_SESSION_PATH.to_owned()),
        };
        let server_timing = parse_bool("SERVER_TIMING", get(lookup, "SERVER_TIMING"), false)?;
        let signature_cache = match get(lookup, "SIGNATURE_CACHE") {
            None => DEFAULT_SIGNATURE_CACHE,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= MAX_SIGNATURE_CACHE)
                .ok_or_else(|| {
                    ConfigError::new(
                        "SIGNATURE_CACHE",
                        format!("must be a whole number from 0 to {MAX_SIGNATURE_CACHE}"),
                    )
                })?,
        };
        let log_sub_hash = match get(lookup, "LOG_SUB").as_deref() {
            None | Some("off") => false,
            Some("hash") => true,
            Some(_) => return Err(ConfigError::new("LOG_SUB", "must be off or hash")),
        };
        let log_requests = match get(lookup, "LOG_REQUESTS").as_deref() {
            None | Some("all") => LogRequests::All,
            Some("denied") => LogRequests::Denied,
            Some("off") => LogRequests::Off,
            Some(_) => {
                return Err(ConfigError::new(
                    "LOG_REQUESTS",
                    "must be all, denied or off",
                ))
            }
        };
        let csrf = CsrfPolicy {
            enabled: parse_bool("CSRF_GUARD", get(lookup, "CSRF_GUARD"), true)?,
            allow_same_site: parse_bool(
                "CSRF_ALLOW_SAME_SITE",
                get(lookup, "CSRF_ALLOW_SAME_SITE"),
                false,
            )?,
            allowed_origins: parse_origins(get(lookup, "ALLOWED_ORIGINS"))?,
        };
        if !csrf.enabled {
            warnings.push("CSRF_GUARD=false: cookie-authenticated POST/PUT/PATCH/DELETE requests are NOT checked for cross-site origin; the origin must defend against CSRF itself".into());
        }
        let assertion_ttl = parse_seconds(
            "ASSERTION_TTL",
            get(lookup, "ASSERTION_TTL"),
            DEFAULT_ASSERTION_TTL,
            assertion::MAX_TTL_SECONDS,
        )?;
        if assertion_ttl == 0 {
            return Err(ConfigError::new(
                "ASSERTION_TTL",
                "must be at least 1 second",
            ));
        }
        let assertion = match lookup("ASSERTION_SECRET").filter(|s| !s.is_empty()) {
            None => None,
            Some(secret) => Some(
                Minter::new(secret.as_bytes(), &origin.base, assertion_ttl).ok_or_else(|| {
                    ConfigError::new(
                        "ASSERTION_SECRET",
                        format!("is shorter than {} bytes", assertion::MIN_SECRET_BYTES),
                    )
                })?,
            ),
        };

        // Keys. Each source yields keys of a fixed family.
        let mut keys = Vec::new();
        if let Some(secret) = lookup("JWT_SECRET").filter(|s| !s.is_empty()) {
            if secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!("is shorter than {MIN_HMAC_SECRET_BYTES} bytes"),
                ));
            }
            if secret.len() < RECOMMENDED_HMAC_SECRET_BYTES {
                warnings.push(format!(
                    "JWT_SECRET is shorter than {RECOMMENDED_HMAC_SECRET_BYTES} bytes; use at least 32 random bytes"
                ));
            }
            if !algorithms.needs(Family::Hmac) {
                warnings.push(
                    "JWT_SECRET is set but ALGORITHMS lists no HS algorithm; it is unused".into(),
                );
            }
            keys.push(Key::hmac(None, secret.as_bytes()));
        }
        if let Some(json) = get(lookup, "JWT_SECRETS") {
            let more = crate::low_level::jwks::parse_hmac_secrets(&json)
                .map_err(|e| ConfigError::new("JWT_SECRETS", e))?;
            keys.extend(more);
        }
        if let Some(json) = get(lookup, "JWKS") {
            let loaded = crate::low_level::jwks::parse_jwks(&json, true)
                .map_err(|e| ConfigError::new("JWKS", e))?;
            warnings.extend(loaded.skipped.into_iter().map(|s| format!("JWKS: {s}")));
            if loaded.keys.is_empty() {
                return Err(ConfigError::new("JWKS", "holds no usable signature key"));
            }
            keys.extend(loaded.keys);
        }
        let remote_jwks = match get(lookup, "JWKS_URL") {
            None => None,
            Some(raw) => Some(RemoteJwks {
                url: fetch_url("JWKS_URL", &raw)?,
                cache_seconds: parse_seconds(
                    "JWKS_CACHE_SECONDS",
                    get(lookup, "JWKS_CACHE_SECONDS"),
                    600,
                    86_400,
                )?,
                min_refresh_seconds: parse_seconds(
                    "JWKS_MIN_REFRESH_SECONDS",
                    get(lookup, "JWKS_MIN_REFRESH_SECONDS"),
                    30,
                    3600,
                )?,
            }),
        };
        let revocation = revocation::parse_revocation(lookup)?;
        if revocation.as_ref().is_some_and(|r| r.fail_open) {
            warnings.push("REVOCATION_FAIL=open: while no current revocation list can be fetched, tokens are checked against the last list held (or none) and forwarded".into());
        }
        let keys = KeySet::new(keys);
        for alg in algorithms.iter() {
            // With a remote JWK Set, keys of any family may arrive later.
            if !keys.has_family(alg.family()) && remote_jwks.is_none() {
                let key = if alg.family() == Family::Hmac {
                    "JWT_SECRET"
                } else {
                    "ALGORITHMS"
                };
                let problem = if alg.family() == Family::Hmac {
                    format!("is required because ALGORITHMS lists {alg} (or set JWT_SECRETS, or an oct key in JWKS)")
                } else {
                    format!("lists {alg} but no key in JWKS serves it")
                };
                return Err(ConfigError::new(key, problem));
            }
        }

        let verifier = Verifier::new(
            algorithms,
            keys,
            ClaimRules {
                issuer,
                audience,
                leeway,
                max_lifetime,
            },
            typ,
        );
        Ok(Config {
            origin,
            access_cookie,
            refresh_path,
            login_path,
            public_paths,
            accept_bearer,
            csrf,
            assertion,
            policy,
            session_path,
            server_timing,
            signature_cache,
            log_sub_hash,
            log_requests,
            remote_jwks,
            verifier,
            revocation,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests;

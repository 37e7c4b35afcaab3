//! Reference-mode configuration: command-line flags, each with an environment fallback.
//!
//! Flags win over the environment. The environment is only consulted once reference mode is on
//! (`--reference` or `--jwt-secret`), so a stray `JWT_SECRET` in a shell never turns the plain
//! echo server used by the gate tests into something else.

use std::path::PathBuf;

use crate::cli::UsageError;
use crate::mint::HsAlgorithm;

/// One reference-mode option: its flag, its environment variable, and whether it repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// The command-line flag, e.g. `--access-ttl`.
    pub flag: &'static str,
    /// The environment variable consulted when the flag is absent, e.g. `ACCESS_TTL`.
    pub env: &'static str,
    /// Repeatable flag; the environment value is then a comma-separated list.
    pub list: bool,
}

const fn opt(flag: &'static str, env: &'static str, list: bool) -> OptionSpec {
    OptionSpec { flag, env, list }
}

/// Every reference-mode option that takes a value.
pub const OPTIONS: &[OptionSpec] = &[
    opt("--jwt-secret", "JWT_SECRET", false),
    opt("--alg", "ACCESS_ALG", false),
    opt("--data-dir", "DATA_DIR", false),
    opt("--access-ttl", "ACCESS_TTL", false),
    opt("--refresh-ttl", "REFRESH_TTL", false),
    opt("--session-max-age", "SESSION_MAX_AGE", false),
    opt("--refresh-grace", "REFRESH_GRACE", false),
    opt("--user", "DEMO_USERS", true),
    opt("--users-file", "USERS_FILE", false),
    opt("--public-origin", "PUBLIC_ORIGINS", true),
    opt("--access-cookie", "ACCESS_COOKIE", false),
    opt("--refresh-cookie", "REFRESH_COOKIE", false),
    opt("--refresh-path", "REFRESH_PATH", false),
    opt("--login-path", "LOGIN_PATH", false),
    opt("--issuer", "ISSUER", false),
    opt("--audience", "AUDIENCE", false),
    opt("--assertion-secret", "ASSERTION_SECRET", false),
    opt("--assertion-audience", "ASSERTION_AUDIENCE", false),
];

/// Looks up the option spec for `flag`.
pub fn option_for_flag(flag: &str) -> Option<&'static OptionSpec> {
    OPTIONS.iter().find(|o| o.flag == flag)
}

/// Reference-mode flags exactly as given on the command line (not yet merged with the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceArgs {
    /// `--reference` was given.
    pub reference: bool,
    /// `(flag, value)` pairs in command-line order, for the flags in [`OPTIONS`].
    pub values: Vec<(&'static str, String)>,
    /// `--insecure-cookies` was given (demo only: drop the `Secure` attribute).
    pub insecure_cookies: bool,
    /// `--test-routes` was given (keep the echo and `/__*` diagnostics next to the auth routes).
    pub test_routes: bool,
}

impl ReferenceArgs {
    /// Whether the reference (auth) routes are mounted: `--reference` or `--jwt-secret`.
    pub fn enabled(&self) -> bool {
        self.reference || self.values.iter().any(|(f, _)| *f == "--jwt-secret")
    }

    fn flag_values(&self, flag: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(f, _)| *f == flag)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Which key signs access tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningAlg {
    /// HMAC with the shared `JWT_SECRET` (what the gate verifies today).
    Hmac(HsAlgorithm),
    /// ECDSA P-256 with the generated `es256.pem` key (published in the JWKS).
    Es256,
    /// Ed25519 with the generated `ed25519.pem` key (published in the JWKS).
    EdDsa,
}

impl SigningAlg {
    /// The JOSE `alg` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hmac(hs) => hs.name(),
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

/// A demo user as configured: a plaintext password (hashed with argon2id at start-up, never
/// stored) or an argon2 PHC string from a users file.
#[derive(Clone, PartialEq, Eq)]
pub enum UserSpec {
    /// `--user NAME:PASSWORD`.
    Plain {
        /// User name (becomes `sub`).
        name: String,
        /// The password; only ever hashed.
        password: String,
    },
    /// `NAME:$argon2id$...` from a users file.
    Hashed {
        /// User name (becomes `sub`).
        name: String,
        /// An argon2 PHC string.
        phc: String,
    },
}

impl UserSpec {
    /// The user name.
    pub fn name(&self) -> &str {
        match self {
            Self::Plain { name, .. } | Self::Hashed { name, .. } => name,
        }
    }
}

impl std::fmt::Debug for UserSpec {
    // Never print a password, even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// The resolved reference-mode configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Access-token signing algorithm.
    pub alg: SigningAlg,
    /// HMAC secret (raw bytes of `JWT_SECRET`), when given.
    pub jwt_secret: Option<Vec<u8>>,
    /// Directory holding the SQLite database and the generated signing keys.
    pub data_dir: PathBuf,
    /// Access-token lifetime in seconds.
    pub access_ttl: i64,
    /// Lifetime of each refresh token in seconds (idle timeout: every rotation restarts it).
    pub refresh_ttl: i64,
    /// Absolute lifetime of a login (a refresh-token family) in seconds.
    pub session_max_age: i64,
    /// Grace window in seconds during which a just-rotated refresh token may be presented again.
    pub refresh_grace: i64,
    /// Demo users.
    pub users: Vec<UserSpec>,
    /// Origins (`scheme://host[:port]`) accepted in the `Origin` header of state-changing requests.
    pub public_origins: Vec<String>,
    /// Name of the access cookie (must equal the gate's `ACCESS_COOKIE`).
    pub access_cookie: String,
    /// Name of the refresh cookie.
    pub refresh_cookie: String,
    /// Refresh endpoint path (must equal the gate's `REFRESH_PATH`); also the refresh cookie's `Path`.
    pub refresh_path: String,
    /// Login endpoint path (must equal the gate's `LOGIN_PATH`).
    pub login_path: String,
    /// `iss` claim of access tokens.
    pub issuer: Option<String>,
    /// `aud` claim of access tokens.
    pub audience: Option<String>,
    /// The gate's `ASSERTION_SECRET`: when set, identity headers count only with a valid
    /// `x-auth-assertion` for the same `sub`, method and path.
    pub assertion_secret: Option<Vec<u8>>,
    /// The `aud` expected in assertions (the gate's `ORIGIN_URL` origin); default: the bound
    /// address, `http://HOST:PORT`.
    pub assertion_audience: Option<String>,
    /// Whether cookies carry `Secure` (false only with `--insecure-cookies`).
    pub secure_cookies: bool,
    /// Keep the echo fallback and `/__*` diagnostics next to the auth routes.
    pub test_routes: bool,
}

impl std::fmt::Debug for Config {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("alg", &self.alg)
            .field("data_dir", &self.data_dir)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("session_max_age", &self.session_max_age)
            .field("refresh_grace", &self.refresh_grace)
            .field("users", &self.users)
            .field("public_origins", &self.public_origins)
            .field("secure_cookies", &self.secure_cookies)
            .field("assertion", &self.assertion_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// Default data directory (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "edgegate-origin-data";
/// Default access-token lifetime: 10 minutes.
pub const DEFAULT_ACCESS_TTL: i64 = 600;
/// Default refresh-token lifetime (idle timeout): 14 days.
pub const DEFAULT_REFRESH_TTL: i64 = 14 * 24 * 3600;
/// Default absolute session lifetime: 30 days.
pub const DEFAULT_SESSION_MAX_AGE: i64 = 30 * 24 * 3600;
/// Default refresh grace window: 10 seconds.
pub const DEFAULT_REFRESH_GRACE: i64 = 10;

fn err<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

fn int_in(key: &str, value: &str, min: i64, max: i64) -> Result<i64, UsageError> {
    match value.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => err(format!(
            "{key} must be an integer between {min} and {max}, got {value:?}"
        )),
    }
}

/// RFC 6265 cookie-name: an RFC 9110 token.
pub fn is_cookie_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_path(key: &str, p: &str) -> Result<String, UsageError> {
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && p.len() <= 256
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b))
        && !p.split('/').any(|seg| seg == "." || seg == "..")
        && (p == "/" || !p.ends_with('/'));
    if ok {
        Ok(p.to_owned())
    } else {
        err(format!(
            "{key} must be a plain absolute path such as /auth/refresh, got {p:?}"
        ))
    }
}

/// Normalises an origin (`http(s)://host[:port]`, an optional trailing `/`) to its serialised
/// form: lower-case scheme and host, default ports dropped.
pub fn normalize_origin(s: &str) -> Option<String> {
    let s = s.trim();
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@', '\\'])
        || !authority.bytes().all(|b| b.is_ascii_graphic())
    {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority
        .strip_suffix(default_port)
        .unwrap_or(&authority)
        .to_owned();
    Some(format!("{scheme}://{authority}"))
}

fn parse_user(entry: &str) -> Result<UserSpec, UsageError> {
    let Some((name, password)) = entry.split_once(':') else {
        return err("--user must be NAME:PASSWORD");
    };
    check_user_name(name)?;
    if password.is_empty() {
        return err(format!("--user {name}: empty password"));
    }
    Ok(UserSpec::Plain {
        name: name.to_owned(),
        password: password.to_owned(),
    })
}

fn check_user_name(name: &str) -> Result<(), UsageError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._@+".contains(&b));
    if ok {
        Ok(())
    } else {
        err(format!(
            "user name {name:?} must be 1-64 characters of A-Z a-z 0-9 - . _ @ +"
        ))
    }
}

/// Parses a users file: one `NAME:PHC` per line (an argon2 PHC string as printed by
/// `edgegate-origin hash-password`); blank lines and `#` comments are ignored.
pub fn parse_users_file(text: &str) -> Result<Vec<UserSpec>, UsageError> {
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, phc)) = line.split_once(':') else {
            return err(format!("users file line {}: expected NAME:PHC", i + 1));
        };
        check_user_name(name)?;
        if !phc.starts_with("$argon2") {
            return err(format!(
                "users file line {}: the password must be an argon2 PHC string \
                 (make one with `edgegate-origin hash-password`)",
                i + 1
            ));
        }
        users.push(UserSpec::Hashed {
            name: name.to_owned(),
            phc: phc.to_owned(),
        });
    }
    Ok(users)
}

impl Config {
    /// Merges `args` with the environment (`env(NAME)`) and a users-file reader, and validates.
    pub fn resolve(
        args: &ReferenceArgs,
        env: impl Fn(&str) -> Option<String>,
        read_file: impl Fn(&std::path::Path) -> std::io::Result<String>,
    ) -> Result<Self, UsageError> {
        // Scalar: the last flag value, else the environment; empty counts as unset.
        let get = |flag: &str| -> Option<String> {
            let spec = option_for_flag(flag)?;
            args.flag_values(flag)
                .last()
                .map(|v| (*v).to_owned())
                .or_else(|| env(spec.env))
                .filter(|v| !v.is_empty())
        };
        let list = |flag: &str| -> Vec<String> {
            let from_flags: Vec<String> = args
                .flag_values(flag)
                .into_iter()
                .map(str::to_owned)
                .collect();
            if !from_flags.is_empty() {
                return from_flags;
            }
            option_for_flag(flag)
                .and_then(|spec| env(spec.env))
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };

        let jwt_secret = get("--jwt-secret").map(String::into_bytes);
        if let Some(secret) = &jwt_secret {
            if secret.len() < 16 {
                return err("JWT_SECRET must be at least 16 bytes (32+ recommended)");
            }
        }
        let alg = match get("--alg").as_deref() {
            None => SigningAlg::Hmac(HsAlgorithm::Hs256),
            Some(a) if a.eq_ignore_ascii_case("ES256") => SigningAlg::Es256,
            Some(a) if a.eq_ignore_ascii_case("EdDSA") => SigningAlg::EdDsa,
            Some(a) => SigningAlg::Hmac(a.parse::<HsAlgorithm>().map_err(|_| {
                UsageError(format!(
                    "--alg must be HS256, HS384, HS512, ES256 or EdDSA, got {a:?}"
                ))
            })?),
        };
        if matches!(alg, SigningAlg::Hmac(_)) && jwt_secret.is_none() {
            return err(format!(
                "--alg {} needs --jwt-secret (or $JWT_SECRET): the gate verifies with the same secret",
                alg.name()
            ));
        }

        let access_ttl = match get("--access-ttl") {
            Some(v) => int_in("ACCESS_TTL", &v, 1, 86_400)?,
            None => DEFAULT_ACCESS_TTL,
        };
        let refresh_ttl = match get("--refresh-ttl") {
            Some(v) => int_in("REFRESH_TTL", &v, 60, 365 * 86_400)?,
            None => DEFAULT_REFRESH_TTL,
        };
        let session_max_age = match get("--session-max-age") {
            Some(v) => int_in("SESSION_MAX_AGE", &v, 60, 366 * 86_400)?,
            None => DEFAULT_SESSION_MAX_AGE.max(refresh_ttl),
        };
        let refresh_grace = match get("--refresh-grace") {
            Some(v) => int_in("REFRESH_GRACE", &v, 0, 300)?,
            None => DEFAULT_REFRESH_GRACE,
        };

        let mut users = Vec::new();
        for entry in list("--user") {
            users.push(parse_user(&entry)?);
        }
        if let Some(path) = get("--users-file") {
            let text = read_file(std::path::Path::new(&path))
                .map_err(|e| UsageError(format!("cannot read users file {path}: {e}")))?;
            users.extend(parse_users_file(&text)?);
        }
        if users.is_empty() {
            return err(
                "reference mode needs at least one user: --user NAME:PASSWORD or --users-file FILE",
            );
        }
        for (i, u) in users.iter().enumerate() {
            if users[..i].iter().any(|v| v.name() == u.name()) {
                return err(format!("user {:?} is configured twice", u.name()));
            }
        }

        let mut public_origins = Vec::new();
        for o in list("--public-origin") {
            match normalize_origin(&o) {
                Some(n) => public_origins.push(n),
                None => {
                    return err(format!(
                        "--public-origin must be scheme://host[:port] (no path), got {o:?}"
                    ))
                }
            }
        }

        let access_cookie = get("--access-cookie").unwrap_or_else(|| "access".into());
        let refresh_cookie = get("--refresh-cookie").unwrap_or_else(|| "refresh".into());
        for (key, name) in [
            ("ACCESS_COOKIE", &access_cookie),
            ("REFRESH_COOKIE", &refresh_cookie),
        ] {
            if !is_cookie_name(name) {
                return err(format!("{key} {name:?} is not a valid cookie name"));
            }
        }
        if access_cookie == refresh_cookie {
            return err("ACCESS_COOKIE and REFRESH_COOKIE must differ");
        }
        let refresh_path = check_path(
            "REFRESH_PATH",
            &get("--refresh-path").unwrap_or_else(|| "/auth/refresh".into()),
        )?;
        let login_path = check_path(
            "LOGIN_PATH",
            &get("--login-path").unwrap_or_else(|| "/auth/login".into()),
        )?;
        let reserved = [
            "/",
            "/health",
            "/api/me",
            "/auth/logout",
            "/auth/logout-all",
            "/.well-known/jwks.json",
        ];
        if refresh_path == login_path
            || reserved.contains(&refresh_path.as_str())
            || reserved.contains(&login_path.as_str())
        {
            return err(
                "REFRESH_PATH and LOGIN_PATH must be distinct and not collide with the app routes",
            );
        }

        let assertion_secret = get("--assertion-secret").map(String::into_bytes);
        if assertion_secret
            .as_ref()
            .is_some_and(|s| s.len() < edgegate::low_level::assertion::MIN_SECRET_BYTES)
        {
            return err(format!(
                "ASSERTION_SECRET must be at least {} bytes",
                edgegate::low_level::assertion::MIN_SECRET_BYTES
            ));
        }
        let assertion_audience = match get("--assertion-audience") {
            None => None,
            Some(a) => Some(normalize_origin(&a).ok_or_else(|| {
                UsageError(format!(
                    "ASSERTION_AUDIENCE must be scheme://host[:port], got {a:?}"
                ))
            })?),
        };

        let insecure_env =
            env("INSECURE_COOKIES").is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));

        Ok(Self {
            alg,
            jwt_secret,
            data_dir: PathBuf::from(get("--data-dir").unwrap_or_else(|| DEFAULT_DATA_DIR.into())),
            access_ttl,
            refresh_ttl,
            session_max_age,
            refresh_grace,
            users,
            public_origins,
            access_cookie,
            refresh_cookie,
            refresh_path,
            login_path,
            issuer: get("--issuer"),
            audience: get("--audience"),
            assertion_secret,
            assertion_audience,
            secure_cookies: !(args.insecure_cookies || insecure_env),
            test_routes: args.test_routes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(values: &[(&'static str, &str)]) -> ReferenceArgs {
        ReferenceArgs {
            reference: true,
            values: values.iter().map(|(f, v)| (*f, (*v).to_owned())).collect(),
            ..ReferenceArgs::default()
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn no_file(_: &std::path::Path) -> std::io::Result<String> {
        Err(std::io::Error::other("no file"))
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults() {
        let c = Config::resolve(
            &args(&[("--jwt-secret", SECRET), ("--user", "alice:pw")]),
            no_env,
            no_file,
        )
        .unwrap();
        assert_eq!(c.alg, SigningAlg::Hmac(HsAlgorithm::Hs256));
        assert_eq!(c.access_ttl, 600);
        assert_eq!(c.refresh_grace, 10);
        assert_eq!(c.access_cookie, "access");
        assert_eq!(c.refresh_path, "/auth/refresh");
        assert_eq!(c.login_path, "/auth/login");
        assert!(c.secure_cookies);
        assert_eq!(c.users.len(), 1);
        assert!(!format!("{c:?}").contains(SECRET));
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn env_fallback_and_flag_precedence() {
        let env = |k: &str| match k {
            "JWT_SECRET" => Some(SECRET.to_owned()),
            "ACCESS_TTL" => Some("60".to_owned()),
            "REFRESH_GRACE" => Some("3".to_owned()),
            "DEMO_USERS" => Some("alice:a, bob:b".to_owned()),
            "PUBLIC_ORIGINS" => Some("http://127.0.0.1:8787/,HTTP://LOCALHOST:80".to_owned()),
            "INSECURE_COOKIES" => Some("1".to_owned()),
            _ => None,
        };
        let c = Config::resolve(&args(&[("--refresh-grace", "1")]), env, no_file).unwrap();
        assert_eq!(c.access_ttl, 60);
        assert_eq!(c.refresh_grace, 1);
        assert_eq!(
            c.users.iter().map(UserSpec::name).collect::<Vec<_>>(),
            ["alice", "bob"]
        );
        assert_eq!(
            c.public_origins,
            ["http://127.0.0.1:8787", "http://localhost"]
        );
        assert!(!c.secure_cookies);
    }

    #[test]
    fn asymmetric_needs_no_secret_but_hmac_does() {
        let c = Config::resolve(
            &args(&[("--alg", "es256"), ("--user", "a:b")]),
            no_env,
            no_file,
        )
        .unwrap();
        assert_eq!(c.alg, SigningAlg::Es256);
        assert!(Config::resolve(&args(&[("--user", "a:b")]), no_env, no_file).is_err());
        assert!(Config::resolve(
            &args(&[("--jwt-secret", "short"), ("--user", "a:b")]),
            no_env,
            no_file
        )
        .is_err());
    }

    #[test]
    fn rejects_bad_values() {
        let base = [("--jwt-secret", SECRET), ("--user", "alice:pw")];
        for extra in [
            ("--access-ttl", "0"),
            ("--access-ttl", "ten"),
            ("--refresh-grace", "-1"),
            ("--alg", "RS256"),
            ("--public-origin", "http://x/path"),
            ("--public-origin", "javascript:alert(1)"),
            ("--access-cookie", "a b"),
            ("--refresh-cookie", "access"),
            ("--refresh-path", "auth"),
            ("--refresh-path", "/auth/../x"),
            ("--login-path", "/auth/refresh"),
            ("--user", "bad name:pw"),
            ("--user", "alice:dup"),
            ("--user", "nopassword"),
            ("--assertion-secret", "too-short"),
            ("--assertion-audience", "http://x/path"),
        ] {
            let mut v = base.to_vec();
            v.push(extra);
            assert!(
                Config::resolve(&args(&v), no_env, no_file).is_err(),
                "{extra:?}"
            );
        }
        // No users at all.
        assert!(Config::resolve(&args(&[("--jwt-secret", SECRET)]), no_env, no_file).is_err());
    }

    #[test]
    fn users_file() {
        let text = "# demo\n\nalice:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\n";
        let users = parse_users_file(text).unwrap();
        assert_eq!(users.len(), 1);
        assert!(matches!(&users[0], UserSpec::Hashed { name, .. } if name == "alice"));
        assert!(parse_users_file("alice:plaintext\n").is_err());
        assert!(parse_users_file("nocolon\n").is_err());
        let c = Config::resolve(
            &args(&[("--jwt-secret", SECRET), ("--users-file", "/u")]),
            no_env,
            |_| Ok(text.to_owned()),
        )
        .unwrap();
        assert_eq!(c.users.len(), 1);
    }

    #[test]
    fn enabled_by_reference_or_secret_flag_only() {
        let mut a = ReferenceArgs::default();
        assert!(!a.enabled());
        a.values.push(("--jwt-secret", SECRET.into()));
        assert!(a.enabled());
        let b = ReferenceArgs {
            reference: true,
            ..ReferenceArgs::default()
        };
        assert!(b.enabled());
    }

    #[test]
    fn origins_normalise() {
        assert_eq!(
            normalize_origin("https://Gate.Example:443/").as_deref(),
            Some("https://gate.example")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8787").as_deref(),
            Some("http://127.0.0.1:8787")
        );
        for bad in [
            "ftp://x",
            "http://",
            "http://a/b",
            "http://u@h",
            "null",
            "http://a b",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }
    }
}

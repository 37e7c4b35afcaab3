//! Command-line parsing for the `edgegate-origin` binary (hand-rolled, no clap).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use serde_json::Value;

use crate::mint::{HsAlgorithm, MintOptions};
use crate::reference::config::{option_for_flag, ReferenceArgs};

/// Default `--listen` address for `serve`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:0";

/// Environment variable consulted by `mint` when `--secret` is absent.
pub const SECRET_ENV: &str = "JWT_SECRET";

/// Usage text printed by `--help` and after argument errors.
pub const USAGE: &str = "\
edgegate-origin: reference origin server and JWT minting tool for edgegate

USAGE:
    edgegate-origin [serve] [--listen ADDR] [--allow-remote]            (echo mode)
    edgegate-origin [serve] --reference [REFERENCE FLAGS]                (reference origin)
    edgegate-origin mint --secret SECRET --sub SUB [--alg HS256|HS384|HS512]
                         [--ttl SECONDS] [--iss ISS] [--aud AUD] [--claims JSON_OBJECT]
    edgegate-origin hash-password            (reads one line from stdin, prints an argon2id PHC)
    edgegate-origin --help

SERVE (default command):
    --listen ADDR     address to bind (default 127.0.0.1:0; `localhost:PORT` is accepted)
    --allow-remote    allow binding a non-loopback address
    Prints `edgegate-origin listening on http://HOST:PORT` on stdout once bound,
    then serves until SIGINT/SIGTERM. Without --reference/--jwt-secret it is the echo
    server the gate tests use (every unknown path is echoed back as JSON).

REFERENCE ORIGIN (on with --reference or --jwt-secret; each flag falls back to the
environment variable in brackets, read only in this mode):
    --jwt-secret S         HMAC secret shared with the gate [JWT_SECRET]
    --alg ALG              HS256 (default), HS384, HS512, ES256 or EdDSA [ACCESS_ALG]
    --data-dir DIR         SQLite database + generated keys (default ./edgegate-origin-data) [DATA_DIR]
    --access-ttl SECS      access-token lifetime (default 600) [ACCESS_TTL]
    --refresh-ttl SECS     refresh-token lifetime, renewed by each rotation (default 1209600) [REFRESH_TTL]
    --session-max-age SECS absolute lifetime of a login (default 2592000) [SESSION_MAX_AGE]
    --refresh-grace SECS   a just-rotated refresh token may be presented again for this long
                           and gets the same successor (default 10; 0 = off) [REFRESH_GRACE]
    --user NAME:PASSWORD   a demo user, repeatable (hashed with argon2id at start) [DEMO_USERS, comma list]
    --users-file FILE      lines NAME:$argon2id$... (see hash-password) [USERS_FILE]
    --public-origin URL    the gate's public origin, accepted in Origin headers; repeatable
                           (the server's own URL is always accepted) [PUBLIC_ORIGINS, comma list]
    --access-cookie NAME   (default access; = the gate's ACCESS_COOKIE) [ACCESS_COOKIE]
    --refresh-cookie NAME  (default refresh) [REFRESH_COOKIE]
    --refresh-path PATH    (default /auth/refresh; = the gate's REFRESH_PATH) [REFRESH_PATH]
    --login-path PATH      (default /auth/login; = the gate's LOGIN_PATH) [LOGIN_PATH]
    --issuer ISS, --audience AUD   iss / aud of access tokens [ISSUER, AUDIENCE]
    --assertion-secret S   the gate's ASSERTION_SECRET: identity headers then count only with a
                           valid x-auth-assertion [ASSERTION_SECRET]
    --assertion-audience URL  aud expected in assertions (default http://<bound address>)
                           [ASSERTION_AUDIENCE]
    --insecure-cookies     DEMO ONLY: omit the Secure cookie attribute [INSECURE_COOKIES=1]
    --test-routes          keep the echo fallback and /__* diagnostics (tests only)

MINT:
    --secret SECRET   HMAC secret (raw bytes of the string); falls back to $JWT_SECRET
    --sub SUB         `sub` claim (required)
    --alg ALG         HS256 (default), HS384 or HS512
    --ttl SECONDS     exp = iat + SECONDS (default 600; negative gives an expired token)
    --iss ISS         `iss` claim
    --aud AUD         `aud` claim
    --claims JSON     JSON object merged into the payload last (overrides on conflict)
    Prints the compact JWT followed by a newline.

Flags also accept the `--flag=value` form.
Exit status: 0 on success, 2 on usage or mint errors, 1 if the server fails.";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Print [`USAGE`] and exit successfully.
    Help,
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Mint a JWT.
    Mint(MintArgs),
    /// Read a password from stdin and print its argon2id PHC string.
    HashPassword,
}

/// Arguments of `serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// Address to bind; loopback unless `allow_remote`.
    pub listen: SocketAddr,
    /// Whether `--allow-remote` was given.
    pub allow_remote: bool,
    /// Reference-origin flags (reference mode is on when [`ReferenceArgs::enabled`]).
    pub reference: ReferenceArgs,
}

/// Arguments of `mint`.
#[derive(Debug, Clone, PartialEq)]
pub struct MintArgs {
    /// `--secret`, if given (otherwise the caller consults [`SECRET_ENV`]).
    pub secret: Option<String>,
    /// Everything else that goes into the token.
    pub options: MintOptions,
}

impl MintArgs {
    /// The secret from `--secret`, else from `env_secret` (the value of
    /// [`SECRET_ENV`]); an error if neither is present.
    pub fn resolve_secret(&self, env_secret: Option<String>) -> Result<String, UsageError> {
        self.secret.clone().or(env_secret).ok_or_else(|| {
            UsageError(format!(
                "mint: missing --secret (and ${SECRET_ENV} is not set)"
            ))
        })
    }
}

/// A command-line error; the message is meant for stderr (followed by usage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn err<T>(msg: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError(msg.into()))
}

/// Parses the arguments after the program name.
pub fn parse_args<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let args: Vec<String> = args.into_iter().map(Into::into).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Command::Help);
    }
    match args.first().map(String::as_str) {
        None => parse_serve(&[]),
        Some("help") => Ok(Command::Help),
        Some("serve") => parse_serve(&args[1..]),
        Some("mint") => parse_mint(&args[1..]),
        Some("hash-password") if args.len() == 1 => Ok(Command::HashPassword),
        Some("hash-password") => err("hash-password takes no arguments (it reads stdin)"),
        Some(flag) if flag.starts_with("--") => parse_serve(&args),
        Some(other) => err(format!("unknown command {other:?}")),
    }
}

/// Splits the arguments into `(flag, optional inline value)` items, pulling
/// the value from the next argument for flags listed in `takes_value`.
struct Flags<'a> {
    args: &'a [String],
    pos: usize,
    command: &'static str,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String], command: &'static str) -> Self {
        Self {
            args,
            pos: 0,
            command,
        }
    }

    /// Next flag name and its inline `=value`, if any.
    fn next_flag(&mut self) -> Result<Option<(&'a str, Option<&'a str>)>, UsageError> {
        let Some(arg) = self.args.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        if !arg.starts_with("--") {
            return err(format!("{}: unexpected argument {arg:?}", self.command));
        }
        Ok(Some(match arg.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (arg.as_str(), None),
        }))
    }

    /// The value for `flag`: the inline one, or the next argument verbatim
    /// (so `--ttl -60` works).
    fn value(&mut self, flag: &str, inline: Option<&'a str>) -> Result<String, UsageError> {
        if let Some(v) = inline {
            return Ok(v.to_owned());
        }
        match self.args.get(self.pos) {
            Some(v) => {
                self.pos += 1;
                Ok(v.clone())
            }
            None => err(format!("{}: {flag} needs a value", self.command)),
        }
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, flag: &str) -> Result<(), UsageError> {
    if slot.is_some() {
        return err(format!("{flag} given more than once"));
    }
    *slot = Some(value);
    Ok(())
}

/// Parses a listen address: `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`.
pub fn parse_listen(s: &str) -> Result<SocketAddr, UsageError> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        }
    }
    err(format!(
        "invalid --listen address {s:?} (expected IP:PORT, e.g. 127.0.0.1:8787)"
    ))
}

fn parse_serve(args: &[String]) -> Result<Command, UsageError> {
    let mut flags = Flags::new(args, "serve");
    let mut listen = None;
    let mut allow_remote = false;
    let mut reference = ReferenceArgs::default();
    while let Some((flag, inline)) = flags.next_flag()? {
        if let Some(spec) = option_for_flag(flag) {
            let value = flags.value(flag, inline)?;
            reference.values.push((spec.flag, value));
            continue;
        }
        let switch = match flag {
            "--reference" => Some(&mut reference.reference),
            "--insecure-cookies" => Some(&mut reference.insecure_cookies),
            "--test-routes" => Some(&mut reference.test_routes),
            _ => None,
        };
        if let Some(slot) = switch {
            if inline.is_some() {
                return err(format!("serve: {flag} takes no value"));
            }
            *slot = true;
            continue;
        }
        match flag {
            "--listen" => {
                let value = flags.value(flag, inline)?;
                set_once(&mut listen, parse_listen(&value)?, flag)?;
            }
            "--allow-remote" => {
                if inline.is_some() {
                    return err("serve: --allow-remote takes no value");
                }
                allow_remote = true;
            }
            other => return err(format!("serve: unknown flag {other}")),
        }
    }
    let listen = match listen {
        Some(addr) => addr,
        None => parse_listen(DEFAULT_LISTEN)?,
    };
    if !allow_remote && !listen.ip().is_loopback() {
        return err(format!(
            "serve: refusing to listen on non-loopback address {listen} without --allow-remote"
        ));
    }
    if !reference.enabled()
        && (!reference.values.is_empty() || reference.insecure_cookies || reference.test_routes)
    {
        return err("serve: reference-origin flags need --reference (or --jwt-secret)");
    }
    Ok(Command::Serve(ServeArgs {
        listen,
        allow_remote,
        reference,
    }))
}

fn parse_mint(args: &[String]) -> Result<Command, UsageError> {
    let mut flags = Flags::new(args, "mint");
    let (mut secret, mut sub, mut alg, mut ttl, mut iss, mut aud, mut claims) =
        (None, None, None, None, None, None, None);
    while let Some((flag, inline)) = flags.next_flag()? {
        let value = match flag {
            "--secret" | "--sub" | "--alg" | "--ttl" | "--iss" | "--aud" | "--claims" => {
                flags.value(flag, inline)?
            }
            other => return err(format!("mint: unknown flag {other}")),
        };
        match flag {
            "--secret" => set_once(&mut secret, value, flag)?,
            "--sub" => set_once(&mut sub, value, flag)?,
            "--alg" => {
                let parsed = value
                    .parse::<HsAlgorithm>()
                    .map_err(|e| UsageError(format!("mint: {e}")))?;
                set_once(&mut alg, parsed, flag)?;
            }
            "--ttl" => {
                let parsed = value.parse::<i64>().map_err(|_| {
                    UsageError(format!("mint: --ttl must be an integer, got {value:?}"))
                })?;
                set_once(&mut ttl, parsed, flag)?;
            }
            "--iss" => set_once(&mut iss, value, flag)?,
            "--aud" => set_once(&mut aud, value, flag)?,
            _ => {
                let parsed = match serde_json::from_str::<Value>(&value) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => return err("mint: --claims must be a JSON object"),
                    Err(e) => return err(format!("mint: --claims is not valid JSON: {e}")),
                };
                set_once(&mut claims, parsed, flag)?;
            }
        }
    }
    let Some(sub) = sub else {
        return err("mint: missing --sub");
    };
    let mut options = MintOptions::new(sub);
    if let Some(alg) = alg {
        options.alg = alg;
    }
    if let Some(ttl) = ttl {
        options.ttl = ttl;
    }
    options.iss = iss;
    options.aud = aud;
    options.claims = claims.unwrap_or_default();
    Ok(Command::Mint(MintArgs { secret, options }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint::DEFAULT_TTL_SECS;
    use serde_json::json;

    fn parse(args: &[&str]) -> Result<Command, UsageError> {
        parse_args(args.iter().copied())
    }

    fn serve(args: &[&str]) -> ServeArgs {
        match parse(args) {
            Ok(Command::Serve(s)) => s,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    fn mint(args: &[&str]) -> MintArgs {
        match parse(args) {
            Ok(Command::Mint(m)) => m,
            other => panic!("expected mint, got {other:?}"),
        }
    }

    #[test]
    fn no_args_is_serve_with_defaults() {
        let s = serve(&[]);
        assert_eq!(s.listen, "127.0.0.1:0".parse().unwrap());
        assert!(!s.allow_remote);
        assert_eq!(serve(&["serve"]), s);
    }

    #[test]
    fn serve_listen_forms() {
        assert_eq!(
            serve(&["serve", "--listen", "127.0.0.1:8787"]).listen,
            "127.0.0.1:8787".parse().unwrap()
        );
        assert_eq!(
            serve(&["--listen=localhost:9000"]).listen,
            "127.0.0.1:9000".parse().unwrap()
        );
        assert_eq!(
            serve(&["serve", "--listen", "[::1]:1234"]).listen,
            "[::1]:1234".parse().unwrap()
        );
    }

    #[test]
    fn serve_refuses_remote_without_flag() {
        assert!(parse(&["serve", "--listen", "0.0.0.0:8080"]).is_err());
        assert!(parse(&["serve", "--listen", "192.168.1.2:8080"]).is_err());
        let s = serve(&["serve", "--allow-remote", "--listen", "0.0.0.0:8080"]);
        assert!(s.allow_remote);
        assert_eq!(s.listen, "0.0.0.0:8080".parse().unwrap());
    }

    #[test]
    fn serve_errors() {
        assert!(parse(&["serve", "--listen"]).is_err());
        assert!(parse(&["serve", "--listen", "nonsense"]).is_err());
        assert!(parse(&["serve", "--port", "1"]).is_err());
        assert!(parse(&["serve", "stray"]).is_err());
        assert!(parse(&[
            "serve",
            "--listen",
            "127.0.0.1:1",
            "--listen",
            "127.0.0.1:2"
        ])
        .is_err());
        assert!(parse(&["serve", "--allow-remote=yes"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }

    #[test]
    fn serve_reference_flags() {
        let s = serve(&[
            "serve",
            "--reference",
            "--user",
            "alice:pw",
            "--user=bob:pw2",
            "--access-ttl",
            "60",
            "--insecure-cookies",
            "--test-routes",
        ]);
        assert!(s.reference.enabled());
        assert!(s.reference.insecure_cookies && s.reference.test_routes);
        assert_eq!(
            s.reference.values,
            [
                ("--user", "alice:pw".to_owned()),
                ("--user", "bob:pw2".to_owned()),
                ("--access-ttl", "60".to_owned())
            ]
        );
        // --jwt-secret alone switches reference mode on.
        assert!(serve(&["--jwt-secret", "x"]).reference.enabled());
        // Plain serve stays echo mode.
        assert!(!serve(&["serve"]).reference.enabled());
        // Reference flags without reference mode, and switches with values, are errors.
        assert!(parse(&["serve", "--user", "a:b"]).is_err());
        assert!(parse(&["serve", "--test-routes"]).is_err());
        assert!(parse(&["serve", "--reference=yes"]).is_err());
        assert!(parse(&["serve", "--reference", "--access-ttl"]).is_err());
        assert_eq!(parse(&["hash-password"]), Ok(Command::HashPassword));
        assert!(parse(&["hash-password", "x"]).is_err());
    }

    #[test]
    fn help_anywhere() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["help"],
            &["serve", "--help"],
            &["mint", "--sub", "x", "--help"],
        ] {
            assert_eq!(parse(args), Ok(Command::Help), "{args:?}");
        }
    }

    #[test]
    fn mint_minimal_defaults() {
        let m = mint(&["mint", "--secret", "s3cret", "--sub", "alice"]);
        assert_eq!(m.secret.as_deref(), Some("s3cret"));
        assert_eq!(m.options, MintOptions::new("alice"));
        assert_eq!(m.options.ttl, DEFAULT_TTL_SECS);
        assert_eq!(m.options.alg, HsAlgorithm::Hs256);
    }

    #[test]
    fn mint_all_flags() {
        let m = mint(&[
            "mint",
            "--sub=bob",
            "--alg",
            "HS512",
            "--ttl",
            "-60",
            "--iss",
            "issuer",
            "--aud=aud1",
            "--claims",
            r#"{"role":"admin","n":1}"#,
        ]);
        assert_eq!(m.secret, None);
        assert_eq!(m.options.sub, "bob");
        assert_eq!(m.options.alg, HsAlgorithm::Hs512);
        assert_eq!(m.options.ttl, -60);
        assert_eq!(m.options.iss.as_deref(), Some("issuer"));
        assert_eq!(m.options.aud.as_deref(), Some("aud1"));
        assert_eq!(
            Value::Object(m.options.claims),
            json!({"role": "admin", "n": 1})
        );
    }

    #[test]
    fn mint_errors() {
        assert!(parse(&["mint", "--secret", "s"]).is_err()); // no --sub
        assert!(parse(&["mint", "--sub", "a", "--alg", "RS256"]).is_err());
        assert!(parse(&["mint", "--sub", "a", "--ttl", "soon"]).is_err());
        assert!(parse(&["mint", "--sub", "a", "--claims", "[1]"]).is_err());
        assert!(parse(&["mint", "--sub", "a", "--claims", "{"]).is_err());
        assert!(parse(&["mint", "--sub", "a", "--sub", "b"]).is_err());
        assert!(parse(&["mint", "--sub", "a", "--bogus", "1"]).is_err());
        assert!(parse(&["mint", "--sub"]).is_err());
    }

    #[test]
    fn secret_resolution() {
        let m = mint(&["mint", "--sub", "a"]);
        assert_eq!(m.resolve_secret(Some("env".into())), Ok("env".into()));
        assert!(m.resolve_secret(None).is_err());
        let m = mint(&["mint", "--sub", "a", "--secret", "flag"]);
        assert_eq!(m.resolve_secret(Some("env".into())), Ok("flag".into()));
    }
}

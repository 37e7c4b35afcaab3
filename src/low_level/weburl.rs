//! Absolute `http(s)` URLs in configuration (`ORIGIN_URL`, `JWKS_URL`, `ALLOWED_ORIGINS`).
//!
//! A strict subset of RFC 3986 / WHATWG URLs, checked without the `url` crate: with its IDNA
//! machinery that crate is a tenth of the worker module, for three values read once per
//! isolate. Anything outside the subset is refused with a reason — nothing is silently
//! rewritten except what every browser also normalises: scheme and host case, a default port.
//!
//! | part | accepted |
//! |---|---|
//! | scheme | `http`, `https` (any case) |
//! | userinfo | never |
//! | host | ASCII letters, digits, `-`, `.` (no empty label; internationalised names in punycode), or a bracketed IPv6 literal |
//! | port | 1–65535, decimal without leading zeros; the scheme's default is dropped |
//! | path, query, fragment | visible ASCII; `%` only before two hex digits; none of `\ " < > ^ { } \| ` and backtick |
//!
//! The native tests compare every accepted URL with the `url` crate's reading of it.

use std::fmt;

/// An absolute URL of the accepted subset, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl<'a> {
    /// `http` or `https`, lower case.
    pub scheme: &'static str,
    /// The host, lower case (an IPv6 literal keeps its brackets).
    pub host: String,
    /// The port, `None` when absent or the scheme's default.
    pub port: Option<u16>,
    /// The path as written (possibly empty).
    pub path: &'a str,
    /// The query without `?`, if any.
    pub query: Option<&'a str>,
    /// Whether a fragment (`#…`) was present.
    pub fragment: bool,
}

/// Why a value is not an accepted URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    /// Not `http://` or `https://`.
    Scheme,
    /// Contains `user[:password]@`.
    Credentials,
    /// Empty, non-ASCII or otherwise malformed host.
    Host,
    /// Malformed or out-of-range port.
    Port,
    /// A character that must be percent-encoded, or a malformed `%` escape.
    Character,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "is not an http:// or https:// URL",
            UrlError::Credentials => "must not contain credentials",
            UrlError::Host => {
                "has an invalid host (ASCII letters, digits, '-' and '.'; write internationalised names in punycode)"
            }
            UrlError::Port => "has an invalid port",
            UrlError::Character => "contains a character that must be percent-encoded",
        })
    }
}

impl std::error::Error for UrlError {}

impl WebUrl<'_> {
    /// `scheme://host[:port]`, as browsers serialise an origin.
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("{}://{}:{p}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }

    /// Whether the host is this machine (`127.0.0.1`, `localhost`, `[::1]`).
    pub fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
    }
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn valid_rest(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.iter().enumerate().all(|(i, &c)| match c {
        b'%' => {
            b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        }
        b'\\' | b'"' | b'<' | b'>' | b'^' | b'`' | b'{' | b'|' | b'}' => false,
        c => c.is_ascii_graphic(),
    })
}

/// Parses `raw` (see the module docs for the accepted subset).
///
/// ```
/// use edgegate::low_level::weburl::{parse, UrlError};
/// let u = parse("HTTPS://Origin.Example:443/app?x=1").unwrap();
/// assert_eq!(u.origin(), "https://origin.example");
/// assert_eq!((u.path, u.query), ("/app", Some("x=1")));
/// assert_eq!(parse("http://user:pw@h.example/").unwrap_err(), UrlError::Credentials);
/// assert_eq!(parse("https://bücher.example/").unwrap_err(), UrlError::Host);
/// ```
pub fn parse(raw: &str) -> Result<WebUrl<'_>, UrlError> {
    let (scheme, rest) = raw.split_once("://").ok_or(UrlError::Scheme)?;
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("https") {
        ("https", 443)
    } else if scheme.eq_ignore_ascii_case("http") {
        ("http", 80)
    } else {
        return Err(UrlError::Scheme);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(UrlError::Credentials);
    }
    let (host, port) = match authority.rfind(':') {
        // The last ':' separates a port unless it sits inside an IPv6 literal.
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    if !valid_host(host) {
        return Err(UrlError::Host);
    }
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty()
                || p.len() > 5
                || p.starts_with('0')
                || !p.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(UrlError::Port);
            }
            let n: u16 = p.parse().map_err(|_| UrlError::Port)?;
            (n != default_port).then_some(n)
        }
    };
    if !valid_rest(tail) {
        return Err(UrlError::Character);
    }
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((b, _)) => (b, true),
        None => (tail, false),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    Ok(WebUrl {
        scheme,
        host: host.to_ascii_lowercase(),
        port,
        path,
        query,
        fragment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_urls_read_like_the_url_crate() {
        for raw in [
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9000/",
            "https://origin.example/app/",
            "HTTPS://Origin.EXAMPLE:443/a/b?x=1&y=%20",
            "http://localhost:80/x",
            "http://[::1]:8080/jwks",
            "https://xn--bcher-kva.example./p",
            "https://idp.example/.well-known/jwks.json?tenant=a:b",
            "http://h-1.example:65535/a;b=c/d@e",
        ] {
            let mine = parse(raw).expect(raw);
            let theirs = url::Url::parse(raw).unwrap();
            assert_eq!(
                mine.origin(),
                theirs.origin().ascii_serialization(),
                "{raw}"
            );
            let path = if mine.path.is_empty() { "/" } else { mine.path };
            assert_eq!(path, theirs.path(), "{raw}");
            assert_eq!(mine.query, theirs.query(), "{raw}");
        }
    }

    #[test]
    fn refuses_everything_outside_the_subset() {
        for (raw, want) in [
            ("not a url", UrlError::Scheme),
            ("ftp://h.example/", UrlError::Scheme),
            ("//h.example/", UrlError::Scheme),
            ("http://user:pw@h.example/", UrlError::Credentials),
            ("http://@h.example/", UrlError::Credentials),
            ("http:///path", UrlError::Host),
            ("http://h..example/", UrlError::Host),
            ("http://bücher.example/", UrlError::Host),
            ("http://h_x.example/", UrlError::Host),
            ("http://h.example%2f/", UrlError::Host),
            ("http://[zz]/", UrlError::Host),
            ("http://h.example:/", UrlError::Port),
            ("http://h.example:0/", UrlError::Port),
            ("http://h.example:080/", UrlError::Port),
            ("http://h.example:65536/", UrlError::Port),
            ("http://h.example:8a/", UrlError::Port),
            ("http://h.example/a b", UrlError::Character),
            ("http://h.example/a\\b", UrlError::Character),
            ("http://h.example/%zz", UrlError::Character),
            ("http://h.example/%2", UrlError::Character),
            ("http://h.example/<x>", UrlError::Character),
        ] {
            assert_eq!(parse(raw).unwrap_err(), want, "{raw}");
        }
    }

    #[test]
    fn parts() {
        let u = parse("https://h.example:8443/p/q?a=1#frag").unwrap();
        assert_eq!(u.port, Some(8443));
        assert_eq!((u.path, u.query, u.fragment), ("/p/q", Some("a=1"), true));
        assert!(parse("http://127.0.0.1:1/").unwrap().is_loopback());
        assert!(parse("http://[::1]/").unwrap().is_loopback());
        assert!(!parse("http://127.0.0.2/").unwrap().is_loopback());
    }
}

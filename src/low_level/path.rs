//! Request paths: one canonical form for rules *and* for the origin, and safe `return_to` targets.
//!
//! A rule such as "`/public` needs no token" is only as good as the agreement between the gate
//! and the origin on what path a request names. [`normalize`] produces one canonical path, and
//! the gate forwards exactly that path, so there is no parser differential to exploit:
//!
//! - percent-encoded unreserved characters are decoded (`/%61dmin` → `/admin`, `%2e` → `.`),
//!   other escapes are kept with upper-case hex;
//! - `\` is treated as `/`, runs of `/` collapse to one, `.` and `..` segments are resolved
//!   (never above the root);
//! - escapes that would change the path structure or hide control bytes — `%2F`, `%5C`, `%00`
//!   to `%1F`, `%7F` — and malformed escapes are refused ([`PathError`]), as are raw control
//!   bytes;
//! - `;` (raw or `%3B`) is refused: Tomcat, Jetty and Spring strip `;…` path parameters from each
//!   segment, so `/admin;x=y/users` or `/public/..;/admin` would name one path to the gate and
//!   another to such an origin.

use std::fmt;

/// The longest `return_to` target, in bytes before percent-encoding. Canonical path + `?` +
/// query up to this length is kept whole; longer, the query is dropped and the path alone kept if
/// it fits; a path that does not fit becomes `/`.
pub const MAX_RETURN_TO_BYTES: usize = 2048;

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/`, has a malformed or forbidden escape, or a control byte.
    Invalid,
    /// A segment carries a `;` path parameter (raw or `%3B`).
    Parameter,
}

impl PathError {
    /// A stable, machine-readable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            PathError::Invalid => "bad_path",
            PathError::Parameter => "path_parameter",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for PathError {}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Canonicalises an absolute request path (no query). See the module docs for the rules.
///
/// ```
/// use edgegate::low_level::path::normalize;
/// assert_eq!(normalize("/a//b/./c/../d").unwrap(), "/a/b/d");
/// assert_eq!(normalize("/%61dmin/%2e%2E/admin").unwrap(), "/admin");
/// assert_eq!(normalize("/x/%c3%a9").unwrap(), "/x/%C3%A9");
/// assert!(normalize("/public/..%2fadmin").is_err());
/// assert!(normalize("/public/..;/admin").is_err());
/// ```
pub fn normalize(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::Invalid);
    }
    // 1. Decode unreserved escapes, canonicalise the rest, map '\' to '/'.
    let mut decoded = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(PathError::Invalid);
                };
                let v = h * 16 + l;
                if v < 0x20 || v == 0x7f || v == b'/' || v == b'\\' {
                    return Err(PathError::Invalid);
                }
                if v == b';' {
                    return Err(PathError::Parameter);
                }
                if is_unreserved(v) {
                    decoded.push(char::from(v));
                } else {
                    decoded.push('%');
                    decoded.push_str(&format!("{v:02X}"));
                }
                i += 3;
            }
            b'\\' => {
                decoded.push('/');
                i += 1;
            }
            b';' => return Err(PathError::Parameter),
            _ if b < 0x20 || b == 0x7f => return Err(PathError::Invalid),
            _ => {
                // Copy the whole (possibly multi-byte) character starting here.
                let ch_len = raw[i..].chars().next().map_or(1, char::len_utf8);
                decoded.push_str(&raw[i..i + ch_len]);
                i += ch_len;
            }
        }
    }
    // 2. Resolve dot segments and empty segments.
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    let mut path = String::with_capacity(decoded.len());
    for seg in &out {
        path.push('/');
        path.push_str(seg);
    }
    if path.is_empty() || (trailing && !out.is_empty()) {
        path.push('/');
    }
    Ok(path)
}

/// Whether a canonical `path` lies under `prefix` on a segment boundary.
///
/// `/static` matches `/static` and `/static/app.js`, not `/staticfoo`; `/static/` matches only
/// below it; `/` matches everything.
///
/// ```
/// use edgegate::low_level::path::under;
/// assert!(under("/static/app.js", "/static"));
/// assert!(under("/static", "/static"));
/// assert!(!under("/staticfoo", "/static"));
/// ```
pub fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Appends `s` percent-encoded exactly like JavaScript's `encodeURIComponent`: every byte of
/// its UTF-8 form except `A-Z a-z 0-9 - _ . ! ~ * ' ( )` becomes `%XX` (upper-case hex), so
/// frontends and origins can decode a `return_to` value with the usual tools. (Ten lines rather
/// than the `percent-encoding` crate, whose tables would be dead weight in the worker; the native
/// tests compare the two.)
fn encode_uri_component(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Builds `<endpoint>?return_to=<target>` for a redirect, where target is the canonical path and
/// query of the request: always a same-origin relative path (one leading `/`, never `//` or
/// `/\`), percent-encoded so no CR/LF or quote survives. When path + `?` + query exceeds
/// [`MAX_RETURN_TO_BYTES`] the query is dropped; when the path alone exceeds it, the target is `/`.
///
/// ```
/// use edgegate::low_level::path::redirect_location;
/// assert_eq!(redirect_location("/auth/refresh", "/app", Some("x=1&y=2")),
///            "/auth/refresh?return_to=%2Fapp%3Fx%3D1%26y%3D2");
/// assert_eq!(redirect_location("/auth/login", "/", None), "/auth/login?return_to=%2F");
/// ```
pub fn redirect_location(endpoint: &str, canonical_path: &str, query: Option<&str>) -> String {
    let mut target = String::from(canonical_path);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        target.push('?');
        target.push_str(q);
    }
    if target.len() > MAX_RETURN_TO_BYTES {
        target = if canonical_path.len() <= MAX_RETURN_TO_BYTES {
            canonical_path.to_owned()
        } else {
            "/".to_owned()
        };
    }
    // `normalize` already guarantees a single leading '/'; enforce it again so this function is
    // safe on its own.
    let trimmed = target.trim_start_matches(['/', '\\']);
    let mut location = format!("{endpoint}?return_to=%2F");
    encode_uri_component(trimmed, &mut location);
    location
}

/// The parts of a request URL as the runtime serialised it: `(origin, path, query)`.
///
/// workerd hands the fetch handler an absolute, WHATWG-serialised `http(s)` URL (lower-case
/// scheme and host, no userinfo, no fragment, path starting with `/`), so splitting it is exact
/// and costs no URL parse per request. Anything outside that shape returns `None` (the gate
/// then refuses the request); the native tests compare the split with the `url` crate.
///
/// ```
/// use edgegate::low_level::path::split_request_url;
/// assert_eq!(split_request_url("https://app.example:8443/a/b?x=1"),
///            Some(("https://app.example:8443", "/a/b", Some("x=1"))));
/// assert_eq!(split_request_url("http://h/"), Some(("http://h", "/", None)));
/// assert_eq!(split_request_url("http://u@h/"), None); // not the runtime's serialisation
/// ```
pub fn split_request_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority_end = rest.find('/')?;
    let authority = &rest[..authority_end];
    let plain = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | ':' | '[' | ']')
    };
    if authority.is_empty() || !authority.chars().all(plain) {
        return None; // userinfo, upper case, percent-escapes: not the runtime's serialisation
    }
    let origin = &url[..url.len() - rest.len() + authority_end];
    let tail = &rest[authority_end..];
    if tail.contains('#') || !tail.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(match tail.split_once('?') {
        Some((path, query)) => (origin, path, Some(query)),
        None => (origin, tail, None),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_uri_component_matches_the_percent_encoding_crate() {
        use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
        const JS_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'!')
            .remove(b'~')
            .remove(b'*')
            .remove(b'\'')
            .remove(b'(')
            .remove(b')');
        let all_bytes: String = (0u8..128).map(char::from).collect();
        for s in [
            "",
            "/app?x=1&y=2",
            "a b\r\n\"<>'()*!~._-",
            "/é/😀?q=%41",
            all_bytes.as_str(),
        ] {
            let mut mine = String::new();
            encode_uri_component(s, &mut mine);
            assert_eq!(
                mine,
                utf8_percent_encode(s, JS_COMPONENT).to_string(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn split_request_url_agrees_with_the_url_crate() {
        for raw in [
            "http://gate.test/",
            "http://gate.test/api/items?page=2",
            "https://app.example:8443/a/b/c?x=1&y=%20z",
            "http://127.0.0.1:8787/%2e%2e/admin?",
            "https://h.example/p?q?r=/s",
            "http://h/a;b=c/%F0%9F%98%80",
            "http://xn--bcher-kva.example/x",
            "http://[::1]:8787/local",
        ] {
            let u = url::Url::parse(raw).unwrap();
            let (origin, path, query) = split_request_url(raw).expect(raw);
            assert_eq!(origin, u.origin().ascii_serialization(), "{raw}");
            // The url crate resolves `%2e%2e` segments while splitting keeps them; the canonical
            // path (what rules and the origin see) is the same either way.
            assert_eq!(normalize(path), normalize(u.path()), "{raw}");
            assert_eq!(query, u.query(), "{raw}");
        }
        // Shapes the runtime does not produce are left to the full parser.
        for odd in [
            "http://user:pw@h/",
            "http://H.example/",
            "http://h.example",
            "http://h/#frag",
            "ftp://h/",
            "http://h/a b",
            "http:///x",
        ] {
            assert_eq!(split_request_url(odd), None, "{odd}");
        }
    }

    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("/", "/"),
            ("//", "/"),
            ("/a", "/a"),
            ("/a/", "/a/"),
            ("/a//b", "/a/b"),
            ("//a///b//", "/a/b/"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../../a", "/a"),
            ("/a/..", "/"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/%2e%2e/admin", "/admin"),
            ("/public/%2E%2E/admin", "/admin"),
            ("/public/.%2e/admin", "/admin"),
            ("/%61%64%6d%69%6e", "/admin"),
            ("/a\\b", "/a/b"),
            ("/public\\..\\admin", "/admin"),
            ("/a%20b", "/a%20b"),
            ("/a%3fb", "/a%3Fb"),
            ("/caf\u{e9}", "/caf\u{e9}"),
            ("/~user/x", "/~user/x"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn refusals() {
        for raw in [
            "", "a", "*", "/a%2fb", "/a%2Fb", "/a%5cb", "/a%00", "/a%0d%0a", "/a%1f", "/a%7f",
            "/a%", "/a%4", "/a%zz", "/a\r\nb", "/a\u{0}", "/a\tb",
        ] {
            assert_eq!(normalize(raw), Err(PathError::Invalid), "{raw:?}");
        }
    }

    #[test]
    fn path_parameters_are_refused() {
        // What Tomcat/Jetty/Spring read as `/admin/users`, `/admin` or `/internal/x`.
        for raw in [
            "/admin;x=y/users",
            "/admin;/users",
            "/public/..;/admin",
            "/internal;x=y/x",
            "/a;",
            "/;/admin",
            "/admin%3bx/users",
            "/admin%3B/users",
            "/static/app.js;jsessionid=ABC",
        ] {
            assert_eq!(normalize(raw), Err(PathError::Parameter), "{raw:?}");
        }
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(PathError::Invalid.code(), "bad_path");
        assert_eq!(PathError::Invalid.to_string(), "bad_path");
        assert_eq!(PathError::Parameter.code(), "path_parameter");
        assert_eq!(PathError::Parameter.to_string(), "path_parameter");
    }

    #[test]
    fn prefix_matching_on_segment_boundaries() {
        assert!(under("/", "/"));
        assert!(under("/anything", "/"));
        assert!(under("/health", "/health"));
        assert!(under("/health/live", "/health"));
        assert!(!under("/healthz", "/health"));
        assert!(under("/static/x", "/static/"));
        assert!(!under("/static", "/static/"));
        assert!(!under("/Static/x", "/static"));
    }

    #[test]
    fn return_to_is_always_same_origin_relative() {
        let evil = [
            ("//evil.com/x", None),
            ("/\\evil.com", None),
            ("\\\\evil.com", None),
            ("/x", Some("a=%0d%0aSet-Cookie:x")),
            ("/x", Some("\r\nLocation: //evil")),
        ];
        for (p, q) in evil {
            let loc = redirect_location("/auth/refresh", p, q);
            let target = loc.strip_prefix("/auth/refresh?return_to=").unwrap();
            assert!(
                target.starts_with("%2F") && !target.starts_with("%2F%2F"),
                "{loc}"
            );
            assert!(!target.contains(['\\', '\r', '\n', '/']), "{loc}");
            let decoded = percent_encoding::percent_decode_str(target)
                .decode_utf8()
                .unwrap();
            assert!(
                decoded.starts_with('/')
                    && !decoded.starts_with("//")
                    && !decoded.starts_with("/\\"),
                "{decoded}"
            );
        }
    }

    #[test]
    fn long_targets_fall_back() {
        let long_q = "q=".to_owned() + &"x".repeat(MAX_RETURN_TO_BYTES);
        assert_eq!(
            redirect_location("/r", "/p", Some(&long_q)),
            "/r?return_to=%2Fp"
        );
        let long_p = "/".to_owned() + &"p".repeat(MAX_RETURN_TO_BYTES);
        assert_eq!(redirect_location("/r", &long_p, None), "/r?return_to=%2F");
    }

    /// The decoded `return_to` target of a `redirect_location` result.
    fn target(location: &str) -> String {
        let v = location.strip_prefix("/r?return_to=").unwrap();
        percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .unwrap()
            .into_owned()
    }

    #[test]
    fn return_to_limit_is_exact() {
        const MAX: usize = MAX_RETURN_TO_BYTES;
        assert_eq!(MAX, 2048);
        // Path + `?` + query: 2048 bytes kept whole, 2049 lose the query.
        for (total, kept_whole) in [(MAX, true), (MAX + 1, false)] {
            let query = "q=".to_owned() + &"x".repeat(total - "/p?q=".len());
            let whole = format!("/p?{query}");
            assert_eq!(whole.len(), total);
            let got = target(&redirect_location("/r", "/p", Some(&query)));
            assert_eq!(
                got,
                if kept_whole { whole.as_str() } else { "/p" },
                "{total}"
            );
        }
        // An empty query adds no `?`, so a 2048-byte path with it still fits.
        let path = "/".to_owned() + &"p".repeat(MAX - 1);
        assert_eq!(target(&redirect_location("/r", &path, Some(""))), path);
        // The path alone: 2048 bytes kept (with or without a query to drop), 2049 become `/`.
        for query in [None, Some("x=1")] {
            let fits = "/".to_owned() + &"p".repeat(MAX - 1);
            assert_eq!(target(&redirect_location("/r", &fits, query)), fits);
            let too_long = "/".to_owned() + &"p".repeat(MAX);
            assert_eq!(target(&redirect_location("/r", &too_long, query)), "/");
        }
    }
}

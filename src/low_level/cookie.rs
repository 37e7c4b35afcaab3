//! Finding the access token in a request's `Cookie` header (and, optionally, `Authorization`).
//!
//! Parsing follows RFC 6265 §5.4 as browsers send cookies: pairs separated by `;`, a name and a
//! value separated by the first `=`, optional whitespace trimmed, a value optionally wrapped in
//! one pair of double quotes. On top of that edgegate is strict about *ambiguity*: a cookie-tossing
//! attacker (a sibling subdomain, or a path-scoped cookie) can add a second cookie with the same
//! name, and "first one wins" is exactly the bug they exploit. So:
//!
//! - two or more cookies whose names equal the configured name, ignoring ASCII case and
//!   surrounding whitespace, are [`CookieError::Ambiguous`], whatever their values;
//! - a single cookie whose name matches only when case is ignored is also ambiguous (no origin
//!   edgegate fronts sets it, and servers disagree on whether names are case-sensitive).
//!
//! The header is bounded ([`MAX_COOKIE_HEADER_BYTES`]) and the scan is linear, so a hostile
//! header with hundreds of cookies costs microseconds.

use std::fmt;

/// A `Cookie` header longer than this is refused outright.
pub const MAX_COOKIE_HEADER_BYTES: usize = 16 * 1024;

/// Why no token could be taken from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieError {
    /// The access cookie appears more than once (or in a case-variant spelling), or cookie and
    /// bearer token disagree.
    Ambiguous,
    /// The `Cookie` header exceeds [`MAX_COOKIE_HEADER_BYTES`].
    HeaderTooLarge,
    /// The `Authorization` header is present but is not a single well-formed bearer token.
    BadAuthorization,
}

impl CookieError {
    /// A stable, machine-readable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            CookieError::Ambiguous => "ambiguous_token",
            CookieError::HeaderTooLarge => "header_too_large",
            CookieError::BadAuthorization => "bad_authorization",
        }
    }
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for CookieError {}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The access cookie.
    Cookie,
    /// `Authorization: Bearer`.
    Bearer,
}

impl Source {
    /// `"cookie"` or `"bearer"`.
    pub const fn name(self) -> &'static str {
        match self {
            Source::Cookie => "cookie",
            Source::Bearer => "bearer",
        }
    }
}

/// Returns the value of the cookie called `name`, `Ok(None)` when there is none.
///
/// ```
/// use edgegate::low_level::cookie::{access_cookie, CookieError};
/// assert_eq!(access_cookie("theme=dark; access=abc.def.ghi", "access"), Ok(Some("abc.def.ghi")));
/// assert_eq!(access_cookie("theme=dark", "access"), Ok(None));
/// assert_eq!(access_cookie("access=a; access=b", "access"), Err(CookieError::Ambiguous));
/// assert_eq!(access_cookie("Access=a", "access"), Err(CookieError::Ambiguous));
/// ```
pub fn access_cookie<'h>(header: &'h str, name: &str) -> Result<Option<&'h str>, CookieError> {
    if header.len() > MAX_COOKIE_HEADER_BYTES {
        return Err(CookieError::HeaderTooLarge);
    }
    let mut found: Option<&'h str> = None;
    // `;` separates pairs; `,` too: a runtime joins repeated `Cookie` header lines (HTTP/2 may
    // split cookies over several, RFC 9113 §8.2.3) with ", ", and no cookie value edgegate reads
    // can contain a comma (RFC 6265 cookie-octet excludes it; a JWT never has one).
    for pair in header.split([';', ',']) {
        // A pair without '=' is a nameless value (RFC 6265bis): it cannot be ours.
        let Some((n, v)) = pair.split_once('=') else {
            continue;
        };
        let n = n.trim_matches(is_ows);
        if !n.eq_ignore_ascii_case(name) {
            continue;
        }
        if found.is_some() || n != name {
            return Err(CookieError::Ambiguous);
        }
        found = Some(unquote(v.trim_matches(is_ows)));
    }
    Ok(found)
}

/// Returns the token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1).
///
/// The scheme is case-insensitive; exactly one space-separated credential must follow.
///
/// ```
/// use edgegate::low_level::cookie::bearer_token;
/// assert_eq!(bearer_token("Bearer abc.def.ghi"), Ok(Some("abc.def.ghi")));
/// assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), Ok(None));
/// assert!(bearer_token("Bearer a b").is_err());
/// ```
pub fn bearer_token(header: &str) -> Result<Option<&str>, CookieError> {
    let header = header.trim_matches(is_ows);
    let Some((scheme, rest)) = header.split_once(' ') else {
        return if header.eq_ignore_ascii_case("bearer") {
            Err(CookieError::BadAuthorization)
        } else {
            Ok(None)
        };
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(is_ows);
    if token.is_empty() || token.contains(is_ows) || token.contains(',') {
        return Err(CookieError::BadAuthorization);
    }
    Ok(Some(token))
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cookie_among_others() {
        let h = "a=1; access=t.o.k; b=2";
        assert_eq!(access_cookie(h, "access"), Ok(Some("t.o.k")));
        assert_eq!(access_cookie("access=t.o.k", "access"), Ok(Some("t.o.k")));
        assert_eq!(
            access_cookie("  access =  t.o.k  ;x=y", "access"),
            Ok(Some("t.o.k"))
        );
        assert_eq!(
            access_cookie("access=\"t.o.k\"", "access"),
            Ok(Some("t.o.k"))
        );
        assert_eq!(access_cookie("access=", "access"), Ok(Some("")));
        assert_eq!(access_cookie("access=a=b", "access"), Ok(Some("a=b")));
        assert_eq!(access_cookie("", "access"), Ok(None));
        assert_eq!(
            access_cookie("accessx=1; xaccess=2; access", "access"),
            Ok(None)
        );
        assert_eq!(access_cookie("my_access=1", "access"), Ok(None));
    }

    #[test]
    fn duplicates_are_ambiguous_in_any_order_and_spelling() {
        for h in [
            "access=good; access=forged",
            "access=forged; access=good",
            "access=x; other=1; access=x",
            "access=x;access=y",
            "access=x; ACCESS=y",
            "ACCESS=y; access=x",
            " access=x; access =y",
            "access=x; \taccess=y",
            "Access=only-case-variant",
        ] {
            assert_eq!(
                access_cookie(h, "access"),
                Err(CookieError::Ambiguous),
                "{h:?}"
            );
        }
    }

    #[test]
    fn joined_header_lines_are_split_too() {
        assert_eq!(
            access_cookie("a=1, access=t.o.k", "access"),
            Ok(Some("t.o.k"))
        );
        assert_eq!(
            access_cookie("access=x, access=y", "access"),
            Err(CookieError::Ambiguous)
        );
    }

    #[test]
    fn huge_headers_and_many_cookies() {
        let big = format!("access={}", "a".repeat(MAX_COOKIE_HEADER_BYTES));
        assert_eq!(
            access_cookie(&big, "access"),
            Err(CookieError::HeaderTooLarge)
        );
        // Exactly 16 KiB is still read.
        let at_limit = &big[..MAX_COOKIE_HEADER_BYTES];
        assert_eq!(access_cookie(at_limit, "access"), Ok(Some(&at_limit[7..])));
        let many: Vec<String> = (0..200).map(|i| format!("c{i}=v{i}")).collect();
        let h = format!("{}; access=t", many.join("; "));
        assert_eq!(access_cookie(&h, "access"), Ok(Some("t")));
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(Source::Cookie.name(), "cookie");
        assert_eq!(Source::Bearer.name(), "bearer");
        for (e, code) in [
            (CookieError::Ambiguous, "ambiguous_token"),
            (CookieError::HeaderTooLarge, "header_too_large"),
            (CookieError::BadAuthorization, "bad_authorization"),
        ] {
            assert_eq!((e.code(), e.to_string().as_str()), (code, code), "{e:?}");
        }
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token("bearer x.y.z"), Ok(Some("x.y.z")));
        assert_eq!(bearer_token("BEARER   x.y.z "), Ok(Some("x.y.z")));
        assert_eq!(bearer_token("Basic abc"), Ok(None));
        assert_eq!(bearer_token(""), Ok(None));
        assert_eq!(bearer_token("Bearer"), Err(CookieError::BadAuthorization));
        assert_eq!(bearer_token("Bearer "), Err(CookieError::BadAuthorization));
        assert_eq!(
            bearer_token("Bearer a, Bearer b"),
            Err(CookieError::BadAuthorization)
        );
        assert_eq!(
            bearer_token("Bearer a\tb"),
            Err(CookieError::BadAuthorization)
        );
    }
}

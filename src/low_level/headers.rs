//! Header rules at the border: which inbound headers may reach the origin, and the
//! `Cache-Control` a response to an authenticated request leaves with. Pure; the worker's
//! `proxy` applies them.

use crate::gate::IDENTITY_HEADER_PREFIX;

/// Inbound headers that never reach the origin (besides every `x-auth-*` header, `Connection`
/// and what `Connection` lists): routing overrides (IIS, Symfony, Laravel and others route on
/// them, so a public path could name a protected one) and method overrides (a `POST` that the
/// origin runs as `DELETE` would pass a `DELETE`-only rule and the CSRF guard's method test).
/// The gate decides with the request's own method and path, and the origin sees exactly those.
pub const STRIPPED_HEADERS: &[&str] = &[
    "x-original-url",
    "x-rewrite-url",
    "x-override-url",
    "x-http-method-override",
    "x-method-override",
    "x-http-method",
];

/// Whether an inbound request header may be passed to the origin.
///
/// Names are compared ASCII case-insensitively with `_` read as `-`, because CGI, WSGI, PHP and
/// Rack map `x_auth_sub` and `x-auth-sub` to the same `HTTP_X_AUTH_SUB`. Refused: every
/// `x-auth-*` header, `Connection`, every header that `Connection` lists (a client listing
/// `x-auth-sub` there would otherwise ask the next proxy to drop the identity header the gate
/// adds), and [`STRIPPED_HEADERS`].
///
/// ```
/// use edgegate::low_level::headers::forwardable_header;
/// assert!(forwardable_header("accept", None));
/// assert!(!forwardable_header("X-Auth-Sub", None));
/// assert!(!forwardable_header("x_auth_sub", None));
/// assert!(!forwardable_header("X-HTTP-Method-Override", None));
/// assert!(!forwardable_header("x-trace", Some("keep-alive, X-Trace")));
/// ```
pub fn forwardable_header(name: &str, connection: Option<&str>) -> bool {
    let canon = cgi_name(name);
    if canon.starts_with(IDENTITY_HEADER_PREFIX)
        || canon == "connection"
        || STRIPPED_HEADERS.contains(&canon.as_str())
    {
        return false;
    }
    !connection.is_some_and(|c| c.split(',').any(|t| cgi_name(t.trim()) == canon))
}

/// `name` in lower case with `_` as `-`: the spelling every common origin stack reduces it to.
fn cgi_name(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'_' => '-',
            b => char::from(b.to_ascii_lowercase()),
        })
        .collect()
}

/// The `Cache-Control` a response to an authenticated request should carry, `None` when it may
/// stand as it is.
///
/// Only an unqualified `private` or `no-store` keeps a shared cache from storing the response:
/// `private="set-cookie"` lets it store everything but the named field (RFC 9111 §5.2.2.7). So
/// unless one of those two stands alone — without `public`, `s-maxage` or a qualified
/// `private` beside it — the value becomes `private` followed by the other directives, with
/// `public`, `s-maxage` and qualified `private` dropped.
///
/// ```
/// use edgegate::low_level::headers::private_cache_control;
/// assert_eq!(private_cache_control(Some("private, max-age=60")), None);
/// assert_eq!(private_cache_control(Some("public, max-age=600")).as_deref(), Some("private, max-age=600"));
/// assert_eq!(
///     private_cache_control(Some(r#"private="set-cookie", public, max-age=600"#)).as_deref(),
///     Some("private, max-age=600")
/// );
/// assert_eq!(private_cache_control(None).as_deref(), Some("private"));
/// ```
pub fn private_cache_control(current: Option<&str>) -> Option<String> {
    let directives = split_directives(current.unwrap_or_default());
    let name = |d: &str| -> String {
        d.split('=')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    let shared_cacheable = |d: &&str| {
        let n = name(d);
        n == "public" || n == "s-maxage" || (n == "private" && d.contains('='))
    };
    let closed = directives.iter().any(|d| {
        let n = name(d);
        (n == "private" || n == "no-store") && !d.contains('=')
    });
    if closed && !directives.iter().any(shared_cacheable) {
        return None;
    }
    let kept: Vec<&str> = directives
        .into_iter()
        .filter(|d| !shared_cacheable(d) && !name(d).eq("private"))
        .collect();
    Some(if kept.is_empty() {
        "private".to_owned()
    } else {
        format!("private, {}", kept.join(", "))
    })
}

/// The comma-separated directives of a `Cache-Control` value, trimmed, empty ones dropped; a
/// comma inside a quoted string (`private="a, b"`) does not split.
fn split_directives(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(value[start..].trim());
    out.retain(|d| !d.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_headers_in_any_spelling_are_refused() {
        for name in [
            "x-auth-sub",
            "X-Auth-Sub",
            "x_auth_sub",
            "X_Auth_Claims",
            "x-auth_assertion",
            "X_AUTH_ANYTHING",
        ] {
            assert!(!forwardable_header(name, None), "{name}");
        }
        for name in ["x-authz", "x_author", "authorization", "x-forwarded-for"] {
            assert!(forwardable_header(name, None), "{name}");
        }
    }

    #[test]
    fn routing_and_method_overrides_are_refused() {
        for name in [
            "X-Original-URL",
            "x-rewrite-url",
            "X_Original_URL",
            "x-override-url",
            "X-HTTP-Method-Override",
            "x_http_method_override",
            "X-Method-Override",
            "X-HTTP-Method",
        ] {
            assert!(!forwardable_header(name, None), "{name}");
        }
    }

    #[test]
    fn connection_and_what_it_lists_are_refused() {
        assert!(!forwardable_header("Connection", None));
        assert!(!forwardable_header("x-trace", Some("close, X_Trace")));
        assert!(!forwardable_header("x_trace", Some("x-trace")));
        assert!(forwardable_header("x-trace", Some("close")));
    }

    #[test]
    fn cache_control_for_authenticated_responses() {
        let cases: [(Option<&str>, Option<&str>); 15] = [
            (None, Some("private")),
            (Some(""), Some("private")),
            (Some("private"), None),
            (Some("Private, max-age=60"), None),
            (Some("no-store"), None),
            (Some("no-cache, NO-STORE"), None),
            (Some("max-age=60"), Some("private, max-age=60")),
            (
                Some("public, s-maxage=600, max-age=60"),
                Some("private, max-age=60"),
            ),
            (
                Some(r#"private="set-cookie", public, max-age=600"#),
                Some("private, max-age=600"),
            ),
            (Some(r#"private="set-cookie""#), Some("private")),
            (
                Some(r#"private="set-cookie, x-a", max-age=5"#),
                Some("private, max-age=5"),
            ),
            (Some("private, public"), Some("private")),
            (Some("no-store, s-maxage=9"), Some("private, no-store")),
            (Some("no-cache"), Some("private, no-cache")),
            (
                Some("must-revalidate, max-age=0"),
                Some("private, must-revalidate, max-age=0"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(private_cache_control(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn quoted_commas_do_not_split_directives() {
        assert_eq!(
            split_directives(r#" a, b="x, \"y\", z" ,, c "#),
            vec!["a", r#"b="x, \"y\", z""#, "c"]
        );
        // An escaped quote does not end the quoted string; a backslash outside one escapes
        // nothing.
        assert_eq!(
            split_directives(r#"b="x\", y", c"#),
            vec![r#"b="x\", y""#, "c"]
        );
        assert_eq!(split_directives(r#"a\, b"#), vec![r#"a\"#, "b"]);
    }
}

//! The CSRF guard for cookie-authenticated, state-changing requests.
//!
//! A cookie is an ambient credential: the browser attaches it to a form POST — or a WebSocket
//! handshake — from any site. For every request with an unsafe method (RFC 9110 §9.2.1: all but
//! `GET`, `HEAD`, `OPTIONS` and `TRACE`, so `PROPFIND`, `MOVE` and custom verbs too) and for every
//! protocol upgrade (`Upgrade: websocket`: cross-site WebSocket hijacking), whose token came from
//! the access **cookie**, the gate requires evidence that the request is same-origin:
//!
//! 1. `Sec-Fetch-Site: same-origin` (or `same-site` when `CSRF_ALLOW_SAME_SITE=true`) passes;
//! 2. otherwise an `Origin` header equal to the request's own origin or one of `ALLOWED_ORIGINS`
//!    passes (browsers without Fetch Metadata, and explicitly trusted cross-origin frontends);
//! 3. anything else — a cross-site form post, `Origin: null`, neither header — is refused with
//!    `403 {"error":"csrf"}`.
//!
//! Safe methods without `Upgrade` are never blocked, and bearer-authenticated requests are exempt
//! (no ambient credential). The guard can be switched off (`CSRF_GUARD=false`), with a start-up
//! warning.

use std::fmt;

/// The CSRF settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrfPolicy {
    /// Whether the guard runs at all (`CSRF_GUARD`).
    pub enabled: bool,
    /// Accept `Sec-Fetch-Site: same-site` (`CSRF_ALLOW_SAME_SITE`).
    pub allow_same_site: bool,
    /// Extra trusted origins, serialised as `scheme://host[:port]` (`ALLOWED_ORIGINS`).
    pub allowed_origins: Vec<String>,
}

/// Why a request was refused as cross-site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfError {
    /// `Sec-Fetch-Site` says cross-site (or same-site without the switch) and `Origin` does not
    /// rescue it.
    CrossSite,
    /// `Origin` is `null` or foreign.
    ForeignOrigin,
    /// Neither `Sec-Fetch-Site` nor `Origin` is present.
    NoEvidence,
}

impl CsrfError {
    /// A stable reason code for logs.
    pub const fn code(self) -> &'static str {
        match self {
            CsrfError::CrossSite => "csrf_cross_site",
            CsrfError::ForeignOrigin => "csrf_foreign_origin",
            CsrfError::NoEvidence => "csrf_no_evidence",
        }
    }
}

impl fmt::Display for CsrfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for CsrfError {}

/// Whether `method` may change state: everything but the safe methods of RFC 9110 §9.2.1.
pub fn is_state_changing(method: &str) -> bool {
    !["GET", "HEAD", "OPTIONS", "TRACE"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Whether a request needs the guard: a state-changing method, or a protocol upgrade (`upgrade`
/// is whether it carries an `Upgrade` header).
pub fn is_guarded(method: &str, upgrade: bool) -> bool {
    upgrade || is_state_changing(method)
}

impl CsrfPolicy {
    /// Checks a cookie-authenticated request. `upgrade` is whether it carries an `Upgrade`
    /// header; `self_origin` is the request URL's origin (`https://app.example`).
    ///
    /// ```
    /// use edgegate::low_level::csrf::{CsrfError, CsrfPolicy};
    /// let p = CsrfPolicy { enabled: true, ..Default::default() };
    /// let me = "https://app.example";
    /// assert_eq!(p.check("POST", false, Some("same-origin"), None, me), Ok(()));
    /// assert_eq!(p.check("POST", false, Some("cross-site"), Some("https://evil.example"), me), Err(CsrfError::CrossSite));
    /// assert_eq!(p.check("POST", false, None, Some("https://app.example"), me), Ok(()));
    /// assert_eq!(p.check("POST", false, None, None, me), Err(CsrfError::NoEvidence));
    /// assert_eq!(p.check("GET", false, Some("cross-site"), None, me), Ok(()));
    /// ```
    pub fn check(
        &self,
        method: &str,
        upgrade: bool,
        sec_fetch_site: Option<&str>,
        origin: Option<&str>,
        self_origin: &str,
    ) -> Result<(), CsrfError> {
        if !self.enabled || !is_guarded(method, upgrade) {
            return Ok(());
        }
        let site = sec_fetch_site.map(|s| s.trim().to_ascii_lowercase());
        match site.as_deref() {
            Some("same-origin") => return Ok(()),
            Some("same-site") if self.allow_same_site => return Ok(()),
            _ => {}
        }
        if let Some(o) = origin.map(str::trim) {
            let trusted = o.eq_ignore_ascii_case(self_origin)
                || self
                    .allowed_origins
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(o));
            if trusted && o != "null" {
                return Ok(());
            }
        }
        match (site, origin) {
            (Some(_), _) => Err(CsrfError::CrossSite),
            (None, Some(_)) => Err(CsrfError::ForeignOrigin),
            (None, None) => Err(CsrfError::NoEvidence),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "https://app.example";

    fn policy() -> CsrfPolicy {
        CsrfPolicy {
            enabled: true,
            allow_same_site: false,
            allowed_origins: vec!["https://partner.example".into()],
        }
    }

    #[test]
    fn every_upgrade_is_guarded() {
        let p = policy();
        let evil = Some("https://evil.example");
        // A cross-site WebSocket handshake is a GET: the upgrade makes it guarded.
        assert_eq!(
            p.check("GET", true, Some("cross-site"), evil, ME),
            Err(CsrfError::CrossSite)
        );
        assert_eq!(
            p.check("GET", true, None, evil, ME),
            Err(CsrfError::ForeignOrigin)
        );
        assert_eq!(
            p.check("GET", true, None, None, ME),
            Err(CsrfError::NoEvidence)
        );
        assert_eq!(
            p.check("GET", true, Some("same-origin"), Some(ME), ME),
            Ok(())
        );
        assert_eq!(p.check("GET", true, None, Some(ME), ME), Ok(()));
        assert!(is_guarded("GET", true) && !is_guarded("GET", false));
    }

    #[test]
    fn safe_methods_are_never_blocked() {
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "get", "trace"] {
            assert_eq!(
                policy().check(
                    m,
                    false,
                    Some("cross-site"),
                    Some("https://evil.example"),
                    ME
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn state_changing_methods_need_evidence() {
        let p = policy();
        // RFC 9110: everything but GET, HEAD, OPTIONS and TRACE is unsafe.
        for m in [
            "POST",
            "PUT",
            "PATCH",
            "DELETE",
            "post",
            "PROPFIND",
            "PROPPATCH",
            "MKCOL",
            "COPY",
            "MOVE",
            "LOCK",
            "UNLOCK",
            "PURGE",
            "X-CUSTOM",
            "propfind",
        ] {
            assert_eq!(
                p.check(
                    m,
                    false,
                    Some("cross-site"),
                    Some("https://evil.example"),
                    ME
                ),
                Err(CsrfError::CrossSite),
                "{m}"
            );
            assert_eq!(
                p.check(m, false, None, Some("null"), ME),
                Err(CsrfError::ForeignOrigin),
                "{m}"
            );
            assert_eq!(
                p.check(m, false, None, None, ME),
                Err(CsrfError::NoEvidence),
                "{m}"
            );
            assert_eq!(
                p.check(m, false, Some("same-origin"), None, ME),
                Ok(()),
                "{m}"
            );
            assert_eq!(p.check(m, false, None, Some(ME), ME), Ok(()), "{m}");
        }
        // `Origin: null` is never "our" origin, even for a page served from an opaque origin.
        assert_eq!(
            p.check("POST", false, None, Some("null"), "null"),
            Err(CsrfError::ForeignOrigin)
        );
        // "none" (typed into the address bar) is not evidence of same-origin for a POST.
        assert_eq!(
            p.check("POST", false, Some("none"), None, ME),
            Err(CsrfError::CrossSite)
        );
    }

    #[test]
    fn same_site_needs_the_switch_and_allowed_origins_are_honoured() {
        let sub = Some("https://sub.app.example");
        assert_eq!(
            policy().check("POST", false, Some("same-site"), sub, ME),
            Err(CsrfError::CrossSite)
        );
        let p = CsrfPolicy {
            allow_same_site: true,
            ..policy()
        };
        assert_eq!(p.check("POST", false, Some("same-site"), sub, ME), Ok(()));
        assert_eq!(
            policy().check(
                "POST",
                false,
                Some("cross-site"),
                Some("https://partner.example"),
                ME
            ),
            Ok(())
        );
        assert_eq!(
            policy().check("POST", false, None, Some("https://partner.example"), ME),
            Ok(())
        );
        assert_eq!(
            policy().check(
                "POST",
                false,
                Some("cross-site"),
                Some("https://partner.example.evil"),
                ME
            ),
            Err(CsrfError::CrossSite)
        );
    }

    #[test]
    fn codes_are_stable() {
        for (e, code) in [
            (CsrfError::CrossSite, "csrf_cross_site"),
            (CsrfError::ForeignOrigin, "csrf_foreign_origin"),
            (CsrfError::NoEvidence, "csrf_no_evidence"),
        ] {
            assert_eq!((e.code(), e.to_string().as_str()), (code, code), "{e:?}");
        }
    }

    #[test]
    fn disabled_guard_passes_everything() {
        let p = CsrfPolicy::default();
        assert_eq!(p.check("POST", false, Some("cross-site"), None, ME), Ok(()));
    }
}

//! `REVOCATION_*`: where the published revocation list comes from and how it is refreshed.

use super::{fetch_url, get, parse_seconds, ConfigError};

/// Where the revocation list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationSource {
    /// `REVOCATION_URL`: fetched over HTTP (`https://`, or `http://` for loopback development).
    Url(String),
    /// `REVOCATION_KV` (a KV namespace binding), the document under `REVOCATION_KV_KEY`.
    Kv {
        /// The key the document is stored under.
        key: String,
    },
}

/// Default for `REVOCATION_REFRESH_SECONDS`.
pub const DEFAULT_REVOCATION_REFRESH_SECONDS: i64 = 5;
/// Default for `REVOCATION_MAX_AGE_SECONDS`.
pub const DEFAULT_REVOCATION_MAX_AGE_SECONDS: i64 = 60;
/// What the edge (the JS entry, `edgegate::workers`) passes for `REVOCATION_KV` when it is a KV
/// namespace binding (the core cannot see bindings; any other value is a variable, not one).
pub const KV_BINDING: &str = "[KV namespace binding]";
/// Default for `REVOCATION_KV_KEY`.
pub const DEFAULT_REVOCATION_KV_KEY: &str = "revocations";

/// `REVOCATION_*`: the published revocation list every isolate pulls in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationConfig {
    /// `REVOCATION_URL` or `REVOCATION_KV`.
    pub source: RevocationSource,
    /// `REVOCATION_REFRESH_SECONDS`: how often an isolate fetches the list again.
    pub refresh_seconds: i64,
    /// `REVOCATION_MAX_AGE_SECONDS`: how long after its `iat` a list may be relied on when no
    /// newer one can be fetched.
    pub max_age_seconds: i64,
    /// `REVOCATION_FAIL=open`: without a current list, tokens are checked against the last list
    /// held (if any) instead of being refused with `503 revocation_unavailable`.
    pub fail_open: bool,
}

impl RevocationConfig {
    /// The refresh interval in milliseconds (the unit of
    /// [`crate::low_level::revocation::Revocations`]).
    pub fn interval_ms(&self) -> f64 {
        self.refresh_seconds as f64 * 1000.0
    }

    /// Seconds a copy fetched from `REVOCATION_URL` stays in the location's cache: half the
    /// interval (at least 1 s), so a copy another isolate fetched is never older than that.
    ///
    /// ```
    /// use edgegate::config::{RevocationConfig, RevocationSource};
    /// let rc = |refresh_seconds| RevocationConfig {
    ///     source: RevocationSource::Url("https://origin.example/revocations".into()),
    ///     refresh_seconds,
    ///     max_age_seconds: 300,
    ///     fail_open: false,
    /// };
    /// assert_eq!(rc(5).cache_ttl_seconds(), 2);
    /// assert_eq!(rc(60).cache_ttl_seconds(), 30);
    /// assert_eq!(rc(1).cache_ttl_seconds(), 1);
    /// ```
    pub fn cache_ttl_seconds(&self) -> i64 {
        (self.refresh_seconds / 2).max(1)
    }
}

pub(super) fn parse_revocation(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RevocationConfig>, ConfigError> {
    let url = get(lookup, "REVOCATION_URL");
    let kv = get(lookup, "REVOCATION_KV");
    let source = match (url, kv) {
        (None, None) => {
            for key in [
                "REVOCATION_REFRESH_SECONDS",
                "REVOCATION_MAX_AGE_SECONDS",
                "REVOCATION_FAIL",
                "REVOCATION_KV_KEY",
            ] {
                if get(lookup, key).is_some() {
                    return Err(ConfigError::new(
                        key,
                        "is set, but neither REVOCATION_URL nor REVOCATION_KV is",
                    ));
                }
            }
            return Ok(None);
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "REVOCATION_KV",
                "and REVOCATION_URL are both set: choose one source",
            ))
        }
        (Some(raw), None) => RevocationSource::Url(fetch_url("REVOCATION_URL", &raw)?),
        (None, Some(v)) if v != KV_BINDING => {
            return Err(ConfigError::new(
                "REVOCATION_KV",
                "must be a KV namespace binding ([[kv_namespaces]] binding = \"REVOCATION_KV\"), not a variable",
            ))
        }
        (None, Some(_)) => RevocationSource::Kv {
            key: get(lookup, "REVOCATION_KV_KEY")
                .unwrap_or_else(|| DEFAULT_REVOCATION_KV_KEY.into()),
        },
    };
    if matches!(source, RevocationSource::Url(_)) && get(lookup, "REVOCATION_KV_KEY").is_some() {
        return Err(ConfigError::new(
            "REVOCATION_KV_KEY",
            "is set, but the list comes from REVOCATION_URL",
        ));
    }
    let refresh_seconds = parse_seconds(
        "REVOCATION_REFRESH_SECONDS",
        get(lookup, "REVOCATION_REFRESH_SECONDS"),
        DEFAULT_REVOCATION_REFRESH_SECONDS,
        300,
    )?;
    if refresh_seconds == 0 {
        return Err(ConfigError::new(
            "REVOCATION_REFRESH_SECONDS",
            "must be at least 1 second",
        ));
    }
    let max_age_seconds = parse_seconds(
        "REVOCATION_MAX_AGE_SECONDS",
        get(lookup, "REVOCATION_MAX_AGE_SECONDS"),
        DEFAULT_REVOCATION_MAX_AGE_SECONDS,
        86_400,
    )?;
    if max_age_seconds < refresh_seconds {
        return Err(ConfigError::new(
            "REVOCATION_MAX_AGE_SECONDS",
            "must be at least REVOCATION_REFRESH_SECONDS (every list would be too old before the next fetch)",
        ));
    }
    let fail_open = match get(lookup, "REVOCATION_FAIL").as_deref() {
        None | Some("closed") => false,
        Some("open") => true,
        Some(_) => {
            return Err(ConfigError::new(
                "REVOCATION_FAIL",
                "must be closed or open",
            ))
        }
    };
    Ok(Some(RevocationConfig {
        source,
        refresh_seconds,
        max_age_seconds,
        fail_open,
    }))
}

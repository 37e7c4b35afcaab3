//! The registered claims edgegate reads, their strict shapes, and stage 4 of verification:
//! time and identity checks ([`Claims::validate`]).
//!
//! Times are NumericDate (RFC 7519 §2): a JSON number of seconds, non-negative and no later than
//! year 9999. Strings, negative numbers and absurd values are refused, and all arithmetic is done
//! in `i64` on values bounded that way, so leeway can never wrap into acceptance.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::fmt;

/// 9999-12-31T23:59:59Z: the latest NumericDate edgegate accepts.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// The longest `sub` forwarded (bytes).
pub const MAX_SUB_BYTES: usize = 1024;

/// Why the claims were refused. Each variant has a stable [`code`](ClaimsError::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsError {
    /// A registered claim has the wrong JSON type or an out-of-range time.
    BadShape,
    /// `exp` is missing.
    MissingExp,
    /// `sub` is missing.
    MissingSub,
    /// `sub` is empty, too long, not printable ASCII, or starts or ends with a space (it is
    /// forwarded in a header, byte for byte).
    BadSub,
    /// `exp` (plus leeway) is in the past.
    Expired,
    /// `nbf` (minus leeway) is in the future.
    NotYetValid,
    /// `iat` (minus leeway) is in the future.
    IssuedInFuture,
    /// `exp` lies further than the configured maximum lifetime beyond `iat` (or now).
    LifetimeTooLong,
    /// `iss` differs from the configured issuer.
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    WrongAudience,
}

impl ClaimsError {
    /// A stable, machine-readable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            ClaimsError::BadShape => "bad_claims",
            ClaimsError::MissingExp => "missing_exp",
            ClaimsError::MissingSub => "missing_sub",
            ClaimsError::BadSub => "bad_sub",
            ClaimsError::Expired => "expired",
            ClaimsError::NotYetValid => "not_yet_valid",
            ClaimsError::IssuedInFuture => "issued_in_future",
            ClaimsError::LifetimeTooLong => "lifetime_too_long",
            ClaimsError::WrongIssuer => "wrong_issuer",
            ClaimsError::WrongAudience => "wrong_audience",
        }
    }
}

impl fmt::Display for ClaimsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for ClaimsError {}

/// A NumericDate, kept as the JSON number (possibly fractional) it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumericDate(f64);

impl NumericDate {
    /// `seconds` as a NumericDate, if it is one: finite, between 0 and [`MAX_NUMERIC_DATE`].
    pub fn from_seconds(seconds: f64) -> Option<NumericDate> {
        (seconds.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&seconds))
            .then_some(NumericDate(seconds))
    }

    /// Whole seconds, rounded down (the conservative reading of `exp`).
    pub fn floor(self) -> i64 {
        // Bounded to [0, MAX_NUMERIC_DATE] at parse time, so the cast is exact.
        self.0.floor() as i64
    }

    /// Whole seconds, rounded up (the conservative reading of `nbf` and `iat`).
    pub fn ceil(self) -> i64 {
        self.0.ceil() as i64
    }
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a NumericDate between 0 and 253402300799")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                if v <= MAX_NUMERIC_DATE as u64 {
                    Ok(NumericDate(v as f64))
                } else {
                    Err(E::custom("NumericDate out of range"))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("negative NumericDate"))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                NumericDate::from_seconds(v).ok_or_else(|| E::custom("NumericDate out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `want` is among the audiences (exact, case-sensitive).
    pub fn contains(&self, want: &str) -> bool {
        match self {
            Audience::One(a) => a == want,
            Audience::Many(v) => v.iter().any(|a| a == want),
        }
    }
}

/// The registered claims edgegate checks. Other claims are not read (they reach the origin only
/// as the verified, duplicate-free payload in `x-auth-claims`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Claims {
    /// Subject: forwarded as `x-auth-sub`.
    #[serde(default)]
    pub sub: Option<String>,
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default)]
    pub aud: Option<Audience>,
    /// Expiry.
    #[serde(default)]
    pub exp: Option<NumericDate>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<NumericDate>,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<NumericDate>,
    /// Session id (`sid`, OpenID Connect): what a revocation list's session entries name. A
    /// string, or an integer read as its decimal text; `null` counts as absent.
    #[serde(default, deserialize_with = "session_id")]
    pub sid: Option<String>,
}

/// `sid`: a string or an integer (as decimal text); `null` is absent; anything else is the
/// wrong type.
fn session_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a session id (string or integer)")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// What [`Claims::validate`] checks against.
#[derive(Debug, Clone, Default)]
pub struct ClaimRules {
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required member of `aud`, when set.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: i64,
    /// When set, `exp` may lie at most this many seconds after `iat` (or after now without `iat`).
    pub max_lifetime: Option<i64>,
}

impl Claims {
    /// Reads the registered claims from a payload (duplicate keys must already be excluded).
    pub fn from_json(json: &[u8]) -> Result<Claims, ClaimsError> {
        serde_json::from_slice(json).map_err(|_| ClaimsError::BadShape)
    }

    /// Checks identity and time claims at `now` (Unix seconds).
    ///
    /// Every other check runs before the expiry check, so a token that is expired *and* wrong in
    /// some other way is reported as invalid, never as merely expired (which would invite a
    /// refresh). Only call this after the signature has been verified.
    ///
    /// ```
    /// use edgegate::low_level::claims::{ClaimRules, Claims, ClaimsError};
    /// let c = Claims::from_json(br#"{"sub":"alice","exp":1000}"#).unwrap();
    /// let rules = ClaimRules { leeway: 30, ..Default::default() };
    /// assert_eq!(c.validate(&rules, 1029), Ok(()));
    /// assert_eq!(c.validate(&rules, 1030), Err(ClaimsError::Expired));
    /// ```
    pub fn validate(&self, rules: &ClaimRules, now: i64) -> Result<(), ClaimsError> {
        let leeway = rules.leeway.clamp(0, 86_400);
        let exp = self.exp.ok_or(ClaimsError::MissingExp)?.floor();
        match self.sub.as_deref() {
            None => return Err(ClaimsError::MissingSub),
            Some(s) if !header_safe(s) => return Err(ClaimsError::BadSub),
            Some(_) => {}
        }
        if let Some(want) = &rules.issuer {
            if self.iss.as_deref() != Some(want.as_str()) {
                return Err(ClaimsError::WrongIssuer);
            }
        }
        if let Some(want) = &rules.audience {
            if !self.aud.as_ref().is_some_and(|a| a.contains(want)) {
                return Err(ClaimsError::WrongAudience);
            }
        }
        // Dates are bounded by MAX_NUMERIC_DATE and leeway by a day; saturating arithmetic keeps
        // even an absurd `now` from wrapping into acceptance.
        let latest_start = now.saturating_add(leeway);
        if let Some(nbf) = self.nbf {
            if nbf.ceil() > latest_start {
                return Err(ClaimsError::NotYetValid);
            }
        }
        if let Some(iat) = self.iat {
            if iat.ceil() > latest_start {
                return Err(ClaimsError::IssuedInFuture);
            }
        }
        if let Some(max) = rules.max_lifetime {
            let start = self.iat.map_or(now, |i| i.ceil().min(now));
            if exp.saturating_sub(start) > max {
                return Err(ClaimsError::LifetimeTooLong);
            }
        }
        if exp.saturating_add(leeway) <= now {
            return Err(ClaimsError::Expired);
        }
        Ok(())
    }
}

/// Whether `s` can travel as an HTTP header value unchanged: 1..=1024 bytes of printable ASCII.
/// Whether `s` is written to a header byte for byte: printable ASCII, and no leading or
/// trailing space (header writers trim it, so `x-auth-sub` would name another subject than
/// `x-auth-claims`).
fn header_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SUB_BYTES
        && s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(json: &str) -> Result<Claims, ClaimsError> {
        Claims::from_json(json.as_bytes())
    }

    fn rules() -> ClaimRules {
        ClaimRules {
            leeway: 30,
            ..Default::default()
        }
    }

    #[test]
    fn shapes() {
        assert!(c(
            r#"{"sub":"a","exp":1,"nbf":0,"iat":1.5,"aud":["x","y"],"iss":"i","extra":{"n":[1]}}"#
        )
        .is_ok());
        for bad in [
            r#"{"exp":"1000"}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":1e300}"#,
            r#"{"exp":253402300800}"#,
            r#"{"exp":true}"#,
            r#"{"nbf":"0"}"#,
            r#"{"iat":-0.5}"#,
            r#"{"aud":5}"#,
            r#"{"aud":["a",5]}"#,
            r#"{"sub":5}"#,
            r#"{"sub":null,"sub2":1,"iss":["a"]}"#,
        ] {
            assert_eq!(c(bad), Err(ClaimsError::BadShape), "{bad}");
        }
        // serde_json refuses 1e400 before we see it; it is still a refusal.
        assert!(c(r#"{"exp":1e400}"#).is_err());
    }

    #[test]
    fn expiry_with_leeway_is_exact_at_the_boundary() {
        let t = c(r#"{"sub":"a","exp":1000}"#).unwrap();
        assert_eq!(t.validate(&rules(), 1029), Ok(()));
        assert_eq!(t.validate(&rules(), 1030), Err(ClaimsError::Expired));
        let no_leeway = ClaimRules::default();
        assert_eq!(t.validate(&no_leeway, 999), Ok(()));
        assert_eq!(t.validate(&no_leeway, 1000), Err(ClaimsError::Expired));
        // A fractional exp is read rounded down.
        let f = c(r#"{"sub":"a","exp":1000.9}"#).unwrap();
        assert_eq!(f.validate(&no_leeway, 1000), Err(ClaimsError::Expired));
    }

    #[test]
    fn exp_and_sub_are_required() {
        assert_eq!(
            c(r#"{"sub":"a"}"#).unwrap().validate(&rules(), 0),
            Err(ClaimsError::MissingExp)
        );
        assert_eq!(
            c(r#"{"sub":"a","exp":null}"#)
                .unwrap()
                .validate(&rules(), 0),
            Err(ClaimsError::MissingExp)
        );
        assert_eq!(
            c(r#"{"exp":10}"#).unwrap().validate(&rules(), 0),
            Err(ClaimsError::MissingSub)
        );
        for bad in [
            "",
            "a\nb",
            "x\r\nx-auth-admin: 1",
            "caf\u{e9}",
            "\u{7f}",
            " alice ",
            " alice",
            "alice ",
            " ",
            "\talice",
        ] {
            let j = serde_json::json!({"sub": bad, "exp": 10}).to_string();
            assert_eq!(
                c(&j).unwrap().validate(&rules(), 0),
                Err(ClaimsError::BadSub),
                "{bad:?}"
            );
        }
        // Inner spaces survive a header write unchanged.
        assert_eq!(
            c(r#"{"sub":"alice smith","exp":10}"#)
                .unwrap()
                .validate(&rules(), 0),
            Ok(())
        );
        let long = serde_json::json!({"sub": "a".repeat(MAX_SUB_BYTES + 1), "exp": 10}).to_string();
        assert_eq!(
            c(&long).unwrap().validate(&rules(), 0),
            Err(ClaimsError::BadSub)
        );
    }

    #[test]
    fn nbf_and_iat_in_the_future() {
        let t = c(r#"{"sub":"a","exp":5000,"nbf":1030}"#).unwrap();
        assert_eq!(t.validate(&rules(), 1000), Ok(()));
        assert_eq!(t.validate(&rules(), 999), Err(ClaimsError::NotYetValid));
        let t = c(r#"{"sub":"a","exp":5000,"iat":1031}"#).unwrap();
        assert_eq!(t.validate(&rules(), 1000), Err(ClaimsError::IssuedInFuture));
        assert_eq!(t.validate(&rules(), 1001), Ok(()));
    }

    #[test]
    fn issuer_and_audience() {
        let r = ClaimRules {
            issuer: Some("https://id.example".into()),
            audience: Some("api".into()),
            ..rules()
        };
        let ok = |j: &str| c(j).unwrap().validate(&r, 0);
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"iss":"https://id.example","aud":"api"}"#),
            Ok(())
        );
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"iss":"https://id.example","aud":["x","api"]}"#),
            Ok(())
        );
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"iss":"https://id.example/","aud":"api"}"#),
            Err(ClaimsError::WrongIssuer)
        );
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"aud":"api"}"#),
            Err(ClaimsError::WrongIssuer)
        );
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"iss":"https://id.example","aud":"API"}"#),
            Err(ClaimsError::WrongAudience)
        );
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"iss":"https://id.example","aud":[]}"#),
            Err(ClaimsError::WrongAudience)
        );
        // A list of other audiences: a token for other APIs only.
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"iss":"https://id.example","aud":["x","API"]}"#),
            Err(ClaimsError::WrongAudience)
        );
        assert_eq!(
            ok(r#"{"sub":"a","exp":9,"iss":"https://id.example"}"#),
            Err(ClaimsError::WrongAudience)
        );
    }

    #[test]
    fn expired_and_otherwise_wrong_is_reported_as_the_other_fault() {
        let r = ClaimRules {
            issuer: Some("good".into()),
            ..rules()
        };
        let t = c(r#"{"sub":"a","exp":10,"iss":"evil"}"#).unwrap();
        assert_eq!(t.validate(&r, 1_000_000), Err(ClaimsError::WrongIssuer));
    }

    #[test]
    fn lifetime_cap_and_extreme_values_do_not_wrap() {
        let r = ClaimRules {
            max_lifetime: Some(3600),
            ..rules()
        };
        let t = c(r#"{"sub":"a","iat":1000,"exp":4600}"#).unwrap();
        assert_eq!(t.validate(&r, 1000), Ok(()));
        let t = c(r#"{"sub":"a","iat":1000,"exp":4601}"#).unwrap();
        assert_eq!(t.validate(&r, 1000), Err(ClaimsError::LifetimeTooLong));
        let t = c(r#"{"sub":"a","exp":253402300799}"#).unwrap();
        assert_eq!(t.validate(&r, 1000), Err(ClaimsError::LifetimeTooLong));
        // Without a cap, the far future is accepted but nothing overflows at the extremes.
        let huge_leeway = ClaimRules {
            leeway: i64::MAX,
            ..Default::default()
        };
        assert_eq!(
            t.validate(&huge_leeway, i64::MAX / 4),
            Err(ClaimsError::Expired)
        );
        assert_eq!(t.validate(&huge_leeway, 0), Ok(()));
    }

    #[test]
    fn codes_are_stable() {
        for (e, code) in [
            (ClaimsError::BadShape, "bad_claims"),
            (ClaimsError::MissingExp, "missing_exp"),
            (ClaimsError::MissingSub, "missing_sub"),
            (ClaimsError::BadSub, "bad_sub"),
            (ClaimsError::Expired, "expired"),
            (ClaimsError::NotYetValid, "not_yet_valid"),
            (ClaimsError::IssuedInFuture, "issued_in_future"),
            (ClaimsError::LifetimeTooLong, "lifetime_too_long"),
            (ClaimsError::WrongIssuer, "wrong_issuer"),
            (ClaimsError::WrongAudience, "wrong_audience"),
        ] {
            assert_eq!((e.code(), e.to_string().as_str()), (code, code), "{e:?}");
        }
    }
}
